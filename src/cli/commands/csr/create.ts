import type { Command } from "commander";
import { createClientCsr } from "../../../pki/index.js";
import { openWorkspace } from "../../../store/index.js";
import { MtlsError } from "../../../errors/index.js";
import { hiddenAlias, paint, printJson, say, withProgress, type CliContext, printNextSteps, warn } from "../../context.js";
import { hashOption, keySourceFrom, keyLines, profileKeyOptions, requireWithoutProfile, TOKEN_OPTION_HELP } from "../key-source.js";

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

/** The options `--profile` replaces; without it they are required, in this order. */
const PROFILE_REPLACES: Array<[string, string]> = [
  ["program", "--program <program>"],
  ["env", "--env <env>"],
  ["id", "--id <id>"],
  ["subject", "--subject <dn>"],
  ["out", "--out <file>"],
];

async function runWithProfile(ctx: CliContext, o: Record<string, unknown>): Promise<number> {
  const name = String(o["profile"]);
  for (const [key, flag] of [...PROFILE_REPLACES.filter(([k]) => k !== "subject"), ["keyOut", "--key-out <file>"], ["cn", "--cn <cn>"]] as Array<[string, string]>) {
    if (o[key] !== undefined) {
      throw new MtlsError("USAGE", `${flag.split(" ")[0]} does not go with --profile: the profile decides it`, { hint: `Run: mtlskit csr create --profile ${name} (see mtlskit profile show ${name}).` });
    }
  }
  const hash = hashOption(o["hash"]);
  const r = await withProgress(
    ctx,
    "creating key and CSR",
    openWorkspace(ctx.dir).profile(name).createCsr({
      ...(o["type"] !== undefined ? { keyType: String(o["type"]) } : {}),
      ...profileKeyOptions(o),
      ...(o["passphraseFile"] !== undefined ? { passphraseFile: String(o["passphraseFile"]) } : {}),
      ...(o["subject"] !== undefined ? { subject: String(o["subject"]) } : {}),
      ...(hash ? { hash } : {}),
      force: !!o["force"],
    }),
  );
  for (const w of r.warnings) warn(ctx, w);
  if (ctx.json) {
    printJson(ctx, { ok: true, ...r });
    return 0;
  }
  say(ctx, `${paint(ctx, "green", "wrote")} ${r.csrFile} (CSR, ${r.keyType}, CN=${r.commonName})`);
  for (const line of keyLines(r, paint(ctx, "green", "wrote"))) say(ctx, line);
  say(ctx, `subject: ${r.subject}`);
  say(ctx, `public key pin: ${r.spkiPin}`);
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
    "creating key and CSR",
    createClientCsr({
      program: String(o["program"]),
      environment: String(o["env"]),
      gatewayId: String(o["id"]),
      subject: String(o["subject"]),
      key: keySourceFrom(o, out),
      out,
      force: !!o["force"],
      ...(o["cn"] !== undefined ? { cn: String(o["cn"]) } : {}),
      ...(hash ? { hash } : {}),
    }),
  );
  if (ctx.json) {
    printJson(ctx, { ok: true, ...r });
    return 0;
  }
  say(ctx, `${paint(ctx, "green", "wrote")} ${r.csrFile} (CSR, ${r.keyType}, CN=${r.commonName})`);
  if (r.keyFile) say(ctx, `${paint(ctx, "green", "wrote")} ${r.keyFile} (private key, mode 0600)`);
  if (r.keyUri) say(ctx, `key: ${r.keyUri} (${r.keyInToken})`);
  say(ctx, `subject: ${r.subject}`);
  say(ctx, `public key pin: ${r.spkiPin}`);
  printNextSteps(ctx, r.nextSteps);
  return 0;
}
