import type { Command } from "commander";
import { openWorkspace } from "../../../store/index.js";
import { paint, printJson, say, type CliContext } from "../../context.js";

export function define(cmd: Command): Command {
  return cmd
    .description("what the profile has from Thales and for Thales: present, missing or wrong")
    .requiredOption("--profile <name>", "the profile")
    .addHelpText("after", "\nExit status: 0 everything from Thales present and valid, 1 something missing or wrong.\n\nExample:\n  mtlskit assets status --profile d1-pp");
}

const STYLE = { present: "green", missing: "yellow", wrong: "red" } as const;

/** The options of `assets status`, as {@link define} declares them. */
export interface AssetsStatusOptions {
  profile: string;
}

export async function run(ctx: CliContext, o: AssetsStatusOptions): Promise<number> {
  const r = await openWorkspace(ctx.dir).profile(o.profile).assetsStatus();
  if (ctx.json) {
    printJson(ctx, r);
    return r.ok ? 0 : 1;
  }
  for (const dir of ["from-thales", "to-thales"] as const) {
    say(ctx, dir === "from-thales" ? "from Thales:" : "for Thales:", true);
    for (const a of r.assets.filter((x) => x.direction === dir)) say(ctx, `  ${a.name.padEnd(40)} ${paint(ctx, STYLE[a.state], a.state.padEnd(8))} ${a.detail}`, true);
  }
  for (const w of r.warnings) say(ctx, `${paint(ctx, "yellow", "warning")} ${w}`, true);
  return r.ok ? 0 : 1;
}
