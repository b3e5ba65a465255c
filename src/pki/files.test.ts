import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isMtlsError, type ErrorCode } from "../errors/index.js";
import { checkOutputPath, exists, MAX_INPUT_BYTES, readInputFile, readPassphraseFile, writeFileAtomic } from "./files.js";

let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-files-"));
});

afterEach(async () => {
  vi.restoreAllMocks();
  await fs.rm(dir, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<{ code: ErrorCode; message: string; subject: string | undefined }> {
  try {
    await p;
  } catch (e) {
    if (isMtlsError(e)) return { code: e.code, message: e.message, subject: e.subject };
    throw e;
  }
  throw new Error("expected a failure");
}

async function leftovers(): Promise<string[]> {
  return (await fs.readdir(dir)).filter((n) => n.endsWith(".tmp"));
}

async function modeOf(file: string): Promise<number> {
  return (await fs.stat(file)).mode & 0o777;
}

describe("readInputFile", () => {
  it("reads a file", async () => {
    const f = path.join(dir, "a.pem");
    await fs.writeFile(f, "hello");
    expect((await readInputFile(f)).toString()).toBe("hello");
  });

  it("names a missing file", async () => {
    const f = path.join(dir, "missing.pem");
    const e = await failure(readInputFile(f));
    expect(e).toMatchObject({ code: "FILE_NOT_FOUND", subject: f });
    expect(e.message).toBe(`${f}: no such file`);
  });

  it("names a missing file under a path that is not a directory", async () => {
    const f = path.join(dir, "a.pem");
    await fs.writeFile(f, "x");
    expect((await failure(readInputFile(path.join(f, "b.pem")))).code).toBe("FILE_NOT_FOUND");
  });

  it("refuses a directory", async () => {
    const e = await failure(readInputFile(dir));
    expect(e.code).toBe("FILE_IS_DIRECTORY");
    expect(e.message).toContain(dir);
  });

  it("refuses an empty file and a file of blanks", async () => {
    const empty = path.join(dir, "empty.pem");
    const blank = path.join(dir, "blank.pem");
    await fs.writeFile(empty, "");
    await fs.writeFile(blank, " \n\r\n\t\n");
    expect((await failure(readInputFile(empty))).code).toBe("FILE_EMPTY");
    expect((await failure(readInputFile(blank))).code).toBe("FILE_EMPTY");
  });

  it("refuses a file far too large for a key or certificate", async () => {
    const big = path.join(dir, "big.pem");
    const h = await fs.open(big, "w");
    await h.truncate(MAX_INPUT_BYTES + 1);
    await h.close();
    const e = await failure(readInputFile(big));
    expect(e.code).toBe("FILE_TOO_LARGE");
    expect(e.message).toContain(big);
  });
});

describe("readPassphraseFile", () => {
  it("takes the first line without its line break", async () => {
    const f = path.join(dir, "pass");
    await fs.writeFile(f, "s3cret pass\r\nsecond line\n");
    expect(await readPassphraseFile(f)).toBe("s3cret pass");
    await fs.writeFile(f, "no newline");
    expect(await readPassphraseFile(f)).toBe("no newline");
  });

  it("names a missing passphrase file", async () => {
    expect((await failure(readPassphraseFile(path.join(dir, "nope")))).code).toBe("FILE_NOT_FOUND");
  });
});

describe("writeFileAtomic", () => {
  it("writes the data with mode 0644 by default and leaves no temporary file", async () => {
    const f = path.join(dir, "client.csr");
    await writeFileAtomic(f, "csr");
    expect(await fs.readFile(f, "utf8")).toBe("csr");
    expect(await modeOf(f)).toBe(0o644);
    expect(await leftovers()).toEqual([]);
  });

  it("writes private keys 0600, whatever the umask", async () => {
    const f = path.join(dir, "client.key");
    const old = process.umask(0o000);
    try {
      await writeFileAtomic(f, new Uint8Array([1, 2, 3]), { mode: 0o600 });
    } finally {
      process.umask(old);
    }
    expect(await modeOf(f)).toBe(0o600);
    expect([...(await fs.readFile(f))]).toEqual([1, 2, 3]);
  });

  it("never replaces an existing file without overwrite", async () => {
    const f = path.join(dir, "client.key");
    await fs.writeFile(f, "old key");
    const e = await failure(writeFileAtomic(f, "new key", { mode: 0o600 }));
    expect(e).toMatchObject({ code: "FILE_EXISTS", subject: f });
    expect(e.message).toBe(`${f}: already exists`);
    expect(await fs.readFile(f, "utf8")).toBe("old key");
    expect(await leftovers()).toEqual([]);
  });

  it("replaces an existing file with overwrite, and sets the new mode", async () => {
    const f = path.join(dir, "client.key");
    await fs.writeFile(f, "old key", { mode: 0o644 });
    await writeFileAtomic(f, "new key", { mode: 0o600, overwrite: true });
    expect(await fs.readFile(f, "utf8")).toBe("new key");
    expect(await modeOf(f)).toBe(0o600);
    expect(await leftovers()).toEqual([]);
  });

  it("refuses a directory as the target, with or without overwrite", async () => {
    const d = path.join(dir, "out");
    await fs.mkdir(d);
    expect((await failure(writeFileAtomic(d, "x"))).code).toBe("FILE_IS_DIRECTORY");
    expect((await failure(writeFileAtomic(d, "x", { overwrite: true }))).code).toBe("FILE_IS_DIRECTORY");
    expect((await fs.stat(d)).isDirectory()).toBe(true);
    expect(await leftovers()).toEqual([]);
  });

  it("names the missing directory", async () => {
    const f = path.join(dir, "no-such-dir", "client.key");
    const e = await failure(writeFileAtomic(f, "x"));
    expect(e.code).toBe("WRITE_FAILED");
    expect(e.message).toContain("no-such-dir");
    expect(e.message.startsWith(`${f}: `)).toBe(true);
  });

  it("writes a file whose name is as long as the file system allows", async () => {
    const f = path.join(dir, `${"k".repeat(250)}.key`);
    await writeFileAtomic(f, "x", { mode: 0o600 });
    expect(await fs.readFile(f, "utf8")).toBe("x");
    expect(await leftovers()).toEqual([]);
  });

  it("loses a race for the name without replacing the winner, and cleans up", async () => {
    const f = path.join(dir, "client.key");
    const realLink = fs.link.bind(fs);
    vi.spyOn(fs, "link").mockImplementation(async (from, to) => {
      await fs.writeFile(to, "the other writer");
      return realLink(from, to);
    });
    const e = await failure(writeFileAtomic(f, "mine", { mode: 0o600 }));
    expect(e.code).toBe("FILE_EXISTS");
    expect(await fs.readFile(f, "utf8")).toBe("the other writer");
    expect(await leftovers()).toEqual([]);
  });

  it("leaves the old file and no temporary file when the final rename fails", async () => {
    const f = path.join(dir, "client.crt");
    await fs.writeFile(f, "old");
    vi.spyOn(fs, "rename").mockRejectedValue(Object.assign(new Error("cross-device link"), { code: "EXDEV" }));
    const e = await failure(writeFileAtomic(f, "new", { overwrite: true }));
    expect(e.code).toBe("WRITE_FAILED");
    expect(e.message).toContain("EXDEV");
    expect(await fs.readFile(f, "utf8")).toBe("old");
    expect(await leftovers()).toEqual([]);
  });

  it("leaves no file at all when writing the data fails", async () => {
    const f = path.join(dir, "client.key");
    const e = await failure(writeFileAtomic(f, 42 as unknown as string, { mode: 0o600 }));
    expect(e.code).toBe("WRITE_FAILED");
    expect(await exists(f)).toBe(false);
    expect(await fs.readdir(dir)).toEqual([]);
  });
});

describe("checkOutputPath", () => {
  it("accepts a new file in an existing directory", async () => {
    await expect(checkOutputPath(path.join(dir, "new.key"))).resolves.toBeUndefined();
  });

  it("accepts an existing file only with overwrite", async () => {
    const f = path.join(dir, "old.key");
    await fs.writeFile(f, "x");
    expect((await failure(checkOutputPath(f))).code).toBe("FILE_EXISTS");
    await expect(checkOutputPath(f, true)).resolves.toBeUndefined();
  });

  it("refuses a directory, a missing directory and a file used as a directory", async () => {
    expect((await failure(checkOutputPath(dir, true))).code).toBe("FILE_IS_DIRECTORY");
    expect((await failure(checkOutputPath(path.join(dir, "nope", "a.key")))).code).toBe("WRITE_FAILED");
    const f = path.join(dir, "file");
    await fs.writeFile(f, "x");
    expect((await failure(checkOutputPath(path.join(f, "a.key")))).code).toBe("WRITE_FAILED");
  });

  it("counts a dangling symbolic link as an existing name", async () => {
    const link = path.join(dir, "dangling.key");
    await fs.symlink(path.join(dir, "nowhere"), link);
    expect((await failure(checkOutputPath(link))).code).toBe("FILE_EXISTS");
  });
});
