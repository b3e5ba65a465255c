/**
 * The outbound commands with the real `mtlskit` binary against the emulator: onboarding a D1
 * and an MT profile, then `oauth key create`, `check`, `token` and `call`, and `check`'s
 * diagnosis of a misconfiguration made through the emulator's portal.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/emulator/index.js";
import { cliSession } from "./support/cli.js";
import { portalBundle, portalCall, registerD1Customer } from "./support/emulator-fixtures.js";

const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
let emu: Emulator;
let tmp: string;
let home: string;
const { runs, run, ok, json } = cliSession(() => ({ cwd: tmp, home }));

const portal = <T>(method: string, route: string, body?: unknown) => portalCall<T>(emu, method, route, body);

const bundle = (program: string, environment: string, customerId: string) => portalBundle(emu, program, environment, customerId);

interface Report {
  ok: boolean;
  steps: Array<{ id: string; status: string; summary: string; diagnosis?: { code: string; name: string; fix: string } }>;
}

describe("outbound commands against the emulator", () => {
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-outbound-cli-"));
    home = path.join(tmp, "ws");
    emu = await startEmulator({ dir: path.join(tmp, "emulator") });
  });
  afterAll(async () => {
    for (const r of runs) expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
    await emu?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it("D1: onboarding, oauth key create, check all green, token (hidden unless --show), call the echo", async () => {
    await ok(["profile", "add", "d1-pp", "--program", "d1", "--env", "preprod", "--id", "123456", "--subject", SUBJECT]);
    const csr = await json<{ csrFile: string }>(["csr", "create", "--profile", "d1-pp"]);
    const signed = await portal<{ chain: string }>("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: await fs.readFile(csr.csrFile, "utf8") });
    expect(signed.status).toBe(201);
    await fs.writeFile(path.join(tmp, "d1.pem"), signed.body.chain);
    await ok(["cert", "install", "d1.pem", "--profile", "d1-pp"]);
    await ok(["assets", "import", (await bundle("d1", "preprod", "123456")).directory, "--profile", "d1-pp"]);

    // No OAuth key yet: the doctor says so and the token step is skipped.
    const before = await run(["--json", "check", "--profile", "d1-pp"]);
    expect(before.code).toBe(1);
    const rb = JSON.parse(before.stdout) as Report;
    expect(rb.steps.find((s) => s.id === "config")?.diagnosis?.code).toBe("OAUTH_KEY_MISSING");
    expect((await run(["token", "--profile", "d1-pp"])).stderr).toMatch(/^error \[OAUTH_KEY_MISSING\]/);

    const key = await json<{ kid: string; publicKeyPem: string; keyFile: string }>(["oauth", "key", "create", "--profile", "d1-pp"]);
    expect(key.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await fs.stat(key.keyFile)).mode & 0o777).toBe(0o600);
    expect((await run(["oauth", "key", "create", "--profile", "d1-pp"])).stderr).toMatch(/^error \[FILE_EXISTS\]/);
    // The export carries the public key and kid for Thales.
    const exported = await run(["--json", "assets", "export", "--profile", "d1-pp", "--out", path.join(tmp, "to-thales")]);
    expect(exported.stdout).toContain("D1_OAUTH_PUBLIC_KEY");
    expect(exported.stdout).toContain(key.kid);

    // Registered with the emulator (as Thales's onboarding would).
    const reg = await registerD1Customer(emu, key);
    expect(reg.status, JSON.stringify(reg.body)).toBeLessThan(300);

    const check = await run(["check", "--profile", "d1-pp"]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/PASS\s+TLS handshake/);
    expect(check.stdout).toMatch(/PASS\s+OAuth 2.0 token obtained/);
    expect(check.stdout).toContain("all green");

    const token = await ok(["token", "--profile", "d1-pp"]);
    expect(token.stdout).toContain("expires at");
    expect(token.stdout).toContain("printed only with --show");
    const tj = await json<{ tokenType: string; expiresIn: number; accessToken?: string }>(["token", "--profile", "d1-pp"]);
    expect(tj).toMatchObject({ tokenType: "Bearer", expiresIn: 900 });
    expect(tj.accessToken).toBeUndefined();
    const shown = await ok(["token", "--profile", "d1-pp", "--show", "--quiet"]);
    expect(shown.stdout.trim()).toMatch(/^[A-Za-z0-9_-]{20,}$/);

    const call = await ok(["call", "--profile", "d1-pp", "/d1/v1/echo", "-i", "-H", "x-correlation-id: cli-test-1"]);
    expect(call.stdout).toMatch(/^HTTP\/1\.1 200\r\n/);
    expect(call.stdout).toContain("x-correlation-id: cli-test-1");
    const body = JSON.parse(call.stdout.slice(call.stdout.indexOf("\r\n\r\n") + 4)) as { token: { sub: string }; identity: { subject: string } };
    expect(body.token.sub).toBe("123456");
    expect(body.identity.subject).toContain("TLSMA-ECDSA/123456/D1.PPR");
    expect(call.stdout).not.toContain(shown.stdout.trim());

    const post = await json<{ status: number; body: { method: string; correlationId: string } }>(["call", "--profile", "d1-pp", "-X", "POST", "/d1/v1/echo", "--data", '{"pan":"x"}']);
    expect(post.status).toBe(200);
    expect(post.body.method).toBe("POST");
    expect(post.body.correlationId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);

    const missing = await run(["call", "--profile", "d1-pp", "/nowhere"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("HTTP 404");
    expect((await run(["call", "--profile", "d1-pp", "/x", "-H", "x-correlation-id: bad id"])).stderr).toMatch(/^error \[HTTP_CORRELATION_ID_INVALID\]/);
    expect((await run(["call", "--profile", "d1-pp", "https://api.d1.thalescloud.test/x"])).stderr).toMatch(/^error \[HTTP_PATH_INVALID\]/);
  });

  it("MT: check all green, call the echo; after the endorsement is withdrawn, check names it", async () => {
    const pre = await bundle("mt", "sandbox", "654321");
    await ok(["profile", "add", "mt-sbx", "--program", "mt", "--env", "sandbox", "--id", "654321", "--cn", pre.assets["TSH_CLIENT_CN"]!]);
    const cert = await json<{ certificateFile: string; sha256Fingerprint: string }>(["cert", "self-signed", "--profile", "mt-sbx"]);
    const end = await portal<{ fingerprint: string }>("POST", "/v1/mt/sandbox/endorsements", { customerId: "654321", certificate: await fs.readFile(cert.certificateFile, "utf8") });
    expect(end.status).toBe(201);
    await ok(["assets", "import", (await bundle("mt", "sandbox", "654321")).directory, "--profile", "mt-sbx"]);

    const green = await json<Report>(["check", "--profile", "mt-sbx"]);
    expect(green.ok).toBe(true);
    expect(green.steps.map((s) => [s.id, s.status])).toEqual([
      ["config", "pass"],
      ["certificate", "pass"],
      ["dns", "pass"],
      ["tcp", "pass"],
      ["tls", "pass"],
      ["client-certificate", "pass"],
      ["http", "pass"],
    ]);
    const call = await json<{ status: number; body: { path: string; identity: { fingerprint: string } } }>(["call", "--profile", "mt-sbx", "echo"]);
    expect(call.status).toBe(200);
    expect(call.body.path).toBe("/1/sandbox-v2/echo");
    expect((await run(["oauth", "key", "create", "--profile", "mt-sbx"])).stderr).toMatch(/^error \[OAUTH_NOT_USED\]/);

    const withdrawn = await portal("DELETE", `/v1/mt/sandbox/endorsements/${end.body.fingerprint}`);
    expect(withdrawn.status).toBeLessThan(300);
    const red = await run(["check", "--profile", "mt-sbx"]);
    expect(red.code).toBe(1);
    expect(red.stdout).toMatch(/FAIL\s+client certificate accepted/);
    expect(red.stdout).toContain("diagnosis [TLS_CLIENT_CERT_NOT_ENDORSED] client certificate refused: not endorsed");
    expect(red.stdout).toContain("fix: Register this certificate in the Thales portal");
    const refused = await run(["call", "--profile", "mt-sbx", "echo"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error \[TLS_CLIENT_CERT_NOT_ENDORSED\]/);
  });
});
