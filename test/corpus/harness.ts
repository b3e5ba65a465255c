/**
 * What every run of the corpus checks, whatever the input: the CLI's error contract (one
 * `error [CODE]:` line with a known code, a hint, no stack trace), bounded time, no partial
 * file, and no raw terminal control characters echoed from hostile input.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "vitest";
import { ERROR_CODES } from "../../src/errors/codes.js";
import type { CliRun } from "../support/cli.js";

/** Longest a single CLI run may take before it counts as a hang (the run is killed later, at {@link KILL_AFTER_MS}). */
export const MAX_RUN_MS = Number(process.env.MTLSKIT_CORPUS_MAX_RUN_MS ?? 20_000);
/** When a run is killed (SIGKILL). */
export const KILL_AFTER_MS = MAX_RUN_MS + 5_000;

/** At most this many CLI processes at once (spawning is CPU-bound; the machine is shared). */
export const CONCURRENCY = Math.max(1, Number(process.env.MTLSKIT_CORPUS_CONCURRENCY ?? Math.min(4, Math.max(3, os.cpus().length))));

/** A counting semaphore. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Characters hostile input must never put raw on a terminal: C0 controls but tab and line
 * feed, DEL, C1 controls, and the Unicode bidi overrides and isolates.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
export const TERMINAL_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** A readable form of control characters, for failure messages. */
export function visible(text: string, max = 2000): string {
  const t = text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
  return t.replace(new RegExp(TERMINAL_CONTROL.source, "g"), (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Every file under `dir`: relative path -> size, mode and SHA-256 (directories as `dir/`). */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = path.join(d, e.name);
      const rel = path.relative(dir, full);
      if (e.isDirectory()) {
        out.set(`${rel}/`, "dir");
        await walk(full);
      } else if (e.isSymbolicLink()) {
        out.set(rel, `link:${await fs.readlink(full)}`);
      } else {
        const st = await fs.stat(full);
        const hash = st.size > 8 * 1024 * 1024 ? `size:${st.size}` : createHash("sha256").update(await fs.readFile(full)).digest("hex");
        out.set(rel, `${(st.mode & 0o777).toString(8)}:${hash}`);
      }
    }
  };
  await walk(dir);
  return out;
}

/** The differences between two snapshots, one line each. */
export function changes(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of after) if (!before.has(k)) out.push(`added ${k}`);
  else if (before.get(k) !== v) out.push(`changed ${k}`);
  for (const k of before.keys()) if (!after.has(k)) out.push(`removed ${k}`);
  return out.sort();
}

/** One finished run, with what is needed to judge it. */
export interface RunRecord {
  readonly args: readonly string[];
  readonly run: CliRun;
  readonly ms: number;
  readonly changes: readonly string[];
  /** Files left after the run whose names say they were temporary or a held lock. */
  readonly leftovers: readonly string[];
}

/** What a case allows. */
export interface Expectation {
  /** Exit codes a correct mtlskit may give. */
  readonly exits: readonly number[];
  /** For exit 2: the error codes allowed (any code of the table with exit 2 when absent). */
  readonly codes?: readonly string[];
}

const STACK_LINE = /^\s+at .+(?:\(.*:\d+:\d+\)|:\d+:\d+)$/m;

/** The code of an `error [CODE]: ...` line. */
export function errorCode(stderr: string): string | undefined {
  return /^error \[([A-Z0-9_]+)\]: /.exec(stderr)?.[1];
}

/** A short account of a run for failure messages. */
export function describeRun(r: RunRecord): string {
  return `mtlskit ${r.args.map((a) => (a.length > 80 ? `${a.slice(0, 80)}…` : a)).map((a) => JSON.stringify(visible(a, 200))).join(" ")}\n  exit ${r.run.code} after ${r.ms} ms\n  stderr: ${visible(r.run.stderr)}\n  stdout: ${visible(r.run.stdout, 600)}${r.changes.length ? `\n  files changed: ${r.changes.join(", ")}` : ""}`;
}

/**
 * The invariants of a run on hostile input: finished in time and not killed; an allowed exit
 * code (never 3); on exit 2 exactly one `error [CODE]:` line with a known code of exit 2 and
 * a hint, nothing else on stderr; never a stack trace; no raw control characters in the
 * output; nothing changed on failure and no temporary file or lock left behind.
 */
export function expectContract(r: RunRecord, e: Expectation): void {
  const why = describeRun(r);
  expect(r.run.code, `killed or timed out (a hang)\n${why}`).not.toBe(-1);
  expect(r.ms, `took too long\n${why}`).toBeLessThan(MAX_RUN_MS);
  expect(r.run.stderr + r.run.stdout, `a stack trace was printed\n${why}`).not.toMatch(STACK_LINE);
  expect(errorCode(r.run.stderr), `an internal error (a bug)\n${why}`).not.toBe("INTERNAL");
  expect(e.exits, `unexpected exit code\n${why}`).toContain(r.run.code);
  if (r.run.code === 2) {
    const lines = r.run.stderr.trimEnd().split("\n");
    const code = errorCode(r.run.stderr);
    expect(code, `exit 2 without an 'error [CODE]:' line\n${why}`).toBeDefined();
    expect(Object.keys(ERROR_CODES), `unknown error code\n${why}`).toContain(code);
    expect(ERROR_CODES[code as keyof typeof ERROR_CODES].exit, `the code's exit status is not 2\n${why}`).toBe(2);
    if (e.codes) expect(e.codes, `unexpected error code\n${why}`).toContain(code);
    expect(lines.length, `stderr is not one error line and one hint\n${why}`).toBe(2);
    expect(lines[1], `no hint line\n${why}`).toMatch(/^ {2}hint: \S/);
    expect(r.run.stdout, `output on stdout besides the error\n${why}`).toBe("");
  }
  expect(r.leftovers, `temporary files or a lock left behind\n${why}`).toEqual([]);
  if (r.run.code !== 0) expect(r.changes, `files changed by a failed run (partial output)\n${why}`).toEqual([]);
}

/** Output carries no raw terminal control characters (separate, so that failures name the cause). */
export function expectNoTerminalControl(r: RunRecord): void {
  const out = r.run.stdout + r.run.stderr;
  const m = TERMINAL_CONTROL.exec(out);
  expect(m, `raw control character U+${m?.[0].charCodeAt(0).toString(16).padStart(4, "0")} in the output\n${describeRun(r)}`).toBeNull();
}

/** Names that are temporary files or a held lock. */
export function leftoversIn(snap: Map<string, string>): string[] {
  return [...snap.keys()].filter((k) => /(^|\/)\.[^/]*\.tmp$|\.tmp$|(^|\/)\.lock$/.test(k));
}
