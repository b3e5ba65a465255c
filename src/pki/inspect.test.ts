import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTool } from "../../test/support/tools.js";
import { freePort, startSilentServer } from "../../test/support/net.js";
import { isMtlsError } from "../errors/index.js";
import { describeCertificate, inspectFile, type CertificateDescription } from "./inspect.js";
import { inspectUrl, parseHttpsUrl } from "./inspect-url.js";
import { privateKeyToPem } from "./keys.js";
import { OID } from "./oids.js";
import { toPem } from "./pem.js";
import { parseSubject } from "./subject.js";
import { createCertificate, createCsr } from "./x509-build.js";
import { parseCertificate, type CertificateInfo } from "./x509-parse.js";

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** A certificate of the small PKI below (pki may not import src/testing: layers). */
interface Cert {
  info: CertificateInfo;
  der: Uint8Array;
  certPem: string;
  privateKey: KeyObject;
  keyPem: string;
  /** This certificate and its intermediate, as a server presents them. */
  chainPem: string;
}

function makeCert(cn: string, issuer: Cert | undefined, options: { ca?: boolean; server?: boolean; notBefore?: Date; notAfter?: Date } = {}): Cert {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const der = createCertificate({
    subject: parseSubject(`/CN=${cn}`),
    publicKey: createPublicKey(privateKey),
    signingKey: issuer?.privateKey ?? privateKey,
    ...(issuer ? { issuer: { subjectDer: issuer.info.subjectDer, subjectKeyIdentifier: Buffer.from(issuer.info.subjectKeyIdentifier!.replace(/:/g, ""), "hex") } } : {}),
    notBefore,
    notAfter: options.notAfter ?? new Date(notBefore.getTime() + 24 * HOUR),
    extensions: options.ca
      ? { basicConstraints: { ca: true }, keyUsage: ["digitalSignature", "keyCertSign", "cRLSign"] }
      : { basicConstraints: { ca: false }, keyUsage: ["digitalSignature"], extKeyUsage: [options.server ? OID.serverAuth : OID.clientAuth], ...(options.server ? { subjectAltNames: { dns: ["localhost"], ip: ["127.0.0.1"] } } : {}) },
  });
  const certPem = toPem("CERTIFICATE", der);
  const chainPem = certPem + (issuer && !issuer.info.selfIssued ? issuer.certPem : "");
  return { info: parseCertificate(der), der, certPem, privateKey, keyPem: privateKeyToPem(privateKey), chainPem };
}

let pki: { root: Cert; intermediate: Cert };
let server: Cert;
let dir: string;

