import { spawn } from "node:child_process";
import { createHash, generateKeyPairSync, type KeyObject } from "node:crypto";
import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { SignJWT } from "jose";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTool } from "../../test/support/tools.js";
import { d1, getEnvironment, mt } from "../policy/index.js";
import { createTestPki, type TestCertificate, type TestPki } from "../testing/index.js";
import { startTestApiServer } from "../../test/support/emulator-fixtures.js";
import type { ApiServer, HandshakeLogEntry } from "./api-server.js";
import { emulatorHost } from "./hosts.js";

const HAS_CURL = requireTool("curl");
const HAS_OPENSSL = requireTool("openssl");

/** Node's code of a received alert, in OpenSSL 3.0's spelling (3.2+, in Node 22+, says "SSL/TLS" where 3.0 says "SSLV3"). */
function alertCode(code: string | undefined): string | undefined {
  return code?.replace("ERR_SSL_SSL/TLS_ALERT_", "ERR_SSL_SSLV3_ALERT_");
}

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const GW = "gw123456";
const GW2 = "gw999";

function sha256(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
}

/** Runs a command, feeding `input`; never rejects on a non-zero exit. */
function run(cmd: string, args: string[], input = ""): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill(), 15_000);
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

interface Attempt {
  /** The client's handshake completed. */
  secureConnect: boolean;
  /** Node's error code, e.g. ERR_SSL_TLSV1_ALERT_UNKNOWN_CA. */
  error: string | undefined;
  /** The start of the HTTP response, if any. */
  response: string;
}

