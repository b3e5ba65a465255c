/**
 * The endpoint Thales calls under an attacker's probes (issue 10): request targets that try to
 * climb above the upstream's path prefix, identity and client-address headers in every spelling
 * an application server folds together, and an application answering garbage. Requests are
 * written by hand over real TLS sockets so that nothing normalises them on the way.
 */
import { promises as fs } from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createInboundServer, type InboundServer, type InboundServerOptions } from "../src/server/index.js";
import { STRIPPED_HEADERS } from "../src/policy/index.js";
import { captureLogger, createInboundPki, startUpstream, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";

let pki: InboundPki;
let upstream: TestUpstream;
const servers: InboundServer[] = [];
const rawUpstreams: net.Server[] = [];

beforeAll(async () => {
  pki = await createInboundPki();
  upstream = await startUpstream();
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close({ graceMs: 100 });
  for (const u of rawUpstreams.splice(0)) await new Promise<void>((r) => u.close(() => r()));
});
afterAll(async () => {
  await upstream?.stop();
  if (pki) await fs.rm(pki.dir, { recursive: true, force: true });
});

async function start(extra: Partial<InboundServerOptions> = {}): Promise<InboundServer> {
  const srv = await createInboundServer({ credentials: pki.files, upstream: `${upstream.url}/app`, listen: { host: "127.0.0.1", port: 0 }, logger: captureLogger(), reload: { watch: false }, ...extra });
  servers.push(srv);
  return srv;
}

/** Writes `head` (request line and headers, without the final CRLF CRLF) over mutual TLS and reads the whole answer. */
function rawRequest(srv: InboundServer, head: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port: srv.address.port, servername: "notify.customer.test", ca: pki.serverPki.root.certPem, cert: pki.client.chainPem, key: pki.client.keyPem }, () => {
      socket.write(`${head}\r\nconnection: close\r\n\r\n`);
    });
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error("no answer")));
  });
}

describe("request targets never escape the upstream's path prefix", () => {
  const climbing = [
    "/../secret",
    "/a/../../secret",
    "/%2e%2e/secret",
    "/%2E%2e/secret",
    "/.%2e/secret",
    "/a/..%2f..%2fsecret",
    "/a/..%5c..%5csecret",
    "/..\\secret",
    "/a\\..\\..\\secret",
    "/%252e%252e/secret",
    "/%25252e%25252e/secret",
    "/a/%2e%2e%2f%2e%2e%2fsecret",
    "http://evil.example/../secret",
  ];
  it.each(climbing)("refuses %s with 400 PATH_OUTSIDE_PREFIX, nothing sent upstream", async (target) => {
    const srv = await start();
    const before = upstream.received.length;
    const r = await rawRequest(srv, `GET ${target} HTTP/1.1\r\nhost: notify.customer.test`);
    expect(r.status).toBe(400);
    expect(r.text).toContain('"code":"PATH_OUTSIDE_PREFIX"');
    expect(upstream.received.length).toBe(before);
  });

  const normalised: Array<[string, string]> = [
    ["/notify", "/app/notify"],
    ["/a/./b/../notify?x=1", "/app/a/notify?x=1"],
    ["/a/%2e%2e/notify", "/app/notify"],
    ["/a%2fb", "/app/a/b"],
    ["//a///b", "/app/a/b"],
    ["/a\\b", "/app/a/b"],
    ["/caf%C3%A9?q=%2e%2e", "/app/caf%C3%A9?q=%2e%2e"],
    ["/100%25", "/app/100%25"],
    ["http://evil.example/notify?y=2", "/app/notify?y=2"],
  ];
  it.each(normalised)("forwards %s as %s", async (target, expected) => {
    const srv = await start();
    const r = await rawRequest(srv, `GET ${target} HTTP/1.1\r\nhost: notify.customer.test`);
    expect(r.status).toBe(200);
    expect(upstream.received.at(-1)!.url).toBe(expected);
  });

  it("refuses a NUL byte and encoding nested four times", async () => {
    const srv = await start();
    expect((await rawRequest(srv, "GET /a%00b HTTP/1.1\r\nhost: x")).text).toContain('"code":"BAD_REQUEST_TARGET"');
    expect((await rawRequest(srv, "GET /%2525252e HTTP/1.1\r\nhost: x")).text).toContain('"code":"BAD_REQUEST_TARGET"');
  });
});

describe("identity and client-address headers in every spelling", () => {
  it("strips each documented header in upper case, with underscores, and in mixed spellings", async () => {
    const srv = await start();
    const concrete = STRIPPED_HEADERS.filter((h) => !h.name.endsWith("*")).map((h) => h.name);
    const spell = (n: string, i: number) => (i % 3 === 0 ? n.toUpperCase().replace(/-/g, "_") : i % 3 === 1 ? n.replace(/-/g, "_") : n.replace(/(^|-)(\w)/g, (_m, d: string, c: string) => d + c.toUpperCase()));
    const lines = concrete.map((n, i) => `${spell(n, i)}: spoofed-${i}`);
    lines.push("X_CLIENT_CERT_ANYTHING: spoofed", "x-amzn-mtls-clientcert-whatever: spoofed", "SSL_CLIENT_S_DN: spoofed", "X-Correlation_Id: spoof");
    const r = await rawRequest(srv, `GET /notify HTTP/1.1\r\nhost: notify.customer.test\r\n${lines.join("\r\n")}`);
    expect(r.status).toBe(200);
    const got = upstream.received.at(-1)!.headers;
    for (const [name, value] of Object.entries(got)) expect(String(value), name).not.toContain("spoof");
    expect(got["x-client-cert-subject"]).toBe("CN=thales-notifier-1,O=Thales DIS,C=FR");
    expect(got["x-forwarded-for"]).toBe("127.0.0.1");
    expect(got["x-forwarded-proto"]).toBe("https");
  });
});

describe("an application answering garbage is a gateway problem", () => {
  async function garbageUpstream(answer: string): Promise<string> {
    const server = net.createServer((s) => {
      s.once("data", () => s.end(answer));
      s.on("error", () => undefined);
    });
    rawUpstreams.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  }
  const answers: Array<[string, string]> = [
    ["a bad status line", "HELLO there\r\n\r\n"],
    ["a bad header", "HTTP/1.1 200 OK\r\nno colon here\r\ncontent-length: 2\r\n\r\nok"],
    ["a bad status code", "HTTP/1.1 2000 OK\r\ncontent-length: 0\r\n\r\n"],
    ["truncated headers", "HTTP/1.1 200 OK\r\ncontent-le"],
    ["a bad chunk", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"],
    ["binary noise", "\x00\x01\x02\xff\xfe garbage"],
  ];
  it.each(answers)("answers 503 in retryable mode for %s", async (_what, answer) => {
    const srv = await start({ upstream: await garbageUpstream(answer) });
    const r = await rawRequest(srv, "GET /notify HTTP/1.1\r\nhost: notify.customer.test");
    expect(r.status).toBe(503);
  });
  it.each(answers)("answers 502 in gateway mode for %s", async (_what, answer) => {
    const srv = await start({ upstream: await garbageUpstream(answer), upstreamFailureStatus: "gateway" });
    const r = await rawRequest(srv, "GET /notify HTTP/1.1\r\nhost: notify.customer.test");
    expect(r.status).toBe(502);
  });
});
