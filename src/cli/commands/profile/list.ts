import * as path from "node:path";
import type { Command } from "commander";
import { isMtlsError } from "../../../errors/index.js";
import { openWorkspace } from "../../../store/index.js";
import { printJson, say, type CliContext } from "../../context.js";

export function define(cmd: Command): Command {
  return cmd.description("list the profiles of the workspace").addHelpText("after", "\nExample:\n  mtlskit profile list --json");
}

export async function run(ctx: CliContext): Promise<number> {
  // A --dir that is a file is an error; a workspace not created yet lists no profile (and says so).
  let exists = true;
  await openWorkspace(ctx.dir).assertExists().catch((e: unknown) => {
    if (isMtlsError(e, "WORKSPACE_NOT_FOUND")) exists = false;
    else throw e;
  });
  const profiles = await openWorkspace(ctx.dir).listProfiles();
  const rows = profiles.map((p) => ({ name: p.name, program: p.program.id, environment: p.environment.id, customerId: p.customerId, folder: p.paths.folder }));
  if (ctx.json) {
    printJson(ctx, { ok: true, workspaceExists: exists, profiles: rows });
    return 0;
  }
  if (rows.length === 0) {
    say(ctx, `no profiles in ${path.resolve(ctx.dir)}${exists ? "" : " (no workspace there yet)"}; add one: mtlskit profile add NAME --program d1 --env preprod --id <merchantGatewayId>`);
    return 0;
  }
  const head = { name: "NAME", program: "PROGRAM", environment: "ENV", customerId: "ID", folder: "FOLDER" };
  const all = [head, ...rows];
  const w = (k: keyof typeof head) => Math.max(...all.map((r) => r[k].length));
  for (const r of all) say(ctx, `${r.name.padEnd(w("name"))}  ${r.program.padEnd(w("program"))}  ${r.environment.padEnd(w("environment"))}  ${r.customerId.padEnd(w("customerId"))}  ${r.folder}`, true);
  return 0;
}
