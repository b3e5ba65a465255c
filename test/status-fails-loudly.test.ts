import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mtlskit } from "./support/cli.js";

// issue 10: a monitor started from the wrong folder, or watching a profile that cannot work,
// must not stay green.
let tmp: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-status-loud-"));
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const run = (args: string[]) => mtlskit(args, { cwd: tmp });

describe("mtlskit status fails loudly", () => {
  it("a workspace folder that does not exist: exit 2 WORKSPACE_NOT_FOUND (text and --json)", async () => {
    const r = await run(["--dir", "nowhere", "status"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error [WORKSPACE_NOT_FOUND]");
    expect(r.stderr).toContain(path.join(tmp, "nowhere"));
    const j = await run(["--dir", "nowhere", "--json", "status"]);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { code: "WORKSPACE_NOT_FOUND" } });
    // Nor through MTLSKIT_HOME, nor the default ./.mtlskit of a wrong folder.
    expect((await mtlskit(["status"], { cwd: tmp, env: { MTLSKIT_HOME: path.join(tmp, "gone") } })).code).toBe(2);
    expect((await mtlskit(["status"], { cwd: tmp, env: { MTLSKIT_HOME: "" } })).code).toBe(2);
  });

  it("a folder without mtlskit.yaml is not a workspace: exit 2", async () => {
    await fs.mkdir(path.join(tmp, "empty-folder"));
    const r = await run(["--dir", "empty-folder", "--json", "status"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe("WORKSPACE_NOT_FOUND");
  });

  it("a --dir that is a file: exit 2 NOT_A_DIRECTORY, for status and for a command that writes (not 'disk full')", async () => {
    await fs.writeFile(path.join(tmp, "a-file"), "x");
    const r = await run(["--dir", "a-file", "status"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error [NOT_A_DIRECTORY]");
    expect(r.stderr).toContain("is a file, not a folder");
    const w = await run(["--dir", "a-file", "profile", "add", "p", "--program", "d1", "--env", "preprod", "--id", "123456"]);
    expect(w.code).toBe(2);
    expect(w.stderr).toContain("error [NOT_A_DIRECTORY]");
    expect(w.stderr).not.toMatch(/disk|WRITE_FAILED/);
  });

  it("a workspace with no profile: exit 1 with the reason", async () => {
    const ws = path.join(tmp, "no-profiles");
    await fs.mkdir(ws);
    await fs.writeFile(path.join(ws, "mtlskit.yaml"), "version: 1\nprofiles: {}\n");
    const r = await run(["--dir", ws, "status"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("no profiles");
    const j = await run(["--dir", ws, "--json", "status"]);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, reasons: [expect.stringContaining("[NO_PROFILES]")] });
  });

  it("a profile without key, then without certificate: exit 1 naming what is missing (text and --json)", async () => {
    const ws = path.join(tmp, "ws");
    expect((await run(["--dir", ws, "profile", "add", "d1-pp", "--program", "d1", "--env", "preprod", "--id", "123456", "--subject", "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments"])).code).toBe(0);
    const noKey = await run(["--dir", ws, "status"]);
    expect(noKey.code).toBe(1);
    expect(noKey.stdout).toContain("not ok because:");
    expect(noKey.stdout).toMatch(/d1-pp: \[NOT_READY\] the outbound side is not ready: missing client key, client certificate/);
    const j = await run(["--dir", ws, "--json", "status"]);
    expect(j.code).toBe(1);
    const doc = JSON.parse(j.stdout) as { ok: boolean; reasons: string[]; profiles: Array<{ ok: boolean; reasons: string[]; ready: { outbound: boolean } }> };
    expect(doc.ok).toBe(false);
    expect(doc.profiles[0]).toMatchObject({ ok: false, ready: { outbound: false } });
    expect(doc.reasons.join("\n")).toContain("client key");

    expect((await run(["--dir", ws, "csr", "create", "--profile", "d1-pp"])).code).toBe(0);
    const noCert = await run(["--dir", ws, "--json", "status", "--profile", "d1-pp"]);
    expect(noCert.code).toBe(1);
    const reasons = (JSON.parse(noCert.stdout) as { reasons: string[] }).reasons.join("\n");
    expect(reasons).toContain("client certificate");
    expect(reasons).not.toContain("client key,");
  });

  it("--require all also needs the inbound side; a bad --require value is a usage error", async () => {
    const ws = path.join(tmp, "ws");
    const r = await run(["--dir", ws, "--json", "status", "--require", "all"]);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as { reasons: string[] }).reasons.join("\n")).toContain("the inbound side is not ready");
    expect((await run(["--dir", ws, "status", "--require", "everything"])).code).toBe(2);
  });
});

describe("the same class of silent success in other commands", () => {
  it("profile list: a --dir that is a file exits 2; a workspace not created yet says so", async () => {
    await fs.writeFile(path.join(tmp, "list-file"), "x");
    const r = await run(["--dir", "list-file", "profile", "list"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("[NOT_A_DIRECTORY]");
    const j = await run(["--dir", "not-yet", "--json", "profile", "list"]);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ workspaceExists: false, profiles: [] });
    expect((await run(["--dir", "not-yet", "profile", "list"])).stdout).toContain("no workspace there yet");
  });
});
