/**
 * The one module that changes the workspace on disk. Every mutating file-system call of the
 * store (and of the commands built on it) goes through the functions below, and every change
 * made inside {@link writeWorkspace} is journaled first, so that a command killed at any point
 * (`kill -9`, power loss of the process) leaves the old set of files or the new one, never a mix.
 *
 * How: a rollback journal in `<workspace>/.txn/`. Before a path is changed for the first time in
 * a transaction, its before-image (absent, a directory, or a file's bytes and mode) is written
 * into the journal as a new file `N.json`, flushed before the change is made (an entry cut short
 * by a kill does not parse and is ignored: the change it announced was not made yet). The change is then made in place. The commit is one rename, `.txn` -> `.txn.done`, after
 * which the journal is deleted. A `.txn` found at the next start (any command that takes the
 * lock, and any reader that opens a profile) means a transaction that did not commit: its entries
 * are undone newest first (each undo is idempotent, so a recovery that is itself killed is simply
 * run again), the temporary files left beside the journaled paths are removed, and the journal
 * goes. A `.txn.done` is only deleted. Nothing of the journal remains after a run. The journal's
 * `meta.json` names the command and its start time, so that the undo is reported (`onRecovery`):
 * a recovery is never silent.
 *
 * Test-only: `MTLSKIT_TEST_CRASH_AT=N` makes the Nth mutating call of this module kill the
 * process with SIGKILL before it runs; `MTLSKIT_TEST_CRASH_AT=count` prints the number of
 * mutating calls to stderr at exit (`mtlskit-test-crash-points: N`). Nothing else reads it.
 */
import { randomBytes } from "node:crypto";
import { promises as fs, constants as fsc } from "node:fs";
import * as path from "node:path";
import { MtlsError } from "../errors/index.js";

/** The journal folder of an unfinished transaction. */
export const JOURNAL_DIR = ".txn";
/** A committed journal, being deleted. */
export const JOURNAL_DONE = ".txn.done";

// ---- test-only crash points -------------------------------------------------------------
const crashSetting = process.env["MTLSKIT_TEST_CRASH_AT"];
const crashAt = crashSetting !== undefined && /^\d+$/.test(crashSetting) ? Number(crashSetting) : undefined;
let mutations = 0;
if (crashSetting === "count") {
  process.on("exit", () => {
    process.stderr.write(`mtlskit-test-crash-points: ${mutations}\n`);
  });
}

/** Counts one mutating call; the test harness kills the process at the chosen one. */
function crashPoint(): void {
  mutations++;
  if (crashAt !== undefined && mutations === crashAt) process.kill(process.pid, "SIGKILL");
}

// ---- mutating primitives ---------------------------------------------------------------
function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

function writeFailed(file: string, e: unknown, what = "could not be written"): MtlsError {
  const c = code(e);
  if (c === "EEXIST") return new MtlsError("FILE_EXISTS", `${file}: already exists`, { subject: file, cause: e });
  if (c === "EISDIR") return new MtlsError("FILE_IS_DIRECTORY", `${file}: is a directory`, { subject: file, cause: e });
  if (c === "ENOTDIR") return new MtlsError("WRITE_FAILED", `${file}: ${what}: a part of the path is a file, not a folder`, { subject: file, cause: e });
  return new MtlsError("WRITE_FAILED", `${file}: ${what} (${c ?? String(e)})`, { subject: file, cause: e });
}

/** The temporary names of atomic writes (this module's and `pki`'s `writeFileAtomic`). */
export const TEMP_FILE = /^\..+\.[0-9a-f]{12}\.tmp$/;

/** Creates a folder and its parents. */
export async function mkdirs(dir: string, mode = 0o700): Promise<void> {
  crashPoint();
  try {
    await fs.mkdir(dir, { recursive: true, mode });
  } catch (e) {
    const c = code(e);
    if (c === "EEXIST" || c === "ENOTDIR") {
      throw new MtlsError("NOT_A_DIRECTORY", `${dir}: ${c === "EEXIST" ? "is a file, not a folder" : "a parent of this path is a file, not a folder"}`, { subject: dir, cause: e });
    }
    throw writeFailed(dir, e, "the folder could not be created");
  }
}

/**
 * Flushes a folder's entries (the names that renames, links and unlinks changed) to the disk,
 * so that a committed change survives a power loss, not only a kill. Where the platform cannot
 * fsync a folder (EISDIR, EINVAL, EPERM, ENOTSUP: some file systems, Windows) nothing is done; a
 * folder that no longer exists has nothing to flush.
 */
