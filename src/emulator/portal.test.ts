import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { portalTestEnvironments } from "../../test/support/emulator-fixtures.js";
import { requireTool } from "../../test/support/tools.js";
import { MtlsError } from "../errors/index.js";
import { createCsr, generateKey, parseCertificate, parseCsr, parsePem, parseSubject, privateKeyToPem, toPem } from "../pki/index.js";
import { createTestPki, type TestPki } from "../testing/index.js";
import { loadOrCreateEmulatorPki, type EmulatorPki } from "./emulator-pki.js";
import { startPortal, type Portal, type PortalEnvironment, type PortalOptions } from "./portal.js";
import { EmulatorState } from "./state.js";

const D1_SUBJECT = "/C=FR/ST=Ile-de-France/L=Paris/O=Example Gateway/OU=Payments";
const HOUR = 3_600_000;

const environments: PortalEnvironment[] = portalTestEnvironments();

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

let dir: string;
let pki: EmulatorPki;
let state: EmulatorState;
let portal: Portal;
let testPki: TestPki;
const calls: string[] = [];
const internalErrors: unknown[] = [];

function portalOptions(): PortalOptions {
  return {
    pki,
    state,
    assetsDir: path.join(dir, "assets"),
    environments,
    dnsServers: ["127.0.0.1:40002"],
    onEndorsementsChanged: (p, e) => void calls.push(`endorsements ${p} ${e}`),
    onCustomerChanged: (p, e, c) => void calls.push(`customer ${p} ${e} ${c}`),
    notify: (p, e, c, n) => {
      if (c === "bomb") throw new Error("a bug in the notifier, with a secret path /etc/x");
      if (c === "refused") throw new MtlsError("USAGE", "the notifier refuses this");
      return Array.from({ length: n }, (_, i) => `${p}-${e}-${c}-${i}`);
    },
    deliveries: (p, e) => [{ program: p, environment: e, id: "d-1", status: 204 }],
    handshakes: async (p, e) => [{ program: p, environment: e, ok: false, reason: "no client certificate" }],
    onInternalError: (e) => void internalErrors.push(e),
  };
}

async function call(method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const init: RequestInit = { method, headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers } };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const res = await fetch(`${portal.url}${route}`, init);
  const text = await res.text();
  return { status: res.status, headers: Object.fromEntries(res.headers), body: text ? JSON.parse(text) : undefined };
}

function codes(a: Answer): string[] {
  return (a.body?.errors ?? []).map((e: { code: string }) => e.code);
}

async function d1Csr(options: { keyType?: "ecdsa-p256" | "rsa-2048"; cn?: string; subject?: string; hash?: "sha256" | "sha384" } = {}): Promise<string> {
  const keyType = options.keyType ?? "ecdsa-p256";
  const { privateKey } = await generateKey(keyType);
  const cn = options.cn ?? `TLSMA-${keyType === "rsa-2048" ? "RSA" : "ECDSA"}\\/123456\\/D1.PPR`;
  return toPem("CERTIFICATE REQUEST", createCsr({ subject: parseSubject(`${options.subject ?? D1_SUBJECT}/CN=${cn}`), privateKey, hash: options.hash ?? "sha256" }));
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "mtlskit-portal-"));
  pki = await loadOrCreateEmulatorPki(dir);
  state = await EmulatorState.load(dir);
  portal = await startPortal(portalOptions());
  testPki = await createTestPki();
});

