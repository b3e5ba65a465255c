import { execFileSync } from "node:child_process";
import { createPublicKey } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeKey, loadPrivateKey, spkiPin } from "../src/pki/index.js";
import type { KeyType } from "../src/policy/index.js";
import { mtlskit, type CliRun, expectCodedError } from "./support/cli.js";
import { requireTool } from "./support/tools.js";

let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-key-"));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const run = (args: string[]): Promise<CliRun> => mtlskit(args, { cwd: dir });

async function modeOf(file: string): Promise<number> {
  return (await fs.stat(path.join(dir, file))).mode & 0o777;
}

/** Exit 2 with exactly `error [CODE]: <file>: ...` and a hint line, no stack trace. */
function expectError(r: CliRun, code: string, file?: string): void {
  expectCodedError(r, code, file);
  expect(r.stderr).not.toMatch(/^ {4}at /m);
}

async function tempFiles(): Promise<string[]> {
  return (await fs.readdir(dir)).filter((n) => n.endsWith(".tmp"));
}

describe("mtlskit key create", () => {
  const types: Array<[KeyType, string]> = [
    ["ecdsa-p256", "ECDSA P-256"],
    ["ecdsa-p384", "ECDSA P-384"],
    ["rsa-2048", "RSA 2048"],
    ["rsa-4096", "RSA 4096"],
  ];

  it.each(types)("--type %s writes a PKCS#8 PEM %s key, mode 0600", async (type, label) => {
    const r = await run(["key", "create", "--type", type, "--out", "client.key"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    const pem = await fs.readFile(path.join(dir, "client.key"), "utf8");
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
    expect(await modeOf("client.key")).toBe(0o600);
    const key = loadPrivateKey(Buffer.from(pem));
    expect(describeKey(key)).toMatchObject({ type, label });
    expect(r.stdout).toContain(`wrote client.key (${label}, mode 0600)`);
    expect(r.stdout).toContain(`public key pin: ${spkiPin(createPublicKey(key))}`);
    expect(await tempFiles()).toEqual([]);
  });

  it("accepts the type in capitals", async () => {
    const r = await run(["key", "create", "--type", "ECDSA-P256", "--out", "client.key"]);
    expect(r.code, r.stderr).toBe(0);
  });

  it("--json prints one JSON document and nothing else", async () => {
    const r = await run(["--json", "key", "create", "--type", "ecdsa-p384", "--out", "k.pem"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const doc = JSON.parse(r.stdout) as { ok: boolean; file: string; type: string; label: string; spkiPin: string };
    expect(doc).toMatchObject({ ok: true, file: "k.pem", type: "ecdsa-p384", label: "ECDSA P-384" });
    expect(doc.spkiPin).toMatch(/^sha256\/[A-Za-z0-9+/]{43}=$/);
  });

  it("never replaces an existing file without --force", async () => {
    await fs.writeFile(path.join(dir, "client.key"), "precious old key", { mode: 0o600 });
    const r = await run(["key", "create", "--type", "ecdsa-p256", "--out", "client.key"]);
    expectError(r, "FILE_EXISTS", "client.key");
    expect(r.stderr).toContain("--force");
    expect(await fs.readFile(path.join(dir, "client.key"), "utf8")).toBe("precious old key");
    expect(await tempFiles()).toEqual([]);
  });

  it("replaces it with --force, and the new file is 0600 even if the old one was not", async () => {
    await fs.writeFile(path.join(dir, "client.key"), "old", { mode: 0o644 });
    const r = await run(["key", "create", "--type", "ecdsa-p256", "--out", "client.key", "--force"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await fs.readFile(path.join(dir, "client.key"), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(await modeOf("client.key")).toBe(0o600);
  });

  it("refuses an unknown key type and writes nothing", async () => {
    const r = await run(["key", "create", "--type", "ed25519", "--out", "client.key"]);
    expectError(r, "UNKNOWN_KEY_TYPE");
    expect(r.stderr).toContain("ed25519");
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it("refuses a directory as --out, even with --force", async () => {
    await fs.mkdir(path.join(dir, "keys"));
    expectError(await run(["key", "create", "--type", "ecdsa-p256", "--out", "keys"]), "FILE_IS_DIRECTORY", "keys");
    expectError(await run(["key", "create", "--type", "ecdsa-p256", "--out", "keys", "--force"]), "FILE_IS_DIRECTORY", "keys");
    expect(await fs.readdir(path.join(dir, "keys"))).toEqual([]);
  });

  it("names a missing output directory", async () => {
    const r = await run(["key", "create", "--type", "ecdsa-p256", "--out", "nowhere/client.key"]);
    expectError(r, "WRITE_FAILED", "nowhere/client.key");
    expect(r.stderr).toContain("'nowhere' does not exist");
  });

  it("--json errors are one JSON document with the code", async () => {
    const r = await run(["--json", "key", "create", "--type", "dsa", "--out", "client.key"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("");
    expect((JSON.parse(r.stdout) as { ok: boolean; error: { code: string } }).error.code).toBe("UNKNOWN_KEY_TYPE");
  });

  describe.skipIf(!requireTool("openssl"))("with the openssl CLI", () => {
    it.each(["ecdsa-p256", "rsa-2048"])("openssl pkey -check accepts a %s key", async (type) => {
      expect((await run(["key", "create", "--type", type, "--out", "client.key"])).code).toBe(0);
      const out = execFileSync("openssl", ["pkey", "-in", path.join(dir, "client.key"), "-check", "-noout"], { encoding: "utf8" });
      expect(out).toMatch(/Key is valid|valid/i);
    });
  });
});