beforeAll(() => {
  const root = makeCert("mtlskit Test Root CA", undefined, { ca: true, notAfter: new Date(Date.now() + 48 * HOUR) });
  pki = { root, intermediate: makeCert("mtlskit Test Intermediate CA", root, { ca: true, notAfter: new Date(Date.now() + 48 * HOUR) }) };
  server = makeCert("localhost", pki.intermediate, { server: true });
  dir = mkdtempSync(path.join(tmpdir(), "mtlskit-inspect-"));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isMtlsError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return "no error";
}

function write(name: string, data: string | Uint8Array): string {
  const file = path.join(dir, name);
  writeFileSync(file, data);
  return file;
}

describe("describeCertificate", () => {
  it("gives names, serial, validity with time left, key, signature, extensions, fingerprint and pin", () => {
    const now = new Date();
    const d = describeCertificate(server.info, now);
    expect(d).toMatchObject({
      kind: "certificate",
      subject: "CN=localhost",
      issuer: "CN=mtlskit Test Intermediate CA",
      selfIssued: false,
      version: 3,
      validity: "valid",
      daysLeft: 0,
      key: { label: "ECDSA P-256", bits: 256 },
      signatureAlgorithm: "ecdsa-with-SHA256",
      ca: false,
      subjectAltNames: ["DNS:localhost", "IP:127.0.0.1"],
      sha256Fingerprint: server.info.sha256Fingerprint,
      spkiPin: server.info.spkiPin,
    });
    expect(d.serialNumber).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2})+$/);
    expect(d.msLeft).toBeGreaterThan(23 * 3_600_000);
    expect(d.notAfter).toBe(server.info.notAfter.toISOString().replace(/\.\d{3}Z$/, "Z"));
    const byName = Object.fromEntries(d.extensions.map((e) => [e.name, e]));
    expect(byName["basicConstraints"]).toMatchObject({ critical: true, value: "CA:FALSE" });
    expect(byName["keyUsage"]).toMatchObject({ critical: true, value: "digitalSignature" });
    expect(byName["extendedKeyUsage"]).toMatchObject({ critical: false, value: "serverAuth" });
    expect(byName["subjectAltName"]).toMatchObject({ critical: false, value: "DNS:localhost, IP:127.0.0.1" });
  });

  it("says EXPIRED (negative days) and not yet valid", () => {
    const expired = describeCertificate(makeCert("old", pki.intermediate, { notBefore: new Date(Date.now() - 3 * DAY), notAfter: new Date(Date.now() - DAY) }).info);
    expect(expired.validity).toBe("expired");
    expect(expired.daysLeft).toBe(-2);
    const early = describeCertificate(makeCert("early", pki.intermediate, { notBefore: new Date(Date.now() + DAY) }).info);
    expect(early.validity).toBe("not-yet-valid");
    expect(early.msUntilValid).toBeGreaterThan(23 * 3_600_000);
  });

  it("counts whole days left against a given time", () => {
    const c = makeCert("year", pki.intermediate, { notAfter: new Date(Date.now() + 365 * DAY) });
    expect(describeCertificate(c.info, new Date(Date.now() + 100 * DAY)).daysLeft).toBe(264);
  });
});

describe("inspectFile", () => {
  it("describes every object of a PEM file in order, naming each block", async () => {
    const file = write("bundle.pem", server.chainPem + server.keyPem);
    const r = await inspectFile(file);
    expect(r.objects.map((o) => [o.kind, o.source])).toEqual([
      ["certificate", `${file} (block 1)`],
      ["certificate", `${file} (block 2)`],
      ["private-key", `${file} (block 3)`],
    ]);
    expect(r.objects[1]).toMatchObject({ kind: "certificate", subject: "CN=mtlskit Test Intermediate CA", ca: true });
  });

  it("gives a private key's type and never its material", async () => {
    const file = write("server.key", server.keyPem);
    const r = await inspectFile(file);
    expect(r.objects).toEqual([{ kind: "private-key", key: expect.objectContaining({ label: "ECDSA P-256" }), encrypted: false, source: file, index: 0 }]);
    const json = JSON.stringify(r);
    for (const line of server.keyPem.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"))) expect(json).not.toContain(line);
  });

  it("reports an encrypted key as encrypted instead of asking for its passphrase", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-384" });
    const pem = privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "secret" }).toString();
    const r = await inspectFile(write("enc.key", pem));
    expect(r.objects[0]).toMatchObject({ kind: "private-key", encrypted: true, key: undefined });
    const opened = await inspectFile(path.join(dir, "enc.key"), { passphrase: "secret" });
    expect(opened.objects[0]).toMatchObject({ kind: "private-key", encrypted: false, key: { label: "ECDSA P-384" } });
  });

  it("checks a CSR's signature, also in DER, and sees a tampered one", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const der = createCsr({ subject: parseSubject("/C=FR/O=Example/CN=TLSMA-ECDSA\\/123456\\/D1.PPR"), privateKey });
    const good = await inspectFile(write("good.csr", toPem("CERTIFICATE REQUEST", der)));
    expect(good.objects[0]).toMatchObject({ kind: "csr", subject: "C=FR, O=Example, CN=TLSMA-ECDSA/123456/D1.PPR", signatureValid: true, key: { label: "ECDSA P-256" }, signatureAlgorithm: "ecdsa-with-SHA256" });
    const bad = new Uint8Array(der);
    bad[bad.length - 1]! ^= 0x01;
    const tampered = await inspectFile(write("bad.csr.der", bad));
    expect(tampered.objects[0]).toMatchObject({ kind: "csr", signatureValid: false });
  });

  it("reads a DER certificate and a bare public key", async () => {
    const der = await inspectFile(write("server.der", server.der));
    expect(der.objects[0]).toMatchObject({ kind: "certificate", subject: "CN=localhost" });
    const pub = createPublicKey(server.privateKey).export({ type: "spki", format: "pem" }).toString();
    const r = await inspectFile(write("server.pub", pub));
    expect(r.objects[0]).toMatchObject({ kind: "public-key", key: { label: "ECDSA P-256" }, spkiPin: server.info.spkiPin });
  });

  it("refuses what it cannot read with a coded error naming the file", async () => {
    expect(await codeOf(inspectFile(path.join(dir, "missing.pem")))).toMatch(/^FILE_NOT_FOUND: .*missing\.pem/);
    expect(await codeOf(inspectFile(write("junk.bin", "not a certificate at all")))).toMatch(/^INPUT_NOT_RECOGNIZED: .*junk\.bin/);
    expect(await codeOf(inspectFile(write("cut.pem", server.certPem.slice(0, 200))))).toMatch(/^PEM_MALFORMED: /);
  });
});