afterAll(async () => {
  await portal?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("portal: requests it cannot take", () => {
  it("listens on loopback only", async () => {
    expect(portal.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await expect(startPortal({ ...portalOptions(), host: "0.0.0.0" })).rejects.toMatchObject({ code: "USAGE" });
  });

  it("answers 404 for an unknown route, program or environment, and one this emulator does not serve", async () => {
    expect(await call("GET", "/nothing")).toMatchObject({ status: 404, body: { errors: [{ code: "NOT_FOUND" }] } });
    expect(await call("GET", "/v1/d1/preprod/nothing")).toMatchObject({ status: 404, body: { errors: [{ code: "NOT_FOUND" }] } });
    expect(await call("GET", "/v1/visa/preprod/assets")).toMatchObject({ status: 404, body: { errors: [{ code: "UNKNOWN_PROGRAM" }] } });
    expect(await call("POST", "/v1/d1/sandbox/csr", { customerId: "1", csr: "x" })).toMatchObject({ status: 404, body: { errors: [{ code: "UNKNOWN_ENVIRONMENT" }] } });
    expect(await call("POST", "/v1/mt/sandbox/csr", { customerId: "1", csr: "x" })).toMatchObject({ status: 404, body: { errors: [{ code: "NOT_FOUND" }] } });
    const narrow = await startPortal({ ...portalOptions(), environments: environments.filter((e) => e.program === "mt") });
    try {
      const res = await fetch(`${narrow.url}/v1/d1/preprod/assets`);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ errors: [{ code: "UNKNOWN_ENVIRONMENT" }] });
    } finally {
      await narrow.close();
    }
  });

  it("answers 405 with Allow for a known route and another method", async () => {
    const a = await call("GET", "/v1/d1/preprod/csr");
    expect(a).toMatchObject({ status: 405, body: { errors: [{ code: "METHOD_NOT_ALLOWED" }] } });
    expect(a.headers["allow"]).toBe("POST");
  });

  it("answers 400 for malformed JSON, a non-object, a missing or mistyped field", async () => {
    expect(await call("POST", "/v1/d1/preprod/csr", "{not json")).toMatchObject({ status: 400, body: { errors: [{ code: "MALFORMED_JSON" }] } });
    expect(await call("POST", "/v1/d1/preprod/csr", "[1,2]")).toMatchObject({ status: 400, body: { errors: [{ code: "MALFORMED_JSON" }] } });
    const missing = await call("POST", "/v1/d1/preprod/csr", { customerId: 5 });
    expect(missing.status).toBe(400);
    expect(codes(missing)).toEqual(["INVALID_FIELD", "MISSING_FIELD"]);
  });

  it("answers 415 for a body that is not JSON", async () => {
    const a = await call("POST", "/v1/d1/preprod/csr", "customerId=1", { "content-type": "application/x-www-form-urlencoded" });
    expect(a).toMatchObject({ status: 415, body: { errors: [{ code: "UNSUPPORTED_MEDIA_TYPE" }] } });
  });

  it("answers 413 to a huge body, announced or streamed, and keeps serving", async () => {
    const huge = JSON.stringify({ customerId: "1", csr: "x".repeat(3 * 1024 * 1024) });
    const a = await call("POST", "/v1/d1/preprod/csr", huge);
    expect(a).toMatchObject({ status: 413, body: { errors: [{ code: "BODY_TOO_LARGE" }] } });
    // Chunked, with no content-length: the portal stops once over the limit.
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${portal.url}/v1/d1/preprod/csr`);
      const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      const chunk = "x".repeat(64 * 1024);
      let sent = 0;
      const pump = (): void => {
        while (sent < 64 && !req.destroyed) {
          sent++;
          if (!req.write(chunk)) {
            req.once("drain", pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
    expect(status).toBe(413);
    expect((await call("GET", "/v1/d1/preprod/deliveries")).status).toBe(200);
  });

  it("never answers a stack trace: a bug is 500 INTERNAL, told to onInternalError only", async () => {
    await call("PUT", "/v1/mt/sandbox/customers/bomb", { issuerHost: "issuer.example.test", serverChain: testPki.caBundlePem });
    const a = await call("POST", "/v1/mt/sandbox/notifications", { customerId: "bomb", count: 1 });
    expect(a).toEqual({ status: 500, headers: expect.anything(), body: { errors: [{ code: "INTERNAL", message: "internal error" }] } });
    expect(internalErrors).toHaveLength(1);
  });
});

describe("portal: D1 CSR signing", () => {
  it("signs a CSR: 201, the certificate keeps the CSR's subject bytes, and the chain ends with the Business PKI CA", async () => {
    const csr = await d1Csr();
    const a = await call("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr });
    expect(a.status).toBe(201);
    const cert = parseCertificate(parsePem(a.body.certificate)[0]!.der);
    expect(Buffer.from(cert.subjectDer).equals(Buffer.from(parseCsr(parsePem(csr)[0]!.der).subjectDer))).toBe(true);
    const chain = parsePem(a.body.chain).map((b) => parseCertificate(b.der));
    expect(chain.map((c) => c.commonName)).toEqual(["TLSMA-ECDSA/123456/D1.PPR", "Thales Business PKI CA PPR"]);
    expect(a.body.fingerprint).toBe(createHash("sha256").update(cert.der).digest("hex"));
    expect(state.issued("preprod", "123456").map((i) => i.fingerprint)).toContain(a.body.fingerprint);
  });

  it("refuses RSA 2048 with D1_RSA_2048_REFUSED", async () => {
    const a = await call("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: await d1Csr({ keyType: "rsa-2048" }) });
    expect(a.status).toBe(422);
    expect(codes(a)).toEqual(["D1_RSA_2048_REFUSED"]);
  });

  it("refuses a CSR of the other environment with CN_ENVIRONMENT", async () => {
    const a = await call("POST", "/v1/d1/production/csr", { customerId: "123456", csr: await d1Csr() });
    expect(a.status).toBe(422);
    expect(codes(a)).toEqual(["CN_ENVIRONMENT"]);
  });

  it("lists every broken rule at once", async () => {
    const csr = await d1Csr({ keyType: "rsa-2048", cn: "TLSMA-ECDSA\\/999\\/D1.PRD", subject: "/C=FR/O=Example" });
    const a = await call("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr });
    expect(a.status).toBe(422);
    expect(codes(a).sort()).toEqual(["CN_ENVIRONMENT", "CN_GATEWAY_ID", "CN_KEY_TYPE", "D1_RSA_2048_REFUSED", "SUBJECT_INCOMPLETE"]);
    for (const e of a.body.errors) expect(e.message).toMatch(/\S/);
    const pattern = await call("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: await d1Csr({ cn: "my-gateway", hash: "sha384" }) });
    expect(codes(pattern).sort()).toEqual(["CN_PATTERN", "HASH_NOT_ALLOWED"]);
  });

  it("refuses a key type D1 does not take, a CSR whose signature does not verify, malformed PEM and a private key", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
    const p384 = toPem("CERTIFICATE REQUEST", createCsr({ subject: parseSubject(`${D1_SUBJECT}/CN=TLSMA-ECDSA\\/123456\\/D1.PPR`), privateKey }));
    expect(codes(await call("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: p384 }))).toEqual(["KEY_TYPE_NOT_ALLOWED"]);

    const der = new Uint8Array(parsePem(await d1Csr())[0]!.der);
    der[der.length - 1]! ^= 0x01;
    const tampered = await call("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: toPem("CERTIFICATE REQUEST", der) });
    expect(tampered.status).toBe(422);
    expect(codes(tampered)).toEqual(["CSR_SIGNATURE_INVALID"]);

    const truncated = (await d1Csr()).slice(0, 200);
    expect(await call("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: truncated })).toMatchObject({ status: 422, body: { errors: [{ code: "PEM_MALFORMED" }] } });
    expect(await call("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: "hello" })).toMatchObject({ status: 422, body: { errors: [{ code: "PEM_MALFORMED" }] } });
    const keyPem = privateKeyToPem(privateKey);
    const leaked = await call("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: keyPem + p384 });
    expect(leaked).toMatchObject({ status: 422, body: { errors: [{ code: "PRIVATE_KEY_SUBMITTED" }] } });
    expect(JSON.stringify(leaked.body)).not.toContain(keyPem.split("\n")[1]);
    expect(await call("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: testPki.root.certPem })).toMatchObject({ status: 422, body: { errors: [{ code: "CSR_EXPECTED" }] } });
    expect(await call("POST", "/v1/d1/preprod/csr", { customerId: "bad id/x", csr: p384 })).toMatchObject({ status: 422, body: { errors: [{ code: "GATEWAY_ID_INVALID" }] } });
  });
});

describe("portal: MT endorsements", () => {
  const endorse = (certificate: string, customerId = "123456", env = "sandbox"): Promise<Answer> => call("POST", `/v1/mt/${env}/endorsements`, { customerId, certificate });

  it("endorses a self-signed certificate with the portal's CN, once; DELETE removes it", async () => {
    const cert = await testPki.selfSigned({ cn: "MT-555-SBX", validityHours: 24 * 365 });
    calls.length = 0;
    const a = await endorse(cert.certPem, "555");
    expect(a.status).toBe(201);
    expect(a.body.fingerprint).toBe(createHash("sha256").update(cert.der).digest("hex"));
    expect(calls).toEqual(["endorsements mt sandbox"]);
    expect(a.body.warnings).toEqual([]);
    const shortLived = await endorse((await testPki.selfSigned({ cn: "MT-555-SBX", validityHours: 24 })).certPem, "555");
    expect(shortLived.status).toBe(201);
    expect(shortLived.body.warnings.map((w: { code: string }) => w.code)).toEqual(["EXPIRING_SOON"]);
    expect((await endorse(cert.certPem, "555")).status).toBe(200);
    expect(state.getEndorsement("sandbox", a.body.fingerprint)?.customerId).toBe("555");
    expect(state.endorsements("production")).toEqual([]);

    const upper = a.body.fingerprint.toUpperCase().replace(/(..)(?!$)/g, "$1:");
    expect(await call("DELETE", `/v1/mt/sandbox/endorsements/${upper}`)).toMatchObject({ status: 200, body: { fingerprint: a.body.fingerprint, removed: true } });
    expect(state.getEndorsement("sandbox", a.body.fingerprint)).toBeUndefined();
    expect(await call("DELETE", `/v1/mt/sandbox/endorsements/${a.body.fingerprint}`)).toMatchObject({ status: 404, body: { errors: [{ code: "ENDORSEMENT_NOT_FOUND" }] } });
    expect(await call("DELETE", "/v1/mt/sandbox/endorsements/abc")).toMatchObject({ status: 400, body: { errors: [{ code: "INVALID_FIELD" }] } });
    expect(await call("DELETE", `/v1/d1/preprod/endorsements/${a.body.fingerprint}`)).toMatchObject({ status: 404 });
  });

  it("refuses a certificate valid for more than 2 years, of a key type MT does not take, with another CN", async () => {
    const long = await testPki.selfSigned({ cn: "MT-123456-SBX", validityHours: 24 * 731 });
    expect(codes(await endorse(long.certPem))).toEqual(["VALIDITY_TOO_LONG"]);
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "secp521r1" });
    const p521 = await testPki.selfSigned({ cn: "MT-123456-SBX", privateKey });
    expect(codes(await endorse(p521.certPem))).toEqual(["KEY_TYPE_NOT_ALLOWED"]);
    const production = await testPki.selfSigned({ cn: "MT-123456-PRD" });
    expect(codes(await endorse(production.certPem))).toEqual(["CN_MISMATCH"]);
    expect((await endorse(production.certPem, "123456", "production")).status).toBe(201);
    const otherCustomer = await testPki.selfSigned({ cn: "MT-999-SBX" });
    expect(codes(await endorse(otherCustomer.certPem))).toEqual(["CN_MISMATCH"]);
  });

  it("refuses a certificate that is not self-signed, expired or not yet valid", async () => {
    const issued = await testPki.issue({ cn: "MT-123456-SBX" });
    expect(codes(await endorse(issued.certPem))).toEqual(["NOT_SELF_SIGNED"]);
    const expired = await testPki.selfSigned({ cn: "MT-123456-SBX", notBefore: new Date(Date.now() - 72 * HOUR), notAfter: new Date(Date.now() - 24 * HOUR) });
    expect(codes(await endorse(expired.certPem))).toEqual(["EXPIRED"]);
    const future = await testPki.selfSigned({ cn: "MT-123456-SBX", notBefore: new Date(Date.now() + 24 * HOUR), notAfter: new Date(Date.now() + 48 * HOUR) });
    expect(codes(await endorse(future.certPem))).toEqual(["NOT_YET_VALID"]);
    expect(codes(await endorse(issued.certPem + testPki.intermediate.certPem))).toEqual(["CERTIFICATE_EXPECTED"]);
  });
});

describe("portal: customers, operations, assets", () => {
  const register = (program: string, env: string, id: string, body: Record<string, unknown>): Promise<Answer> => call("PUT", `/v1/${program}/${env}/customers/${id}`, body);

  it("registers a customer, refusing an IP address, a bad chain, a bad OAuth key and an empty API key", async () => {
    const server = await testPki.issue({ usage: "server", dns: ["issuer.example.test"] });
    const chain = server.chainPem;
    calls.length = 0;
    const created = await register("mt", "sandbox", "777", { issuerHost: "issuer.example.test:8443", serverChain: chain, apiKey: "k-1" });
    expect(created).toMatchObject({ status: 201, body: { customerId: "777", issuerHost: "issuer.example.test:8443", apiKey: "set", portalCn: "MT-777-SBX", warnings: [] } });
    expect(JSON.stringify(created.body)).not.toContain("k-1");
    expect(calls).toEqual(["customer mt sandbox 777"]);
    expect((await register("mt", "sandbox", "777", { issuerHost: "issuer.example.test", serverChain: chain, apiKey: "k-2" })).status).toBe(200);
    expect(state.getCustomer("mt", "sandbox", "777")).toMatchObject({ apiKey: "k-2", serverChainPem: chain });
    const port = await register("mt", "sandbox", "777", { issuerHost: "issuer.example.test:9443", serverChain: chain });
    expect(port.body.warnings.map((w: { code: string }) => w.code)).toEqual(["ISSUER_PORT_NOT_ALLOWED"]);

    for (const ip of ["127.0.0.1", "127.0.0.1:8443", "[::1]:8443", "::1", "10.0.0.1", "2130706433", "0x7f.1:443"]) {
      expect(codes(await register("mt", "sandbox", "777", { issuerHost: ip, serverChain: chain })), ip).toEqual(["ISSUER_HOST_IP"]);
    }
    for (const bad of ["https://issuer.example.test", "issuer.example.test/path", "-bad-.test", "issuer.example.test:99999", "[issuer]:443", "host.123", "", "localhost", "localhost:8443"]) {
      expect(codes(await register("mt", "sandbox", "777", { issuerHost: bad, serverChain: chain })), bad).toEqual(["ISSUER_HOST_INVALID"]);
    }
    const all = await register("mt", "sandbox", "777", { issuerHost: "1.2.3.4", serverChain: "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n", apiKey: " " });
    expect(all.status).toBe(422);
    expect(codes(all)).toEqual(["ISSUER_HOST_IP", "PEM_MALFORMED", "API_KEY_INVALID"]);
    expect(codes(await register("mt", "sandbox", "777", { issuerHost: "a.test", serverChain: testPki.intermediate.certPem + server.certPem }))).toEqual(["CHAIN_ORDER"]);
    expect(codes(await register("mt", "sandbox", "777", { serverChain: chain, oauthPublicKey: "x" }))).toEqual(["MISSING_FIELD", "INVALID_FIELD"]);

    const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const oauthPublicKey = ec.publicKey.export({ type: "spki", format: "pem" }).toString();
    const d1Created = await register("d1", "preprod", "123456", { issuerHost: "issuer.example.test", serverChain: chain, oauthPublicKey, kid: "key-1" });
    expect(d1Created).toMatchObject({ status: 201, body: { kid: "key-1", oauthPublicKey: true } });
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const rsaPem = rsa.publicKey.export({ type: "spki", format: "pem" }).toString();
    expect(codes(await register("d1", "preprod", "123456", { issuerHost: "issuer.example.test", serverChain: chain, oauthPublicKey: rsaPem, kid: "k" }))).toEqual(["OAUTH_KEY_INVALID"]);
    expect(codes(await register("d1", "preprod", "123456", { issuerHost: "issuer.example.test", serverChain: chain, oauthPublicKey }))).toEqual(["MISSING_FIELD"]);
    expect(codes(await register("d1", "preprod", "123456", { issuerHost: "issuer.example.test", serverChain: chain, oauthPublicKey: privateKeyToPem(ec.privateKey), kid: "k" }))).toEqual(["PRIVATE_KEY_SUBMITTED"]);
  });

  it("triggers notifications through the notifier and serves its logs", async () => {
    expect(await call("POST", "/v1/d1/production/notifications", { customerId: "nobody" })).toMatchObject({ status: 422, body: { errors: [{ code: "CUSTOMER_NOT_REGISTERED" }] } });
    await register("d1", "production", "42", { issuerHost: "issuer.example.test", serverChain: testPki.caBundlePem });
    expect(await call("POST", "/v1/d1/production/notifications", { customerId: "42", count: 2 })).toMatchObject({ status: 202, body: { ids: ["d1-production-42-0", "d1-production-42-1"] } });
    expect(await call("POST", "/v1/d1/production/notifications", { customerId: "42", count: 0 })).toMatchObject({ status: 400, body: { errors: [{ code: "INVALID_FIELD" }] } });
    await register("d1", "production", "refused", { issuerHost: "issuer.example.test", serverChain: testPki.caBundlePem });
    expect(await call("POST", "/v1/d1/production/notifications", { customerId: "refused" })).toMatchObject({ status: 400, body: { errors: [{ code: "USAGE" }] } });
    expect(await call("GET", "/v1/d1/production/deliveries")).toMatchObject({ status: 200, body: { deliveries: [{ program: "d1", environment: "production", id: "d-1" }] } });
    expect(await call("GET", "/v1/mt/sandbox/handshakes")).toMatchObject({ status: 200, body: { handshakes: [{ program: "mt", environment: "sandbox", reason: "no client certificate" }] } });
  });

  it("rotates the client certificate: a new leaf from the same CA", async () => {
    const before = pki.clientCredential("mt", "production");
    const a = await call("POST", "/v1/mt/production/rotate-client-certificate");
    expect(a.status).toBe(200);
    expect(a.body.serialNumber).not.toBe(before.info.serialNumber);
    expect(a.body.issuer).toBe(before.info.issuerText);
    expect(pki.clientCredential("mt", "production").info.serialNumber).toBe(a.body.serialNumber);
  });

  it("serves the asset bundle and writes it under assetsDir", async () => {
    const cert = await testPki.selfSigned({ cn: "MT-888-SBX" });
    await register("mt", "sandbox", "888", { issuerHost: "issuer.example.test", serverChain: testPki.caBundlePem, apiKey: "secret-key" });
    await call("POST", "/v1/mt/sandbox/endorsements", { customerId: "888", certificate: cert.certPem });
    const a = await call("GET", "/v1/mt/sandbox/assets?customerId=888");
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ format: "mtlskit-assets/1", program: "mt", environment: "sandbox", customerId: "888", direction: "from-thales", dnsServers: ["127.0.0.1:40002"] });
    expect(a.body.assets).toMatchObject({ TSH_INBOUND_HOST: "tmg.dbp-stg.thalescloud.test:40110", TSH_CLIENT_CN: "MT-888-SBX", ISSUER_HOST: "issuer.example.test" });
    expect(a.body.files.CUSTOMER_TLS_CLIENT_CERTIFICATE).toBe(cert.certPem);
    expect(JSON.stringify(a.body)).not.toContain("secret-key");
    const manifest = JSON.parse(readFileSync(path.join(dir, "assets", "mt-sandbox-888", "manifest.json"), "utf8"));
    const { files: _files, directory, ...rest } = a.body;
    expect(manifest).toEqual(rest);
    expect(directory).toBe(path.join(dir, "assets", "mt-sandbox-888"));
    expect(await call("GET", "/v1/mt/sandbox/assets?customerId=a%2Fb")).toMatchObject({ status: 422, body: { errors: [{ code: "GATEWAY_ID_INVALID" }] } });
  });

  it("keeps customers and endorsements across a restart on the same folder", async () => {
    const cert = await testPki.selfSigned({ cn: "MT-1001-SBX" });
    await register("mt", "sandbox", "1001", { issuerHost: "restart.example.test", serverChain: testPki.caBundlePem });
    const fp = (await call("POST", "/v1/mt/sandbox/endorsements", { customerId: "1001", certificate: cert.certPem })).body.fingerprint;
    await portal.close();
    pki = await loadOrCreateEmulatorPki(dir);
    state = await EmulatorState.load(dir);
    portal = await startPortal(portalOptions());
    expect(state.getCustomer("mt", "sandbox", "1001")?.issuerHost).toBe("restart.example.test");
    expect(state.getEndorsement("sandbox", fp)?.customerId).toBe("1001");
    const a = await call("GET", "/v1/mt/sandbox/assets?customerId=1001");
    expect(a.body.assets.ISSUER_HOST).toBe("restart.example.test");
    expect(a.body.files.CUSTOMER_TLS_CLIENT_CERTIFICATE).toBe(cert.certPem);
  });
});

describe.skipIf(!requireTool("openssl"))("portal: with certificates and CSRs made by the openssl CLI", () => {
  let work: string;
  const openssl = (args: string[]): void => void execFileSync("openssl", args, { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
  const read = (name: string): string => readFileSync(path.join(work, name), "utf8");

  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), "mtlskit-portal-openssl-"));
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it("signs the ECDSA CSR of the D1 page's commands; the certificate verifies with openssl", async () => {
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "d1-mtls-client-cert.key"]);
    openssl(["req", "-new", "-key", "d1-mtls-client-cert.key", "-out", "d1-mtls-client-cert.csr", "-subj", "/C=FR/ST=Ile-de-France/L=Paris/O=Example Gateway/OU=Payments/CN=TLSMA-ECDSA\\/424242\\/D1.PRD"]);
    const csr = read("d1-mtls-client-cert.csr");
    const a = await call("POST", "/v1/d1/production/csr", { customerId: "424242", csr });
    expect(a.status).toBe(201);
    const cert = parseCertificate(parsePem(a.body.certificate)[0]!.der);
    expect(Buffer.from(cert.subjectDer).equals(Buffer.from(parseCsr(parsePem(csr)[0]!.der).subjectDer))).toBe(true);
    const [, ca] = parsePem(a.body.chain);
    writeFileSync(path.join(work, "ca.pem"), ca!.text);
    writeFileSync(path.join(work, "d1.crt"), a.body.certificate);
    openssl(["verify", "-CAfile", "ca.pem", "-purpose", "sslclient", "d1.crt"]);
  });

  it("refuses the page's RSA command with rsa:2048 (D1_RSA_2048_REFUSED)", async () => {
    openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "private_rsa.key", "-out", "customer_pp.csr", "-subj", "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments/CN=TLSMA-RSA\\/424242\\/D1.PPR"]);
    const a = await call("POST", "/v1/d1/preprod/csr", { customerId: "424242", csr: read("customer_pp.csr") });
    expect(a.status).toBe(422);
    expect(codes(a)).toEqual(["D1_RSA_2048_REFUSED"]);
  });

  it("endorses an openssl req -x509 certificate and refuses one of 800 days or of RSA 4096", async () => {
    const x509 = (name: string, newkey: string[], days: string, cn: string): string => {
      openssl(["req", "-x509", ...newkey, "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", days, "-subj", `/CN=${cn}`]);
      return read(`${name}.crt`);
    };
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    const good = x509("mt-good", ec, "730", "MT-31337-SBX");
    const a = await call("POST", "/v1/mt/sandbox/endorsements", { customerId: "31337", certificate: good });
    expect(a.status).toBe(201);
    expect(a.body.fingerprint).toBe(createHash("sha256").update(parsePem(good)[0]!.der).digest("hex"));
    expect(codes(await call("POST", "/v1/mt/sandbox/endorsements", { customerId: "31337", certificate: x509("mt-long", ec, "800", "MT-31337-SBX") }))).toEqual(["VALIDITY_TOO_LONG"]);
    expect(codes(await call("POST", "/v1/mt/sandbox/endorsements", { customerId: "31337", certificate: x509("mt-rsa", ["-newkey", "rsa:4096"], "365", "MT-31337-SBX") }))).toEqual(["KEY_TYPE_NOT_ALLOWED"]);
    expect(codes(await call("POST", "/v1/mt/sandbox/endorsements", { customerId: "31337", certificate: x509("mt-cn", ec, "365", "my-client") }))).toEqual(["CN_MISMATCH"]);
  });
});

describe("state.json", () => {
  it("refuses a damaged file with EMULATOR_STATE_INVALID naming it and the bad field", async () => {
    const other = mkdtempSync(path.join(tmpdir(), "mtlskit-state-bad-"));
    try {
      const file = path.join(other, "state.json");
      writeFileSync(file, "{ not json");
      await expect(EmulatorState.load(other)).rejects.toMatchObject({ code: "EMULATOR_STATE_INVALID", message: expect.stringContaining(file) });
      writeFileSync(file, JSON.stringify({ format: "mtlskit-emulator-state/1", customers: [{ program: "visa" }], endorsements: [], issued: [] }));
      await expect(EmulatorState.load(other)).rejects.toMatchObject({ code: "EMULATOR_STATE_INVALID", message: expect.stringMatching(/state\.json: customers\.0\.program/) });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe("names of Object.prototype where a program, environment or id is expected", () => {
  const hostile = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "prototype", "__defineGetter__"];
  it.each(hostile)("answer 4xx with a code (or treat it as a plain new id), never an internal error: %s", async (name) => {
    const before = internalErrors.length;
    const n = encodeURIComponent(name);
    const notFound = [
      await call("GET", `/v1/${n}/sandbox/endorsements`),
      await call("GET", `/v1/mt/${n}/endorsements`),
      await call("GET", `/v1/d1/${n}/deliveries`),
      await call("DELETE", `/v1/mt/sandbox/endorsements/${n}`),
      await call("POST", `/v1/mt/sandbox/notifications`, { customerId: name }),
      await call("POST", `/v1/d1/preprod/notifications`, { customerId: name, count: 1 }),
    ];
    for (const a of notFound) {
      expect(a.status, JSON.stringify(a.body).slice(0, 300)).toBeGreaterThanOrEqual(400);
      expect(a.status, JSON.stringify(a.body).slice(0, 300)).toBeLessThan(500);
      expect(codes(a).length).toBeGreaterThan(0);
    }
    const others = [
      await call("PUT", `/v1/d1/preprod/customers/${n}`, { notificationUrl: "https://notify.example.com:18443/n" }),
      await call("PUT", `/v1/mt/sandbox/customers/${n}`, { notificationUrl: "https://notify.example.com:18443/n", apiKey: "k" }),
      await call("GET", `/v1/d1/preprod/assets?customerId=${n}`),
      await call("POST", `/v1/d1/preprod/csr`, { customerId: name, csr: await d1Csr() }),
      await call("POST", `/v1/mt/sandbox/endorsements`, { [name]: "x" }),
      await call("POST", `/v1/d1/preprod/csr`, `{"__proto__": {"customerId": "123456"}, "csr": "x"}`),
    ];
    for (const a of others) {
      expect(a.status, JSON.stringify(a.body).slice(0, 300)).toBeLessThan(500);
      if (a.status >= 400) expect(codes(a).length).toBeGreaterThan(0);
    }
    expect(internalErrors.length).toBe(before);
  });
});