/** One TLS connection with Node's client, sending one HTTP request once connected. */
function attempt(port: number, opts: { client?: TestCertificate; ca: string; version?: tls.SecureVersion; path?: string; servername?: string }): Promise<Attempt> {
  return new Promise((resolve) => {
    const result: Attempt = { secureConnect: false, error: undefined, response: "" };
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      ca: opts.ca,
      ...(opts.servername ? { servername: opts.servername } : {}),
      ...(opts.client ? { cert: opts.client.chainPem, key: opts.client.keyPem } : {}),
      ...(opts.version ? { minVersion: opts.version, maxVersion: opts.version } : {}),
    });
    socket.on("secureConnect", () => {
      result.secureConnect = true;
      socket.write(`GET ${opts.path ?? "/"} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    });
    socket.on("data", (b: Buffer) => (result.response += b.toString()));
    socket.on("error", (e: NodeJS.ErrnoException) => (result.error ??= e.code));
    socket.on("close", () => resolve(result));
  });
}

async function waitFor(log: HandshakeLogEntry[], predicate: (e: HandshakeLogEntry) => boolean, from = 0): Promise<HandshakeLogEntry> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = log.slice(from).find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching handshake log entry; got ${JSON.stringify(log.slice(from), null, 1)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function agentFor(client: TestCertificate, ca: string): Agent {
  return new Agent({ connect: { ca, cert: client.chainPem, key: client.keyPem } });
}

interface JsonResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

async function call(agent: Agent, port: number, method: "GET" | "POST" | "PUT", urlPath: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<JsonResponse> {
  const res = await request(`https://127.0.0.1:${port}${urlPath}`, { dispatcher: agent, method, headers: init.headers ?? {}, ...(init.body !== undefined ? { body: init.body } : {}) });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function firstError(r: JsonResponse): { code: string; message: string } {
  return (r.body.errors as Array<{ code: string; message: string }>)[0]!;
}

describe("API endpoint, D1 preprod", () => {
  const env = getEnvironment(d1, "preprod");
  const host = emulatorHost(env);
  const log: HandshakeLogEntry[] = [];
  let pki: TestPki;
  let otherPki: TestPki;
  let api: ApiServer;
  let client: TestCertificate;
  let client2: TestCertificate;
  let agent: Agent;
  let agent2: Agent;
  let oauthPrivate: KeyObject;
  let oauthPrivate2: KeyObject;
  let dir: string;

  beforeAll(async () => {
    pki = await createTestPki({ intermediateCn: "Thales Business PKI CA (test)" });
    otherPki = await createTestPki({ rootCn: "Other Root", intermediateCn: "Other CA" });
    const k1 = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const k2 = generateKeyPairSync("ec", { namedCurve: "P-256" });
    oauthPrivate = k1.privateKey;
    oauthPrivate2 = k2.privateKey;
    const keys = new Map([
      [`${GW}/kid-1`, k1.publicKey],
      [`${GW2}/kid-2`, k2.publicKey],
    ]);
    api = await startTestApiServer(pki, d1, env, log, { clientTrust: { kind: "ca", caPem: pki.caBundlePem }, oauthKey: (gatewayId, kid) => keys.get(`${gatewayId}/${kid}`) });
    client = await pki.issue({ subject: `/C=FR/ST=IDF/L=Paris/O=Example/OU=Payments/CN=TLSMA-ECDSA\\/${GW}\\/D1.PPR` });
    client2 = await pki.issue({ cn: `TLSMA-ECDSA/${GW2}/D1.PPR` });
    agent = agentFor(client, pki.root.certPem);
    agent2 = agentFor(client2, pki.root.certPem);
    dir = await fs.mkdtemp(path.join(tmpdir(), "mtlskit-api-"));
  });

  afterAll(async () => {
    await agent?.close();
    await agent2?.close();
    await api?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  function assertion(opts: { iss?: string; kid?: string; expIn?: number; key?: KeyObject | Uint8Array; alg?: string } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sub: opts.iss ?? GW })
      .setProtectedHeader({ alg: opts.alg ?? "ES256", kid: opts.kid ?? "kid-1" })
      .setIssuer(opts.iss ?? GW)
      .setIssuedAt(now)
      .setExpirationTime(now + (opts.expIn ?? 300))
      .sign(opts.key ?? oauthPrivate);
  }

  async function token(a = agent, jwt?: string): Promise<JsonResponse> {
    return call(a, api.port, "POST", "/authz/v1/oauth2/token", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: JWT_BEARER, assertion: jwt ?? (await assertion()) }),
    });
  }

  it("listens on loopback and reports its address", () => {
    expect(api.address).toBe(`127.0.0.1:${api.port}`);
    expect(api.port).toBeGreaterThan(0);
  });

  it("a certificate of the Business PKI CA with the right CN gets a token and reaches the echo resource", async () => {
    const from = log.length;
    const t = await token();
    expect(t.status).toBe(200);
    expect(t.body.token_type).toBe("Bearer");
    expect(t.body.expires_in).toBe(900);
    expect(typeof t.body.access_token).toBe("string");
    expect(t.headers["cache-control"]).toBe("no-store");

    const echo = await call(agent, api.port, "GET", "/d1/v1/echo", { headers: { authorization: `Bearer ${String(t.body.access_token)}`, "x-correlation-id": "abc-123_XYZ" } });
    expect(echo.status).toBe(200);
    expect(echo.headers["x-correlation-id"]).toBe("abc-123_XYZ");
    expect(echo.body).toMatchObject({
      program: "d1",
      environment: "preprod",
      identity: { subject: client.info.subjectText, fingerprint: sha256(client.der), serialNumber: client.info.serialNumber },
      correlationId: "abc-123_XYZ",
      method: "GET",
      path: "/d1/v1/echo",
      token: { sub: GW },
    });
    const expiresAt = Date.parse((echo.body.token as { expiresAt: string }).expiresAt);
    expect(expiresAt - Date.now()).toBeGreaterThan(890_000);
    const accepted = await waitFor(log, (e) => e.result === "accepted", from);
    expect(accepted).toMatchObject({ program: "d1", environment: "preprod", code: "OK", remoteAddress: "127.0.0.1", fingerprint: sha256(client.der), subject: client.info.subjectText });
    expect(accepted.tlsVersion).toMatch(/^TLSv1\.[23]$/);
  });

  it("accepts a form-encoded token request", async () => {
    const body = new URLSearchParams({ grant_type: JWT_BEARER, assertion: await assertion() }).toString();
    const t = await call(agent, api.port, "POST", "/authz/v1/oauth2/token", { headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    expect(t.status).toBe(200);
    expect(t.body.expires_in).toBe(900);
  });

  describe("token endpoint errors", () => {
    async function post(fields: Record<string, unknown>, a = agent): Promise<JsonResponse> {
      return call(a, api.port, "POST", "/authz/v1/oauth2/token", { headers: { "content-type": "application/json" }, body: JSON.stringify(fields) });
    }

    it("wrong grant_type: 400 INVALID_FIELD", async () => {
      const r = await post({ grant_type: "client_credentials", assertion: await assertion() });
      expect(r.status).toBe(400);
      expect(firstError(r)).toMatchObject({ code: "INVALID_FIELD", message: expect.stringContaining("grant_type") });
    });

    it("missing assertion: 400 MISSING_FIELD", async () => {
      const r = await post({ grant_type: JWT_BEARER });
      expect(r.status).toBe(400);
      expect(firstError(r)).toMatchObject({ code: "MISSING_FIELD", message: expect.stringContaining("assertion") });
    });

    it("malformed JSON and garbage assertions: 400 INVALID_FIELD", async () => {
      const r = await call(agent, api.port, "POST", "/authz/v1/oauth2/token", { headers: { "content-type": "application/json" }, body: "{nope" });
      expect(r.status).toBe(400);
      expect(firstError(r).code).toBe("INVALID_FIELD");
      const g = await post({ grant_type: JWT_BEARER, assertion: "not-a-jwt" });
      expect(g.status).toBe(400);
      expect(firstError(g).code).toBe("INVALID_FIELD");
    });

    it("an HS256 assertion is refused: ES256 only", async () => {
      const r = await post({ grant_type: JWT_BEARER, assertion: await assertion({ alg: "HS256", key: new Uint8Array(32).fill(7) }) });
      expect(r.status).toBe(400);
      expect(firstError(r)).toMatchObject({ code: "INVALID_FIELD", message: expect.stringContaining("ES256") });
    });

    it("unknown kid: 401", async () => {
      const r = await post({ grant_type: JWT_BEARER, assertion: await assertion({ kid: "kid-unknown" }) });
      expect(r.status).toBe(401);
      expect(firstError(r)).toMatchObject({ code: "UNKNOWN_KID", message: expect.stringContaining("kid-unknown") });
    });

    it.each(["constructor", "__proto__", "toString", "hasOwnProperty"])("%s as kid, iss or a form field: 4xx with a code, never an internal error", async (name) => {
      for (const jwt of [await assertion({ kid: name }), await assertion({ iss: name })]) {
        const r = await post({ grant_type: JWT_BEARER, assertion: jwt });
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(firstError(r).code).toMatch(/^[A-Z_]+$/);
      }
      const form = await call(agent, api.port, "POST", "/authz/v1/oauth2/token", {
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `${encodeURIComponent(name)}=x&grant_type=${encodeURIComponent(JWT_BEARER)}`,
      });
      expect(form.status).toBe(400);
      expect(firstError(form)).toMatchObject({ code: "MISSING_FIELD" });
    });

    it("exp one hour ahead: 400 INVALID_FIELD", async () => {
      const r = await post({ grant_type: JWT_BEARER, assertion: await assertion({ expIn: 3600 }) });
      expect(r.status).toBe(400);
      expect(firstError(r)).toMatchObject({ code: "INVALID_FIELD", message: expect.stringContaining("exp") });
    });

    it("an expired assertion: 401", async () => {
      const r = await post({ grant_type: JWT_BEARER, assertion: await assertion({ expIn: -60 }) });
      expect(r.status).toBe(401);
      expect(firstError(r).code).toBe("ASSERTION_EXPIRED");
    });

    it("a signature by another key: 401", async () => {
      const r = await post({ grant_type: JWT_BEARER, assertion: await assertion({ key: oauthPrivate2 }) });
      expect(r.status).toBe(401);
      expect(firstError(r).code).toBe("INVALID_SIGNATURE");
    });

    it("iss other than the client certificate's gateway: 401, even with that gateway's valid key", async () => {
      const r = await post({ grant_type: JWT_BEARER, assertion: await assertion({ iss: GW2, kid: "kid-2", key: oauthPrivate2 }) });
      expect(r.status).toBe(401);
      expect(firstError(r)).toMatchObject({ code: "ISSUER_MISMATCH", message: expect.stringContaining(GW) });
    });

    it("an unsupported content type: 415", async () => {
      const r = await call(agent, api.port, "POST", "/authz/v1/oauth2/token", { headers: { "content-type": "text/plain" }, body: "x" });
      expect(r.status).toBe(415);
    });
  });

  describe("echo resource errors", () => {
    it("without a token: 401 with WWW-Authenticate: Bearer", async () => {
      const r = await call(agent, api.port, "GET", "/d1/v1/echo", { headers: { "x-correlation-id": "c1" } });
      expect(r.status).toBe(401);
      expect(String(r.headers["www-authenticate"])).toMatch(/^Bearer /);
      expect(firstError(r).code).toBe("MISSING_TOKEN");
    });

    it("an unknown token: 401 invalid_token", async () => {
      const r = await call(agent, api.port, "GET", "/d1/v1/echo", { headers: { authorization: "Bearer bm9wZQ", "x-correlation-id": "c1" } });
      expect(r.status).toBe(401);
      expect(String(r.headers["www-authenticate"])).toContain('error="invalid_token"');
    });

    it("a token of another gateway: 401", async () => {
      const other = await token(agent2, await assertion({ iss: GW2, kid: "kid-2", key: oauthPrivate2 }));
      expect(other.status).toBe(200);
      const r = await call(agent, api.port, "GET", "/d1/v1/echo", { headers: { authorization: `Bearer ${String(other.body.access_token)}`, "x-correlation-id": "c1" } });
      expect(r.status).toBe(401);
      expect(firstError(r).code).toBe("TOKEN_GATEWAY_MISMATCH");
    });

    it("a bad or missing x-correlation-id: 400", async () => {
      const t = await token();
      const auth = `Bearer ${String(t.body.access_token)}`;
      const bad = await call(agent, api.port, "POST", "/d1/v1/echo", { headers: { authorization: auth, "x-correlation-id": "has spaces!" }, body: "{}" });
      expect(bad.status).toBe(400);
      expect(firstError(bad).code).toBe("INVALID_FIELD");
      expect(bad.headers["x-correlation-id"]).toBeUndefined();
      const tooLong = await call(agent, api.port, "GET", "/d1/v1/echo", { headers: { authorization: auth, "x-correlation-id": "a".repeat(65) } });
      expect(tooLong.status).toBe(400);
      const missing = await call(agent, api.port, "GET", "/d1/v1/echo", { headers: { authorization: auth } });
      expect(missing.status).toBe(400);
      expect(firstError(missing).code).toBe("MISSING_FIELD");
    });

    it("unknown paths: 404 JSON; wrong method: 405; huge body: 413", async () => {
      const r = await call(agent, api.port, "GET", "/nowhere");
      expect(r.status).toBe(404);
      expect(firstError(r).code).toBe("NOT_FOUND");
      const m = await call(agent, api.port, "PUT", "/d1/v1/echo", { body: "{}" });
      expect(m.status).toBe(405);
      const big = await call(agent, api.port, "POST", "/authz/v1/oauth2/token", { headers: { "content-type": "application/json" }, body: "x".repeat(1024 * 1024 + 10) });
      expect(big.status).toBe(413);
      // The same code as the portal and the inbound server (it was PAYLOAD_TOO_LARGE here).
      expect(firstError(big)).toMatchObject({ code: "BODY_TOO_LARGE", message: `the body is over this endpoint's limit of ${1024 * 1024} bytes` });
      expect(big.headers["x-content-type-options"]).toBe("nosniff");
    });
  });

  describe("handshake refusals, in the handshake, logged with their reason", () => {
    for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
      describe(version, () => {
        it("the right certificate is accepted", async () => {
          const from = log.length;
          const r = await attempt(api.port, { ca: pki.root.certPem, version, client, path: "/nowhere" });
          expect(r.secureConnect).toBe(true);
          expect(r.error).toBeUndefined();
          expect(r.response).toMatch(/^HTTP\/1\.1 404/);
          expect(await waitFor(log, (x) => x.result === "accepted", from)).toMatchObject({ code: "OK", tlsVersion: version });
        });

        it("no client certificate", async () => {
          const from = log.length;
          const r = await attempt(api.port, { ca: pki.root.certPem, version, path: "/d1/v1/echo" });
          // TLS 1.2: the handshake itself fails. TLS 1.3: the client's handshake completes by
          // protocol, and the alert is the first thing it reads (never an HTTP response).
          expect(r.secureConnect).toBe(version === "TLSv1.3");
          expect(alertCode(r.error)).toBe(version === "TLSv1.3" ? "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED" : "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE");
          expect(r.response).toBe("");
          const e = await waitFor(log, (x) => x.result === "refused", from);
          expect(e).toMatchObject({ code: "NO_CLIENT_CERTIFICATE", tlsVersion: version, remoteAddress: "127.0.0.1" });
        });

        it("a certificate from another CA: UNKNOWN_CA", async () => {
          const from = log.length;
          const foreign = await otherPki.issue({ cn: `TLSMA-ECDSA/${GW}/D1.PPR` });
          const r = await attempt(api.port, { ca: pki.root.certPem, version, client: foreign });
          expect(r.secureConnect).toBe(version === "TLSv1.3");
          expect(r.error).toBe("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA");
          expect(r.response).toBe("");
          const e = await waitFor(log, (x) => x.result === "refused", from);
          expect(e).toMatchObject({ code: "UNKNOWN_CA", fingerprint: sha256(foreign.der) });
          expect(e.reason).toContain("Other CA");
        });

        it("a certificate of the other environment (D1.PRD at preprod): WRONG_ENVIRONMENT", async () => {
          const from = log.length;
          const prd = await pki.issue({ cn: `TLSMA-ECDSA/${GW}/D1.PRD` });
          const r = await attempt(api.port, { ca: pki.root.certPem, version, client: prd });
          expect(r.error).toBe("ERR_SSL_TLSV1_ALERT_ACCESS_DENIED");
          expect(r.response).toBe("");
          const e = await waitFor(log, (x) => x.result === "refused", from);
          expect(e.code).toBe("WRONG_ENVIRONMENT");
          expect(e.reason).toContain("Production");
          expect(e.reason).toContain("D1.PPR");
        });

        it("an expired certificate: CERTIFICATE_EXPIRED", async () => {
          const from = log.length;
          const old = await pki.expired({ cn: `TLSMA-ECDSA/${GW}/D1.PPR` });
          const r = await attempt(api.port, { ca: pki.root.certPem, version, client: old });
          expect(alertCode(r.error)).toBe("ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED");
          const e = await waitFor(log, (x) => x.result === "refused", from);
          expect(e.code).toBe("CERTIFICATE_EXPIRED");
          expect(e.reason).toContain(old.info.notAfter.toISOString());
        });
      });
    }

    it("a CN off the pattern, or whose key word does not match the key: CN_PATTERN", async () => {
      for (const c of [await pki.issue({ cn: "client.example" }), await pki.issue({ cn: `TLSMA-RSA/${GW}/D1.PPR` })]) {
        const from = log.length;
        const r = await attempt(api.port, { ca: pki.root.certPem, client: c });
        expect(r.error).toBe("ERR_SSL_TLSV1_ALERT_ACCESS_DENIED");
        const e = await waitFor(log, (x) => x.result === "refused", from);
        expect(e.code).toBe("CN_PATTERN");
      }
    });

    it("an RSA 2048 certificate: KEY_TYPE_REFUSED", async () => {
      const from = log.length;
      const rsa = await pki.issue({ cn: `TLSMA-RSA/${GW}/D1.PPR`, keyType: "rsa-2048" });
      const r = await attempt(api.port, { ca: pki.root.certPem, client: rsa });
      expect(r.response).toBe("");
      const e = await waitFor(log, (x) => x.result === "refused", from);
      expect(e.code).toBe("KEY_TYPE_REFUSED");
    });

    it("plain HTTP on the TLS port is logged as NOT_TLS; a silent port probe is not logged", async () => {
      const from = log.length;
      await new Promise<void>((resolve) => {
        const s = net.connect(api.port, "127.0.0.1", () => s.end());
        s.on("close", () => resolve());
      });
      await new Promise<void>((resolve) => {
        const s = net.connect(api.port, "127.0.0.1", () => s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        s.on("error", () => undefined);
        s.on("close", () => resolve());
      });
      const e = await waitFor(log, (x) => x.result === "refused", from);
      expect(e.code).toBe("NOT_TLS");
      expect(log.slice(from)).toHaveLength(1);
    });

    it("a certificate of another CA under the same root: UNKNOWN_CA", async () => {
      const sibling = await pki.issue({ cn: "Thales Client CA (test)", ca: true, issuer: "root" });
      const leaf = await pki.issue({ cn: `TLSMA-ECDSA/${GW}/D1.PPR`, issuer: sibling });
      const from = log.length;
      const r = await attempt(api.port, { ca: pki.root.certPem, client: leaf });
      expect(r.error).toBe("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA");
      expect((await waitFor(log, (x) => x.result === "refused", from)).code).toBe("UNKNOWN_CA");
    });
  });

  describe.skipIf(!HAS_OPENSSL)("against the openssl CLI", () => {
    it("openssl s_client -tls1_1 is refused by the server and logged as PROTOCOL_VERSION", async () => {
      const from = log.length;
      // SECLEVEL=0 so that the client really offers TLS 1.1 and it is the server that refuses.
      const r = await run("openssl", ["s_client", "-connect", `127.0.0.1:${api.port}`, "-servername", host, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/alert protocol version/);
      const e = await waitFor(log, (x) => x.result === "refused", from);
      expect(e).toMatchObject({ code: "PROTOCOL_VERSION", tlsVersion: "TLSv1.1" });
      expect(e.reason).toContain("TLSv1.1");
    });

    it("openssl s_client -tls1_2 with a foreign certificate fails its handshake with alert unknown ca", async () => {
      const foreign = await otherPki.issue({ cn: `TLSMA-ECDSA/${GW}/D1.PPR` });
      await fs.writeFile(path.join(dir, "foreign.crt"), foreign.chainPem);
      await fs.writeFile(path.join(dir, "foreign.key"), foreign.keyPem, { mode: 0o600 });
      await fs.writeFile(path.join(dir, "root.pem"), pki.root.certPem);
      const r = await run(
        "openssl",
        ["s_client", "-connect", `127.0.0.1:${api.port}`, "-servername", host, "-tls1_2", "-CAfile", path.join(dir, "root.pem"), "-cert", path.join(dir, "foreign.crt"), "-key", path.join(dir, "foreign.key"), "-quiet"],
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      );
      expect(r.stdout + r.stderr).toMatch(/alert unknown ca/);
      expect(r.stdout).not.toContain("HTTP/1.1");
    });
  });

  describe.skipIf(!HAS_CURL)("against curl, as the customer", () => {
    it("curl --cert --key --cacert gets a token and calls the echo resource", async () => {
      const cert = path.join(dir, "client.crt");
      const key = path.join(dir, "client.key");
      const cacert = path.join(dir, "thales-server-ca.pem");
      await fs.writeFile(cert, client.chainPem);
      await fs.writeFile(key, client.keyPem, { mode: 0o600 });
      await fs.writeFile(cacert, pki.root.certPem);
      const base = ["-sS", "--fail-with-body", "--cert", cert, "--key", key, "--cacert", cacert, "--resolve", `${host}:${api.port}:127.0.0.1`];
      const body = JSON.stringify({ grant_type: JWT_BEARER, assertion: await assertion() });
      const t = await run("curl", [...base, "-H", "content-type: application/json", "--data-binary", body, `https://${host}:${api.port}/authz/v1/oauth2/token`]);
      expect(t.stderr).toBe("");
      expect(t.code).toBe(0);
      const accessToken = (JSON.parse(t.stdout) as { access_token: string }).access_token;
      const e = await run("curl", [...base, "-i", "-H", `authorization: Bearer ${accessToken}`, "-H", "x-correlation-id: curl-1", `https://${host}:${api.port}/d1/v1/payments/echo`]);
      expect(e.code).toBe(0);
      expect(e.stdout).toMatch(/^x-correlation-id: curl-1\r?$/im);
      const json = JSON.parse(e.stdout.slice(e.stdout.indexOf("{"))) as { identity: { fingerprint: string }; token: { sub: string }; path: string };
      expect(json.identity.fingerprint).toBe(sha256(client.der));
      expect(json.token.sub).toBe(GW);
      expect(json.path).toBe("/d1/v1/payments/echo");
    });

    it("curl with a certificate of the other environment is refused in the handshake", async () => {
      const prd = await pki.issue({ cn: `TLSMA-ECDSA/${GW}/D1.PRD` });
      await fs.writeFile(path.join(dir, "prd.crt"), prd.chainPem);
      await fs.writeFile(path.join(dir, "prd.key"), prd.keyPem, { mode: 0o600 });
      await fs.writeFile(path.join(dir, "root.pem"), pki.root.certPem);
      const from = log.length;
      const r = await run("curl", ["-sS", "--tls-max", "1.2", "--cert", path.join(dir, "prd.crt"), "--key", path.join(dir, "prd.key"), "--cacert", path.join(dir, "root.pem"), "--resolve", `${host}:${api.port}:127.0.0.1`, `https://${host}:${api.port}/d1/v1/echo`]);
      expect(r.code).toBe(35); // CURLE_SSL_CONNECT_ERROR: the handshake failed
      expect(r.stderr).toMatch(/alert access denied/);
      expect((await waitFor(log, (x) => x.result === "refused", from)).code).toBe("WRONG_ENVIRONMENT");
    });
  });

  it("setCredential changes the server certificate for new handshakes without a restart", async () => {
    const fresh = await pki.issue({ cn: host, usage: "server", dns: [host] });
    api.setCredential({ chainPem: fresh.chainPem, keyPem: fresh.keyPem });
    const from = log.length;
    const seen = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port: api.port, ca: pki.root.certPem, cert: client.chainPem, key: client.keyPem }, () => {
        const fingerprint = s.getPeerX509Certificate()?.fingerprint256 ?? "";
        s.write("GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.once("data", () => resolve(fingerprint));
      });
      s.on("error", reject);
    });
    expect(seen).toBe(fresh.info.sha256Fingerprint);
    await waitFor(log, (x) => x.result === "accepted", from);
    expect(() => api.setCredential({ chainPem: fresh.chainPem, keyPem: client.keyPem })).toThrow(/credential was not changed/);
  });

  it("setClientTrust to another CA refuses the old certificates on the next handshake", async () => {
    api.setClientTrust({ kind: "ca", caPem: otherPki.caBundlePem });
    try {
      const from = log.length;
      const r = await attempt(api.port, { ca: pki.root.certPem, client });
      expect(r.error).toBe("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA");
      expect((await waitFor(log, (x) => x.result === "refused", from)).code).toBe("UNKNOWN_CA");
    } finally {
      api.setClientTrust({ kind: "ca", caPem: pki.caBundlePem });
    }
    const ok = await attempt(api.port, { ca: pki.root.certPem, client, path: "/nowhere" });
    expect(ok.response).toMatch(/^HTTP\/1\.1 404/);
  });
});

