// The emulator end to end, with real peers as the customer: curl and the openssl CLI reach its
// mTLS API, the portal signs and endorses, the notifier reaches an mTLS receiver that trusts
// only the Thales Client CA, and state survives a restart.
import { execFile } from "node:child_process";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator, type EmulatorEnvironment } from "../src/emulator/index.js";
import { createTestPki, type TestPki } from "../src/testing/index.js";
import { mtlskit } from "./support/cli.js";
import { requireTool } from "./support/tools.js";

const run = promisify(execFile);

/** Runs a command with stdin closed at once (openssl s_client waits on stdin otherwise). */
function runClosed(cmd: string, args: string[], timeoutMs = 10_000): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }));
    child.stdin?.end();
  });
}
const HAVE_PEERS = requireTool("openssl") && requireTool("curl");

interface Json {
  [k: string]: unknown;
}

async function portal(emu: Emulator, method: string, route: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${emu.portalUrl}${route}`, {
    method,
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": "application/json" } } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Json) : {} };
}

function env(emu: Emulator, program: string, environment: string): EmulatorEnvironment {
  const e = emu.environments.find((x) => x.program === program && x.environment === environment);
  if (!e) throw new Error(`no ${program} ${environment}`);
  return e;
}

function port(e: EmulatorEnvironment): string {
  return e.address.split(":")[1]!;
}

function manifestFile(e: EmulatorEnvironment, asset: string): string {
  const manifest = JSON.parse(readFileSync(path.join(e.assetsDir, "manifest.json"), "utf8")) as { assets: Record<string, string> };
  return path.join(e.assetsDir, manifest.assets[asset]!);
}

/** curl as the customer; returns exit code, HTTP status and body. */
async function curl(args: string[]): Promise<{ code: number; status: number; body: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run("curl", ["-sS", "--max-time", "10", "-w", "\n%{http_code}", ...args]);
    const i = stdout.lastIndexOf("\n");
    return { code: 0, status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i), stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, status: 0, body: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!HAVE_PEERS)("the emulator with curl and openssl as the customer", () => {
  let dir = "";
  let emu: Emulator;
  let pki: TestPki;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "mtlskit-emu-e2e-"));
    emu = await startEmulator({ dir: path.join(dir, "emulator"), notifierBackoff: { initialMs: 50, maxMs: 400, maxAttempts: 6 } });
    pki = await createTestPki();
  });

  afterAll(async () => {
    await emu?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("D1: a CSR signed by the portal reaches the echo resource with curl --cert/--key/--cacert and a token", async () => {
    const pp = env(emu, "d1", "preprod");
    const key = path.join(dir, "d1.key");
    const csr = path.join(dir, "d1.csr");
    const made = await mtlskit(["csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "GW42", "--subject", "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments", "--type", "ecdsa-p256", "--key-out", key, "--out", csr]);
    expect(made.code, made.stderr).toBe(0);
    const signed = await portal(emu, "POST", "/v1/d1/preprod/csr", { customerId: "GW42", csr: readFileSync(csr, "utf8") });
    expect(signed.status, JSON.stringify(signed.json)).toBe(201);
    const cert = path.join(dir, "d1.crt");
    writeFileSync(cert, String(signed.json["certificate"]));

    // Register the OAuth key (and the customer's endpoint, which the portal requires).
    const oauth = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const server = await pki.issue({ cn: "merchant.example.test", usage: "server", dns: ["merchant.example.test"] });
    const reg = await portal(emu, "PUT", "/v1/d1/preprod/customers/GW42", {
      issuerHost: "merchant.example.test:8443",
      serverChain: server.chainPem,
      oauthPublicKey: oauth.publicKey.export({ type: "spki", format: "pem" }).toString(),
      kid: "key-1",
    });
    expect(reg.status, JSON.stringify(reg.json)).toBeLessThan(300);

    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "key-1" })
      .setIssuer("GW42")
      .setSubject("GW42")
      .setIssuedAt()
      .setJti("jti-1")
      .setExpirationTime("10m")
      .sign(oauth.privateKey);
    const cacert = manifestFile(pp, "D1_TLS_SERVER_CA_CHAIN");
    const tls = ["--cert", cert, "--key", key, "--cacert", cacert, "--resolve", `${pp.host}:${port(pp)}:127.0.0.1`];
    const token = await curl([...tls, "-H", "content-type: application/json", "--data", JSON.stringify({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }), `${pp.authzUrl}/oauth2/token`]);
    expect(token.status, token.body + token.stderr).toBe(200);
    const accessToken = (JSON.parse(token.body) as { access_token: string; expires_in: number }).access_token;
    expect(JSON.parse(token.body)).toMatchObject({ token_type: "Bearer", expires_in: 900 });

    const echo = await curl([...tls, "-H", `authorization: Bearer ${accessToken}`, "-H", "x-correlation-id: corr-123", `${pp.apiUrl}/d1/v1/echo`]);
    expect(echo.status, echo.body + echo.stderr).toBe(200);
    const body = JSON.parse(echo.body) as { identity: { subject: string }; correlationId: string; token: { sub: string } };
    expect(body.identity.subject).toContain("TLSMA-ECDSA/GW42/D1.PPR");
    expect(body.correlationId).toBe("corr-123");
    expect(body.token.sub).toBe("GW42");

    // The same certificate is refused by the production listener, and the log says why.
    const prd = env(emu, "d1", "production");
    const cross = await curl(["--cert", cert, "--key", key, "--cacert", manifestFile(prd, "D1_TLS_SERVER_CA_CHAIN"), "--resolve", `${prd.host}:${port(prd)}:127.0.0.1`, `${prd.apiUrl}/d1/v1/echo`]);
    expect(cross.code).not.toBe(0);
    const log = await waitFor("the refusal in the production handshake log", async () => {
      const h = await portal(emu, "GET", "/v1/d1/production/handshakes");
      const list = h.json["handshakes"] as Array<{ result: string; code: string; reason: string; subject?: string }>;
      return list.find((x) => x.result === "refused" && x.subject?.includes("GW42"));
    });
    expect(["UNKNOWN_CA", "WRONG_ENVIRONMENT"]).toContain(log.code);
    expect(log.reason.length).toBeGreaterThan(10);
  });

  it("D1: the portal refuses an RSA 2048 CSR made by openssl, with its code", async () => {
    const key = path.join(dir, "rsa2048.key");
    const csr = path.join(dir, "rsa2048.csr");
    await run("openssl", ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments/CN=TLSMA-RSA\\/GW42\\/D1.PPR"]);
    const r = await portal(emu, "POST", "/v1/d1/preprod/csr", { customerId: "GW42", csr: readFileSync(csr, "utf8") });
    expect(r.status).toBe(422);
    expect((r.json["errors"] as Array<{ code: string }>).map((e) => e.code)).toContain("D1_RSA_2048_REFUSED");
  });

  it("refuses openssl s_client -tls1_1 and logs PROTOCOL_VERSION", async () => {
    const pp = env(emu, "d1", "preprod");
    const out = await runClosed("openssl", ["s_client", "-connect", pp.address, "-servername", pp.host, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    expect(out.code).not.toBe(0);
    const entry = await waitFor("PROTOCOL_VERSION in the handshake log", async () => {
      const h = await portal(emu, "GET", "/v1/d1/preprod/handshakes");
      return (h.json["handshakes"] as Array<{ code: string; tlsVersion?: string }>).find((x) => x.code === "PROTOCOL_VERSION");
    });
    expect(entry.tlsVersion).toBe("TLSv1.1");
  });

  it("MT: a self-signed certificate is refused before endorsement and accepted after", async () => {
    const sb = env(emu, "mt", "sandbox");
    const cert = path.join(dir, "mt.crt");
    const key = path.join(dir, "mt.key");
    const made = await mtlskit(["cert", "self-signed", "--program", "mt", "--env", "sandbox", "--cn", "MT-C77-SBX", "--type", "ecdsa-p256", "--key-out", key, "--out", cert]);
    expect(made.code, made.stderr).toBe(0);
    const tls = ["--cert", cert, "--key", key, "--cacert", manifestFile(sb, "TSH_TLS_SERVER_CERTIFICATE_CHAIN"), "--resolve", `${sb.host}:${port(sb)}:127.0.0.1`];
    const before = await curl([...tls, `${sb.apiUrl}echo`]);
    expect(before.code).not.toBe(0);

    const reg = await portal(emu, "PUT", "/v1/mt/sandbox/customers/C77", { issuerHost: "merchant.example.test:8443", serverChain: (await pki.issue({ usage: "server", dns: ["merchant.example.test"] })).chainPem, apiKey: "k-123" });
    expect(reg.status, JSON.stringify(reg.json)).toBeLessThan(300);
    const endorsed = await portal(emu, "POST", "/v1/mt/sandbox/endorsements", { customerId: "C77", certificate: readFileSync(cert, "utf8") });
    expect(endorsed.status, JSON.stringify(endorsed.json)).toBe(201);

    const after = await curl([...tls, `${sb.apiUrl}echo`]);
    expect(after.status, after.stderr).toBe(200);
    const fp = new X509Certificate(readFileSync(cert)).fingerprint256.replace(/:/g, "").toLowerCase();
    expect(JSON.stringify(JSON.parse(after.body))).toContain(fp);

    // openssl s_client agrees: the handshake verifies against the asset chain.
    const s = await runClosed("openssl", ["s_client", "-connect", sb.address, "-servername", sb.host, "-cert", cert, "-key", key, "-CAfile", manifestFile(sb, "TSH_TLS_SERVER_CERTIFICATE_CHAIN"), "-verify_return_error", "-brief"]);
    expect(s.output).toMatch(/Verification: OK/);
    expect(s.code).toBe(0);

    // The endorsement of one environment does not open the other.
    const prod = env(emu, "mt", "production");
    const other = await curl(["--cert", cert, "--key", key, "--cacert", manifestFile(prod, "TSH_TLS_SERVER_CERTIFICATE_CHAIN"), "--resolve", `${prod.host}:${port(prod)}:127.0.0.1`, `${prod.apiUrl}echo`]);
    expect(other.code).not.toBe(0);
  });

  it("notifications reach a receiver that trusts only the Thales Client CA, before and after a rotation, and after two 503s", async () => {
    const sb = env(emu, "mt", "sandbox");
    const clientCa = readFileSync(manifestFile(sb, "TSH_TLS_CLIENT_CERTIFICATE"), "utf8");
    // The asset holds the leaf followed by the CA: the receiver trusts the CA only.
    const caPem = clientCa.split(/(?=-----BEGIN CERTIFICATE-----)/).find((p) => new X509Certificate(p).ca)!;
    const serverCert = await pki.issue({ usage: "server", dns: ["receiver.example.test"] });
    const seen: Array<{ serial: string; path: string; auth?: string; corr?: string }> = [];
    let fail503 = 0;
    const receiver = https.createServer({ key: serverCert.keyPem, cert: serverCert.chainPem, ca: caPem, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2" }, (req, res) => {
      req.resume();
      req.on("end", () => {
        if (fail503 > 0) {
          fail503--;
          res.writeHead(503).end();
          return;
        }
        const peer = (req.socket as import("node:tls").TLSSocket).getPeerCertificate();
        seen.push({ serial: peer.serialNumber, path: req.url ?? "", auth: req.headers["authorization"] as string, corr: req.headers["x-correlation-id"] as string });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    try {
      const rport = (receiver.address() as AddressInfo).port;
      emu.dns.set("receiver.example.test", "127.0.0.1", 5);
      const reg = await portal(emu, "PUT", "/v1/mt/sandbox/customers/C88", { issuerHost: `receiver.example.test:${rport}`, serverChain: serverCert.chainPem, apiKey: "secret-88" });
      expect(reg.status, JSON.stringify(reg.json)).toBeLessThan(300);

      const first = await portal(emu, "POST", "/v1/mt/sandbox/notifications", { customerId: "C88", count: 2 });
      expect(first.status, JSON.stringify(first.json)).toBeLessThan(300);
      await waitFor("two deliveries", () => (seen.length >= 2 ? true : undefined));

      const rotated = await portal(emu, "POST", "/v1/mt/sandbox/rotate-client-certificate", {});
      expect(rotated.status).toBeLessThan(300);
      await portal(emu, "POST", "/v1/mt/sandbox/notifications", { customerId: "C88", count: 1 });
      await waitFor("the delivery after rotation", () => (seen.length >= 3 ? true : undefined));
      expect(seen[2]!.serial).not.toBe(seen[0]!.serial);
      expect(seen.every((s) => s.path === "/tsh-cof/notify-merchant-update" && s.auth === "APIKEY secret-88" && /^[A-Za-z0-9_-]{1,64}$/.test(s.corr ?? ""))).toBe(true);

      fail503 = 2;
      const third = await portal(emu, "POST", "/v1/mt/sandbox/notifications", { customerId: "C88", count: 1 });
      const id = (third.json["ids"] as string[])[0]!;
      await waitFor("the delivery after two 503s", () => (seen.length >= 4 ? true : undefined));
      const deliveries = (await portal(emu, "GET", "/v1/mt/sandbox/deliveries")).json["deliveries"] as Array<{ id: string; state: string; attempts: Array<{ status?: number }> }>;
      const d = deliveries.find((x) => x.id === id)!;
      expect(d.state).toBe("delivered");
      expect(d.attempts.map((a) => a.status)).toEqual([503, 503, 204]);
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });

  it("bad portal requests get a 4xx JSON error, never a crash", async () => {
    const malformed = await portal(emu, "POST", "/v1/d1/preprod/csr", { customerId: "GW42", csr: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA" });
    expect([400, 422]).toContain(malformed.status);
    expect((malformed.json["errors"] as unknown[]).length).toBeGreaterThan(0);
    expect((await portal(emu, "POST", "/v1/d1/staging/csr", { customerId: "GW42", csr: "x" })).status).toBe(404);
    expect((await portal(emu, "POST", "/v1/d1/preprod/csr", "{not json")).status).toBe(400);
    const huge = await fetch(`${emu.portalUrl}/v1/d1/preprod/csr`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ customerId: "GW42", csr: "A".repeat(3 * 1024 * 1024) }) }).catch(() => undefined);
    if (huge) expect(huge.status).toBe(413);
    expect((await portal(emu, "GET", "/v1/d1/preprod/handshakes")).status).toBe(200);
  });
});

describe.skipIf(!HAVE_PEERS)("the emulator across a restart", () => {
  it("keeps customers, endorsements and pending notifications", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "mtlskit-emu-restart-"));
    const pki = await createTestPki();
    // ISSUER_HOST is a DNS name of two labels or more (never localhost): the DNS stand-in answers it.
    const serverCert = await pki.issue({ usage: "server", dns: ["restart.example.test"] });
    let emu = await startEmulator({ dir, programs: ["mt"], notifierBackoff: { initialMs: 100, maxMs: 300, maxAttempts: 50 } });
    emu.dns.set("restart.example.test", "127.0.0.1", 5);
    try {
      // A port that nothing listens on yet: the notification stays pending.
      const probe = https.createServer();
      await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
      const rport = (probe.address() as AddressInfo).port;
      await new Promise((r) => probe.close(r));
      const sb = () => env(emu, "mt", "sandbox");
      const reg = await portal(emu, "PUT", "/v1/mt/sandbox/customers/R1", { issuerHost: `restart.example.test:${rport}`, serverChain: serverCert.chainPem, apiKey: "k-r1" });
      expect(reg.status, JSON.stringify(reg.json)).toBeLessThan(300);
      const sent = await portal(emu, "POST", "/v1/mt/sandbox/notifications", { customerId: "R1", count: 1 });
      const id = (sent.json["ids"] as string[])[0]!;
      await waitFor("a failed attempt", () => (emu.notifier.deliveries().find((d) => d.id === id)?.attempts.length ? true : undefined));
      await emu.close();

      emu = await startEmulator({ dir, programs: ["mt"], notifierBackoff: { initialMs: 100, maxMs: 300, maxAttempts: 50 } });
      emu.dns.set("restart.example.test", "127.0.0.1", 5);
      expect((await portal(emu, "GET", `/v1/mt/sandbox/assets?customerId=R1`)).status).toBe(200);
      const caPem = readFileSync(manifestFile(sb(), "TSH_TLS_CLIENT_CERTIFICATE"), "utf8");
      let received = 0;
      const receiver = https.createServer({ key: serverCert.keyPem, cert: serverCert.chainPem, ca: caPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
        req.resume();
        received++;
        res.writeHead(204).end();
      });
      await new Promise<void>((r) => receiver.listen(rport, "127.0.0.1", r));
      try {
        await waitFor("the pending notification after the restart", () => (emu.notifier.deliveries().find((d) => d.id === id)?.state === "delivered" ? true : undefined));
        expect(received).toBe(1);
      } finally {
        await new Promise((r) => receiver.close(r));
      }
    } finally {
      await emu.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("mtlskit emulate", () => {
  it("prints one JSON document once everything listens, and SIGTERM stops it cleanly", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "mtlskit-emulate-cli-"));
    const { spawn } = await import("node:child_process");
    const { MTLSKIT_BIN } = await import("./support/cli.js");
    const child = spawn(process.execPath, [MTLSKIT_BIN, "emulate", "--program", "d1", "--dir", dir, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      let out = "";
      let err = "";
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const doc = await new Promise<{ portalUrl: string; dnsServer: string; environments: Array<{ program: string; environment: string; apiUrl: string; address: string; assetsDir: string }> }>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          try {
            resolve(JSON.parse(out));
          } catch {
            // not complete yet
          }
        });
        child.on("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      expect(doc.portalUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(doc.dnsServer).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(doc.environments.map((e) => `${e.program}/${e.environment}`)).toEqual(["d1/preprod", "d1/production"]);
      expect(doc.environments[0]!.apiUrl).toMatch(/^https:\/\/api\.d1-stg\.thalescloud\.test:\d+$/);
      expect(path.isAbsolute(doc.environments[0]!.assetsDir)).toBe(true);
      expect(readFileSync(path.join(doc.environments[0]!.assetsDir, "manifest.json"), "utf8")).toContain("mtlskit-assets/1");
      // A second emulator on the same state folder is refused, naming the first one's process.
      const second = await mtlskit(["emulate", "--program", "d1", "--dir", dir], { env: { MTLSKIT_LOCK_WAIT_MS: "0" } });
      expect(second.code).toBe(2);
      expect(second.stderr).toContain("EMULATOR_DIR_IN_USE");
      expect(second.stderr).toContain(String(child.pid));
      const exit = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
      child.kill("SIGTERM");
      expect(await exit).toBe(0);
      expect(err).toBe("");
      // Stopped: the folder is free again.
      expect(existsSync(path.join(dir, ".lock"))).toBe(false);
    } finally {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
