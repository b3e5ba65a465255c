import type { Command } from "commander";
import { openWorkspace } from "../../../store/index.js";
import { paint, printJson, say, type CliContext } from "../../context.js";
import { renderProfileStatus } from "../status.js";
import { pkcs11OptionsFrom, TOKEN_OPTION_HELP, type TokenOptions } from "../key-source.js";

export function define(cmd: Command): Command {
  return cmd
    .description("show a profile: its settings, its files and their state (never any key material)")
    .argument("<name>", "the profile's name")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .addHelpText("after", "\nExample:\n  mtlskit profile show d1-pp");
}

/** The options of `profile show`: the token's. */
export type ProfileShowOptions = TokenOptions;

export async function run(ctx: CliContext, o: ProfileShowOptions, args: string[]): Promise<number> {
  const r = await openWorkspace(ctx.dir).profile(args[0]!).show({ pkcs11: pkcs11OptionsFrom(o) });
  if (ctx.json) {
    printJson(ctx, { ok: true, ...r });
    return 0;
  }
  say(ctx, `profile ${paint(ctx, "bold", r.name)}`, true);
  say(ctx, `  program: ${r.config.program}   environment: ${r.config.environment}   id: ${r.config.customerId}`, true);
  if (r.config.subject) say(ctx, `  subject: ${r.config.subject}`, true);
  if (r.config.cn) say(ctx, `  portal CN: ${r.config.cn}`, true);
  if (r.config.keyType) say(ctx, `  key type: ${r.config.keyType}`, true);
  say(ctx, `  Thales host: ${r.apiHost}${r.config.thales?.apiHost ? "" : " (program default)"}`, true);
  if (r.authzUrl) say(ctx, `  authz URL: ${r.authzUrl}`, true);
  if (r.dnsServers.length) say(ctx, `  DNS servers: ${r.dnsServers.join(", ")}`, true);
  if (r.issuerHost) say(ctx, `  ISSUER_HOST: ${r.issuerHost}`, true);
  say(ctx, `  folder: ${r.folder}`, true);
  say(ctx, "  files:", true);
  for (const f of r.files) {
    if (f.keyInToken) say(ctx, `    ${f.role.padEnd(24)} ${f.keyInToken} (${f.path})`, true);
    else if (f.tokenError) say(ctx, `    ${f.role.padEnd(24)} ${f.path}: token not reached [${f.tokenError.code}] ${f.tokenError.message}`, true);
    else if (f.exists) say(ctx, `    ${f.role.padEnd(24)} ${f.path}${f.mode ? ` (mode ${f.mode})` : ""}`, true);
  }
  renderProfileStatus(ctx, r.status, false);
  return 0;
}