describe("API endpoint, MT sandbox", () => {
  const env = getEnvironment(mt, "sandbox");
  const host = emulatorHost(env);
  const log: HandshakeLogEntry[] = [];
  let pki: TestPki;
  let api: ApiServer;
  let selfSigned: TestCertificate;
  let dir: string;

  beforeAll(async () => {
    pki = await createTestPki({ intermediateCn: "DigiCert SHA2 High Assurance Server CA" });
    api = await startTestApiServer(pki, mt, env, log, { clientTrust: { kind: "pinned", certificatesPem: [] } });
    selfSigned = await pki.selfSigned({ cn: "mt-customer-123456-sandbox" });
    dir = await fs.mkdtemp(path.join(tmpdir(), "mtlskit-api-mt-"));
    await fs.writeFile(path.join(dir, "client.crt"), selfSigned.certPem);
    await fs.writeFile(path.join(dir, "client.key"), selfSigned.keyPem, { mode: 0o600 });
    await fs.writeFile(path.join(dir, "root.pem"), pki.root.certPem);
  });

  afterAll(async () => {
    await api?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it("a self-signed certificate not yet endorsed is refused: NOT_ENDORSED", async () => {
    const from = log.length;
    const r = await attempt(api.port, { ca: pki.root.certPem, client: selfSigned, path: "/1/sandbox-v2/echo" });
    expect(r.error).toBe("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA");
    expect(r.response).toBe("");
    const e = await waitFor(log, (x) => x.result === "refused", from);
    expect(e).toMatchObject({ code: "NOT_ENDORSED", fingerprint: sha256(selfSigned.der), program: "mt", environment: "sandbox" });
    expect(e.reason).toContain(sha256(selfSigned.der));
  });

  it("once endorsed it is accepted and the echo returns its fingerprint; removed, it is refused again", async () => {
    api.setClientTrust({ kind: "pinned", certificatesPem: [selfSigned.certPem] });
    const agent = agentFor(selfSigned, pki.root.certPem);
    try {
      const from = log.length;
      const echo = await call(agent, api.port, "POST", "/1/sandbox-v2/echo", { headers: { "x-correlation-id": "mt-1", "content-type": "application/json" }, body: "{}" });
      expect(echo.status).toBe(200);
      expect(echo.body).toMatchObject({
        program: "mt",
        environment: "sandbox",
        identity: { fingerprint: sha256(selfSigned.der), subject: "CN=mt-customer-123456-sandbox", serialNumber: selfSigned.info.serialNumber },
        correlationId: "mt-1",
        method: "POST",
        path: "/1/sandbox-v2/echo",
      });
      expect(echo.body.token).toBeUndefined();
      expect(echo.headers["x-correlation-id"]).toBe("mt-1");
      expect((await waitFor(log, (x) => x.result === "accepted", from)).fingerprint).toBe(sha256(selfSigned.der));
      const prodPath = await call(agent, api.port, "GET", "/1/mg/echo");
      expect(prodPath.status).toBe(404);
    } finally {
      await agent.close();
    }

    api.setClientTrust({ kind: "pinned", certificatesPem: [] });
    const from = log.length;
    const r = await attempt(api.port, { ca: pki.root.certPem, client: selfSigned });
    expect(r.error).toBe("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA");
    expect((await waitFor(log, (x) => x.result === "refused", from)).code).toBe("NOT_ENDORSED");
  });

  it("an endorsed certificate that has expired is refused: CERTIFICATE_EXPIRED", async () => {
    const day = 86_400_000;
    const old = await pki.selfSigned({ cn: "mt-old", notBefore: new Date(Date.now() - 3 * day), notAfter: new Date(Date.now() - day) });
    api.setClientTrust({ kind: "pinned", certificatesPem: [old.certPem] });
    try {
      const from = log.length;
      const r = await attempt(api.port, { ca: pki.root.certPem, client: old });
      expect(alertCode(r.error)).toBe("ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED");
      expect((await waitFor(log, (x) => x.result === "refused", from)).code).toBe("CERTIFICATE_EXPIRED");
    } finally {
      api.setClientTrust({ kind: "pinned", certificatesPem: [] });
    }
  });

  it("a certificate signed by a CA is not an endorsed certificate", async () => {
    api.setClientTrust({ kind: "pinned", certificatesPem: [pki.intermediate.certPem] });
    try {
      const issued = await pki.issue({ cn: "mt-customer-123456-sandbox" });
      const from = log.length;
      const r = await attempt(api.port, { ca: pki.root.certPem, client: issued });
      expect(r.error).toBe("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA");
      const e = await waitFor(log, (x) => x.result === "refused", from);
      expect(e.code).toBe("NOT_ENDORSED");
      expect(e.reason).toContain("not self-signed");
    } finally {
      api.setClientTrust({ kind: "pinned", certificatesPem: [] });
    }
  });

  describe.skipIf(!HAS_OPENSSL)("against the openssl CLI", () => {
    it("openssl s_client: refused before endorsement, echo after", async () => {
      const args = ["s_client", "-connect", `127.0.0.1:${api.port}`, "-servername", host, "-CAfile", path.join(dir, "root.pem"), "-cert", path.join(dir, "client.crt"), "-key", path.join(dir, "client.key"), "-verify_return_error", "-quiet"];
      const request = `GET /1/sandbox-v2/echo HTTP/1.1\r\nHost: ${host}\r\nx-correlation-id: ossl-1\r\nConnection: close\r\n\r\n`;
      const before = await run("openssl", args, request);
      expect(before.stdout + before.stderr).toMatch(/alert unknown ca/);
      expect(before.stdout).not.toContain("HTTP/1.1 200");

      api.setClientTrust({ kind: "pinned", certificatesPem: [selfSigned.certPem] });
      try {
        const after = await run("openssl", args, request);
        expect(after.stdout).toContain("HTTP/1.1 200");
        expect(after.stdout).toContain(sha256(selfSigned.der));
        expect(after.stdout).toContain('"correlationId":"ossl-1"');
      } finally {
        api.setClientTrust({ kind: "pinned", certificatesPem: [] });
      }
    });
  });
});
