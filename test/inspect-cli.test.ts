// `mtlskit inspect FILE|https://HOST[:PORT]`, run as a user would: the built bin, real files,
// a real node:tls server and the real `openssl s_server` as peers.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HEAVY_PACKAGES, packagesOnInspectPath } from "../bench/cold-start.js";
import { createCsr, parseSubject, toPem } from "../src/pki/index.js";
import { createTestPki, writeTestCertificate, type TestCertificate, type TestPki } from "../src/testing/index.js";
import { mtlskit, type CliRun } from "./support/cli.js";
import { requireTool } from "./support/tools.js";
import { freePort, startSilentServer } from "./support/net.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const hasOpenssl = requireTool("openssl");

let pki: TestPki;
let server: TestCertificate;
let dir: string;
let files: { cert: string; key: string; chain: string };

beforeAll(async () => {
  pki = await createTestPki();
  server = await pki.issue({ cn: "localhost", usage: "server", dns: ["localhost"], ip: ["127.0.0.1"] });
  dir = mkdtempSync(path.join(tmpdir(), "mtlskit-inspect-cli-"));
  files = await writeTestCertificate(dir, "server", server);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, data: string | Uint8Array): string {
  const file = path.join(dir, name);
  writeFileSync(file, data);
  return file;
}

/** The one error line and its hint, and nothing that looks like a stack trace. */
function expectOneLineError(r: CliRun, exit: number, code: string): void {
  expect(r.code).toBe(exit);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines[0]).toMatch(new RegExp(`^error \\[${code}\\]: `));
  expect(lines[1]).toMatch(/^ {2}hint: /);
  expect(lines).toHaveLength(2);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

function field(out: string, label: string): string | undefined {
  return new RegExp(`^ {2}${label}: +(.*)$`, "m").exec(out)?.[1];
}

describe("mtlskit inspect FILE", () => {
  it("shows a certificate: names, serial, validity with time left, key, signature, extensions, fingerprint, pin", async () => {
    const r = await mtlskit(["inspect", files.cert]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Certificate: .*server\.crt\n/);
    expect(field(r.stdout, "Subject")).toBe("CN=localhost");
    expect(field(r.stdout, "Issuer")).toBe("CN=mtlskit Test Intermediate CA");
    expect(field(r.stdout, "Serial")).toBe(server.info.serialNumber.replace(/(..)(?!$)/g, "$1:"));
    expect(field(r.stdout, "Not after")).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(2[23] hours left\)$/);
    expect(field(r.stdout, "Key")).toBe("ECDSA P-256");
    expect(field(r.stdout, "Signature algorithm")).toBe("ecdsa-with-SHA256");
    expect(r.stdout).toContain("    basicConstraints (critical): CA:FALSE\n");
    expect(r.stdout).toContain("    keyUsage (critical): digitalSignature\n");
    expect(r.stdout).toContain("    extendedKeyUsage: serverAuth\n");
    expect(r.stdout).toContain("    subjectAltName: DNS:localhost, IP:127.0.0.1\n");
    expect(field(r.stdout, "SHA-256 fingerprint")).toBe(server.info.sha256Fingerprint);
    expect(field(r.stdout, "SPKI pin")).toBe(server.info.spkiPin);
  });

  it.skipIf(!hasOpenssl)("gives the fingerprint and SPKI pin openssl computes", async () => {
    const r = await mtlskit(["inspect", files.cert]);
    const fp = execFileSync("openssl", ["x509", "-in", files.cert, "-noout", "-fingerprint", "-sha256"], { encoding: "utf8" });
    expect(field(r.stdout, "SHA-256 fingerprint")).toBe(fp.trim().replace(/^.*Fingerprint=/i, ""));
    const pub = execFileSync("openssl", ["x509", "-in", files.cert, "-noout", "-pubkey"], { encoding: "utf8" });
    const spki = execFileSync("openssl", ["pkey", "-pubin", "-outform", "DER"], { input: pub });
    expect(field(r.stdout, "SPKI pin")).toBe(`sha256/${createHash("sha256").update(spki).digest("base64")}`);
  });

  it("shows each certificate of a chain in turn", async () => {
    const r = await mtlskit(["inspect", files.chain]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Certificate 1 of 2: .*server\.chain\.pem \(block 1\)\n/);
    expect(r.stdout).toMatch(/\n\nCertificate 2 of 2: .*server\.chain\.pem \(block 2\)\n {2}Subject: +CN=mtlskit Test Intermediate CA\n/);
    expect(r.stdout).toContain("    basicConstraints (critical): CA:TRUE\n");
  });

  it("says EXPIRED, and not yet valid", async () => {
    const expired = await writeTestCertificate(dir, "expired", await pki.expired({ cn: "old" }));
    const r = await mtlskit(["inspect", expired.cert]);
    expect(r.code).toBe(0);
    expect(field(r.stdout, "Not after")).toMatch(/\(EXPIRED 2[45] hours ago\)$/);
    const early = await writeTestCertificate(dir, "early", await pki.notYetValid({ cn: "early" }));
    const e = await mtlskit(["inspect", early.cert]);
    expect(field(e.stdout, "Not before")).toMatch(/\(not yet valid: starts in 2[34] hours\)$/);
    expect(field(e.stdout, "Not after")).toMatch(/\(not yet valid\)$/);
  });

  it("shows a CSR and whether its signature verifies", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const der = createCsr({ subject: parseSubject("/C=FR/O=Example/CN=TLSMA-ECDSA\\/123456\\/D1.PPR"), privateKey });
    const r = await mtlskit(["inspect", write("client.csr", toPem("CERTIFICATE REQUEST", der))]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Certificate signing request: /);
    expect(field(r.stdout, "Subject")).toBe("C=FR, O=Example, CN=TLSMA-ECDSA/123456/D1.PPR");
    expect(field(r.stdout, "Signature")).toBe("verifies with the CSR's public key");
    const bad = new Uint8Array(der);
    bad[bad.length - 1]! ^= 0x01;
    const t = await mtlskit(["inspect", write("tampered.csr", toPem("CERTIFICATE REQUEST", bad))]);
    expect(t.code).toBe(0);
    expect(field(t.stdout, "Signature")).toBe("does NOT verify (the CSR was altered or is corrupt)");
  });

  it.skipIf(!hasOpenssl)("shows a CSR made by openssl req", async () => {
    const key = path.join(dir, "openssl-rsa.key");
    const csr = path.join(dir, "openssl-rsa.csr");
    execFileSync("openssl", ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/C=FR/O=Example/CN=TLSMA-RSA\\/42\\/D1.PRD", "-utf8"], { stdio: "ignore" });
    const r = await mtlskit(["inspect", csr]);
    expect(field(r.stdout, "Key")).toBe("RSA 2048");
    expect(field(r.stdout, "Signature algorithm")).toBe("sha256WithRSAEncryption");
    expect(field(r.stdout, "Signature")).toBe("verifies with the CSR's public key");
  });

  it("gives a private key's type and never its material", async () => {
    const r = await mtlskit(["inspect", files.key]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Private key: ${files.key}\n  Type:                 ECDSA P-256\n  Key material:         not shown\n`);
    const j = await mtlskit(["inspect", files.key, "--json"]);
    const body = server.keyPem.split("\n").filter((l) => l.length > 0 && !l.startsWith("-----"));
    for (const line of body) {
      expect(r.stdout).not.toContain(line);
      expect(j.stdout).not.toContain(line);
    }
  });

  it("--json: one JSON document describing every object", async () => {
    const r = await mtlskit(["inspect", files.chain, "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { ok: boolean; file: string; objects: Array<Record<string, unknown>> };
    expect(doc.ok).toBe(true);
    expect(doc.file).toBe(files.chain);
    expect(doc.objects).toHaveLength(2);
    expect(doc.objects[0]).toMatchObject({
      kind: "certificate",
      source: `${files.chain} (block 1)`,
      subject: "CN=localhost",
      validity: "valid",
      daysLeft: 0,
      key: { label: "ECDSA P-256", bits: 256 },
      signatureAlgorithm: "ecdsa-with-SHA256",
      sha256Fingerprint: server.info.sha256Fingerprint,
      spkiPin: server.info.spkiPin,
    });
    expect(doc.objects[0]!["extensions"]).toContainEqual({ name: "basicConstraints", oid: "2.5.29.19", critical: true, value: "CA:FALSE" });
  });

  it("bad input: one coded line with a hint, exit 2, no stack trace", async () => {
    expectOneLineError(await mtlskit(["inspect", path.join(dir, "nope.crt")]), 2, "FILE_NOT_FOUND");
    expectOneLineError(await mtlskit(["inspect", write("junk.txt", "hello")]), 2, "INPUT_NOT_RECOGNIZED");
    expectOneLineError(await mtlskit(["inspect", write("cut.pem", server.certPem.slice(0, 300))]), 2, "PEM_MALFORMED");
    expectOneLineError(await mtlskit(["inspect", files.cert, "--servername", "x"]), 2, "USAGE");
    const hostPort = await mtlskit(["inspect", "example.test:8443"], { cwd: dir });
    expectOneLineError(hostPort, 2, "FILE_NOT_FOUND");
    expect(hostPort.stderr).toContain("hint: To inspect a TLS server, write the URL: mtlskit inspect https://example.test:8443");
    const j = await mtlskit(["inspect", path.join(dir, "nope.crt"), "--json"]);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { code: "FILE_NOT_FOUND" } });
  });
});

describe("mtlskit inspect https://HOST:PORT against a node:tls server", () => {
  let srv: tls.Server;
  let port = 0;

  beforeAll(async () => {
    srv = tls.createServer({ key: server.keyPem, cert: server.chainPem }, (s) => {
      s.on("error", () => undefined);
      s.end();
    });
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    port = (srv.address() as net.AddressInfo).port;
  });

  afterAll(() => new Promise<void>((resolve) => srv.close(() => resolve())));

  it("shows TLS version, cipher, trust verdict, host-name check, then each certificate presented", async () => {
    const r = await mtlskit(["inspect", `https://127.0.0.1:${port}`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^https://127\\.0\\.0\\.1:${port}\n`));
    expect(field(r.stdout, "Protocol")).toBe("TLSv1.3");
    expect(field(r.stdout, "Cipher")).toMatch(/^TLS_(AES|CHACHA20)/);
    expect(field(r.stdout, "Chain trusted")).toBe("no: UNABLE_TO_GET_ISSUER_CERT_LOCALLY (against Node's trust store)");
    expect(field(r.stdout, "Host name")).toBe("127.0.0.1 matches the certificate");
    expect(field(r.stdout, "Chain presented")).toBe("2 certificates");
    expect(r.stdout).toMatch(/\nCertificate 1 of 2: the server's own\n {2}Subject: +CN=localhost\n/);
    expect(r.stdout).toMatch(/\nCertificate 2 of 2: presented by the server\n {2}Subject: +CN=mtlskit Test Intermediate CA\n/);
  });

  it("--ca and --servername: trusted, and the name checked is the one sent", async () => {
    const ca = write("root.pem", pki.root.certPem);
    const r = await mtlskit(["inspect", `https://127.0.0.1:${port}`, "--ca", ca, "--servername", "localhost"]);
    expect(r.code).toBe(0);
    expect(field(r.stdout, "Chain trusted")).toBe(`yes (against the CA file ${ca})`);
    expect(field(r.stdout, "Host name")).toBe("localhost matches the certificate");
    const wrong = await mtlskit(["inspect", `https://127.0.0.1:${port}`, "--ca", ca, "--servername", "api.example.test"]);
    expect(wrong.code).toBe(0);
    expect(field(wrong.stdout, "Host name")).toMatch(/^api\.example\.test does not match: /);
  });

  it("--json: the negotiated parameters and the chain with each certificate's PEM", async () => {
    const r = await mtlskit(["inspect", `https://127.0.0.1:${port}`, "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Record<string, unknown> & { chain: Array<Record<string, unknown>> };
    expect(doc).toMatchObject({ ok: true, host: "127.0.0.1", port, protocol: "TLSv1.3", authorized: false, authorizationError: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", hostname: { matches: true } });
    expect(doc.chain.map((c) => c["pem"])).toEqual([server.certPem, pki.intermediate.certPem]);
    expect(doc.chain[0]).toMatchObject({ subject: "CN=localhost", sha256Fingerprint: server.info.sha256Fingerprint });
    expect(doc).not.toHaveProperty("certificates");
  });
});

describe("mtlskit inspect URL failures", () => {
  it("a bad URL: URL_INVALID, exit 2", async () => {
    expectOneLineError(await mtlskit(["inspect", "http://127.0.0.1:8443"]), 2, "URL_INVALID");
    expectOneLineError(await mtlskit(["inspect", "https://127.0.0.1:70000"]), 2, "URL_INVALID");
    expectOneLineError(await mtlskit(["inspect", "https://127.0.0.1:8443", "--timeout", "soon"]), 2, "USAGE");
    expectOneLineError(await mtlskit(["inspect", "https://127.0.0.1:8443", "--ca", files.key]), 2, "CERTIFICATE_EXPECTED");
  });

  it("connection refused: CONNECTION_REFUSED naming host:port, exit 1", async () => {
    const port = await freePort();
    const r = await mtlskit(["inspect", `https://127.0.0.1:${port}`]);
    expectOneLineError(r, 1, "CONNECTION_REFUSED");
    expect(r.stderr).toContain(`127.0.0.1:${port}: connection refused`);
  });

  it("a silent server: CONNECT_TIMEOUT after --timeout, exit 1", async () => {
    const silent = await startSilentServer();
    const { port } = silent;
    try {
      const r = await mtlskit(["inspect", `https://127.0.0.1:${port}`, "--timeout", "300"]);
      expectOneLineError(r, 1, "CONNECT_TIMEOUT");
      expect(r.stderr).toContain(`127.0.0.1:${port}: the TLS handshake did not finish within 300 ms`);
    } finally {
      silent.close();
    }
  });
});

describe.skipIf(!hasOpenssl)("mtlskit inspect URL against openssl s_server", () => {
  const servers: ChildProcess[] = [];

  /** Starts `openssl s_server` on a free port with the test chain; resolves once it accepts. */
  async function sServer(extra: string[]): Promise<number> {
    const inter = write("intermediate.pem", pki.intermediate.certPem);
    const port = await freePort();
    const proc = spawn("openssl", ["s_server", "-accept", `127.0.0.1:${port}`, "-cert", files.cert, "-key", files.key, "-cert_chain", inter, "-www", ...extra], { stdio: ["ignore", "pipe", "pipe"] });
    servers.push(proc);
    await new Promise<void>((resolve, reject) => {
      let out = "";
      proc.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("ACCEPT")) resolve();
      });
      proc.on("exit", (code) => reject(new Error(`openssl s_server exited (${code}): ${out}`)));
    });
    return port;
  }

  afterAll(() => {
    for (const p of servers) p.kill();
  });

  it("limited to -tls1_2: reports TLSv1.2 and the chain openssl sends", async () => {
    const port = await sServer(["-tls1_2"]);
    const r = await mtlskit(["inspect", `https://localhost:${port}`, "--ca", write("ca.pem", pki.root.certPem)]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(field(r.stdout, "Protocol")).toBe("TLSv1.2");
    expect(field(r.stdout, "Cipher")).toMatch(/^TLS_ECDHE_ECDSA_WITH_/);
    expect(field(r.stdout, "Connected to")).toBe(`127.0.0.1:${port} (SNI localhost)`);
    expect(field(r.stdout, "Chain trusted")).toMatch(/^yes /);
    expect(field(r.stdout, "Chain presented")).toBe("2 certificates");
    expect(r.stdout).toContain(`  SHA-256 fingerprint:  ${server.info.sha256Fingerprint}\n`);
  });

  it("by default: TLSv1.3", async () => {
    const port = await sServer([]);
    const r = await mtlskit(["inspect", `https://127.0.0.1:${port}`, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ protocol: "TLSv1.3", chain: [{ subject: "CN=localhost" }, { subject: "CN=mtlskit Test Intermediate CA" }] });
  });

  it("a server that speaks only TLS 1.1: TLS_HANDSHAKE_FAILED, exit 1", async () => {
    // OpenSSL 3 refuses TLS 1.1 at its default security level; level 0 lets s_server offer it.
    const port = await sServer(["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]);
    const r = await mtlskit(["inspect", `https://127.0.0.1:${port}`]);
    expectOneLineError(r, 1, "TLS_HANDSHAKE_FAILED");
    expect(r.stderr).toContain(`127.0.0.1:${port}: TLS handshake failed`);
  });
});

/**
 * Start-up budget: `mtlskit inspect FILE` loads none of the heavy packages (pkijs, yaml, zod,
 * undici, jose, pino: each tens of milliseconds of module compilation). Walks the static imports
 * of the built CLI from main.js and the inspect chunk, as bench (a) does.
 */
describe("the built CLI", () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { sideEffects?: unknown };

  // esbuild can only leave x509-build.ts (and pkijs) out of a chunk when the package declares
  // that its modules have no side effects on import (docs/architecture.md: "nothing here has side effects").
  it.skipIf(pkg.sideEffects !== false)("loads no heavy package on the inspect path", () => {
    const packages = packagesOnInspectPath(ROOT);
    expect(packages).toBeDefined();
    expect(packages).toContain("commander");
    expect(packages!.filter((p) => (HEAVY_PACKAGES as readonly string[]).includes(p))).toEqual([]);
  });
});
