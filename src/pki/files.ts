import { randomBytes } from "node:crypto";
import { promises as fs, constants as fsc } from "node:fs";
import * as path from "node:path";
import { MtlsError } from "../errors/index.js";

/** Largest input file mtlskit reads: far above any key, certificate, CSR or chain. */
export const MAX_INPUT_BYTES = 4 * 1024 * 1024;

/**
 * Reads a whole input file, turning every way it can fail into a coded `MtlsError` that names
 * the file: missing, a directory, unreadable, empty, or absurdly large.
 */
export async function readInputFile(file: string): Promise<Buffer> {
  let st;
  try {
    st = await fs.stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new MtlsError("FILE_NOT_FOUND", `${file}: no such file`, { subject: file, cause: e });
    throw new MtlsError("FILE_UNREADABLE", `${file}: cannot be read (${code ?? "error"})`, { subject: file, cause: e });
  }
  if (st.isDirectory()) throw new MtlsError("FILE_IS_DIRECTORY", `${file}: is a directory, not a file`, { subject: file });
  if (st.size > MAX_INPUT_BYTES) {
    throw new MtlsError("FILE_TOO_LARGE", `${file}: ${st.size} bytes is too large for a key, certificate, CSR or chain`, { subject: file });
  }
  let data: Buffer;
  try {
    data = await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new MtlsError("FILE_UNREADABLE", `${file}: cannot be read (${code ?? "error"})`, { subject: file, cause: e });
  }
  if (data.length === 0 || data.toString("latin1").trim() === "") {
    throw new MtlsError("FILE_EMPTY", `${file}: is empty`, { subject: file });
  }
  return data;
}

/** Options of {@link writeFileAtomic}. */
export interface WriteOptions {
  /** File mode; private keys are written 0600. Default 0o644. */
  mode?: number;
  /** Replace an existing file. Default false: `FILE_EXISTS` when it exists. */
  overwrite?: boolean;
}

/**
 * Writes a file atomically: the data goes to a temporary file in the same directory, is
 * flushed to disk, then takes the final name in one step. Readers see the old file or the new
 * one, never half of either; a failure leaves no partial file. Without `overwrite`, an existing
 * file is never replaced, even by a race (the final step is a hard link, which fails if the
 * name exists).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, options: WriteOptions = {}): Promise<void> {
  const mode = options.mode ?? 0o644;
  const dir = path.dirname(path.resolve(file));
  // The temporary name stays short enough for any final name the file system takes (255 bytes).
  const tmp = path.join(dir, `.${path.basename(file).slice(0, 64)}.${randomBytes(6).toString("hex")}.tmp`);
  await checkOutputPath(file, !!options.overwrite);
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed or the platform widened it
    await handle.sync();
    await handle.close();
    handle = undefined;
    if (options.overwrite) {
      await fs.rename(tmp, file);
    } else {
      await fs.link(tmp, file);
      await fs.unlink(tmp);
    }
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await fs.unlink(tmp).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new MtlsError("FILE_EXISTS", `${file}: already exists`, { subject: file, cause: e });
    if (code === "EISDIR") throw new MtlsError("FILE_IS_DIRECTORY", `${file}: is a directory`, { subject: file, cause: e });
    throw new MtlsError("WRITE_FAILED", `${file}: could not be written (${code ?? String(e)})`, { subject: file, cause: e });
  }
  await syncDir(dir);
}

/**
 * Checks, before anything is generated or written, that `file` can be written: it is not a
 * directory, it does not exist unless `overwrite`, and its directory exists. Throws
 * `FILE_IS_DIRECTORY`, `FILE_EXISTS` or `WRITE_FAILED`, naming the file.
 */
export async function checkOutputPath(file: string, overwrite = false): Promise<void> {
  let st: Awaited<ReturnType<typeof fs.stat>> | undefined;
  try {
    st = await fs.lstat(file);
    if (st.isSymbolicLink()) st = await fs.stat(file).catch(() => st);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "ENOTDIR") {
      throw new MtlsError("WRITE_FAILED", `${file}: cannot be checked for writing (${code ?? String(e)})`, { subject: file, cause: e });
    }
  }
  if (st?.isDirectory()) throw new MtlsError("FILE_IS_DIRECTORY", `${file}: is a directory, not a file to write`, { subject: file });
  if (st && !overwrite) throw new MtlsError("FILE_EXISTS", `${file}: already exists`, { subject: file });
  const dir = path.dirname(file);
  let dst;
  try {
    dst = await fs.stat(dir);
  } catch (e) {
    throw new MtlsError("WRITE_FAILED", `${file}: the directory '${dir}' does not exist`, { subject: file, cause: e });
  }
  if (!dst.isDirectory()) throw new MtlsError("WRITE_FAILED", `${file}: '${dir}' is not a directory`, { subject: file });
}

async function syncDir(dir: string): Promise<void> {
  try {
    const h = await fs.open(dir, "r");
    await h.sync().catch(() => undefined);
    await h.close();
  } catch {
    // Not every file system lets a directory be opened for sync; the rename is done all the same.
  }
}

/** True when the path exists (file, directory or anything else). */
export async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch {
    return false;
  }
}

/** Reads a passphrase file: its first line, without the line break. */
export async function readPassphraseFile(file: string): Promise<string> {
  const data = await readInputFile(file);
  return data.toString("utf8").split(/\r?\n/)[0] ?? "";
}
