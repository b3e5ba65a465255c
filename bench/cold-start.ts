/**
 * Cold start of `mtlskit inspect FILE` against `openssl x509 -noout -text -in FILE`, each a
 * fresh process, interleaved so that machine noise hits both alike. Measured with the
 * environment as it is and without NODE_EXTRA_CA_CERTS (which makes node load its whole root
 * store at start-up, before any of mtlskit runs).
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { median, msSince } from "./stats.js";

/** Medians of one environment. */
export interface ColdStartResult {
  readonly label: string;
  readonly runs: number;
  readonly mtlskitMs: number;
  readonly opensslMs: number | undefined;
  /** `node -e 0`: the floor no node CLI goes under in this environment. */
  readonly nodeFloorMs: number;
}

/**
 * Copies the built CLI (bin/ and dist/cli/) of the project at `root` into `into`, so that other
 * builds replacing dist/ meanwhile do not disturb the timing. The bundle leaves npm dependencies
 * external (scripts/build.mjs), as an installed package does: `into/node_modules` is a link to
 * the project's. Returns `into`.
 */
export function snapshotCli(root: string, into: string): string {
  cpSync(path.join(root, "bin"), path.join(into, "bin"), { recursive: true });
  cpSync(path.join(root, "dist", "cli"), path.join(into, "dist", "cli"), { recursive: true });
  writeFileSync(path.join(into, "package.json"), JSON.stringify({ type: "module" }));
  symlinkSync(path.join(root, "node_modules"), path.join(into, "node_modules"), "dir");
  return into;
}

function timeOnce(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  const ms = msSince(start);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status}: ${r.stderr?.toString() ?? ""}`);
  return ms;
}

/** Runs each command `runs` times (after 2 warm-up runs), interleaved; returns the medians. */
export function coldStart(root: string, certFile: string, env: NodeJS.ProcessEnv, label: string, runs: number, openssl: boolean): ColdStartResult {
  const bin = path.join(root, "bin", "mtlskit.js");
  const commands: Array<[string, string[]]> = [
    [process.execPath, [bin, "inspect", certFile]],
    [process.execPath, ["-e", "0"]],
    ...(openssl ? ([["openssl", ["x509", "-noout", "-text", "-in", certFile]]] as Array<[string, string[]]>) : []),
  ];
  const times: number[][] = commands.map(() => []);
  for (let i = 0; i < runs + 2; i++) {
    commands.forEach(([cmd, args], c) => {
      const ms = timeOnce(cmd, args, env);
      if (i >= 2) times[c]!.push(ms);
    });
  }
  return { label, runs, mtlskitMs: median(times[0]!), nodeFloorMs: median(times[1]!), opensslMs: openssl ? median(times[2]!) : undefined };
}

/** Packages `mtlskit inspect FILE` must not load at start-up: each costs tens of milliseconds. */
export const HEAVY_PACKAGES = ["pkijs", "yaml", "zod", "undici", "jose", "pino"] as const;

/**
 * The npm packages the built CLI loads for `inspect` before it runs: the bare imports of
 * main.js and of the inspect chunk's static imports, transitively (dynamic `import()` is not
 * followed: it runs only when that path is taken). Undefined without a built CLI.
 */
export function packagesOnInspectPath(root: string): string[] | undefined {
  const chunks = path.join(root, "dist", "cli", "chunks");
  if (!existsSync(chunks)) return undefined;
  const inspect = readdirSync(chunks).find((f) => f.startsWith("inspect-"));
  if (!inspect) return undefined;
  const seen = new Set<string>();
  const packages = new Set<string>();
  const todo = [path.join(root, "dist", "cli", "main.js"), path.join(chunks, inspect)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    const src = readFileSync(file, "utf8");
    for (const m of src.matchAll(/(?:^|[;}\s])import\s*(?:[^"'();]*?from\s*)?["']([^"']+)["']/g)) {
      const spec = m[1]!;
      if (spec.startsWith(".")) todo.push(path.join(path.dirname(file), spec));
      else if (!spec.startsWith("node:")) packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
    }
  }
  return [...packages].sort();
}
