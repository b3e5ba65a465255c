import type { Command } from "commander";
import { showProfile } from "../../../store/index.js";
import { paint, printJson, say, type CliContext } from "../../context.js";
import { renderProfileStatus } from "../status.js";

export function define(cmd: Command): Command {
  return cmd
    .description("show a profile: its settings, its files and their state (never any key material)")
    .argument("<name>", "the profile's name")
    .addHelpText("after", "\nExample:\n  mtlskit profile show d1-pp");
}

export async function run(ctx: CliContext, _o: Record<string, unknown>, args: string[]): Promise<number> {
  const r = await showProfile(ctx.dir, args[0]!);
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
  for (const f of r.files) if (f.exists) say(ctx, `    ${f.role.padEnd(24)} ${f.path}${f.mode ? ` (mode ${f.mode})` : ""}`, true);
  renderProfileStatus(ctx, r.status, false);
  return 0;
}
