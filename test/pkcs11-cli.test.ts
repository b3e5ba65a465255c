/**
 * The CLI with keys in a SoftHSM2 token, through the real bin: `key create --out pkcs11:...`,
 * `csr create` and `cert self-signed` with `--key pkcs11:...`, each token failure a coded
 * exit 2 that changes nothing, and no key file written anywhere.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { mtlskit } from "./support/cli.js";
import { haveSoftHsm, softHsm, type SoftHsm } from "./support/softhsm.js";

describe.skipIf(!haveSoftHsm())("mtlskit with keys in a token", () => {
  let hsm: SoftHsm;
  let dir: string;
  const run = (args: string[], env: Record<string, string> = {}) => mtlskit(args, { cwd: dir, env: { ...hsm.env, MTLSKIT_PKCS11_PIN: hsm.pin, ...env } });
  const listObjects = (): string =>
    execFileSync("pkcs11-tool", ["--module", hsm.module, "--token-label", "mtlskit-cli", "--login", "--pin", hsm.pin, "--list-objects"], { env: { ...process.env, ...hsm.env }, encoding: "utf8" });

  beforeAll(() => {
    hsm = softHsm("mtlskit-cli");
    dir = mkdtempSync(join(tmpdir(), "mtlskit-pkcs11-cli-"));
  });

  it("key create --out pkcs11:... makes a non-extractable key in the token", async () => {
    const r = await run(["--json", "key", "create", "--type", "ecdsa-p256", "--out", "pkcs11:token=mtlskit-cli;object=d1-client"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { uri: string; extractable: boolean; sensitive: boolean; spkiPin: string };
    expect(out).toMatchObject({ extractable: false, sensitive: true });
    expect(out.uri).toMatch(/^pkcs11:token=mtlskit-cli;object=d1-client;id=/);
    expect(out.spkiPin).toMatch(/^sha256\/[A-Za-z0-9+/]{43}=$/);
    expect(listObjects()).toMatch(/label:\s+d1-client[\s\S]*never extractable/);
    const plain = await run(["key", "create", "--type", "ecdsa-p384", "--out", "pkcs11:token=mtlskit-cli;object=mt-client", "--pin-file", hsm.pinFile], { MTLSKIT_PKCS11_PIN: "" });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain("key in token mtlskit-cli, object mt-client, ECDSA P-384, non-extractable");
    expect(readdirSync(dir)).toEqual([]);
  });

  it("csr create and cert self-signed sign with the key in the token", async () => {
    const csr = await run(["csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "123456", "--subject", "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments", "--key", "pkcs11:token=mtlskit-cli;object=d1-client", "--out", "d1.csr"]);
    expect(csr.code, csr.stderr).toBe(0);
    expect(csr.stdout).toContain("key: pkcs11:token=mtlskit-cli;object=d1-client");
    expect(execFileSync("openssl", ["req", "-in", join(dir, "d1.csr"), "-noout", "-verify"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })).toBe("");
    const crt = await run(["cert", "self-signed", "--program", "mt", "--env", "sandbox", "--cn", "MT-123456-SBX", "--key", "pkcs11:token=mtlskit-cli;object=mt-client", "--days", "365", "--out", "mt.crt"]);
    expect(crt.code, crt.stderr).toBe(0);
    expect(execFileSync("openssl", ["verify", "-check_ss_sig", "-CAfile", join(dir, "mt.crt"), join(dir, "mt.crt")], { encoding: "utf8" }).trim()).toMatch(/: OK$/);
    // A new key made in the token by csr create itself (--type with a pkcs11: --key-out).
    const fresh = await run(["--json", "csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "123456", "--subject", "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments", "--type", "ecdsa-p256", "--key-out", "pkcs11:token=mtlskit-cli;object=d1-next", "--out", "d1-next.csr"]);
    expect(fresh.code, fresh.stderr).toBe(0);
    const made = JSON.parse(fresh.stdout) as { keyFile?: string; keyUri: string };
    expect(made.keyUri).toMatch(/object=d1-next/);
    expect(made.keyFile).toBeUndefined();
    expect(readdirSync(dir).sort()).toEqual(["d1-next.csr", "d1.csr", "mt.crt"]);
  });

  it("inspect and lint show the key in the token; lint checks it against the CSR", async () => {
    const ins = await run(["inspect", "pkcs11:token=mtlskit-cli;object=d1-client"]);
    expect(ins.code, ins.stderr).toBe(0);
    expect(ins.stdout).toContain("key in token mtlskit-cli, object d1-client, ECDSA P-256, non-extractable");
    expect(ins.stdout).toContain("made in the token and never left it");
    const j = JSON.parse((await run(["--json", "inspect", "pkcs11:token=mtlskit-cli;object=d1-client"])).stdout) as { extractable: boolean; spkiPin: string };
    expect(j.extractable).toBe(false);
    const good = await run(["lint", "d1.csr", "--program", "d1", "--env", "preprod", "--gateway-id", "123456", "--key", "pkcs11:token=mtlskit-cli;object=d1-client"]);
    expect(good.code, good.stdout + good.stderr).toBe(0);
    expect(good.stdout).toContain("key: key in token mtlskit-cli, object d1-client");
    const other = await run(["--json", "lint", "d1.csr", "--program", "d1", "--env", "preprod", "--gateway-id", "123456", "--key", "pkcs11:token=mtlskit-cli;object=d1-next"]);
    expect(other.code).toBe(1);
    expect((JSON.parse(other.stdout) as { findings: { code: string }[] }).findings.map((f) => f.code)).toContain("KEY_MISMATCH");
  });

  it.each([
    ["a wrong PIN", { MTLSKIT_PKCS11_PIN: "000000" }, "pkcs11:token=mtlskit-cli;object=d1-client", "PKCS11_PIN_INCORRECT"],
    ["no module", { MTLSKIT_PKCS11_MODULE: "" }, "pkcs11:token=mtlskit-cli;object=d1-client", "PKCS11_MODULE_NOT_FOUND"],
    ["a module that is not there", { MTLSKIT_PKCS11_MODULE: "/nonexistent/libpkcs11.so" }, "pkcs11:token=mtlskit-cli;object=d1-client", "PKCS11_MODULE_NOT_FOUND"],
    ["a token that is not there", {}, "pkcs11:token=nope;object=d1-client", "PKCS11_TOKEN_NOT_FOUND"],
    ["a key that is not there", {}, "pkcs11:token=mtlskit-cli;object=nope", "PKCS11_KEY_NOT_FOUND"],
    ["a malformed URI", {}, "pkcs11:token=mtlskit-cli", "PKCS11_URI_INVALID"],
  ])("%s: exit 2 with its code, nothing written, nothing changed", async (_what, env, uri, code) => {
    const before = listObjects();
    const r = await run(["--json", "csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "123456", "--subject", "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments", "--key", uri, "--out", "fail.csr"], env as Record<string, string>);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code } });
    expect(r.stdout + r.stderr).not.toContain(hsm.pin);
    expect(readdirSync(dir)).not.toContain("fail.csr");
    expect(listObjects()).toBe(before);
  });

  it("refuses to create a key under a label in use, and --force with a token", async () => {
    const r = await run(["--json", "key", "create", "--type", "ecdsa-p256", "--out", "pkcs11:token=mtlskit-cli;object=d1-client"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: "PKCS11_KEY_EXISTS" } });
    const f = await run(["--json", "key", "create", "--type", "ecdsa-p256", "--force", "--out", "pkcs11:token=mtlskit-cli;object=other"]);
    expect(JSON.parse(f.stdout)).toMatchObject({ error: { code: "USAGE" } });
  });
});
