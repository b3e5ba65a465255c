import { promises as fs } from "node:fs";
import * as path from "node:path";
import { MtlsError } from "../errors/index.js";
import { mkdirs, protect, protectDir, protectMove, removeEmptyDir, renamePath, unlinkFile, writeAtomic } from "./journal.js";

/** `2025-11-23T11-13-05Z`: a time that sorts, fits in a file name on every system. */
export function stamp(now = new Date()): string {
  return now.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/:/g, "-");
}

/** `client.crt` at `now` -> `client.2025-11-23T11-13-05Z.crt` (the extension kept, so tools still see a PEM). */
export function backupName(file: string, now = new Date()): string {
  const base = path.basename(file);
  const ext = path.extname(base);
  const stem = ext ? base.slice(0, -ext.length) : base;
  return `${stem}.${stamp(now)}${ext}`;
}

/** Creates a folder (and its parents) private to the user. */
export async function ensureDir(dir: string, mode = 0o700): Promise<void> {
  const st = await fs.stat(dir).catch(() => undefined);
  if (st?.isDirectory()) return;
  await protectDir(dir);
  await mkdirs(dir, mode);
}

/**
 * Journals files about to be written by code outside the store (e.g. a key and CSR written by
 * `pki`), so that the running transaction undoes them if it does not finish.
 */
export async function willWrite(...files: string[]): Promise<void> {
  for (const f of files) {
    await protectDir(path.dirname(f));
    await protect(f);
  }
}

/** True when the file exists. */
export async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

/** A name in `dir` that does not exist yet: `name`, else `name-2`, `name-3`... (extension kept). */
async function freeName(dir: string, name: string): Promise<string> {
  const ext = path.extname(name);
  const stem = ext ? name.slice(0, -ext.length) : name;
  for (let i = 1; ; i++) {
    const candidate = path.join(dir, i === 1 ? name : `${stem}-${i}${ext}`);
    try {
      await fs.lstat(candidate);
    } catch {
      return candidate;
    }
  }
}

/**
 * Copies `file` into `backupsDir` under a dated name, with the same mode (a key stays 0600);
 * returns the backup's path, or undefined when there was nothing to keep.
 */
export async function backupFile(file: string, backupsDir: string, now = new Date()): Promise<string | undefined> {
  let data: Buffer;
  let mode: number;
  try {
    data = await fs.readFile(file);
    mode = (await fs.stat(file)).mode & 0o777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new MtlsError("FILE_UNREADABLE", `${file}: cannot be read for its backup (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { subject: file, cause: e });
  }
  await ensureDir(backupsDir);
  const target = await freeName(backupsDir, backupName(file, now));
  await protect(target);
  await writeAtomic(target, data, { mode });
  return target;
}

/** Options of {@link replaceFile}. */
export interface ReplaceOptions {
  /** Mode of the new file. Default 0o644; keys 0o600. */
  mode?: number;
  /** Where a dated copy of the file being replaced goes; none when undefined. */
  backupsDir?: string;
  now?: Date;
}

/**
 * Writes `file` atomically; when it already holds something else, a dated copy goes to
 * `backupsDir` first. Returns the backup's path when one was made.
 */
export async function replaceFile(file: string, data: string | Uint8Array, options: ReplaceOptions = {}): Promise<string | undefined> {
  await ensureDir(path.dirname(file));
  let backup: string | undefined;
  if (options.backupsDir) {
    const old = await fs.readFile(file).catch(() => undefined);
    if (old && Buffer.compare(old, Buffer.from(data)) !== 0) backup = await backupFile(file, options.backupsDir, options.now);
    if (old && !backup) return undefined; // the same bytes: nothing to do
  }
  await protect(file);
  await writeAtomic(file, data, { overwrite: true, mode: options.mode ?? 0o644 });
  return backup;
}

/** Moves a file or folder to a dated place under `trashDir`; returns where it went. */
export async function moveToTrash(target: string, trashDir: string, label: string, now = new Date()): Promise<string> {
  await ensureDir(trashDir);
  const dest = await freeName(trashDir, `${stamp(now)}-${label}`);
  await protectMove(target, dest);
  await renamePath(target, dest);
  return dest;
}

/** Removes a file if it exists. */
export async function removeFile(file: string): Promise<void> {
  if (!(await fs.lstat(file).then(() => true, () => false))) return;
  await protect(file);
  await unlinkFile(file);
}

/** Removes a folder if it is empty (journaled like every change). */
export async function removeDirIfEmpty(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => undefined);
  if (!names || names.length) return;
  await protect(dir);
  await removeEmptyDir(dir);
}

/** The permission bits of a file, or undefined when it does not exist. */
export async function fileMode(file: string): Promise<number | undefined> {
  try {
    return (await fs.stat(file)).mode & 0o777;
  } catch {
    return undefined;
  }
}
