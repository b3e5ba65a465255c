/**
 * `mtlskit demo` with the real binary: every step ticked, the summary's numbers, the temporary
 * folder gone; `--keep` leaves a workspace `status` can read, and refuses a folder with files in
 * it; `--json` is one document. Then the runner in-process with a fault (the application behind
 * the endpoint stopped): a cross, the rest skipped, everything stopped, the folder removed.
 */
import { promises as fs } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDemo, type DemoStepResult } from "../src/cli/demo/runner.js";
import { mtlskit, type CliRun } from "./support/cli.js";

let tmp: string;
const runs: CliRun[] = [];

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const r = await mtlskit(args, { cwd: tmp, env, timeoutMs: 120_000 });
  runs.push(r);
  return r;
}

/** Every file under `dir` with its content, for "nothing changed". */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    out[path.relative(dir, p)] = await fs.readFile(p, "utf8");
  }
  return out;
}

function refusesConnections(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname, () => {
      s.destroy();
      resolve(false);
    });
    s.on("error", () => resolve(true));
  });
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-demo-test-"));
});
afterAll(async () => {
  for (const r of runs) expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
  await fs.rm(tmp, { recursive: true, force: true });
});

describe("mtlskit demo", () => {
  it("runs both programs with every step ticked, reports the numbers, and removes its temporary folder", async () => {
    const tmpdir = path.join(tmp, "tmpdir");
    await fs.mkdir(tmpdir);
    const r = await run(["demo"], { TMPDIR: tmpdir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout.includes("\u001b[")).toBe(false);
    const stepLines = r.stdout.split("\n").filter((l) => /^[✓✗-] /.test(l));
    expect(stepLines.length).toBeGreaterThanOrEqual(25);
    expect(stepLines.every((l) => l.startsWith("✓ ")), stepLines.join("\n")).toBe(true);
    for (const l of stepLines) expect(l).toMatch(/ \d+ ms /);
    for (const name of ["start the emulator", "D1: csr create", "D1: cert install", "D1: assets import", "D1: oauth key create", "MT: cert self-signed", "MT: the Thales portal endorses", "D1: check", "MT: check", "D1: token", "D1: call", "MT: call echo", "D1: serve", "MT: notifications", "D1: renewal under a stream of calls", "stop everything"]) {
      expect(stepLines.some((l) => l.includes(name)), name).toBe(true);
    }
    const notif = [...r.stdout.matchAll(/(\d+) sent, (\d+) delivered, (\d+) refused/g)];
    expect(notif.length).toBeGreaterThanOrEqual(4);
    for (const m of notif) {
      expect(Number(m[1])).toBeGreaterThan(0);
      expect(m[2]).toBe(m[1]);
      expect(m[3]).toBe("0");
    }
    const table = r.stdout.slice(r.stdout.indexOf("calls during renewal"));
    const renewal = /calls during renewal\s+(\d+), (\d+) failed\s+(\d+), (\d+) failed/.exec(table);
    expect(renewal, r.stdout).not.toBeNull();
    expect(Number(renewal![1])).toBeGreaterThan(0);
    expect(renewal![2]).toBe("0");
    expect(Number(renewal![3])).toBeGreaterThan(0);
    expect(renewal![4]).toBe("0");
    expect(r.stdout).toMatch(/all green: \d+ steps in [\d.]+ s/);
    expect(await fs.readdir(tmpdir)).toEqual([]);
  });

  it("--json --program mt --keep DIR: one JSON document, and a workspace status can read", async () => {
    const keep = path.join(tmp, "kept");
    const r = await run(["--json", "demo", "--program", "mt", "--keep", keep]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      ok: boolean;
      steps: Array<{ id: string; name: string; status: string; ms: number; detail: string }>;
      summary: { programs: Array<{ program: string; profile: string; notifications: { sent: number; delivered: number; refused: number }; renewal: { calls: number; failed: number } }> };
      workspace: string;
    };
    expect(doc.ok).toBe(true);
    expect(doc.steps.every((s) => s.status === "pass" && typeof s.ms === "number" && typeof s.name === "string" && typeof s.detail === "string")).toBe(true);
    expect(doc.steps.some((s) => s.id.startsWith("d1."))).toBe(false);
    const mt = doc.summary.programs[0]!;
    expect(mt).toMatchObject({ program: "mt", profile: "mt-sandbox", notifications: { refused: 0 }, renewal: { failed: 0 } });
    expect(mt.notifications.delivered).toBe(mt.notifications.sent);
    expect(doc.workspace).toBe(path.join(keep, "workspace"));

    const st = await run(["--dir", doc.workspace, "--json", "status"]);
    expect(st.code, st.stdout + st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ ok: true, profiles: [{ name: "mt-sandbox", ready: { outbound: true, inbound: true } }] });
  });

  it("--keep on a folder with files in it exits 2 with FILE_EXISTS and changes nothing", async () => {
    const keep = path.join(tmp, "busy");
    await fs.mkdir(path.join(keep, "sub"), { recursive: true });
    await fs.writeFile(path.join(keep, "notes.txt"), "mine\n");
    await fs.writeFile(path.join(keep, "sub", "a.pem"), "not a pem\n");
    const before = await snapshot(keep);
    const r = await run(["demo", "--keep", keep]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error \[FILE_EXISTS\]: --keep .*not empty/);
    expect(r.stdout).toBe("");
    expect(await snapshot(keep)).toEqual(before);
    const j = await run(["--json", "demo", "--keep", keep]);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { code: "FILE_EXISTS" } });
  });

  it("a failing step: a cross with the reason, the rest skipped, everything stopped, the folder removed", async () => {
    const root = path.join(tmp, "fault");
    await fs.mkdir(root);
    const seen: DemoStepResult[] = [];
    const r = await runDemo({ programs: ["mt"], tmpRoot: root, faults: { upstreamDown: true }, reporter: { end: (s) => seen.push(s) } });
    expect(r.ok).toBe(false);
    expect(r.failed).toMatchObject({ id: "mt.notify", status: "fail", error: { code: "DEMO_STEP_FAILED" } });
    expect(r.failed!.error!.message).toMatch(/not delivered.*HTTP 503/);
    expect(r.failed!.error!.hint).toMatch(/503/);
    const i = r.steps.findIndex((s) => s.status === "fail");
    expect(r.steps.slice(0, i).every((s) => s.status === "pass")).toBe(true);
    expect(r.steps.slice(i + 1, -1).map((s) => s.status)).toEqual(r.steps.slice(i + 1, -1).map(() => "skip"));
    expect(r.steps.at(-1)).toMatchObject({ id: "stop", status: "pass" });
    expect(seen.map((s) => s.id)).toEqual(r.steps.map((s) => s.id));
    // Everything it started is stopped: the portal and the endpoint refuse connections.
    const portal = /portal (http:\/\/[\d.:]+)/.exec(r.steps[0]!.detail)![1]!;
    expect(await refusesConnections(portal)).toBe(true);
    expect(await refusesConnections(r.summary[0]!.endpoint!.url)).toBe(true);
    expect(await fs.readdir(root)).toEqual([]);
  });
});
