import { spawn } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Absolute path of the `mtlskit` bin. */
export const MTLSKIT_BIN = path.join(ROOT, "bin", "mtlskit.js");

/** What one CLI run gave. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `mtlskit` binary (built dist/) in a child process, as a user would, and
 * collects its exit code and output. Never throws for a non-zero exit.
 */
export function mtlskit(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MTLSKIT_BIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/**
 * The real CLI bound to a folder and a workspace (`MTLSKIT_HOME`), read at each call (they are
 * made in `beforeAll`); every run is kept in `runs`. `ok` expects exit 0; `json` adds --json
 * and parses stdout.
 */
export function cliSession(where: () => { cwd: string; home: string }) {
  const runs: CliRun[] = [];
  const run = async (args: string[]): Promise<CliRun> => {
    const w = where();
    const r = await mtlskit(args, { cwd: w.cwd, env: { MTLSKIT_HOME: w.home } });
    runs.push(r);
    return r;
  };
  const ok = async (args: string[]): Promise<CliRun> => {
    const r = await run(args);
    expect(r.code, `mtlskit ${args.join(" ")}\n${r.stdout}${r.stderr}`).toBe(0);
    return r;
  };
  const json = async <T>(args: string[]): Promise<T> => JSON.parse((await ok(["--json", ...args])).stdout) as T;
  return { runs, run, ok, json };
}

/**
 * A bad-input refusal as the contract says: exit 2, nothing on stdout, two lines on stderr
 * (`error [CODE]: ...`, naming `file` first when given, then `  hint: ...`). Returns the first line.
 */
export function expectCodedError(r: CliRun, code: string, file?: string): string {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(2);
  expect(lines[0]).toMatch(new RegExp(`^error \\[${code}\\]: ${file ? `${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: ` : ""}\\S`));
  expect(lines[1]).toMatch(/^ {2}hint: \S/);
  return lines[0]!;
}
