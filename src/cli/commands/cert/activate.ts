import type { Command } from "commander";
import { openWorkspace } from "../../../store/index.js";
import { printJson, type CliContext } from "../../context.js";
import { renderInstall } from "./install.js";
import { pkcs11OptionsFrom, TOKEN_OPTION_HELP, type TokenOptions } from "../key-source.js";

export function define(cmd: Command): Command {
  return cmd
    .description("mt: make the renewed self-signed certificate active, once Thales has endorsed it (the current one stays in use until then)")
    .requiredOption("--profile <name>", "the profile")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .addHelpText("after", "\nExample:\n  mtlskit renew --profile mt-sbx\n  # ... Thales endorses the new certificate ...\n  mtlskit cert activate --profile mt-sbx");
}

/** The options of `cert activate`, as {@link define} declares them. */
export interface CertActivateOptions extends TokenOptions {
  profile: string;
}

export async function run(ctx: CliContext, o: CertActivateOptions): Promise<number> {
  const r = await openWorkspace(ctx.dir).profile(o.profile).activateCertificate({ pkcs11: pkcs11OptionsFrom(o) });
  if (ctx.json) printJson(ctx, { ok: true, ...r });
  else renderInstall(ctx, r, "activated");
  return 0;
}
