import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MtlsError } from "../errors/index.js";
import { createExclusive, linkFile, recoverJournal, renamePath, unlinkFile } from "./journal.js";

/** Name of the lock file inside the workspace. */
export const LOCK_FILE = ".lock";

/** What the lock file holds: who took it and when. */
export interface LockInfo {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  time: string;
  /** What the holder is doing, e.g. `cert install`. */
  command?: string;
}

/** Options of {@link withWorkspaceLock}. */
export interface LockOptions {
  /** How long to wait for another mtlskit to finish before giving up. Default 5000 ms. */
  waitMs?: number;
  /** Shown to a process that finds the lock held. */
  command?: string;
}

/** Default wait for a held lock; `MTLSKIT_LOCK_WAIT_MS` overrides it (scripts that must not wait). */
export const DEFAULT_LOCK_WAIT_MS = 5000;

function envWaitMs(): number | undefined {
  const v = process.env["MTLSKIT_LOCK_WAIT_MS"];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** Workspaces whose lock this process holds (resolved path -> depth), so that nested calls do not wait on themselves. */
const held = new Map<string, number>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readLock(file: string): Promise<{ text: string; info: LockInfo | undefined } | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    const info = JSON.parse(text) as LockInfo;
    return { text, info: typeof info.pid === "number" ? info : undefined };
  } catch {
    return { text, info: undefined };
  }
}

/** A lock is stale when its holder is a dead process of this machine, or it is unreadable and old. */
async function isStale(file: string, lock: { info: LockInfo | undefined }): Promise<boolean> {
  if (lock.info) {
    if (lock.info.host !== os.hostname()) return false;
    // Our own pid but not taken by us: left by an earlier process that had the same pid.
    if (lock.info.pid === process.pid) return !held.has(path.dirname(file));
    return !alive(lock.info.pid);
  }
  // Half-written by a holder killed between create and write: give it a moment, then take it.
  const st = await fs.stat(file).catch(() => undefined);
  return !st || Date.now() - st.mtimeMs > 10_000;
}

/**
 * Takes a stale lock away without ever removing a live one: the file is renamed to a private
 * name first, and put back if, in between, it turned out to be someone else's fresh lock.
 */
async function breakStale(file: string, staleText: string): Promise<void> {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await renamePath(file, aside);
  } catch {
    return; // gone already: someone else broke it
  }
  const text = await fs.readFile(aside, "utf8").catch(() => staleText);
  if (text !== staleText) {
    await linkFile(aside, file).catch(() => undefined);
  }
  await unlinkFile(aside).catch(() => undefined);
}

async function tryAcquire(file: string, info: LockInfo): Promise<boolean> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await createExclusive(file, 0o600);
    if (!handle) return false;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      throw new MtlsError("WRITE_FAILED", `${path.dirname(file)}: the workspace folder does not exist`, { subject: file, cause: e });
    }
    throw new MtlsError("WRITE_FAILED", `${file}: the lock file could not be created (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { subject: file, cause: e });
  }
  try {
    await handle.writeFile(JSON.stringify(info));
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `work` while holding the workspace lock (`<dir>/.lock`, created with O_EXCL, holding the
 * pid and time). A lock held by a live process is waited for up to `waitMs`, then refused with
 * `WORKSPACE_LOCKED` naming the holder; a lock left by a dead process is taken over.
 *
 * @example
 * await withWorkspaceLock(".mtlskit", async () => { ... write files ... }, { command: "cert install" });
 */
export async function withWorkspaceLock<T>(dir: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const key = path.resolve(dir);
  const depth = held.get(key);
  if (depth !== undefined) {
    held.set(key, depth + 1);
    try {
      return await work();
    } finally {
      // The outer holder may have finished first (an emulator holds the lock while it runs).
      const d = held.get(key);
      if (d !== undefined) held.set(key, d - 1);
    }
  }
  const file = path.join(key, LOCK_FILE);
  const info: LockInfo = { pid: process.pid, host: os.hostname(), time: new Date().toISOString(), ...(options.command ? { command: options.command } : {}) };
  const deadline = Date.now() + (options.waitMs ?? envWaitMs() ?? DEFAULT_LOCK_WAIT_MS);
  let delay = 20;
  for (;;) {
    if (await tryAcquire(file, info)) break;
    const current = await readLock(file);
    if (current && (await isStale(file, current))) {
      await breakStale(file, current.text);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = current?.info;
      const since = who ? `, since ${who.time}` : "";
      const what = who?.command ? ` (${who.command})` : "";
      throw new MtlsError(
        "WORKSPACE_LOCKED",
        who ? `${dir}: the workspace is locked by mtlskit process ${who.pid}${who.host !== os.hostname() ? ` on ${who.host}` : ""}${what}${since}` : `${dir}: the workspace is locked (${file})`,
        {
          subject: file,
          hint: who
            ? `Wait for process ${who.pid} to finish and run the command again; if no such process is running, remove ${file}.`
            : `Wait for the other mtlskit to finish; if none is running, remove ${file}.`,
        },
      );
    }
    await sleep(Math.min(delay, Math.max(1, deadline - Date.now())));
    delay = Math.min(delay * 2, 250);
  }
  held.set(key, 1);
  try {
    // A command killed in the middle of a change left its journal: undo it before anything else.
    await recoverJournal(key);
    await removeDeadAsides(key);
    return await work();
  } finally {
    held.delete(key);
    const mine = await readLock(file).catch(() => undefined);
    if (mine?.info?.pid === process.pid && mine.info.time === info.time) await unlinkFile(file).catch(() => undefined);
  }
}

/** Removes the `.lock.stale-PID-*` names of a lock breaker killed half-way (its pid dead). */
async function removeDeadAsides(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const pid = /^\.lock\.stale-(\d+)-[0-9a-f]+$/.exec(name)?.[1];
    if (pid !== undefined && Number(pid) !== process.pid && !alive(Number(pid))) await unlinkFile(path.join(dir, name)).catch(() => undefined);
  }
}

/** The current holder of the workspace lock, if any (for `status`). */
export async function lockHolder(dir: string): Promise<LockInfo | undefined> {
  const current = await readLock(path.join(dir, LOCK_FILE)).catch(() => undefined);
  return current?.info;
}

/**
 * Waits (up to `waitMs`) while another live process holds the lock, so that a reader does not
 * look at the workspace in the middle of a write (a key replaced, its certificate not yet).
 * Returns false when the lock was still held at the end; the reader then goes on anyway.
 */
export async function waitForUnlock(dir: string, waitMs = DEFAULT_LOCK_WAIT_MS): Promise<boolean> {
  const file = path.join(dir, LOCK_FILE);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const current = await readLock(file).catch(() => undefined);
    if (!current || held.has(path.resolve(dir)) || (await isStale(file, current))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}
