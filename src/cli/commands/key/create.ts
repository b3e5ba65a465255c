import type { Command } from "commander";
import { createKeyFile } from "../../../pki/index.js";
import { parseKeyType } from "../../../policy/index.js";
import { printJson, say, withProgress, type CliContext } from "../../context.js";

export function define(cmd: Command): Command {
  return cmd
    .description("create a private key (PKCS#8 PEM, mode 0600)")
    .requiredOption("--type <type>", "ecdsa-p256 | ecdsa-p384 | rsa-2048 | rsa-4096")
    .requiredOption("--out <file>", "where to write the key")
    .option("--force", "replace an existing file (the old key is lost)")
    .addHelpText("after", "\nExample:\n  mtlskit key create --type ecdsa-p256 --out client.key");
}

export async function run(ctx: CliContext, o: Record<string, unknown>): Promise<number> {
  const type = parseKeyType(String(o["type"]));
  const out = String(o["out"]);
  const r = await withProgress(ctx, `generating ${type} key`, createKeyFile({ type, out, force: !!o["force"] }));
  if (ctx.json) printJson(ctx, { ok: true, ...r });
  else {
    say(ctx, `wrote ${r.file} (${r.label}, mode 0600)`);
    say(ctx, `public key pin: ${r.spkiPin}`);
  }
  return 0;
}
