/**
 * `mtlskit lint` as a user runs it: the real binary, files written to a throwaway folder,
 * certificates minted at test time.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCsr, parseSubject, privateKeyToPem, toPem } from "../src/pki/index.js";
import { createTestPki, type TestCertificate, type TestPki } from "../src/testing/index.js";
import { mtlskit } from "./support/cli.js";

const D1_SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments/CN=TLSMA-ECDSA\\/123456\\/D1.PPR";
const D1_ARGS = ["--program", "d1", "--env", "preprod", "--gateway-id", "123456"];

let dir: string;
let pki: TestPki;
let leaf: TestCertificate;
let ecKey: KeyObject;
let rsa2048: KeyObject;

function write(name: string, data: string | Uint8Array): string {
  writeFileSync(path.join(dir, name), data);
  return name;
}

const lint = (args: string[]) => mtlskit(["lint", ...args], { cwd: dir });

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "mtlskit-lint-cli-"));
  pki = await createTestPki({ validityHours: 24 * 400 });
  ecKey = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
  rsa2048 = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  leaf = await pki.issue({ subject: D1_SUBJECT, privateKey: ecKey, validityHours: 24 * 5 * 365 });
  write("client.csr", toPem("CERTIFICATE REQUEST", createCsr({ subject: parseSubject(D1_SUBJECT), privateKey: ecKey })));
  write("client.key", privateKeyToPem(ecKey));
  write("rsa2048.csr", toPem("CERTIFICATE REQUEST", createCsr({ subject: parseSubject(D1_SUBJECT.replace("ECDSA", "RSA")), privateKey: rsa2048 })));
  write("rsa2048.key", privateKeyToPem(rsa2048));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("mtlskit lint", () => {
  it("prints ok and exits 0 for a clean D1 CSR", async () => {
    const r = await lint(["client.csr", ...D1_ARGS]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("ok: no findings in 1 object (d1 preprod)\n");
  });

  it("prints each finding with its hint and a summary, and exits 1 on an error", async () => {
    const r = await lint(["rsa2048.csr", ...D1_ARGS]);
    expect(r.code).toBe(1);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^error {3}D1_RSA_2048_REFUSED {2}rsa2048\.csr: .*RSA 2048.*No, it is not possible/);
    expect(lines[1]).toMatch(/^ {2}hint: /);
    expect(r.stdout).toContain("1 error, 0 warnings in 1 object\n");
  });

  it("--json prints one document with ok, counts and findings", async () => {
    const r = await lint(["rsa2048.csr", ...D1_ARGS, "--json"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("");
    const doc = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(doc).sort()).toEqual(["errors", "findings", "objects", "ok", "warnings"]);
    expect(doc).toMatchObject({ ok: false, errors: 1, warnings: 0, objects: 1 });
    const findings = doc["findings"] as Array<Record<string, unknown>>;
    expect(findings).toHaveLength(1);
    expect(Object.keys(findings[0]!).sort()).toEqual(["code", "hint", "message", "severity", "source"]);
    expect(findings[0]).toMatchObject({ code: "D1_RSA_2048_REFUSED", severity: "error", source: "rsa2048.csr" });

    const clean = await lint(["client.csr", ...D1_ARGS, "--json"]);
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toEqual({ ok: true, errors: 0, warnings: 0, objects: 1, findings: [] });
  });

  it("lints DER input", async () => {
    write("client.der", leaf.der);
    const r = await lint(["client.der", ...D1_ARGS, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, objects: 1 });
  });

  it("lints a PEM file holding a certificate, its chain and its key", async () => {
    write("bundle.pem", leaf.certPem + pki.intermediate.certPem + pki.root.certPem + privateKeyToPem(ecKey));
    const r = await lint(["bundle.pem", ...D1_ARGS]);
    expect(r.stdout).toBe("ok: no findings in 4 objects (d1 preprod)\n");
    expect(r.code).toBe(0);
  });

  it("reports a chain in the wrong order", async () => {
    write("wrong-order.pem", leaf.certPem + pki.root.certPem + pki.intermediate.certPem);
    const r = await lint(["wrong-order.pem", ...D1_ARGS, "--json"]);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { findings: Array<{ code: string; source: string }> };
    expect(doc.findings.map((f) => f.code)).toEqual(["CHAIN_ORDER"]);
    expect(doc.findings[0]!.source).toBe("wrong-order.pem");
  });

  it("--key: KEY_MISMATCH when the key does not match, exit 0 when it does", async () => {
    const bad = await lint(["client.csr", ...D1_ARGS, "--key", "rsa2048.key"]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^error {3}KEY_MISMATCH {2}client\.csr: the private key in rsa2048\.key \(--key\) does not match/m);
    const good = await lint(["client.csr", ...D1_ARGS, "--key", "client.key"]);
    expect(good.code).toBe(0);
  });

  it("--key with --passphrase-file reads an encrypted key", async () => {
    write("enc.key", ecKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "s3cret" }) as string);
    write("pass.txt", "s3cret\n");
    expect((await lint(["client.csr", ...D1_ARGS, "--key", "enc.key", "--passphrase-file", "pass.txt"])).code).toBe(0);
    const noPass = await lint(["client.csr", ...D1_ARGS, "--key", "enc.key"]);
    expect(noPass.code).toBe(2);
    expect(noPass.stderr).toContain("KEY_ENCRYPTED");
  });

  it("lints several files together: a private key in them that matches nothing is reported", async () => {
    const r = await lint(["client.csr", "rsa2048.key", ...D1_ARGS, "--json"]);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { objects: number; findings: Array<{ code: string; source: string }> };
    expect(doc.objects).toBe(2);
    expect(doc.findings).toMatchObject([{ code: "KEY_MISMATCH", source: "rsa2048.key" }]);
  });

  it("warnings and infos alone exit 0", async () => {
    const soon = await pki.selfSigned({ cn: "mt-cn", validityHours: 24 * 10 });
    write("soon.crt", soon.certPem);
    const r = await lint(["soon.crt", "--program", "mt", "--env", "sandbox"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^warning EXPIRING_SOON {3}soon\.crt: /m);
    expect(r.stdout).toMatch(/^info {4}CN_NOT_CHECKED {2}soon\.crt: /m);
    expect(r.stdout).toContain("0 errors, 1 warning in 1 object\n");
  });

  describe("exits 2 on bad input, before linting", () => {
    it("a missing file", async () => {
      const r = await lint(["missing.pem", ...D1_ARGS]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("FILE_NOT_FOUND");
      expect(r.stdout).toBe("");
    });

    it("malformed PEM", async () => {
      write("truncated.pem", leaf.certPem.slice(0, 200));
      const r = await lint(["client.csr", "truncated.pem", ...D1_ARGS]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("PEM_MALFORMED");
    });

    it("something that is not a certificate, CSR or key", async () => {
      write("notes.txt", "hello\n");
      const r = await lint(["notes.txt", ...D1_ARGS]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("INPUT_NOT_RECOGNIZED");
    });

    it("an unknown program or environment, also with --json", async () => {
      const p = await lint(["client.csr", "--program", "visa"]);
      expect(p.code).toBe(2);
      expect(p.stderr).toContain("UNKNOWN_PROGRAM");
      const e = await lint(["client.csr", "--program", "d1", "--env", "sandbox", "--json"]);
      expect(e.code).toBe(2);
      expect(JSON.parse(e.stdout)).toMatchObject({ ok: false, error: { code: "UNKNOWN_ENVIRONMENT" } });
    });

    it("no file, or no --program", async () => {
      expect((await lint(["--program", "d1"])).code).toBe(2);
      expect((await lint(["client.csr"])).code).toBe(2);
    });
  });

  it("--help shows an example", async () => {
    const r = await lint(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("mtlskit lint d1-preprod.csr --program d1 --env preprod --id 123456");
  });
});
