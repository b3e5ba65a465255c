/**
 * Durability against power loss (issue 10): the journal's commit and undo renames are followed
 * by an fsync of the folder that holds them, and every folder a change renamed into is flushed
 * before the commit. Seen for real with strace on the real binary (fsync on folder descriptors,
 * `strace -y` names them); nothing is faked.
 */
import { spawnSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MTLSKIT_BIN, mtlskit } from "./support/cli.js";
import { requireTool } from "./support/tools.js";

const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
let tmp: string;
let ws: string;
let folder: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-durability-"));
  ws = path.join(tmp, "ws");
  folder = path.join(ws, "d1-preprod-123456");
  const r = await mtlskit(["profile", "add", "d1-pp", "--program", "d1", "--env", "preprod", "--id", "123456", "--subject", SUBJECT], { cwd: tmp, env: { MTLSKIT_HOME: ws } });
  expect(r.code, r.stderr).toBe(0);
}, 60_000);
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

interface Call {
  op: "fsync" | "rename";
  /** fsync: the path of the descriptor; rename: [from, to]. */
  args: string[];
}

/** Runs mtlskit under strace; returns its exit status and the fsync/rename calls, in order. */
function traced(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; signal: string | null; calls: Call[] } {
  const out = path.join(tmp, `strace-${Date.now()}.txt`);
  const r = spawnSync("strace", ["-f", "-y", "-e", "trace=fsync,rename", "-o", out, process.execPath, MTLSKIT_BIN, ...args], {
    cwd: tmp,
    env: { ...process.env, NO_COLOR: "1", MTLSKIT_HOME: ws, ...env },
    encoding: "utf8",
    timeout: 120_000,
  });
  const text = spawnSync("cat", [out], { encoding: "utf8" }).stdout;
  const calls: Call[] = [];
  for (const line of text.split("\n")) {
    const f = /fsync\(\d+<([^>]+)>\)\s+=\s+0/.exec(line);
    if (f) calls.push({ op: "fsync", args: [f[1]!] });
    const m = /rename\("([^"]+)", "([^"]+)"\)\s+=\s+0/.exec(line);
    if (m) calls.push({ op: "rename", args: [m[1]!, m[2]!] });
  }
  // strace's own status is the traced program's; a SIGKILL shows as 128+9 or a signal.
  return { status: r.status, signal: r.signal, calls };
}

const index = (calls: Call[], test: (c: Call) => boolean, from = 0): number => calls.findIndex((c, i) => i >= from && test(c));
const isFsync = (p: string) => (c: Call) => c.op === "fsync" && c.args[0] === p;

describe.skipIf(!requireTool("strace"))("the journal's renames are flushed (strace)", () => {
  it("commit: every changed folder is flushed before the commit rename, and the workspace after it; the command works", async () => {
    const { status, calls } = traced(["csr", "create", "--profile", "d1-pp"]);
    expect(status).toBe(0);
    expect((await fs.readdir(folder)).sort()).toEqual(["client.csr", "client.key"]);
    const commit = index(calls, (c) => c.op === "rename" && c.args[0] === path.join(ws, ".txn") && c.args[1] === path.join(ws, ".txn.done"));
    expect(commit, "the commit rename").toBeGreaterThan(0);
    // After the commit rename: the workspace folder that holds it.
    expect(index(calls, isFsync(ws), commit + 1), "fsync of the workspace after the commit").toBeGreaterThan(commit);
    // Before it: the profile folder (client.key, client.csr renamed in) and the workspace (mtlskit.yaml),
    // each after the last rename into it.
    for (const dir of [folder, ws]) {
      const lastRename = calls.reduce((last, c, i) => (i < commit && c.op === "rename" && path.dirname(c.args[1]!) === dir ? i : last), -1);
      const flushed = index(calls, isFsync(dir), Math.max(lastRename, 0));
      expect(flushed, `fsync of ${dir} after its last rename and before the commit`).toBeGreaterThan(lastRename);
      expect(flushed).toBeLessThan(commit);
    }
    // Journal entries: the journal folder is flushed after they are made.
    expect(index(calls, isFsync(path.join(ws, ".txn")))).toBeGreaterThanOrEqual(0);
  });

  it("undo: after a kill, the recovery flushes the undone folders before its rename of the journal, and the workspace after it", async () => {
    await fs.rm(folder, { recursive: true, force: true });
    await fs.mkdir(folder, { mode: 0o700 });
    // Killed as late as possible with a journal left (a kill after the commit leaves none).
    const count = await mtlskit(["csr", "create", "--profile", "d1-pp"], { cwd: tmp, env: { MTLSKIT_HOME: ws, MTLSKIT_TEST_CRASH_AT: "count" } });
    const points = Number(/mtlskit-test-crash-points: (\d+)/.exec(count.stderr)?.[1]);
    let left = false;
    for (let n = points; n > 0 && !left; n--) {
      await fs.rm(folder, { recursive: true, force: true });
      await fs.mkdir(folder, { mode: 0o700 });
      await mtlskit(["csr", "create", "--profile", "d1-pp"], { cwd: tmp, env: { MTLSKIT_HOME: ws, MTLSKIT_TEST_CRASH_AT: String(n) } });
      left = (await fs.readdir(path.join(ws, ".txn")).catch(() => [] as string[])).includes("1.json");
      if (!left) await mtlskit(["profile", "show", "d1-pp"], { cwd: tmp, env: { MTLSKIT_HOME: ws } });
    }
    expect(left, "a kill that leaves a journal").toBe(true);
    const { status, calls } = traced(["profile", "show", "d1-pp"]);
    expect(status).toBe(0);
    expect(await fs.readdir(folder)).toEqual([]);
    const undo = index(calls, (c) => c.op === "rename" && c.args[0] === path.join(ws, ".txn") && c.args[1] === path.join(ws, ".txn.done"));
    expect(undo, "the recovery's rename of the journal").toBeGreaterThanOrEqual(0);
    expect(index(calls, isFsync(ws), undo + 1)).toBeGreaterThan(undo);
    const flushedFolder = index(calls, isFsync(folder));
    expect(flushedFolder).toBeGreaterThanOrEqual(0);
    expect(flushedFolder).toBeLessThan(undo);
  });
});