export async function syncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, fsc.O_RDONLY | (fsc.O_DIRECTORY ?? 0));
    await handle.sync();
  } catch (e) {
    const c = code(e);
    if (c === "EISDIR" || c === "EINVAL" || c === "EPERM" || c === "ENOTSUP" || c === "EBADF" || c === "ENOENT" || c === "ENOTDIR") return;
    throw writeFailed(dir, e, "could not be flushed to disk");
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Creates `file` exclusively (O_EXCL) and returns its handle; undefined when it exists. */
export async function createExclusive(file: string, mode = 0o600): Promise<fs.FileHandle | undefined> {
  crashPoint();
  try {
    return await fs.open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
  } catch (e) {
    if (code(e) === "EEXIST") return undefined;
    throw e;
  }
}

/**
 * Writes a file atomically (temporary file in the same folder, flushed, then renamed or, without
 * `overwrite`, hard-linked so that an existing file is never replaced).
 */
export async function writeAtomic(file: string, data: string | Uint8Array, options: { mode?: number; overwrite?: boolean } = {}): Promise<void> {
  const mode = options.mode ?? 0o644;
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file).slice(0, 64)}.${randomBytes(6).toString("hex")}.tmp`);
  let handle: fs.FileHandle | undefined;
  crashPoint();
  try {
    handle = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
    await handle.writeFile(data);
    await handle.chmod(mode);
    await handle.sync();
    await handle.close();
    handle = undefined;
    crashPoint();
    if (options.overwrite) {
      await fs.rename(tmp, file);
    } else {
      await fs.link(tmp, file);
      crashPoint();
      await fs.unlink(tmp);
    }
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await fs.unlink(tmp).catch(() => undefined);
    throw writeFailed(file, e);
  }
}

/** Renames a file or folder. */
export async function renamePath(from: string, to: string): Promise<void> {
  crashPoint();
  try {
    await fs.rename(from, to);
  } catch (e) {
    throw new MtlsError("WRITE_FAILED", `${from}: could not be moved to ${to} (${code(e) ?? String(e)})`, { subject: from, cause: e });
  }
}

/** Hard-links `from` to `to` (fails when `to` exists). */
export async function linkFile(from: string, to: string): Promise<void> {
  crashPoint();
  await fs.link(from, to);
}

/** Removes a file; nothing when it does not exist. */
export async function unlinkFile(file: string): Promise<void> {
  crashPoint();
  await fs.unlink(file).catch((e: unknown) => {
    if (code(e) !== "ENOENT") throw new MtlsError("WRITE_FAILED", `${file}: could not be removed (${code(e) ?? String(e)})`, { subject: file, cause: e });
  });
}

/** Removes an empty folder; false when it is not empty or not there. */
export async function removeEmptyDir(dir: string): Promise<boolean> {
  crashPoint();
  return fs.rmdir(dir).then(
    () => true,
    () => false,
  );
}

/** Removes a file or a folder tree; nothing when it is not there. */
export async function removeTree(target: string): Promise<void> {
  crashPoint();
  await fs.rm(target, { recursive: true, force: true, maxRetries: 2 });
}

// ---- transactions ----------------------------------------------------------------------
type Before =
  | { n: number; path: string; state: "absent" }
  | { n: number; path: string; state: "dir"; mode: number }
  | { n: number; path: string; state: "file"; mode: number; /** base64 */ data: string }
  | { n: number; path: string; state: "moved"; to: string };

interface Txn {
  readonly dir: string;
  readonly journal: string;
  /** What the journal says of itself (`meta.json`): the command and when it started. */
  readonly meta: JournalMeta;
  seq: number;
  readonly seen: Set<string>;
  /** Paths journaled as absent: everything below them goes with them on rollback. */
  readonly absent: Set<string>;
  /** Folders whose entries this transaction changed: flushed before the commit. */
  readonly touched: Set<string>;
  started: boolean;
}

const active = new Map<string, Txn>();

function inside(parent: string, child: string): boolean {
  return child === parent || child.startsWith(parent + path.sep);
}

function txnFor(target: string): Txn | undefined {
  const abs = path.resolve(target);
  for (const t of active.values()) if (inside(t.dir, abs)) return t;
  return undefined;
}

/** True while this process runs a transaction on the workspace `dir`. */
export function inTransaction(dir: string): boolean {
  return active.has(path.resolve(dir));
}

/** The first file of a journal: which command it belongs to and when that command started. */
export interface JournalMeta {
  /** The command (`cert install`), when the writer said. */
  readonly command?: string;
  /** When the transaction started (ISO 8601). */
  readonly startedAt: string;
  readonly pid: number;
}

/** A journal left by a killed process and undone: what it was. */
export interface Recovery {
  /** Workspace folder (absolute). */
  readonly dir: string;
  /** The command and start time of the interrupted change, when its journal recorded them. */
  readonly command: string | undefined;
  readonly startedAt: string | undefined;
  /** When it was undone (ISO 8601). */
  readonly undoneAt: string;
}

const META_FILE = "meta.json";
const recoveries: Recovery[] = [];
const recoveryListeners = new Set<(r: Recovery) => void>();

/**
 * Calls `fn` each time this process undoes a journal left by a killed process (once per journal:
 * the process that undoes it is the only one to hear of it). Returns a function that removes it.
 */
export function onRecovery(fn: (r: Recovery) => void): () => void {
  recoveryListeners.add(fn);
  return () => recoveryListeners.delete(fn);
}

/** The journals this process undid so far (for `status --json`). */
export function recoveriesSoFar(): readonly Recovery[] {
  return [...recoveries];
}

/** One sentence for people: `an interrupted cert install from 2026-12-06T03:00:00.000Z was undone; nothing of it was kept`. */
export function describeRecovery(r: Recovery): string {
  return `an interrupted ${r.command ?? "change"} from ${r.startedAt ?? "an unknown time"} was undone; nothing of it was kept (workspace ${r.dir})`;
}

async function readMeta(journal: string): Promise<Partial<JournalMeta>> {
  try {
    const m = JSON.parse(await fs.readFile(path.join(journal, META_FILE), "utf8")) as Partial<JournalMeta>;
    return typeof m === "object" && m !== null ? m : {};
  } catch {
    // absent (killed before it was written) or cut short: the change is undone all the same
    return {};
  }
}

async function addEntry(t: Txn, entry: Before): Promise<void> {
  if (!t.started) {
    await mkdirs(t.journal);
    t.started = true;
    await writeJournalFile(path.join(t.journal, META_FILE), JSON.stringify(t.meta));
    // The journal folder itself must survive a power loss before any change it protects is made.
    await syncDir(t.dir);
  }
  // One call: a new file, written and flushed. A process killed while writing it leaves a
  // truncated entry, which does not parse and is ignored: the change it announced was not made.
  await writeJournalFile(path.join(t.journal, `${entry.n}.json`), JSON.stringify(entry));
  // The entry's name, not only its bytes, is on disk before the change it announces is made.
  await syncDir(t.journal);
}

/** A new file of the journal, written and flushed in one mutating call. */
async function writeJournalFile(file: string, text: string): Promise<void> {
  crashPoint();
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    await handle.writeFile(text);
    await handle.sync();
  } catch (e) {
    throw writeFailed(file, e);
  } finally {
    await handle?.close();
  }
}

/**
 * Journals the current state of `target` before it is changed (once per transaction; nothing
 * outside a transaction or outside its workspace). Call it before any write the store does not
 * make itself (e.g. a key written by `pki`).
 */
export async function protect(target: string): Promise<void> {
  const t = txnFor(target);
  if (!t) return;
  const abs = path.resolve(target);
  // Its folder's entries change (also below a new folder, which needs no journal entry).
  t.touched.add(path.dirname(abs));
  if (t.seen.has(abs)) return;
  for (const a of t.absent) if (inside(a, abs)) return;
  t.seen.add(abs);
  const rel = path.relative(t.dir, abs);
  const n = ++t.seq;
  const st = await fs.lstat(abs).catch(() => undefined);
  if (!st) {
    t.absent.add(abs);
    await addEntry(t, { n, path: rel, state: "absent" });
  } else if (st.isDirectory()) {
    await addEntry(t, { n, path: rel, state: "dir", mode: st.mode & 0o777 });
  } else if (st.isFile()) {
    await addEntry(t, { n, path: rel, state: "file", mode: st.mode & 0o777, data: (await fs.readFile(abs)).toString("base64") });
  } else {
    throw new MtlsError("WRITE_FAILED", `${abs}: is neither a file nor a folder; mtlskit does not replace it`, { subject: abs });
  }
}

/** Journals a move of `from` to `to` (which must not exist) before it is made. */
export async function protectMove(from: string, to: string): Promise<void> {
  const t = txnFor(from);
  if (!t) return;
  await protect(path.dirname(to));
  t.touched.add(path.dirname(path.resolve(from))).add(path.dirname(path.resolve(to)));
  const n = ++t.seq;
  await addEntry(t, { n, path: path.relative(t.dir, path.resolve(from)), state: "moved", to: path.relative(t.dir, path.resolve(to)) });
}

/** Journals the creation of a folder: the topmost missing one is recorded as absent. */
export async function protectDir(dir: string): Promise<void> {
  let top: string | undefined;
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (await fs.lstat(d).then(() => true, () => false)) break;
    top = d;
    if (path.dirname(d) === d) break;
  }
  if (top) await protect(top);
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}

async function removeTemps(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names) if (TEMP_FILE.test(name)) await unlinkFile(path.join(dir, name));
}

/** Undoes an unfinished journal (newest entry first), removes its temporary files and the journal. */
async function rollback(dir: string): Promise<void> {
  const journal = path.join(dir, JOURNAL_DIR);
  const names = await fs.readdir(journal).catch(() => [] as string[]);
  const entries: Before[] = [];
  for (const name of names) {
    if (!/^\d+\.json$/.test(name)) continue;
    try {
      entries.push(JSON.parse(await fs.readFile(path.join(journal, name), "utf8")) as Before);
    } catch {
      // cut short by a kill before its change was made: nothing to undo
    }
  }
  entries.sort((a, b) => b.n - a.n);
  const folders = new Set<string>([dir]);
  for (const e of entries) {
    const abs = path.resolve(dir, e.path);
    if (!inside(path.resolve(dir), abs)) continue;
    folders.add(path.dirname(abs));
    if (e.state === "absent") {
      if (await exists(abs)) await removeTree(abs);
    } else if (e.state === "dir") {
      folders.add(abs);
      if (!(await exists(abs))) await mkdirs(abs, e.mode);
    } else if (e.state === "file") {
      const data = Buffer.from(e.data, "base64");
      const now = await fs.readFile(abs).catch(() => undefined);
      const mode = await fs.stat(abs).then((s) => s.mode & 0o777, () => undefined);
      if (!now || Buffer.compare(now, data) !== 0 || mode !== e.mode) {
        await mkdirs(path.dirname(abs));
        await writeAtomic(abs, data, { mode: e.mode, overwrite: true });
      }
    } else {
      const to = path.resolve(dir, e.to);
      if (!(await exists(abs)) && (await exists(to))) await renamePath(to, abs);
    }
  }
  for (const f of folders) await removeTemps(f);
  // The undo is on disk before the journal that would redo it goes.
  for (const f of folders) await syncDir(f);
  await renamePath(journal, path.join(dir, JOURNAL_DONE));
  await syncDir(dir);
  await removeTree(path.join(dir, JOURNAL_DONE));
}

/**
 * Brings the workspace back to a whole state after a process was killed: an unfinished journal
 * is undone, a committed one deleted. Call it holding the lock. Returns true when there was one.
 */
export async function recoverJournal(dir: string): Promise<boolean> {
  const abs = path.resolve(dir);
  if (active.has(abs)) return false;
  let found = false;
  if (await exists(path.join(abs, JOURNAL_DONE))) {
    found = true;
    await removeTree(path.join(abs, JOURNAL_DONE));
  }
  if (await exists(path.join(abs, JOURNAL_DIR))) {
    found = true;
    const meta = await readMeta(path.join(abs, JOURNAL_DIR));
    await rollback(abs);
    const r: Recovery = {
      dir: abs,
      command: typeof meta.command === "string" ? meta.command : undefined,
      startedAt: typeof meta.startedAt === "string" ? meta.startedAt : undefined,
      undoneAt: new Date().toISOString(),
    };
    recoveries.push(r);
    for (const fn of recoveryListeners) fn(r);
  }
  return found;
}

/** True when the workspace holds a journal (a killed command's, or one being written). */
export async function hasJournal(dir: string): Promise<boolean> {
  return (await exists(path.join(dir, JOURNAL_DIR))) || (await exists(path.join(dir, JOURNAL_DONE)));
}

/**
 * Runs `work` as one transaction on the workspace `dir` (the caller holds the lock): every change
 * journaled through {@link protect} is kept if `work` returns, undone if it throws, and undone at
 * the next start if the process dies first. A nested call joins the running transaction.
 */
export async function runTransaction<T>(dir: string, work: () => Promise<T>, info: { command?: string } = {}): Promise<T> {
  const abs = path.resolve(dir);
  if (active.has(abs)) return work();
  const meta: JournalMeta = { ...(info.command !== undefined ? { command: info.command } : {}), startedAt: new Date().toISOString(), pid: process.pid };
  const t: Txn = { dir: abs, journal: path.join(abs, JOURNAL_DIR), meta, seq: 0, seen: new Set(), absent: new Set(), touched: new Set(), started: false };
  active.set(abs, t);
  let result: T;
  try {
    result = await work();
  } catch (e) {
    active.delete(abs);
    if (t.started) await rollback(abs);
    throw e;
  }
  active.delete(abs);
  if (t.started) {
    // Every folder the change renamed into is on disk before the commit, so that a power loss
    // after it cannot leave the old names under a committed journal.
    for (const d of t.touched) await syncDir(d);
    // The commit point: one rename, itself flushed.
    await renamePath(t.journal, path.join(abs, JOURNAL_DONE));
    await syncDir(abs);
    await removeTree(path.join(abs, JOURNAL_DONE));
  }
  return result;
}
