import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backupFile, backupName, moveToTrash, replaceFile, stamp } from "./fs-ops.js";

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-fsops-"));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const T = new Date("2026-03-04T05:06:07.890Z");

describe("dated names", () => {
  it("stamps sort and fit in file names", () => {
    expect(stamp(T)).toBe("2026-03-04T05-06-07Z");
    expect(backupName("/x/client.crt", T)).toBe("client.2026-03-04T05-06-07Z.crt");
    expect(backupName("client-chain.pem", T)).toBe("client-chain.2026-03-04T05-06-07Z.pem");
    expect(backupName("README", T)).toBe("README.2026-03-04T05-06-07Z");
  });
});

describe("replaceFile", () => {
  it("keeps a dated copy of what it replaces, never two with the same name, and skips identical content", async () => {
    const f = path.join(dir, "client.crt");
    const backups = path.join(dir, "backups");
    expect(await replaceFile(f, "one", { backupsDir: backups, now: T })).toBeUndefined();
    const b1 = await replaceFile(f, "two", { backupsDir: backups, now: T });
    const b2 = await replaceFile(f, "three", { backupsDir: backups, now: T });
    expect(path.basename(b1!)).toBe("client.2026-03-04T05-06-07Z.crt");
    expect(path.basename(b2!)).toBe("client.2026-03-04T05-06-07Z-2.crt");
    expect(await fs.readFile(b1!, "utf8")).toBe("one");
    expect(await fs.readFile(b2!, "utf8")).toBe("two");
    expect(await replaceFile(f, "three", { backupsDir: backups, now: T })).toBeUndefined();
    expect(await fs.readFile(f, "utf8")).toBe("three");
    expect((await fs.readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("a key's backup stays 0600", async () => {
    const f = path.join(dir, "client.key");
    await replaceFile(f, "k1", { mode: 0o600 });
    const b = await backupFile(f, path.join(dir, "backups"), T);
    expect((await fs.stat(b!)).mode & 0o777).toBe(0o600);
    expect((await fs.stat(f)).mode & 0o777).toBe(0o600);
  });

  it("is atomic: a reader sees the old or the new content, never a mix", async () => {
    const f = path.join(dir, "big.pem");
    const a = "a".repeat(1 << 20);
    const b = "b".repeat(1 << 20);
    await replaceFile(f, a);
    let stop = false;
    const seen = new Set<string>();
    const reader = (async () => {
      while (!stop) {
        const text = await fs.readFile(f, "utf8");
        seen.add(text === a ? "a" : text === b ? "b" : "torn");
      }
    })();
    for (let i = 0; i < 10; i++) await replaceFile(f, i % 2 ? a : b);
    stop = true;
    await reader;
    expect(seen.has("torn")).toBe(false);
  });
});

describe("trash", () => {
  it("moves a folder to <trash>/<date>-<label>, twice without clash", async () => {
    const trash = path.join(dir, "trash");
    for (const n of [1, 2]) {
      const src = path.join(dir, `p${n}`);
      await fs.mkdir(src);
      await fs.writeFile(path.join(src, "client.key"), "k", { mode: 0o600 });
      const dest = await moveToTrash(src, trash, "d1-pp", T);
      expect(path.basename(dest)).toBe(n === 1 ? "2026-03-04T05-06-07Z-d1-pp" : "2026-03-04T05-06-07Z-d1-pp-2");
      expect(await fs.readFile(path.join(dest, "client.key"), "utf8")).toBe("k");
    }
  });
});
