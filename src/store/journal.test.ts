import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backupFile, ensureDir, moveToTrash, removeFile, replaceFile } from "./fs-ops.js";
import { JOURNAL_DIR, recoverJournal, runTransaction } from "./journal.js";

let ws: string;

beforeEach(async () => {
  ws = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-journal-"));
});
afterEach(async () => {
  await fs.rm(ws, { recursive: true, force: true });
});

async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    const abs = path.join(e.parentPath, e.name);
    out[path.relative(dir, abs)] = e.isDirectory() ? "<dir>" : await fs.readFile(abs, "utf8");
  }
  return out;
}

describe("workspace transactions", () => {
  it("a change that throws is undone whole: files, folders, backups and moves", async () => {
    await fs.writeFile(path.join(ws, "a.crt"), "old a");
    await fs.mkdir(path.join(ws, "p"));
    await fs.writeFile(path.join(ws, "p", "k.key"), "old key");
    const before = await tree(ws);
    await expect(
      runTransaction(ws, async () => {
        await replaceFile(path.join(ws, "a.crt"), "new a", { backupsDir: path.join(ws, "backups") });
        await ensureDir(path.join(ws, "x", "y"));
        await replaceFile(path.join(ws, "x", "y", "z"), "z");
        await removeFile(path.join(ws, "p", "k.key"));
        await moveToTrash(path.join(ws, "p"), path.join(ws, "trash"), "p");
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await tree(ws)).toEqual(before);
  });

  it("a finished change leaves no journal, and the tree a plain run leaves", async () => {
    await fs.writeFile(path.join(ws, "a.crt"), "old a");
    await runTransaction(ws, async () => {
      await backupFile(path.join(ws, "a.crt"), path.join(ws, "backups"));
      await replaceFile(path.join(ws, "a.crt"), "new a");
    });
    const t = await tree(ws);
    expect(Object.keys(t).sort()).toEqual(["a.crt", "backups", expect.stringMatching(/^backups\/a\..*\.crt$/)]);
    expect(t["a.crt"]).toBe("new a");
  });

  it("a journal left by a killed process is undone at the next start; a truncated last entry is ignored; temporary files go", async () => {
    await fs.writeFile(path.join(ws, "a.crt"), "new a (written by the killed process)");
    await fs.writeFile(path.join(ws, ".a.crt.0123456789ab.tmp"), "half");
    const journal = path.join(ws, JOURNAL_DIR);
    await fs.mkdir(journal);
    await fs.writeFile(path.join(journal, "1.json"), JSON.stringify({ n: 1, path: "a.crt", state: "file", mode: 0o644, data: Buffer.from("old a").toString("base64") }));
    await fs.writeFile(path.join(journal, "2.json"), '{"n":2,"path":"a.cr'); // cut short by the kill
    await fs.chmod(path.join(ws, "a.crt"), 0o644);
    expect(await recoverJournal(ws)).toBe(true);
    expect(await tree(ws)).toEqual({ "a.crt": "old a" });
    expect(await recoverJournal(ws)).toBe(false);
  });

  it("a nested transaction joins the running one", async () => {
    await fs.writeFile(path.join(ws, "a"), "1");
    await expect(
      runTransaction(ws, async () => {
        await runTransaction(ws, async () => replaceFile(path.join(ws, "a"), "2"));
        throw new Error("outer fails");
      }),
    ).rejects.toThrow();
    expect(await fs.readFile(path.join(ws, "a"), "utf8")).toBe("1");
  });
});
