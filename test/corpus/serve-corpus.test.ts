/**
 * The bad input corpus against `serve`, the endpoint Thales calls: hostile raw HTTP/1.1 over
 * mutual TLS (oversized, malformed, smuggling, spoofed identity headers) to a running inbound
 * server, and hostile files given to `mtlskit serve` on the command line. Requests are answered
 * with a 4xx (never a 5xx, never a hang), nothing refused reaches the application, and the
 * server still answers afterwards; bad files stop `mtlskit serve` at once with exit 2.
 */
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import { connect as netConnect } from "node:net";
import * as path from "node:path";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInboundServer, createJsonLogger, type InboundServer } from "../../src/server/index.js";
import { createInboundPki, startUpstream, tempDir, type InboundPki, type TestUpstream } from "../support/server-fixtures.js";
import { MTLSKIT_BIN, mtlskit } from "../support/cli.js";
import { buildFileCorpus, buildMaterials, pseudoRandomBytes } from "./corpus.js";
import { closedByPeer, exchange } from "./http-exchange.js";
import { changes, expectContract, expectNoTerminalControl, KILL_AFTER_MS, leftoversIn, Limiter, snapshot, CONCURRENCY } from "./harness.js";

const MAX_BODY = 64 * 1024;
let dir: string;
let pki: InboundPki;
let upstream: TestUpstream;
let srv: InboundServer;
const logs: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  dir = await tempDir("mtlskit-corpus-serve-");
  pki = await createInboundPki(path.join(dir, "pki"));
  upstream = await startUpstream();
  const stream = { write: (line: string) => (logs.push(JSON.parse(line) as Record<string, unknown>), true) } as unknown as NodeJS.WritableStream;
  srv = await createInboundServer({
    credentials: pki.files,
    upstream: upstream.url,
    listen: { host: "127.0.0.1", port: 0 },
    admin: false,
    reload: { watch: false },
    limits: { maxBodyBytes: MAX_BODY },
    logger: createJsonLogger({ level: "warn", stream }),
  });
});

