/**
 * Recovery is not silent (issue 10): a command killed in the middle of a change (the crash
 * harness's MTLSKIT_TEST_CRASH_AT, SIGKILL at its Nth mutating call) leaves a journal naming the
 * command and its start time; the next command undoes it and says so once on stderr; `status
 * --json` shows it in `recovered`. Two crash points, not the whole sweep (test/crash-safety.test.ts).
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mtlskit, type CliRun } from "./support/cli.js";

const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
const NOTE = /^note an interrupted csr create from (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) was undone; nothing of it was kept \(workspace (.+)\)$/m;
let tmp: string;
let ws: string;

const run = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> => mtlskit(args, { cwd: tmp, env: { MTLSKIT_HOME: ws, ...env } });
const exists = (p: string) => fs.lstat(p).then(() => true, () => false);

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-recovery-note-"));
  ws = path.join(tmp, "ws");
  const r = await run(["profile", "add", "d1-pp", "--program", "d1", "--env", "preprod", "--id", "123456", "--subject", SUBJECT]);
  expect(r.code, r.stderr).toBe(0);
}, 60_000);
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

/** Back to a profile with no key and no CSR, so that a killed run changes something. */
async function reset(): Promise<void> {
  await fs.rm(path.join(ws, "d1-preprod-123456"), { recursive: true, force: true });
  await fs.mkdir(path.join(ws, "d1-preprod-123456"), { mode: 0o700 });
}

/**
 * Kills `csr create --profile d1-pp` at its mutating calls `order` in turn until one leaves a
 * journal with its meta.json and at least one entry (a kill before that leaves nothing to undo;
 * such tries are cleaned by a reader); returns when that run was started.
 */
async function killedWithJournal(order: number[]): Promise<{ before: number; after: number }> {
  for (const n of order) {
    const before = Date.now();
    const r = await run(["csr", "create", "--profile", "d1-pp"], { MTLSKIT_TEST_CRASH_AT: String(n) });
    if (r.code === 0) {
      // Fewer calls than counted (the count run also made the profile's folder): start again.
      await reset();
      continue;
    }
    expect(r.code, `killed at ${n}: ${r.stderr}`).toBe(-1);
    const names = await fs.readdir(path.join(ws, ".txn")).catch(() => [] as string[]);
    if (names.includes("meta.json") && names.includes("1.json")) return { before, after: Date.now() };
    // Killed before its first entry or after its commit: clean, and back to the empty profile.
    await run(["profile", "show", "d1-pp"]);
    await reset();
  }
  throw new Error("no crash point left a journal");
}

describe("a journal left by a killed command", () => {
  it("records the command and its start time; the next command says once on stderr that it was undone; status --json shows it", async () => {
    const counted = await run(["csr", "create", "--profile", "d1-pp"], { MTLSKIT_TEST_CRASH_AT: "count" });
    expect(counted.code, counted.stderr).toBe(0);
    const points = Number(/mtlskit-test-crash-points: (\d+)/.exec(counted.stderr)?.[1]);
    expect(points).toBeGreaterThan(4);
    await reset();

    // 1. Killed soon after its first journal entry: `profile show` (a reader) undoes it and says so.
    const t1 = await killedWithJournal(Array.from({ length: points }, (_, i) => i + 1));
    const journalFiles = await fs.readdir(path.join(ws, ".txn"));
    expect(journalFiles).toContain("meta.json");
    const meta = JSON.parse(await fs.readFile(path.join(ws, ".txn", "meta.json"), "utf8")) as { command: string; startedAt: string; pid: number };
    expect(meta.command).toBe("csr create");
    const started = Date.parse(meta.startedAt);
    expect(started).toBeGreaterThanOrEqual(t1.before - 1000);
    expect(started).toBeLessThanOrEqual(t1.after);

    const shown = await run(["profile", "show", "d1-pp"]);
    expect(shown.code, shown.stderr).toBe(0);
    const m = NOTE.exec(shown.stderr);
    expect(m, shown.stderr).not.toBeNull();
    expect(m![1]).toBe(meta.startedAt);
    expect(m![2]).toBe(path.resolve(ws));
    expect(shown.stderr.match(/was undone/g)).toHaveLength(1);
    expect(shown.stdout).not.toContain("was undone");
    expect(await exists(path.join(ws, ".txn"))).toBe(false);
    // Said once: the next command has nothing to say.
    const again = await run(["profile", "show", "d1-pp"]);
    expect(again.stderr).not.toContain("was undone");

    // 2. Killed as late as possible before its commit: `status --json` undoes it, says so on stderr, and in `recovered`.
    await killedWithJournal(Array.from({ length: points }, (_, i) => points - i));
    const st = await run(["--json", "status"]);
    expect(NOTE.exec(st.stderr), st.stderr).not.toBeNull();
    const doc = JSON.parse(st.stdout) as { recovered?: Array<{ command: string; startedAt: string; undoneAt: string }> };
    expect(doc.recovered).toHaveLength(1);
    expect(doc.recovered![0]!.command).toBe("csr create");
    expect(doc.recovered![0]!.startedAt).toBe(NOTE.exec(st.stderr)![1]);
    const st2 = await run(["--json", "status"]);
    expect((JSON.parse(st2.stdout) as { recovered?: unknown }).recovered).toBeUndefined();
    expect(st2.stderr).not.toContain("was undone");

    // Nothing of the interrupted runs was kept, and the command now runs through.
    expect(await fs.readdir(path.join(ws, "d1-preprod-123456"))).toEqual([]);
    const ok = await run(["csr", "create", "--profile", "d1-pp"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).not.toContain("was undone");
  });
});
