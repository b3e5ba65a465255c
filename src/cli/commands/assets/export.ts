import type { Command } from "commander";
import { openWorkspace } from "../../../store/index.js";
import { paint, printJson, say, type CliContext } from "../../context.js";
import { pkcs11OptionsFrom, TOKEN_OPTION_HELP, type TokenOptions } from "../key-source.js";

export function define(cmd: Command): Command {
  return cmd
    .description("write what goes to Thales (CSR or self-signed certificate with fingerprints, server chain, ISSUER_HOST...) into a folder, with a README")
    .requiredOption("--profile <name>", "the profile")
    .requiredOption("--out <dir>", "the folder to write (created; must be empty unless --force)")
    .option("--force", "write into a folder that is not empty")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .addHelpText("after", "\nNo private key is ever written.\n\nExample:\n  mtlskit assets export --profile mt-sbx --out ./to-thales");
}

/** The options of `assets export`, as {@link define} declares them. */
export interface AssetsExportOptions extends TokenOptions {
  profile: string;
  out: string;
  force?: boolean;
}

export async function run(ctx: CliContext, o: AssetsExportOptions): Promise<number> {
  const r = await openWorkspace(ctx.dir).profile(o.profile).exportAssets(o.out, { force: !!o.force, pkcs11: pkcs11OptionsFrom(o) });
  if (ctx.json) {
    printJson(ctx, { ok: true, ...r });
    return 0;
  }
  for (const a of r.assets) say(ctx, `${paint(ctx, "green", "wrote")} ${a.name}: ${a.file ?? a.value}`);
  if (r.fingerprints) say(ctx, `SHA-256 fingerprint for Thales: ${r.fingerprints.sha256}`);
  say(ctx, `README: ${r.readme}`);
  if (r.missing.length) {
    say(ctx, "\nNot ready yet:");
    for (const m of r.missing) say(ctx, `  - ${m.name}: ${m.hint}`);
  }
  return 0;
}
