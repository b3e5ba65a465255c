import type { Command } from "commander";
import { openWorkspace } from "../../../store/index.js";
import { createSelfSignedClientCertificate } from "../../../pki/index.js";
import { MtlsError } from "../../../errors/index.js";
import { paint, withProgress, type CliContext } from "../../context.js";
import { keyLines, newCredentialOptions, newKeyLines, profileCredentialOptions, refuseWithProfile, reportMade, requireWithoutProfile, TOKEN_OPTION_HELP, type ClientCredentialOptions, type OptionFlags } from "../key-source.js";

export function define(cmd: Command): Command {
  return cmd
    .description("create an MT self-signed client certificate for Thales to endorse (pin)")
    .option("--program <program>", "mt (D1 certificates come from a CSR: mtlskit csr create)")
    .option("--env <env>", "sandbox | production")
    .option("--cn <cn>", "the exact Common Name the Thales portal gives for this environment")
    .option("--profile <name>", "take program, environment, CN, subject and key type from this profile and write into its folder (instead of --program/--env/--out)")
    .option("--subject <dn>", "other subject attributes in openssl -subj syntax")
    .option("--key <file>", "an existing private key (PEM or DER), or a key in a token: pkcs11:token=...;object=...")
    .option("--passphrase-file <file>", "passphrase of an encrypted --key (first line)")
    .option("--type <type>", "create a new key: ecdsa-p256 | ecdsa-p384 | rsa-2048")
    .option("--key-out <file>", "where to write the new key (default: --out with .key); a pkcs11: URI creates it inside the token")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .option("--days <n>", "validity in days, at most 730 (default 730)")
    .option("--hash <hash>", "sha256 (default) or sha384 with ecdsa-p384")
    .option("--out <file>", "where to write the certificate (PEM)")
    .option("--force", "replace existing output files")
    .addHelpText(
      "after",
      '\nExample:\n  mtlskit cert self-signed --program mt --env sandbox --cn "<CN from the Thales portal>" \\\n    --subject "/C=FR/O=Example SA" --type ecdsa-p256 --days 730 --key-out mt-sandbox.key --out mt-sandbox.crt\n  mtlskit cert self-signed --profile mt-sbx    # after: mtlskit profile add mt-sbx --program mt ... --cn "<CN>"',
    );
}

/** The options of `cert self-signed`, as {@link define} declares them. */
export interface SelfSignedOptions extends ClientCredentialOptions {
  days?: string;
}

/** The options `--profile` replaces; without it they are required, in this order. */
const PROFILE_REPLACES = [
  ["program", "--program <program>"],
  ["env", "--env <env>"],
  ["cn", "--cn <cn>"],
  ["out", "--out <file>"],
] as const satisfies OptionFlags<SelfSignedOptions>;

/** The options the profile decides (the CN and subject may be given: they replace the profile's). */
const PROFILE_DECIDES: OptionFlags<SelfSignedOptions> = [
  ["program", "--program"],
  ["env", "--env"],
  ["out", "--out"],
  ["keyOut", "--key-out"],
];

function certificateLines(ctx: CliContext, r: { certificateFile: string; keyType: string; commonName: string; notBefore: string; notAfter: string; sha256Fingerprint: string; spkiPin: string }, keyLines: string[]): string[] {
  return [
    `${paint(ctx, "green", "wrote")} ${r.certificateFile} (self-signed, ${r.keyType}, CN=${r.commonName})`,
    ...keyLines,
    `valid: ${r.notBefore} to ${r.notAfter}`,
    `SHA-256 fingerprint: ${r.sha256Fingerprint}`,
    `SPKI pin: ${r.spkiPin}`,
  ];
}

async function runWithProfile(ctx: CliContext, o: SelfSignedOptions, name: string): Promise<number> {
  refuseWithProfile(o, PROFILE_DECIDES, "cert self-signed", name);
  const r = await withProgress(
    ctx,
    "creating key and certificate",
    openWorkspace(ctx.dir).profile(name).createSelfSigned({
      ...(o.cn !== undefined ? { cn: o.cn } : {}),
      ...profileCredentialOptions(o),
      ...(o.days !== undefined ? { days: parseDays(o.days) } : {}),
    }),
  );
  return reportMade(ctx, r, certificateLines(ctx, r, keyLines(r, paint(ctx, "green", "wrote"))));
}

export async function run(ctx: CliContext, options: SelfSignedOptions): Promise<number> {
  if (options.profile !== undefined) return runWithProfile(ctx, options, options.profile);
  const o = requireWithoutProfile(options, PROFILE_REPLACES);
  const r = await withProgress(
    ctx,
    "creating key and certificate",
    createSelfSignedClientCertificate({
      ...newCredentialOptions(o),
      cn: o.cn,
      ...(o.subject !== undefined ? { subject: o.subject } : {}),
      ...(o.days !== undefined ? { days: parseDays(o.days) } : {}),
    }),
  );
  return reportMade(ctx, r, certificateLines(ctx, r, newKeyLines(r, paint(ctx, "green", "wrote"))));
}

/** `--days N`: a whole number of days, at least 1 (the limit of 730 is the library's rule). */
function parseDays(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0) {
    throw new MtlsError("VALIDITY_INVALID", `--days must be a positive whole number of days, not '${value}'`);
  }
  return Number(value);
}
