import type { Command } from "commander";
import { MtlsError } from "../../errors/index.js";
import type { ProgramId } from "../../policy/index.js";
import { startEmulator } from "../../emulator/index.js";
import { paint, printJson, say, type CliContext } from "../context.js";

export function define(cmd: Command): Command {
  return cmd
    .description("start the emulator of the Thales side (portal, mTLS API, OAuth 2.0, notifier, DNS) on loopback")
    .option("--program <program>", "d1 | mt | both", "both")
    .option("--host <address>", "loopback address to listen on", "127.0.0.1")
    .addHelpText(
      "after",
      "\nThe emulator keeps its state in --dir (default ./.mtlskit-emulator); Ctrl-C or SIGTERM stops it.\n\nExample:\n  mtlskit emulate --program d1 --dir /tmp/emu --json",
    );
}

export async function run(ctx: CliContext, o: Record<string, unknown>): Promise<number> {
  const which = String(o["program"] ?? "both").toLowerCase();
  if (!["d1", "mt", "both"].includes(which)) throw new MtlsError("UNKNOWN_PROGRAM", `unknown program '${which}'`, { hint: "Use --program d1, mt or both." });
  const programs: ProgramId[] = which === "both" ? ["d1", "mt"] : [which as ProgramId];
  const emulator = await startEmulator({ dir: ctx.dirFlag ?? ".mtlskit-emulator", host: String(o["host"] ?? "127.0.0.1"), programs });
  // Listen for the stop signals before saying "ready": a script may send one at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  const doc = emulator.describe();
  if (ctx.json) printJson(ctx, doc);
  else {
    say(ctx, `${paint(ctx, "green", "emulator ready")} (state in ${emulator.dir})`, true);
    say(ctx, `portal:     ${doc.portalUrl}`, true);
    say(ctx, `DNS:        ${doc.dnsServer}`, true);
    for (const e of doc.environments) {
      say(ctx, `${e.program} ${e.environment.padEnd(10)} ${e.apiUrl}  (listening on ${e.address})`, true);
      if (e.authzUrl) say(ctx, `${" ".repeat(e.program.length + 12)}OAuth: ${e.authzUrl}/oauth2/token`, true);
      say(ctx, `${" ".repeat(e.program.length + 12)}assets: ${e.assetsDir}`, true);
    }
    say(ctx, "Ctrl-C stops it.", true);
  }
  await stopped;
  await emulator.close();
  if (!ctx.json) say(ctx, "emulator stopped");
  return 0;
}
