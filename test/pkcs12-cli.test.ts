/**
 * PKCS#12 as input with the real `mtlskit` binary: `inspect` and `lint` show what a bag holds
 * (names, keys, certificates, encryption, the legacy warning) for files made by openssl and by
 * mtlskit; a wrong passphrase, a damaged file and a PKCS#12 given without its passphrase are
 * coded errors.
 */
import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki } from "../src/testing/index.js";
import { cliSession } from "./support/cli.js";
import { requireTool } from "./support/tools.js";

let tmp: string;
let pki: TestPki;
const { runs, run, ok } = cliSession(() => ({ cwd: tmp, home: path.join(tmp, "ws") }));

describe.skipIf(!requireTool("openssl"))("PKCS#12 given to inspect and lint", () => {
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-p12-cli-"));
    pki = await createTestPki();
    const leaf = await pki.issue({ cn: "p12.test" });
    await fs.writeFile(path.join(tmp, "k.pem"), leaf.keyPem);
    await fs.writeFile(path.join(tmp, "c.pem"), leaf.chainPem);
    await fs.writeFile(path.join(tmp, "pw.txt"), "hunter2\n");
    await fs.writeFile(path.join(tmp, "bad.txt"), "nope\n");
    execFileSync("openssl", ["pkcs12", "-export", "-inkey", "k.pem", "-in", "c.pem", "-name", "my-client", "-out", "ossl.p12", "-passout", "file:pw.txt"], { cwd: tmp });
    execFileSync("openssl", ["pkcs12", "-export", "-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1", "-inkey", "k.pem", "-in", "c.pem", "-name", "old", "-out", "3des.p12", "-passout", "file:pw.txt"], { cwd: tmp });
    execFileSync("openssl", ["pkcs12", "-export", "-legacy", "-inkey", "k.pem", "-in", "c.pem", "-out", "rc2.p12", "-passout", "file:pw.txt"], { cwd: tmp });
  });
  afterAll(async () => {
    for (const r of runs) expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it("inspect shows the bags, MAC and encryption; legacy files get a warning", async () => {
    const r = await ok(["inspect", "ossl.p12", "--passphrase-file", "pw.txt"]);
    expect(r.stdout).toMatch(/PKCS#12/);
    expect(r.stdout).toMatch(/MAC: +HMAC-SHA-256, 2048 iterations/);
    expect(r.stdout).toMatch(/PBES2 \(PBKDF2-HMAC-SHA-256, AES-256-CBC/);
    expect(r.stdout).toMatch(/key +"my-client" +localKeyId/);
    expect(r.stdout).toContain("CN=p12.test");
    expect(r.stdout).not.toMatch(/warning/);
    const j = JSON.parse((await ok(["--json", "inspect", "3des.p12", "--passphrase-file", "pw.txt"])).stdout) as { pkcs12: { legacyWarning?: string; bags: unknown[] }; objects: Array<{ kind: string }> };
    expect(j.pkcs12.legacyWarning).toMatch(/3DES/);
    expect(j.objects.map((o) => o.kind).sort()).toEqual(["certificate", "certificate", "private-key"]);
  });

  it("lint reads a PKCS#12 with --passphrase-file", async () => {
    const r = await run(["lint", "ossl.p12", "--program", "mt", "--passphrase-file", "pw.txt"]);
    expect(r.stderr, r.stderr).not.toMatch(/^error/);
    expect([0, 1]).toContain(r.code);
    expect(r.stdout).toContain("ossl.p12");
  });

  it("coded errors: no passphrase, wrong passphrase, damaged; RC2 (-legacy) is read with a warning", async () => {
    const none = await run(["inspect", "ossl.p12"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^error \[PKCS12_PASSPHRASE_REQUIRED\]/);
    const wrong = await run(["inspect", "ossl.p12", "--passphrase-file", "bad.txt"]);
    expect(wrong.stderr).toMatch(/^error \[PKCS12_BAD_PASSPHRASE\]/);
    const der = await fs.readFile(path.join(tmp, "ossl.p12"));
    await fs.writeFile(path.join(tmp, "cut.p12"), der.subarray(0, der.length - 60));
    const cut = await run(["inspect", "cut.p12", "--passphrase-file", "pw.txt"]);
    expect(cut.code).toBe(2);
    expect(cut.stderr).toMatch(/^error \[PKCS12_(INVALID|BAD_PASSPHRASE)\]/);
    const rc2 = await run(["inspect", "rc2.p12", "--passphrase-file", "pw.txt"]);
    expect(rc2.code, rc2.stderr).toBe(0);
    expect(rc2.stdout).toMatch(/RC2-40/);
    expect(rc2.stdout + rc2.stderr).toMatch(/legacy protection \(.*RC2 encryption/);
    const lintNone = await run(["lint", "ossl.p12", "--program", "mt"]);
    expect(lintNone.stderr).toMatch(/^error \[PKCS12_PASSPHRASE_REQUIRED\]/);
  });
});
