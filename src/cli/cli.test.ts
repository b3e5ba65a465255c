import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mtlskit, type CliRun } from "../../test/support/cli.js";
import { COMMANDS } from "./registry.js";

let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-cli-"));
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Exit 2, one `error [USAGE]: ...` line and one hint line on stderr, nothing on stdout. */
function expectUsageError(r: CliRun): void {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^error \[USAGE\]: \S/);
  expect(lines[1]).toMatch(/^ {2}hint: \S/);
}

describe("mtlskit --help", () => {
  it("lists every command group and shows an example", async () => {
    const r = await mtlskit(["--help"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const groups = [...new Set(COMMANDS.map((c) => c.path[0]!))];
    expect(groups).toEqual(expect.arrayContaining(["key", "csr", "cert", "lint", "inspect"]));
    for (const g of groups) expect(r.stdout).toMatch(new RegExp(`^ {2}${g}\\b`, "m"));
    expect(r.stdout).toContain("Example:");
    expect(r.stdout).toContain("--json");
  });

  it.each([["key"], ["csr"], ["cert"]])("mtlskit %s --help lists its commands", async (group) => {
    const r = await mtlskit([group, "--help"], { cwd: dir });
    expect(r.code).toBe(0);
    for (const c of COMMANDS.filter((c) => c.path[0] === group)) expect(r.stdout).toContain(c.path[1]);
  });

  it.each(COMMANDS.map((c) => [c.path.join(" ")]))("mtlskit %s --help shows an example", async (command) => {
    const r = await mtlskit([...command.split(" "), "--help"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^Usage: mtlskit /);
    expect(r.stdout).toMatch(/Examples?:/);
    expect(r.stdout).toContain(`mtlskit ${command} `);
  });
});

describe("usage errors", () => {
  it("an unknown command exits 2 with USAGE", async () => {
    const r = await mtlskit(["frobnicate"], { cwd: dir });
    expectUsageError(r);
    expect(r.stderr).toContain("frobnicate");
  });

  it("an unknown command with --json gives one JSON document and nothing on stderr", async () => {
    const r = await mtlskit(["--json", "frobnicate"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("");
    const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string; hint: string } };
    expect(doc.ok).toBe(false);
    expect(doc.error.code).toBe("USAGE");
    expect(doc.error.hint).not.toBe("");
  });

  it("an unknown option exits 2 with USAGE", async () => {
    const r = await mtlskit(["key", "create", "--type", "ecdsa-p256", "--out", "k.key", "--colour"], { cwd: dir });
    expectUsageError(r);
    expect(r.stderr).toContain("--colour");
    await expect(fs.access(path.join(dir, "k.key"))).rejects.toThrow();
  });

  it("a missing required option exits 2 with USAGE naming it", async () => {
    const r = await mtlskit(["key", "create", "--type", "ecdsa-p256"], { cwd: dir });
    expectUsageError(r);
    expect(r.stderr).toContain("--out");
  });

  it("an unknown command inside a group exits 2 with USAGE", async () => {
    expectUsageError(await mtlskit(["key", "destroy"], { cwd: dir }));
  });

  it("a group without its command exits 2, showing the group's help on stderr", async () => {
    const r = await mtlskit(["csr"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("create");
    const j = await mtlskit(["--json", "csr"], { cwd: dir });
    expect(j.code).toBe(2);
    expect((JSON.parse(j.stdout) as { error: { code: string } }).error.code).toBe("USAGE");
  });

  it("no command at all is a usage error too", async () => {
    const r = await mtlskit([], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Usage: mtlskit");
  });
});