describe("parseHttpsUrl", () => {
  it("takes https URLs with an optional port", () => {
    expect(parseHttpsUrl("https://tmg.dbp-stg.thalescloud.io")).toEqual({ host: "tmg.dbp-stg.thalescloud.io", port: 443, display: "tmg.dbp-stg.thalescloud.io:443" });
    expect(parseHttpsUrl("https://127.0.0.1:8443/path?q=1")).toEqual({ host: "127.0.0.1", port: 8443, display: "127.0.0.1:8443" });
    expect(parseHttpsUrl("https://[::1]:8443")).toEqual({ host: "::1", port: 8443, display: "[::1]:8443" });
  });

  it.each([
    ["http://example.com", /only https:\/\/ URLs/],
    ["https://example.com:99999", /'99999' is not a port/],
    ["https://example.com:0", /'0' is not a port/],
    ["https://example.com:abc", /'abc' is not a port/],
    ["https://", /not a valid URL/],
  ])("refuses %s as URL_INVALID", (url, why) => {
    let caught: unknown;
    try {
      parseHttpsUrl(url);
    } catch (e) {
      caught = e;
    }
    expect(isMtlsError(caught, "URL_INVALID")).toBe(true);
    expect((caught as Error).message).toMatch(why);
  });
});

/** A node:tls server on 127.0.0.1, port 0, presenting `chainPem`; records the SNI names it sees. */
async function startTlsServer(chainPem: string, options: tls.TlsOptions = {}): Promise<{ port: number; sni: string[]; close(): Promise<void> }> {
  const sni: string[] = [];
  const SNICallback = (name: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    sni.push(name);
    cb(null);
  };
  const srv = tls.createServer({ key: server.keyPem, cert: chainPem, SNICallback, ...options }, (s) => {
    s.on("error", () => undefined);
    s.end();
  });
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  return { port: (srv.address() as net.AddressInfo).port, sni, close: () => new Promise((resolve) => srv.close(() => resolve())) };
}

