import type { Command } from "commander";
import { MtlsError } from "../../errors/index.js";
import type { ProgramId } from "../../policy/index.js";
import { startEmulator, type DnsRecord } from "../../emulator/index.js";
import { paint, printJson, say, type CliContext } from "../context.js";

export function define(cmd: Command): Command {
  return cmd
    .description("start the emulator of the Thales side (portal, mTLS API, OAuth 2.0, notifier, DNS) on loopback")
    .option("--program <program>", "d1 | mt | both", "both")
    .option("--host <address>", "loopback address to listen on", "127.0.0.1")
    .option("--map <host=address>", "make the DNS stand-in answer HOST with a loopback ADDRESS (repeatable), e.g. your ISSUER_HOST: notify.example.com=127.0.0.1", (v: string, prev: string[] = []) => [...prev, v])
    .option("--port-base <n>", "fixed ports: DNS on N, portal on N+1, the APIs from N+2 (default: the ports of the last start, kept in <dir>/ports.json)")
    .addHelpText(
      "after",
      "\nThe emulator keeps its state in --dir (default ./.mtlskit-emulator); Ctrl-C or SIGTERM stops it.\n\nExample:\n  mtlskit emulate --program d1 --dir /tmp/emu --json\n  mtlskit emulate --program mt --map notify.example.com=127.0.0.1 --port-base 41000",
    );
}

/** The options of `emulate`, as {@link define} declares them. */
export interface EmulateOptions {
  program: string;
  host: string;
  map?: string[];
  portBase?: string;
}

export async function run(ctx: CliContext, o: EmulateOptions): Promise<number> {
  const which = o.program.toLowerCase();
  if (!["d1", "mt", "both"].includes(which)) throw new MtlsError("UNKNOWN_PROGRAM", `unknown program '${which}'`, { hint: "Use --program d1, mt or both." });
  const programs: ProgramId[] = which === "both" ? ["d1", "mt"] : [which as ProgramId];
  const dnsRecords = (o.map ?? []).map(parseMapping);
  let portBase: number | undefined;
  if (o.portBase !== undefined) {
    const raw = o.portBase;
    portBase = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
    if (Number.isNaN(portBase)) throw new MtlsError("USAGE", `--port-base ${raw}: give a port number, e.g. --port-base 41000`);
  }
  const emulator = await startEmulator({ dir: ctx.dirFlag ?? ".mtlskit-emulator", host: o.host, programs, dnsRecords, ...(portBase !== undefined ? { portBase } : {}) });
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

/** Parses one `--map HOST=ADDRESS`: a DNS name and a 127.x.x.x address; `USAGE` otherwise. */
export function parseMapping(v: string): DnsRecord {
  const eq = v.indexOf("=");
  const name = (eq < 0 ? v : v.slice(0, eq)).trim().replace(/\.$/, "");
  const address = eq < 0 ? "" : v.slice(eq + 1).trim();
  const label = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
  if (!name || name.length > 253 || !name.split(".").every((l) => label.test(l)) || !name.includes(".")) {
    throw new MtlsError("USAGE", `--map ${v}: '${name}' is not a DNS host name`, { hint: "Give HOST=ADDRESS, e.g. --map notify.example.com=127.0.0.1." });
  }
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (!m || m.slice(1).some((x) => Number(x) > 255)) {
    throw new MtlsError("USAGE", `--map ${v}: the address must be a loopback IPv4 address (127.x.x.x), not '${address}'`, { hint: "The emulator runs on one machine: map your ISSUER_HOST to where `mtlskit serve` listens, e.g. --map notify.example.com=127.0.0.1." });
  }
  return { name: name.toLowerCase(), address, ttlSeconds: 30 };
}
