import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { MtlsError } from "../../../errors/index.js";
import { openWorkspace } from "../../../store/index.js";
import { paint, printJson, say, type CliContext } from "../../context.js";

export function define(cmd: Command): Command {
  return cmd
    .description("remove a profile; its folder (keys included) moves to the workspace's trash/<date>-<name>/, nothing is deleted")
    .argument("<name>", "the profile's name")
    .option("--yes", "do not ask (needed when not on a terminal)")
    .addHelpText("after", "\nExample:\n  mtlskit profile remove d1-pp --yes");
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** The options of `profile remove`, as {@link define} declares them. */
export interface ProfileRemoveOptions {
  yes?: boolean;
}

export async function run(ctx: CliContext, o: ProfileRemoveOptions, args: string[]): Promise<number> {
  const name = args[0]!;
  if (!o.yes) {
    if (ctx.json || !process.stdin.isTTY) {
      throw new MtlsError("CONFIRMATION_REQUIRED", `removing profile '${name}' needs a confirmation, and there is no terminal to ask on`, {
        hint: `Add --yes: mtlskit profile remove ${name} --yes (the files go to the workspace's trash/ folder).`,
      });
    }
    if (!(await confirm(`Remove profile '${name}' and move its files (keys included) to ${ctx.dir}/trash/? [y/N] `))) {
      say(ctx, "nothing removed", true);
      return 1;
    }
  }
  const r = await openWorkspace(ctx.dir).removeProfile(name);
  if (ctx.json) {
    printJson(ctx, { ok: true, ...r });
    return 0;
  }
  say(ctx, `${paint(ctx, "green", "removed")} profile ${name}${r.trashedTo ? `; its files are in ${r.trashedTo}` : ""}`);
  return 0;
}
