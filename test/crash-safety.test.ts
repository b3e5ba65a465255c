/**
 * Crash safety the hard way: every command that writes the workspace is run once (the real
 * `mtlskit` binary) to count its mutating file-system calls (`MTLSKIT_TEST_CRASH_AT=count`, read
 * only by src/store/journal.ts), then killed with SIGKILL at each of them in turn, on a fresh copy
 * of the workspace. After each kill the next reader (`mtlskit status`) must find exactly the old
 * set of files or exactly the new one, with no journal and no temporary file left; from the old
 * set, running the command again must succeed (no --force needed).
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recoverWorkspace } from "../src/store/workspace.js";
import { createTestPki } from "../src/testing/index.js";
import { makeThalesSide, signCsr, standardBundle, type ThalesSide } from "./support/store-fixtures.js";
import { mtlskit, type CliRun } from "./support/cli.js";

const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
let tmp: string;
let d1: ThalesSide;

interface Entry {
  kind: "file" | "dir";
  mode: number;
  sha: string;
}
type Tree = Map<string, Entry>;

/** The workspace as a reader sees it: every file and folder (dated names normalised), without the lock. */
async function snapshot(dir: string): Promise<Tree> {
  const out: Tree = new Map();
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      if (rel === "" && (e.name === ".lock" || e.name.startsWith(".lock.stale-"))) continue;
      const r = path.join(rel, e.name).replace(/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ/g, "<time>");
      const abs = path.join(d, e.name);
      const st = await fs.lstat(abs);
      if (e.isDirectory()) {
        out.set(r, { kind: "dir", mode: st.mode & 0o777, sha: "" });
        await walk(abs, path.join(rel, e.name));
      } else {
        out.set(r, { kind: "file", mode: st.mode & 0o777, sha: createHash("sha256").update(await fs.readFile(abs)).digest("hex") });
      }
    }
  };
  await walk(dir, "");
  return out;
}

const same = (a: Entry | undefined, b: Entry | undefined) => !!a && !!b && a.kind === b.kind && a.mode === b.mode && a.sha === b.sha;

function equalTrees(a: Tree, b: Tree): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (!same(v, b.get(k))) return false;
  return true;
}

/**
 * "The new set": the same names as the reference run, every file the reference left unchanged
 * unchanged, every file it changed changed (new keys are random, so bytes cannot be compared).
 */
function isNewSet(got: Tree, old: Tree, ref: Tree): string | undefined {
  const names = (t: Tree) => [...t.keys()].sort().join("\n");
  if (names(got) !== names(ref)) return `names differ:\n got ${[...got.keys()].sort().join(" ")}\n new ${[...ref.keys()].sort().join(" ")}`;
  for (const [k, r] of ref) {
    const g = got.get(k)!;
    if (r.kind === "dir") continue;
    const o = old.get(k);
    if (same(r, o) && !same(g, o)) return `${k} changed, the reference run left it as it was`;
    if (!same(r, o) && same(g, o)) return `${k} is the old one, the reference run changed it`;
  }
  return undefined;
}

interface Scenario {
  name: string;
  args: string[];
  /** Input files the command needs, made from the workspace before the run (in the run's folder). */
  prepare?: (ws: string, cwd: string) => Promise<void>;
}

async function copyDir(from: string, to: string): Promise<void> {
  await fs.rm(to, { recursive: true, force: true });
  await fs.cp(from, to, { recursive: true, preserveTimestamps: true });
}

async function run(args: string[], cwd: string, ws: string, env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return mtlskit(args, { cwd, env: { MTLSKIT_HOME: ws, MTLSKIT_LOCK_WAIT_MS: "2000", ...env } });
}

/**
 * Runs one scenario from the workspace `start`: counts, then kills at each call. Returns the
 * workspace after a normal run (the start of the next scenario).
 */
