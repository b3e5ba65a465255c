import { spawn, type ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";
import { LOCK_FILE, withWorkspaceLock } from "./lock.js";

const CHILD = fileURLToPath(new URL("./testdata/lock-child.ts", import.meta.url));
let dir: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-lock-"));
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill();
  await fs.rm(dir, { recursive: true, force: true });
});

function child(args: string[]): { proc: ChildProcess; held: Promise<void>; ready: Promise<void>; done: Promise<number> } {
  const proc = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(proc);
  let err = "";
  proc.stderr!.on("data", (d) => (err += String(d)));
  const held = new Promise<void>((resolve, reject) => {
    proc.stdout!.on("data", (d) => String(d).includes("held") && resolve());
    proc.on("exit", (code) => reject(new Error(`child exited (${code}) before holding the lock: ${err}`)));
  });
  const ready = new Promise<void>((resolve) => proc.stdout!.on("data", (d) => String(d).includes("ready") && resolve()));
  held.catch(() => undefined); // only `hold` children ever hold; the others just exit
  const done = new Promise<number>((resolve) => proc.on("exit", (code) => resolve(code ?? -1)));
  return { proc, held, ready, done };
}

describe("workspace lock", () => {
  it("refuses with WORKSPACE_LOCKED naming the pid while another process holds it, then works once it is released", async () => {
    const holder = child(["hold", dir, "2500"]);
    await holder.held;
    const info = JSON.parse(await fs.readFile(path.join(dir, LOCK_FILE), "utf8")) as { pid: number; time: string };
    expect(info.pid).toBe(holder.proc.pid);
    expect(Date.parse(info.time)).not.toBeNaN();
    const err = await withWorkspaceLock(dir, async () => "ran", { waitMs: 200 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "WORKSPACE_LOCKED", message: expect.stringContaining(`process ${holder.proc.pid}`) });
    expect((err as { hint: string }).hint).toContain(String(holder.proc.pid));
    // Waiting long enough succeeds: the holder releases it.
    await expect(withWorkspaceLock(dir, async () => "ran", { waitMs: 20_000 })).resolves.toBe("ran");
    expect(await holder.done).toBe(0);
    await expect(fs.stat(path.join(dir, LOCK_FILE))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("takes over a lock left by a dead process", async () => {
    const dead = spawn(process.execPath, ["-e", ""]);
    const pid = dead.pid!;
    await new Promise((r) => dead.on("exit", r));
    await fs.writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid, host: os.hostname(), time: new Date(0).toISOString() }));
    await expect(withWorkspaceLock(dir, async () => "ran", { waitMs: 100 })).resolves.toBe("ran");
  });

  it("takes over a half-written lock once it is old, but not a fresh one", async () => {
    const file = path.join(dir, LOCK_FILE);
    await fs.writeFile(file, "");
    await expect(withWorkspaceLock(dir, async () => "ran", { waitMs: 100 })).rejects.toMatchObject({ code: "WORKSPACE_LOCKED" });
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(file, old, old);
    await expect(withWorkspaceLock(dir, async () => "ran", { waitMs: 100 })).resolves.toBe("ran");
  });

  it("is reentrant within one process and released after an error", async () => {
    await expect(withWorkspaceLock(dir, () => withWorkspaceLock(dir, async () => 1))).resolves.toBe(1);
    await expect(withWorkspaceLock(dir, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(fs.stat(path.join(dir, LOCK_FILE))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("two processes writing the same workspace at once lose nothing and leave a valid file", async () => {
    const a = child(["add", dir, "a", "20"]);
    const b = child(["add", dir, "b", "20"]);
    await Promise.all([a.ready, b.ready]);
    await fs.writeFile(path.join(dir, "go"), "");
    expect(await a.done).toBe(0);
    expect(await b.done).toBe(0);
    const { config } = await loadConfig(dir);
    expect(Object.keys(config.profiles).sort()).toEqual([...Array(20).keys()].flatMap((i) => [`a-${i}`, `b-${i}`]).sort());
    const left = (await fs.readdir(dir)).filter((f) => f.endsWith(".tmp") || f.startsWith(".lock") || f.startsWith(".mtlskit.yaml"));
    expect(left).toEqual([]);
  });
});
