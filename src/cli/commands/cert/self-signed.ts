import type { Command } from "commander";
import { createSelfSignedClientCertificate } from "../../../index.js";
import { paint, positiveInt, printJson, say, withProgress, type CliContext } from "../../context.js";
import { hashOption, keySourceFrom } from "../key-source.js";

export function define(cmd: Command): Command {
  return cmd
    .description("create an MT self-signed client certificate for Thales to endorse (pin)")
    .requiredOption("--program <program>", "mt (D1 certificates come from a CSR: mtlskit csr create)")
    .requiredOption("--env <env>", "sandbox | production")
    .requiredOption("--cn <cn>", "the exact Common Name the Thales portal gives for this environment")
    .option("--subject <dn>", "other subject attributes in openssl -subj syntax")
    .option("--key <file>", "an existing private key (PEM or DER)")
    .option("--passphrase-file <file>", "passphrase of an encrypted --key (first line)")
    .option("--type <type>", "create a new key: ecdsa-p256 | ecdsa-p384 | rsa-2048")
    .option("--key-out <file>", "where to write the new key (default: --out with .key)")
    .option("--days <n>", "validity in days, at most 730 (default 730)")
    .option("--hash <hash>", "sha256 (default) or sha384 with ecdsa-p384")
    .requiredOption("--out <file>", "where to write the certificate (PEM)")
    .option("--force", "replace existing output files")
    .addHelpText(
      "after",
      '\nExample:\n  mtlskit cert self-signed --program mt --env sandbox --cn "<CN from the Thales portal>" \\\n    --subject "/C=FR/O=Example SA" --type ecdsa-p256 --days 730 --key-out mt-sandbox.key --out mt-sandbox.crt',
    );
}

export async function run(ctx: CliContext, o: Record<string, unknown>): Promise<number> {
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
      ...(o["days"] !== undefined ? { days: positiveInt("--days", String(o["days"])) } : {}),
      ...(hash ? { hash } : {}),
    }),
  );
  if (ctx.json) {
    printJson(ctx, { ok: true, ...r });
    return 0;
  }
  say(ctx, `${paint(ctx, "green", "wrote")} ${r.certificateFile} (self-signed, ${r.keyType}, CN=${r.commonName})`);
  if (r.keyFile) say(ctx, `${paint(ctx, "green", "wrote")} ${r.keyFile} (private key, mode 0600)`);
  say(ctx, `valid: ${r.notBefore} to ${r.notAfter}`);
  say(ctx, `SHA-256 fingerprint: ${r.sha256Fingerprint}`);
  say(ctx, `SPKI pin: ${r.spkiPin}`);
  say(ctx, "\nNext:");
  r.nextSteps.forEach((s, i) => say(ctx, `  ${i + 1}. ${s}`));
  return 0;
}
