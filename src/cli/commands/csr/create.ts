import type { Command } from "commander";
import { createClientCsr } from "../../../pki/index.js";
import { openWorkspace } from "../../../store/index.js";
import { hiddenAlias, paint, withProgress, type CliContext } from "../../context.js";
import { keyLines, newCredentialOptions, newKeyLines, profileCredentialOptions, refuseWithProfile, reportMade, requireWithoutProfile, TOKEN_OPTION_HELP, type ClientCredentialOptions, type OptionFlags } from "../key-source.js";

export function define(cmd: Command): Command {
  hiddenAlias(cmd, "--gateway-id <id>", { key: "id", flag: "--id" });
  return cmd
    .description("create the CSR of a D1 client certificate, with the Common Name Thales requires")
    .option("--program <program>", "d1 (MT certificates are self-signed: mtlskit cert self-signed)")
    .option("--env <env>", "preprod | production")
    .option("--id <id>", "the merchantGatewayId Thales gave you (old spelling: --gateway-id)")
    .option("--subject <dn>", "C, ST, L, O, OU in openssl -subj syntax; the CN is added for you")
    .option("--profile <name>", "take program, environment, id, subject and key type from this profile and write into its folder (instead of --program/--env/--id/--out)")
    .option("--key <file>", "an existing private key (PEM or DER), or a key in a token: pkcs11:token=...;object=...")
    .option("--passphrase-file <file>", "passphrase of an encrypted --key (first line)")
    .option("--type <type>", "create a new key: ecdsa-p256 (default for D1) | rsa-4096")
    .option("--key-out <file>", "where to write the new key (default: --out with .key); a pkcs11: URI creates it inside the token")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .option("--cn <cn>", "accepted only if it equals the derived Common Name")
    .option("--hash <hash>", "signature hash (D1: sha256)")
    .option("--out <file>", "where to write the CSR (PEM)")
    .option("--force", "replace existing output files")
    .addHelpText(
      "after",
      '\nExample:\n  mtlskit csr create --program d1 --env preprod --id 123456 \\\n    --subject "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments" --type ecdsa-p256 \\\n    --key-out d1-preprod.key --out d1-preprod.csr\n  mtlskit csr create --profile d1-pp    # after: mtlskit profile add d1-pp --program d1 ...',
    );
}

/** The options of `csr create`, as {@link define} declares them. */
export interface CsrCreateOptions extends ClientCredentialOptions {
  id?: string;
}

/** The options `--profile` replaces; without it they are required, in this order. */
const PROFILE_REPLACES = [
  ["program", "--program <program>"],
  ["env", "--env <env>"],
  ["id", "--id <id>"],
  ["subject", "--subject <dn>"],
  ["out", "--out <file>"],
] as const satisfies OptionFlags<CsrCreateOptions>;

/** The options the profile decides (the subject may be given: it replaces the profile's). */
const PROFILE_DECIDES: OptionFlags<CsrCreateOptions> = [
  ["program", "--program"],
  ["env", "--env"],
  ["id", "--id"],
  ["out", "--out"],
  ["keyOut", "--key-out"],
  ["cn", "--cn"],
];

function csrLines(ctx: CliContext, r: { csrFile: string; keyType: string; commonName: string; subject: string; spkiPin: string }, keyLines: string[]): string[] {
  return [`${paint(ctx, "green", "wrote")} ${r.csrFile} (CSR, ${r.keyType}, CN=${r.commonName})`, ...keyLines, `subject: ${r.subject}`, `public key pin: ${r.spkiPin}`];
}

async function runWithProfile(ctx: CliContext, o: CsrCreateOptions, name: string): Promise<number> {
  refuseWithProfile(o, PROFILE_DECIDES, "csr create", name);
  const r = await withProgress(
    ctx,
    "creating key and CSR",
    openWorkspace(ctx.dir).profile(name).createCsr(profileCredentialOptions(o)),
  );
  return reportMade(ctx, r, csrLines(ctx, r, keyLines(r, paint(ctx, "green", "wrote"))));
}

export async function run(ctx: CliContext, options: CsrCreateOptions): Promise<number> {
  if (options.profile !== undefined) return runWithProfile(ctx, options, options.profile);
  const o = requireWithoutProfile(options, PROFILE_REPLACES);
  const r = await withProgress(ctx, "creating key and CSR", createClientCsr({ ...newCredentialOptions(o), gatewayId: o.id, subject: o.subject, ...(o.cn !== undefined ? { cn: o.cn } : {}) }));
  return reportMade(ctx, r, csrLines(ctx, r, newKeyLines(r, paint(ctx, "green", "wrote"))));
}