describe("inspectUrl against a node:tls server", () => {
  let s: Awaited<ReturnType<typeof startTlsServer>>;
  beforeAll(async () => {
    s = await startTlsServer(server.chainPem);
  });
  afterAll(() => s.close());

  it("returns the chain as presented, TLS version and cipher, and reports an untrusted chain without failing", async () => {
    const r = await inspectUrl(`https://127.0.0.1:${s.port}`, { timeoutMs: 5000 });
    expect(r.certificates.map((c) => Buffer.from(c.der).toString("base64"))).toEqual([server.der, pki.intermediate.der].map((d) => Buffer.from(d).toString("base64")));
    expect(r.chain.map((c) => c.subject)).toEqual(["CN=localhost", "CN=mtlskit Test Intermediate CA"]);
    expect(r.chainOrdered).toBe(true);
    expect(r.protocol).toBe("TLSv1.3");
    expect(r.cipher.standardName).toMatch(/^TLS_/);
    expect(r.authorized).toBe(false);
    expect(r.authorizationError).toBe("UNABLE_TO_GET_ISSUER_CERT_LOCALLY");
    expect(r.trust).toBe("node-default");
    expect(r.hostname).toEqual({ name: "127.0.0.1", matches: true, error: undefined });
    expect(r.servername).toBeUndefined();
    expect(r.remoteAddress).toBe("127.0.0.1");
  });

  it("verifies against a given CA, and checks the name sent as SNI", async () => {
    const r = await inspectUrl(`https://127.0.0.1:${s.port}`, { ca: pki.root.certPem, servername: "localhost" });
    expect(r).toMatchObject({ authorized: true, authorizationError: undefined, trust: "custom-ca", servername: "localhost", hostname: { name: "localhost", matches: true } });
    expect(s.sni).toContain("localhost");
    const wrong = await inspectUrl(`https://127.0.0.1:${s.port}`, { ca: pki.root.certPem, servername: "api.example.test" });
    expect(wrong.hostname.matches).toBe(false);
    expect(wrong.hostname.error).toMatch(/api\.example\.test/);
    expect(wrong.authorized).toBe(true);
  });

  it("connects by host name", async () => {
    const r = await inspectUrl(`https://localhost:${s.port}`, { ca: pki.root.certPem });
    expect(r.hostname.matches).toBe(true);
    expect(r.servername).toBe("localhost");
  });

  it("keeps the server's order, even a wrong one, and says so", async () => {
    const disordered = await startTlsServer(server.certPem + pki.root.certPem + pki.intermediate.certPem);
    try {
      const r = await inspectUrl(`https://127.0.0.1:${disordered.port}`);
      expect(r.chain.map((c) => c.subject)).toEqual(["CN=localhost", "CN=mtlskit Test Root CA", "CN=mtlskit Test Intermediate CA"]);
      expect(r.chainOrdered).toBe(false);
    } finally {
      await disordered.close();
    }
  });

  it("reports TLS 1.2 when the server goes no higher", async () => {
    const old = await startTlsServer(server.chainPem, { maxVersion: "TLSv1.2" });
    try {
      const r = await inspectUrl(`https://127.0.0.1:${old.port}`);
      expect(r.protocol).toBe("TLSv1.2");
      expect(r.cipher.version).toMatch(/TLSv1\.2/);
      expect(r.keyExchange).toBeTruthy();
    } finally {
      await old.close();
    }
  });
});

