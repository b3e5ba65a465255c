import { spawn, type ChildProcess } from "node:child_process";
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
    // A command that exits before reading its input closes the pipe: that EPIPE is not the test's failure.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

/** A `mtlskit` run left in the background (`serve`, `emulate`), once it printed its JSON document. */
export interface BackgroundRun<T> {
  readonly child: ChildProcess;
  /** The one JSON document it printed once listening (`--json`). */
  readonly doc: T;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** Resolves with its exit code (-1 when a signal ended it). */
  readonly exited: Promise<number>;
}

/**
 * Starts the real `mtlskit` with `args` (`--json` among them) and resolves once its stdout holds
 * one whole JSON document. Rejects, and kills it, when it exits first or prints none within
 * `timeoutMs`. Stopping it is the caller's.
 */
export function startMtlskit<T>(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<BackgroundRun<T>> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = spawn(process.execPath, [MTLSKIT_BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));
  return new Promise((resolve, reject) => {
    const fail = (e: Error) => {
      clearTimeout(timer);
      if (child.exitCode === null) child.kill("SIGKILL");
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error(`mtlskit ${args.join(" ")} printed no JSON document within ${timeoutMs} ms: ${err}`)), timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      try {
        const doc = JSON.parse(out) as T;
        clearTimeout(timer);
        resolve({ child, doc, stderr: () => err, exited });
      } catch {
        // not whole yet
      }
    });
    child.once("error", fail);
    child.once("exit", (code) => fail(new Error(`mtlskit ${args.join(" ")} exited ${code} before printing its document: ${err}`)));
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