async function sweep(s: Scenario, start: string): Promise<{ after: string; points: number }> {
  const cwd = path.join(tmp, s.name.replace(/\W+/g, "-"));
  await fs.mkdir(cwd, { recursive: true });
  const ws = path.join(cwd, "ws");
  const after = path.join(cwd, "after");
  await copyDir(start, ws);
  await s.prepare?.(ws, cwd);
  const old = await snapshot(ws);
  const counted = await run(s.args, cwd, ws, { MTLSKIT_TEST_CRASH_AT: "count" });
  expect(counted.code, `${s.name}: ${counted.stderr}`).toBe(0);
  const points = Number(/mtlskit-test-crash-points: (\d+)/.exec(counted.stderr)?.[1]);
  expect(points).toBeGreaterThan(2);
  const ref = await snapshot(ws);
  expect(equalTrees(ref, old), `${s.name} changed nothing`).toBe(false);
  await copyDir(ws, after);
  const statusOld = (await run(["status"], cwd, start)).code;
  const statusNew = (await run(["status"], cwd, after)).code;

  let sawOld = 0;
  let sawNew = 0;
  for (let n = 1; n <= points; n++) {
    await copyDir(start, ws);
    const killed = await run(s.args, cwd, ws, { MTLSKIT_TEST_CRASH_AT: String(n) });
    expect(killed.code, `${s.name}: killed at call ${n} of ${points}: ${killed.stderr}`).toBe(-1); // ended by the signal
    // The next reader recovers the workspace and sees a whole profile: the real `mtlskit status`
    // at every fourth call and the last, the same recovery in-process at the others (the run time
    // stays short).
    const status = n % 4 === 1 || n === points ? await run(["status"], cwd, ws) : undefined;
    if (!status) await recoverWorkspace(ws);
    const got = await snapshot(ws);
    if (equalTrees(got, old)) {
      sawOld++;
      if (status) expect(status.code, `${s.name} @${n}: status of the old set\n${status.stdout}${status.stderr}`).toBe(statusOld);
      // A discarded change leaves nothing in the way: the command runs again (no --force).
      if (sawOld === 1 || n === points) {
        const again = await run(s.args, cwd, ws);
        expect(again.code, `${s.name} @${n}: again: ${again.stderr}`).toBe(0);
        const why = isNewSet(await snapshot(ws), old, ref);
        expect(why, `${s.name} @${n}: after the second run`).toBeUndefined();
      }
    } else {
      const why = isNewSet(got, old, ref);
      expect(why, `${s.name}: killed at call ${n} of ${points}: neither the old set nor the new one`).toBeUndefined();
      if (status) expect(status.code, `${s.name} @${n}: status of the new set\n${status.stdout}${status.stderr}`).toBe(statusNew);
      sawNew++;
    }
  }
  expect(sawOld, `${s.name}: no kill left the old set`).toBeGreaterThan(0);
  expect(sawNew, `${s.name}: no kill left the new set`).toBeGreaterThan(0);
  return { after, points };
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-crash-"));
  d1 = await makeThalesSide("d1");
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe("kill -9 at every mutating call leaves the old set or the new one", () => {
  it("D1: profile add, csr create, cert install, assets import, server-cert set, oauth key create, renew, cert install (promotion), profile remove", async () => {
    const base = path.join(tmp, "base");
    await fs.mkdir(base);
    const first = await run(["profile", "add", "d1-pp", "--program", "d1", "--env", "preprod", "--id", "123456", "--subject", SUBJECT], tmp, base);
    expect(first.code, first.stderr).toBe(0);
    const serverPki = await createTestPki({ rootCn: "Example Private Root", intermediateCn: "Example Private Issuing CA", validityHours: 24 * 800 });
    const serverLeaf = await serverPki.issue({ usage: "server", dns: ["notify.example.com"], cn: "notify.example.com", validityHours: 24 * 400 });
    const signFrom = (csr: string, key: string) => async (ws: string, cwd: string) => {
      const folder = path.join(ws, "d1-preprod-123456");
      const signed = await signCsr(d1, "PPR", path.join(folder, csr), path.join(folder, key));
      await fs.writeFile(path.join(cwd, "signed.pem"), signed.chainPem);
    };
    const scenarios: Scenario[] = [
      { name: "profile add", args: ["profile", "add", "d1-two", "--program", "d1", "--env", "preprod", "--id", "654321", "--subject", SUBJECT] },
      { name: "csr create", args: ["csr", "create", "--profile", "d1-pp"] },
      { name: "cert install", args: ["cert", "install", "signed.pem", "--profile", "d1-pp"], prepare: signFrom("client.csr", "client.key") },
      { name: "assets import", args: ["assets", "import", "bundle", "--profile", "d1-pp"], prepare: async (_ws, cwd) => void (await standardBundle(path.join(cwd, "bundle"), d1, "d1", "preprod", "123456")) },
      {
        name: "server-cert set",
        args: ["server-cert", "set", "--profile", "d1-pp", "--cert", "server.crt", "--key", "server.key", "--chain", "chain.pem", "--host", "notify.example.com"],
        prepare: async (_ws, cwd) => {
          await fs.writeFile(path.join(cwd, "server.crt"), serverLeaf.certPem);
          await fs.writeFile(path.join(cwd, "server.key"), serverLeaf.keyPem);
          await fs.writeFile(path.join(cwd, "chain.pem"), serverPki.intermediate.certPem + serverPki.root.certPem);
        },
      },
      { name: "oauth key create", args: ["oauth", "key", "create", "--profile", "d1-pp"] },
      { name: "renew", args: ["renew", "--profile", "d1-pp"] },
      { name: "cert install promotion", args: ["cert", "install", "signed.pem", "--profile", "d1-pp"], prepare: signFrom(path.join("pending", "client.csr"), path.join("pending", "client.key")) },
      { name: "profile remove", args: ["profile", "remove", "d1-pp", "--yes"] },
    ];
    let start = base;
    const counts: Record<string, number> = {};
    for (const s of scenarios) {
      const r = await sweep(s, start);
      counts[s.name] = r.points;
      if (s.name !== "profile add") start = r.after;
    }
    console.log(`crash points per command: ${JSON.stringify(counts)}`);
  }, 600_000);

  it("MT: cert self-signed --profile, renew, cert activate", async () => {
    const base = path.join(tmp, "mt-base");
    await fs.mkdir(base);
    const first = await run(["profile", "add", "mt-sbx", "--program", "mt", "--env", "sandbox", "--id", "654321", "--cn", "MT-654321-SBX"], tmp, base);
    expect(first.code, first.stderr).toBe(0);
    let start = base;
    for (const s of [
      { name: "mt cert self-signed", args: ["cert", "self-signed", "--profile", "mt-sbx", "--days", "365"] },
      { name: "mt renew", args: ["renew", "--profile", "mt-sbx", "--days", "365"] },
      { name: "mt cert activate", args: ["cert", "activate", "--profile", "mt-sbx"] },
    ]) {
      start = (await sweep(s, start)).after;
    }
  }, 600_000);
});