describe("inspectUrl failures: one coded error naming host:port", () => {
  it("connection refused", async () => {
    const port = await freePort();
    expect(await codeOf(inspectUrl(`https://127.0.0.1:${port}`, { timeoutMs: 5000 }))).toBe(`CONNECTION_REFUSED: 127.0.0.1:${port}: connection refused (nothing listens on that port)`);
  });

  it("a server that accepts and never answers: timeout", async () => {
    const silent = await startSilentServer();
    const { port } = silent;
    try {
      const started = Date.now();
      expect(await codeOf(inspectUrl(`https://127.0.0.1:${port}`, { timeoutMs: 300 }))).toBe(`CONNECT_TIMEOUT: 127.0.0.1:${port}: the TLS handshake did not finish within 300 ms`);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      silent.close();
    }
  });

  it("plain HTTP on the port: handshake failure", async () => {
    const http = net.createServer((c) => {
      c.on("error", () => undefined);
      c.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const port = (http.address() as net.AddressInfo).port;
    try {
      expect(await codeOf(inspectUrl(`https://127.0.0.1:${port}`, { timeoutMs: 5000 }))).toMatch(new RegExp(`^TLS_HANDSHAKE_FAILED: 127\\.0\\.0\\.1:${port}: TLS handshake failed: .*plain HTTP`));
    } finally {
      http.close();
    }
  });

  it("a TLS 1.2 server that requires a client certificate: the failure names the chain it presented", async () => {
    const mtls = await startTlsServer(server.chainPem, { maxVersion: "TLSv1.2", requestCert: true, rejectUnauthorized: true, ca: pki.root.certPem });
    try {
      expect(await codeOf(inspectUrl(`https://127.0.0.1:${mtls.port}`, { timeoutMs: 5000 }))).toMatch(
        new RegExp(`^TLS_HANDSHAKE_FAILED: 127\\.0\\.0\\.1:${mtls.port}: TLS handshake failed: .*handshake failure.*client certificate.*; the server presented 2 certificates, leaf CN=localhost$`),
      );
    } finally {
      await mtls.close();
    }
  });

  it("a host name that does not resolve", async () => {
    expect(await codeOf(inspectUrl("https://no-such-host.invalid:8443", { timeoutMs: 20_000 }))).toMatch(/^HOST_NOT_FOUND: no-such-host\.invalid: the host name does not resolve/);
  });

  it("a bad URL, before any connection", async () => {
    expect(await codeOf(inspectUrl("ftp://127.0.0.1"))).toMatch(/^URL_INVALID: /);
  });
});

describe.skipIf(!requireTool("openssl"))("inspectFile on a certificate made by openssl", () => {
  it("spells out authorityInfoAccess, crlDistributionPoints and certificatePolicies", async () => {
    const key = path.join(dir, "ext.key");
    const cert = path.join(dir, "ext.crt");
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "10", "-subj", "/CN=ext.example.test",
      "-addext", "authorityInfoAccess=OCSP;URI:http://ocsp.example.test,caIssuers;URI:http://ca.example.test/ca.crt",
      "-addext", "crlDistributionPoints=URI:http://crl.example.test/ca.crl",
      "-addext", "certificatePolicies=2.23.140.1.2.2,1.2.3.4",
    ], { stdio: "ignore" });
    const [c] = (await inspectFile(cert)).objects;
    expect(c?.kind).toBe("certificate");
    const values = Object.fromEntries((c as CertificateDescription).extensions.map((e) => [e.name, e.value]));
    expect(values).toMatchObject({
      authorityInfoAccess: "OCSP - URI:http://ocsp.example.test, CA Issuers - URI:http://ca.example.test/ca.crt",
      crlDistributionPoints: "URI:http://crl.example.test/ca.crl",
      certificatePolicies: "2.23.140.1.2.2 (CA/B organization validated), 1.2.3.4",
      basicConstraints: "CA:TRUE",
    });
    expect((c as CertificateDescription).daysLeft).toBe(9);
  });
});

describe.skipIf(!requireTool("openssl"))("inspectUrl against openssl s_server", () => {
  let proc: ChildProcess | undefined;
  let port = 0;

  beforeAll(async () => {
    const files = { cert: write("s_server.crt", server.certPem), key: write("s_server.key", server.keyPem) };
    const inter = write("s_server-intermediate.pem", pki.intermediate.certPem);
    port = await freePort();
    proc = spawn("openssl", ["s_server", "-accept", `127.0.0.1:${port}`, "-cert", files.cert, "-key", files.key, "-cert_chain", inter, "-tls1_2", "-www"], { stdio: ["ignore", "pipe", "pipe"] });
    await new Promise<void>((resolve, reject) => {
      let out = "";
      proc!.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("ACCEPT")) resolve();
      });
      proc!.on("exit", (code) => reject(new Error(`openssl s_server exited (${code}): ${out}`)));
    });
  });

  afterAll(() => {
    proc?.kill();
  });

  it("reports TLS 1.2 and the chain openssl presents", async () => {
    const r = await inspectUrl(`https://127.0.0.1:${port}`, { ca: pki.root.certPem, servername: "localhost" });
    expect(r.protocol).toBe("TLSv1.2");
    expect(r.cipher.version).toMatch(/TLSv1\.2/);
    expect(r.chain.map((c) => c.subject)).toEqual(["CN=localhost", "CN=mtlskit Test Intermediate CA"]);
    expect(r.chain[0]!.sha256Fingerprint).toBe(server.info.sha256Fingerprint);
    expect(r).toMatchObject({ authorized: true, hostname: { matches: true } });
  });
});
