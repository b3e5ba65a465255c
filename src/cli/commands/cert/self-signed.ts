import type { Command } from "commander";
import { openWorkspace } from "../../../store/index.js";
import { createSelfSignedClientCertificate } from "../../../pki/index.js";
import { MtlsError } from "../../../errors/index.js";
import { paint, printJson, say, withProgress, type CliContext, printNextSteps, warn } from "../../context.js";
import { hashOption, keySourceFrom, keyLines, profileKeyOptions, requireWithoutProfile, TOKEN_OPTION_HELP } from "../key-source.js";

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

/** The options `--profile` replaces; without it they are required, in this order. */
const PROFILE_REPLACES: Array<[string, string]> = [
  ["program", "--program <program>"],
  ["env", "--env <env>"],
  ["cn", "--cn <cn>"],
  ["out", "--out <file>"],
];

async function runWithProfile(ctx: CliContext, o: Record<string, unknown>): Promise<number> {
  const name = String(o["profile"]);
  for (const [key, flag] of [["program", "--program"], ["env", "--env"], ["out", "--out"], ["keyOut", "--key-out"]]) {
    if (o[key!] !== undefined) {
      throw new MtlsError("USAGE", `${flag} does not go with --profile: the profile decides it`, { hint: `Run: mtlskit cert self-signed --profile ${name} (see mtlskit profile show ${name}).` });
    }
  }
  const hash = hashOption(o["hash"]);
  const r = await withProgress(
    ctx,
    "creating key and certificate",
    openWorkspace(ctx.dir).profile(name).createSelfSigned({
      ...(o["cn"] !== undefined ? { cn: String(o["cn"]) } : {}),
      ...(o["type"] !== undefined ? { keyType: String(o["type"]) } : {}),
      ...profileKeyOptions(o),
      ...(o["passphraseFile"] !== undefined ? { passphraseFile: String(o["passphraseFile"]) } : {}),
      ...(o["subject"] !== undefined ? { subject: String(o["subject"]) } : {}),
      ...(o["days"] !== undefined ? { days: parseDays(String(o["days"])) } : {}),
      ...(hash ? { hash } : {}),
      force: !!o["force"],
    }),
  );
  for (const w of r.warnings) warn(ctx, w);
  if (ctx.json) {
    printJson(ctx, { ok: true, ...r });
    return 0;
  }
  say(ctx, `${paint(ctx, "green", "wrote")} ${r.certificateFile} (self-signed, ${r.keyType}, CN=${r.commonName})`);
  for (const line of keyLines(r, paint(ctx, "green", "wrote"))) say(ctx, line);
  say(ctx, `valid: ${r.notBefore} to ${r.notAfter}`);
  say(ctx, `SHA-256 fingerprint: ${r.sha256Fingerprint}`);
  say(ctx, `SPKI pin: ${r.spkiPin}`);
  printNextSteps(ctx, r.nextSteps);
  return 0;
}

export async function run(ctx: CliContext, o: Record<string, unknown>): Promise<number> {
  if (o["profile"] !== undefined) return runWithProfile(ctx, o);
  requireWithoutProfile(o, PROFILE_REPLACES);
  const out = String(o["out"]);
  const hash = hashOption(o["hash"]);
  const r = await withProgress(
    ctx,
    "creating key and certificate",
    createSelfSignedClientCertificate({
      program: String(o["program"]),
      environment: String(o["env"]),
      cn: String(o["cn"]),
      key: keySourceFrom(o, out),
      out,
      force: !!o["force"],
      ...(o["subject"] !== undefined ? { subject: String(o["subject"]) } : {}),
      ...(o["days"] !== undefined ? { days: parseDays(String(o["days"])) } : {}),
      ...(hash ? { hash } : {}),
    }),
  );
  if (ctx.json) {
    printJson(ctx, { ok: true, ...r });
    return 0;
  }
  say(ctx, `${paint(ctx, "green", "wrote")} ${r.certificateFile} (self-signed, ${r.keyType}, CN=${r.commonName})`);
  if (r.keyFile) say(ctx, `${paint(ctx, "green", "wrote")} ${r.keyFile} (private key, mode 0600)`);
  if (r.keyUri) say(ctx, `key: ${r.keyUri} (${r.keyInToken})`);
  say(ctx, `valid: ${r.notBefore} to ${r.notAfter}`);
  say(ctx, `SHA-256 fingerprint: ${r.sha256Fingerprint}`);
  say(ctx, `SPKI pin: ${r.spkiPin}`);
  printNextSteps(ctx, r.nextSteps);
  return 0;
}

/** `--days N`: a whole number of days, at least 1 (the limit of 730 is the library's rule). */
function parseDays(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0) {
    throw new MtlsError("VALIDITY_INVALID", `--days must be a positive whole number of days, not '${value}'`);
  }
  return Number(value);
}
