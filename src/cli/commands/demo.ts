import type { Command } from "commander";
import { MtlsError } from "../../errors/index.js";
import { printJson, type CliContext } from "../context.js";
import { createTextReporter, demoJson, renderSummary } from "../demo/render.js";
import { runDemo } from "../demo/runner.js";
import type { DemoProgram } from "../demo/session.js";

export function define(cmd: Command): Command {
  return cmd
    .description("the whole job in a fresh temporary workspace against the embedded Thales emulator: onboarding, check, calls, notifications through serve, a Thales certificate rotation and a renewal under load")
    .option("--program <program>", "d1, mt or both", "both")
    .option("--keep <dir>", "put the workspace and the emulator's state in DIR (new or empty) and leave them there for inspection")
    .addHelpText(
      "after",
      "\nSteps: start the emulator; D1: profile add, key and CSR, the portal signs, cert install, assets import, OAuth key," +
        "\nserver-cert set, assets export and registration; MT: the portal's CN, profile add, cert self-signed, endorsement," +
        "\nassets import, server-cert set, registration; check each profile; token (D1) and call echo; serve in front of a" +
        "\nsample application while Thales sends notifications and rotates its client certificate; a renewal under a stream" +
        "\nof calls; then everything is stopped. Loopback only; your own workspace (--dir) is never touched." +
        "\n\nExit codes: 0 every step passed, 1 a step failed (the rest are skipped, everything is still stopped), 2 bad usage." +
        "\n\nExamples:\n  mtlskit demo\n  mtlskit demo --program mt --keep ./demo-mt && mtlskit --dir ./demo-mt/workspace status\n  mtlskit demo --json | jq '.summary'",
    );
}

function programsOf(value: string): DemoProgram[] {
  if (value === "both") return ["d1", "mt"];
  if (value === "d1" || value === "mt") return [value];
  throw new MtlsError("USAGE", `--program must be d1, mt or both, not '${value}'`);
}

/** The options of `demo`, as {@link define} declares them. */
export interface DemoOptions {
  program: string;
  keep?: string;
}

export async function run(ctx: CliContext, o: DemoOptions): Promise<number> {
  const programs = programsOf(o.program);
  const keep = o.keep;
  // Ctrl-C skips the steps not started yet; everything started is still stopped.
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  try {
    const result = await runDemo({
      programs,
      ...(keep !== undefined ? { keep } : {}),
      signal: controller.signal,
      ...(ctx.json ? {} : { reporter: createTextReporter(ctx) }),
    });
    if (ctx.json) printJson(ctx, demoJson(result));
    else renderSummary(ctx, result);
    return result.ok ? 0 : 1;
  } finally {
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
  }
}