afterAll(async () => {
  await srv?.close({ graceMs: 100 });
  await upstream?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

/** A mutual TLS connection as Thales makes it. */
function tls(withClientCertificate = true) {
  return tlsConnect({
    host: "127.0.0.1",
    port: srv.address.port,
    servername: "localhost",
    ca: pki.serverPki.root.certPem,
    ...(withClientCertificate ? { cert: pki.client.chainPem, key: pki.client.keyPem } : {}),
  });
}

function raw(text: string | Buffer): Buffer {
  return Buffer.isBuffer(text) ? text : Buffer.from(text, "latin1");
}

const GET = "GET /notify HTTP/1.1\r\nhost: notify.customer.test\r\nconnection: close\r\n\r\n";

async function expectAlive(): Promise<void> {
  const a = await exchange(() => tls(), raw(GET));
  expect(a.status, a.body).toBe(200);
}

interface ServeInput {
  name: string;
  why: string;
  request: Buffer;
  statuses: number[];
  /** The application must not see a request carrying this text. */
  neverForwarded?: string;
  code?: string;
}

const post = (headers: string, body: Buffer | string = "") => raw(Buffer.concat([raw(`POST /notify HTTP/1.1\r\nhost: notify.customer.test\r\nconnection: close\r\n${headers}\r\n`), raw(body)]));
const chunkedBody = (size: number) => {
  const chunk = Buffer.alloc(16 * 1024, 0x61);
  const parts: Buffer[] = [];
  for (let sent = 0; sent < size; sent += chunk.length) parts.push(raw(`${chunk.length.toString(16)}\r\n`), chunk, raw("\r\n"));
  parts.push(raw("0\r\n\r\n"));
  return Buffer.concat(parts);
};

const INPUTS: ServeInput[] = [
  { name: "body-over-limit-declared", why: "a body over the limit with its content-length", request: post(`content-type: application/json\r\ncontent-length: ${MAX_BODY + 10}\r\n`, Buffer.alloc(MAX_BODY + 10, 0x61)), statuses: [413], neverForwarded: "aaaaaaaa", code: "BODY_TOO_LARGE" },
  { name: "body-over-limit-chunked", why: "a chunked body over the limit", request: post("content-type: application/json\r\ntransfer-encoding: chunked\r\n", chunkedBody(MAX_BODY + 32 * 1024)), statuses: [413], neverForwarded: "aaaaaaaa", code: "BODY_TOO_LARGE" },
  { name: "expect-continue-huge", why: "Expect: 100-continue announcing 10 GB", request: post("content-type: application/json\r\nexpect: 100-continue\r\ncontent-length: 10000000000\r\n"), statuses: [413, 417] },
  { name: "header-overflow", why: "a 100 KiB header", request: raw(`GET /notify HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(100 * 1024)}\r\nconnection: close\r\n\r\n`), statuses: [431, 400] },
  { name: "url-100kib", why: "a 100 KiB request target", request: raw(`GET /${"a".repeat(100 * 1024)} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`), statuses: [414, 431, 400] },
  { name: "garbage", why: "bytes that are not HTTP, inside the TLS session", request: Buffer.from(pseudoRandomBytes(512, 17)), statuses: [400] },
  { name: "duplicate-content-length", why: "two different content-length headers", request: post("content-length: 2\r\ncontent-length: 40\r\n", "{}"), statuses: [400] },
  {
    name: "content-length-and-chunked",
    why: "content-length with transfer-encoding, hiding a second request (smuggling)",
    request: post("content-length: 60\r\ntransfer-encoding: chunked\r\n", "0\r\n\r\nGET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n"),
    statuses: [400],
    neverForwarded: "/smuggled",
  },
  { name: "transfer-encoding-obfuscated", why: "transfer-encoding: xchunked with a content-length", request: post("content-length: 5\r\ntransfer-encoding: xchunked\r\n", "0\r\n\r\n"), statuses: [400, 501] },
  { name: "negative-content-length", why: "content-length: -1", request: post("content-length: -1\r\n"), statuses: [400] },
  { name: "nul-in-target", why: "a NUL byte in the request target", request: raw("GET /notify\u0000x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"), statuses: [400] },
  { name: "obs-fold-header", why: "a header folded over two lines", request: raw("GET /notify HTTP/1.1\r\nhost: x\r\nx-a: one\r\n two\r\nconnection: close\r\n\r\n"), statuses: [400] },
  { name: "unknown-method", why: "method BREW", request: raw("BREW /notify HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"), statuses: [400, 405, 501] },
  { name: "http2-preface", why: "the HTTP/2 connection preface without ALPN", request: raw("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), statuses: [400, 505] },
];

describe("serve: hostile requests over mutual TLS", () => {
  it("the harness: a sound request is forwarded and answered 200", async () => {
    await expectAlive();
  });

  it.each(INPUTS)("$name: $why", async (input) => {
    logs.length = 0;
    const seen = upstream.received.length;
    const a = await exchange(() => tls(), input.request);
    const why = `${input.name}: answered ${a.status} ${JSON.stringify(a.headers)}\n${a.body.slice(0, 400)}`;
    expect(a.status, why).toBeGreaterThanOrEqual(400);
    expect(a.status, why).toBeLessThan(500);
    expect(input.statuses, why).toContain(a.status);
    if (a.body.length > 0) {
      const doc = JSON.parse(a.body) as { error?: { code?: unknown; message?: unknown } };
      expect(typeof doc.error?.code === "string" && typeof doc.error.message === "string", why).toBe(true);
      if (input.code) expect(doc.error?.code, why).toBe(input.code);
    }
    if (input.neverForwarded) {
      const leaked = upstream.received.slice(seen).filter((r) => r.url.includes(input.neverForwarded!) || r.body.includes(input.neverForwarded!));
      expect(leaked, `${input.name}: the application received what was refused`).toEqual([]);
    }
    expect(logs.filter((l) => Number(l.level) >= 50), `${input.name}: serve logged an error`).toEqual([]);
    await expectAlive();
  });

  it("spoofed identity headers never reach the application: it sees the verified ones", async () => {
    const seen = upstream.received.length;
    const a = await exchange(() => tls(), raw("GET /notify HTTP/1.1\r\nhost: x\r\nx-client-cert-subject: CN=admin\r\nx-client-cert-sha256: 00\r\nclient-cert: :AAAA:\r\nx-forwarded-for: 10.0.0.1\r\nconnection: close\r\n\r\n"));
    expect(a.status).toBe(200);
    const got = upstream.received.slice(seen)[0]!;
    expect(got.headers["x-client-cert-subject"]).not.toBe("CN=admin");
    expect(got.headers["x-client-cert-subject"]).toContain("thales-notifier-1");
    expect(got.headers["x-client-cert-sha256"]).not.toBe("00");
    expect(got.headers["x-forwarded-for"]).not.toContain("10.0.0.1");
  });

  it("a hostile x-correlation-id (control characters, 10 KiB, a path) is refused or replaced, never forwarded", async () => {
    for (const id of ["a\u0001b\u001b[2J", "x".repeat(10_240), "../../etc/passwd"]) {
      const seen = upstream.received.length;
      const a = await exchange(() => tls(), raw(`GET /notify HTTP/1.1\r\nhost: x\r\nx-correlation-id: ${id}\r\nconnection: close\r\n\r\n`));
      // Control characters in a header value: HTTP's parser refuses the request (400).
      expect([200, 400], a.body).toContain(a.status);
      if (a.status === 400) {
        expect(upstream.received.length).toBe(seen);
        continue;
      }
      expect(a.headers["x-correlation-id"]).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      expect(upstream.received.slice(seen)[0]?.headers["x-correlation-id"]).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    }
  });

  it("plain HTTP on the TLS port, and TLS without a client certificate: closed at once, nothing forwarded", async () => {
    const seen = upstream.received.length;
    await closedByPeer(() => netConnect({ host: "127.0.0.1", port: srv.address.port }), raw(GET));
    await expect(exchange(() => tls(false), raw(GET))).rejects.toThrow(/closed without an answer/);
    expect(upstream.received.length).toBe(seen);
    await expectAlive();
  });
});

// --- mtlskit serve with hostile files ----------------------------------------------------------
describe("mtlskit serve with hostile --cert, --key and --client-ca files: exit 2 at once", () => {
  const limiter = new Limiter(CONCURRENCY);
  let files: Awaited<ReturnType<typeof buildFileCorpus>>["files"];
  let inputs: string;
  let caseNo = 0;

  beforeAll(async () => {
    inputs = path.join(dir, "inputs");
    await fs.mkdir(inputs, { recursive: true });
    const m = await buildMaterials();
    ({ files } = await buildFileCorpus(m, path.join(dir, "openssl"), undefined));
    for (const f of files) await fs.writeFile(path.join(inputs, `${f.name}.${f.ext}`), f.data);
    await fs.writeFile(path.join(inputs, "not-the-server-key.pem"), m.keyPem);
  });

  const base = () => ({ cert: pki.files.certFile, key: pki.files.keyFile, "client-ca": pki.files.caFile, chain: pki.files.chainFile });
  const file = (name: string) => {
    const f = files.find((x) => x.name === name);
    return path.join(inputs, f ? `${f.name}.${f.ext}` : name);
  };
  const cases: Array<{ label: string; over: () => Record<string, string>; codes?: string[] }> = [
    ...["pem-truncated-certificate", "der-random-bytes", "csr-where-certificate-expected", "key-where-certificate-expected", "pem-just-over-input-limit", "file-empty"].map((n) => ({ label: `--cert ${n}`, over: () => ({ cert: file(n) }) })),
    ...["pem-private-key-garbage-der", "certificate-where-key-expected", "ec-key-scalar-zero", "encrypted-key-without-passphrase", "not-the-server-key.pem"].map((n) => ({ label: `--key ${n}`, over: () => ({ key: file(n) }) })),
    { label: "--client-ca the server's own leaf (pinning a leaf)", over: () => ({ "client-ca": pki.files.certFile }), codes: ["LEAF_AS_CA", "CA_CERTIFICATE_REQUIRED"] },
    ...["pem-certificate-garbage-der", "key-where-certificate-expected", "der-nested-sequences-10000"].map((n) => ({ label: `--client-ca ${n}`, over: () => ({ "client-ca": file(n) }) })),
    { label: "--chain pem-nested-begin", over: () => ({ chain: file("pem-nested-begin") }) },
  ];

  it.concurrent.each(cases)("$label", async (c) => {
    const cwd = path.join(dir, "cases", String(++caseNo));
    await fs.mkdir(cwd, { recursive: true });
    const o = { ...base(), ...c.over() };
    const args = ["serve", ...Object.entries(o).flatMap(([k, v]) => [`--${k}`, v]), "--listen", "127.0.0.1:0", "--admin", "off", "--upstream", upstream.url, "--reload-interval", "0"];
    const before = await snapshot(cwd);
    const { run, ms } = await limiter.run(async () => {
      const started = Date.now();
      // A serve that accepts the files never exits: it is killed and counts as a failure.
      const r = await mtlskit(args, { cwd, env: { MTLSKIT_HOME: path.join(cwd, "ws") }, timeoutMs: Math.min(KILL_AFTER_MS, 15_000) });
      return { run: r, ms: Date.now() - started };
    });
    const after = await snapshot(cwd);
    const record = { args, run, ms, changes: changes(before, after), leftovers: leftoversIn(after) };
    expectContract(record, { exits: [2], ...(c.codes ? { codes: c.codes } : {}) });
    expectNoTerminalControl(record);
  });

  it("the harness: sound files start it (and SIGTERM stops it with exit 0)", async () => {
    const o = base();
    const child = spawn(process.execPath, [MTLSKIT_BIN, "--json", "serve", ...Object.entries(o).flatMap(([k, v]) => [`--${k}`, v]), "--listen", "127.0.0.1:0", "--admin", "off", "--upstream", upstream.url, "--reload-interval", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const ready = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 20_000);
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes('"ok": true')) {
          clearTimeout(t);
          resolve();
        }
      });
      child.on("exit", () => reject(new Error(`serve exited: ${out}`)));
    });
    try {
      await ready;
    } finally {
      child.kill("SIGTERM");
    }
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
  });
});
