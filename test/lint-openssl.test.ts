/**
 * Interop with the openssl CLI: `mtlskit lint` takes what the Thales pages' own openssl
 * commands make, and refuses what breaks their rules.
 */
import { execSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mtlskit } from "./support/cli.js";
import { requireTool } from "./support/tools.js";

const D1_ARGS = ["--program", "d1", "--env", "preprod", "--gateway-id", "123456"];
const DN = "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments";

describe.skipIf(!requireTool("openssl"))("mtlskit lint on what the openssl CLI makes", () => {
  let dir: string;
  /** Runs a command line as written on the reference pages, in the throwaway folder. */
  const sh = (command: string): void => {
    execSync(command, { cwd: dir, stdio: ["ignore", "ignore", "pipe"], shell: "/bin/sh" });
  };
  const lint = (args: string[]) => mtlskit(["lint", ...args], { cwd: dir });
  const codes = (stdout: string): string[] => (JSON.parse(stdout) as { findings: Array<{ code: string }> }).findings.map((f) => f.code);

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "mtlskit-lint-openssl-"));
    sh(`openssl ecparam -name prime256v1 -genkey -noout -out d1-mtls-client-cert.key`);
    sh(`openssl req -new -key d1-mtls-client-cert.key -out d1-mtls-client-cert.csr -subj "${DN}/CN=TLSMA-ECDSA\\/123456\\/D1.PPR"`);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("accepts the D1 page's RSA 4096 CSR", async () => {
    sh(`openssl req -new -newkey rsa:4096 -nodes -keyout private_rsa.key -out customer_pp.csr -subj "${DN}/CN=TLSMA-RSA\\/123456\\/D1.PPR"`);
    const r = await lint(["customer_pp.csr", ...D1_ARGS, "--key", "private_rsa.key"]);
    expect(r.stdout).toBe("ok: no findings in 1 object (d1 preprod)\n");
    expect(r.code).toBe(0);
  });

  it("accepts the D1 page's ECDSA P-256 CSR, in PEM and in DER", async () => {
    const r = await lint(["d1-mtls-client-cert.csr", ...D1_ARGS, "--key", "d1-mtls-client-cert.key"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("ok: no findings in 1 object");
    sh("openssl req -in d1-mtls-client-cert.csr -outform DER -out d1.csr.der");
    sh("openssl ec -in d1-mtls-client-cert.key -outform DER -out d1.key.der");
    const der = await lint(["d1.csr.der", "d1.key.der", ...D1_ARGS, "--json"]);
    expect(der.code).toBe(0);
    expect(JSON.parse(der.stdout)).toMatchObject({ ok: true, objects: 2, findings: [] });
  });

  it("refuses the same command with rsa:2048: D1_RSA_2048_REFUSED", async () => {
    sh(`openssl req -new -newkey rsa:2048 -nodes -keyout rsa2048.key -out rsa2048.csr -subj "${DN}/CN=TLSMA-RSA\\/123456\\/D1.PPR"`);
    const r = await lint(["rsa2048.csr", ...D1_ARGS, "--json"]);
    expect(r.code).toBe(1);
    expect(codes(r.stdout)).toEqual(["D1_RSA_2048_REFUSED"]);
  });

  it("refuses a production CSR linted for preprod: CN_ENVIRONMENT", async () => {
    sh(`openssl req -new -key d1-mtls-client-cert.key -out prd.csr -subj "${DN}/CN=TLSMA-ECDSA\\/123456\\/D1.PRD"`);
    const r = await lint(["prd.csr", ...D1_ARGS, "--json"]);
    expect(r.code).toBe(1);
    expect(codes(r.stdout)).toEqual(["CN_ENVIRONMENT"]);
    expect((await lint(["prd.csr", "--program", "d1", "--env", "production", "--gateway-id", "123456"])).code).toBe(0);
  });

  it("reports a --key that is not the CSR's", async () => {
    sh("openssl ecparam -name prime256v1 -genkey -noout -out other.key");
    const r = await lint(["d1-mtls-client-cert.csr", ...D1_ARGS, "--key", "other.key", "--json"]);
    expect(r.code).toBe(1);
    expect(codes(r.stdout)).toEqual(["KEY_MISMATCH"]);
  });

  const mtCert = (days: number, out: string): void =>
    sh(`openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days ${days} -subj "/CN=mt-sandbox-client" -addext extendedKeyUsage=clientAuth -keyout ${out}.key -out ${out}.crt`);

  it("accepts an MT self-signed certificate of 730 days", async () => {
    mtCert(730, "mt730");
    const r = await lint(["mt730.crt", "--program", "mt", "--env", "sandbox", "--cn", "mt-sandbox-client", "--key", "mt730.key", "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { errors: number; warnings: number; findings: Array<{ code: string }> };
    expect(doc).toMatchObject({ errors: 0, warnings: 0 });
    // openssl req -x509 marks the certificate CA:TRUE; that is only worth an info.
    expect(doc.findings.map((f) => f.code)).toEqual(["SELF_SIGNED_CA_FLAG"]);
  });

  it("refuses an MT certificate of 800 days: VALIDITY_TOO_LONG", async () => {
    mtCert(800, "mt800");
    const r = await lint(["mt800.crt", "--program", "mt", "--env", "sandbox", "--json"]);
    expect(r.code).toBe(1);
    expect(codes(r.stdout)).toContain("VALIDITY_TOO_LONG");
  });

  it("checks the order of a chain made with openssl x509 -req", async () => {
    sh(`openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 -subj "/CN=Test Business PKI CA" -keyout ca.key -out ca.crt`);
    sh("openssl x509 -req -in d1-mtls-client-cert.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1825 -sha256 -out d1.crt");
    sh("cat d1.crt ca.crt > good-chain.pem && cat ca.crt d1.crt > wrong-chain.pem");
    const good = await lint(["good-chain.pem", ...D1_ARGS, "--json"]);
    expect(good.code).toBe(0);
    // openssl x509 -req without -extfile adds no extendedKeyUsage: only an info.
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, objects: 2, findings: [{ code: "EKU_ABSENT" }] });
    const wrong = await lint(["wrong-chain.pem", ...D1_ARGS, "--json"]);
    expect(wrong.code).toBe(1);
    expect(codes(wrong.stdout)).toEqual(["EKU_ABSENT", "CHAIN_ORDER"]);
  });
});
