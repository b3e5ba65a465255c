import type { Command } from "commander";
import { createClientCsr } from "../../../index.js";
import { paint, printJson, say, withProgress, type CliContext } from "../../context.js";
import { hashOption, keySourceFrom } from "../key-source.js";

export function define(cmd: Command): Command {
  return cmd
    .description("create the CSR of a D1 client certificate, with the Common Name Thales requires")
    .requiredOption("--program <program>", "d1 (MT certificates are self-signed: mtlskit cert self-signed)")
    .requiredOption("--env <env>", "preprod | production")
    .requiredOption("--gateway-id <id>", "the merchantGatewayId Thales gave you")
    .requiredOption("--subject <dn>", "C, ST, L, O, OU in openssl -subj syntax; the CN is added for you")
    .option("--key <file>", "an existing private key (PEM or DER)")
    .option("--passphrase-file <file>", "passphrase of an encrypted --key (first line)")
    .option("--type <type>", "create a new key: ecdsa-p256 (default for D1) | rsa-4096")
    .option("--key-out <file>", "where to write the new key (default: --out with .key)")
    .option("--cn <cn>", "accepted only if it equals the derived Common Name")
    .option("--hash <hash>", "signature hash (D1: sha256)")
    .requiredOption("--out <file>", "where to write the CSR (PEM)")
    .option("--force", "replace existing output files")
    .addHelpText(
      "after",
      '\nExample:\n  mtlskit csr create --program d1 --env preprod --gateway-id 123456 \\\n    --subject "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments" --type ecdsa-p256 \\\n    --key-out d1-preprod.key --out d1-preprod.csr',
    );
}

export async function run(ctx: CliContext, o: Record<string, unknown>): Promise<number> {
  const out = String(o["out"]);
  const hash = hashOption(o["hash"]);
  const r = await withProgress(
    ctx,
    "creating key and CSR",
    createClientCsr({
      program: String(o["program"]),
      environment: String(o["env"]),
      gatewayId: String(o["gatewayId"]),
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
  say(ctx, `subject: ${r.subject}`);
  say(ctx, `public key pin: ${r.spkiPin}`);
  say(ctx, "\nNext:");
  r.nextSteps.forEach((s, i) => say(ctx, `  ${i + 1}. ${s}`));
  return 0;
}
