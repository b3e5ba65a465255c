/**
 * Limits of the inbound listener, each reached one answered with its status (or the connection
 * closed when no request is in progress), logged and counted: request head size (431), body
 * size (413, with and without Content-Length), slow headers (408, slowloris), slow body (408),
 * idle keep-alive connections, slow TLS handshakes, and the connection limit (503, which Thales
 * retries).
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { InboundServer } from "../src/server/index.js";
import { startInboundWorld, waitFor, type CapturedLogger, type InboundPki, type InboundWorld, type TestUpstream } from "./support/server-fixtures.js";

let world: InboundWorld | undefined;
let pki: InboundPki;
let upstream: TestUpstream;
let srv: InboundServer;
let log: CapturedLogger;
const sockets: net.Socket[] = [];

beforeAll(async () => {
  world = await startInboundWorld({
    limits: { maxHeaderBytes: 4096, maxBodyBytes: 1000, headersTimeoutMs: 400, requestTimeoutMs: 600, idleTimeoutMs: 300, handshakeTimeoutMs: 400, maxConnections: 3 },
  });
  ({ pki, upstream, srv, log } = world);
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});
afterAll(async () => {
  await world?.close();
});

/** A TLS connection as Thales; `data` collects what the server sent, `closed` resolves on close. */
async function connect(): Promise<{ socket: tls.TLSSocket; data: () => string; closed: Promise<void> }> {
  const socket = tls.connect({ host: "127.0.0.1", port: srv.address.port, servername: "notify.customer.test", ca: pki.serverPki.root.certPem, cert: pki.client.chainPem, key: pki.client.keyPem });
  sockets.push(socket);
  let received = "";
  socket.setEncoding("utf8").on("data", (d: string) => (received += d));
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => resolve());
    socket.once("error", reject);
  });
  return { socket, data: () => received, closed };
}

const limit = (name: string) => srv.metrics.limits.get({ limit: name });

describe("inbound limits", () => {
  it("answers 431 to a request head over the limit", async () => {
    const c = await connect();
    c.socket.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(6000)}\r\n\r\n`);
    await c.closed;
    expect(c.data()).toMatch(/^HTTP\/1\.1 431 /);
    expect(limit("header_size")).toBe(1);
  });

  it("answers 413 to a Content-Length over the limit without forwarding anything", async () => {
    const before = upstream.received.length;
    const c = await connect();
    c.socket.write(`POST /n HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n`);
    await c.closed;
    expect(c.data()).toMatch(/^HTTP\/1\.1 413 /);
    expect(c.data()).toContain("BODY_TOO_LARGE");
    expect(upstream.received.length).toBe(before);
    expect(limit("body_size")).toBe(1);
  });

  it("answers 413 to a chunked body that grows over the limit", async () => {
    const c = await connect();
    c.socket.write(`POST /n HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
    for (let i = 0; i < 4; i++) c.socket.write(`190\r\n${"b".repeat(400)}\r\n`);
    c.socket.write("0\r\n\r\n");
    await c.closed;
    expect(c.data()).toMatch(/^HTTP\/1\.1 413 /);
    expect(limit("body_size")).toBe(2);
    expect(upstream.received.some((r) => r.body.length > 1000)).toBe(false);
  });

  it("answers 408 to headers that trickle in (slowloris) and closes", async () => {
    const c = await connect();
    c.socket.write("GET / HTTP/1.1\r\nHost: x\r\n");
    const timer = setInterval(() => c.socket.write("X-A: b\r\n"), 100);
    const t0 = Date.now();
    await c.closed;
    clearInterval(timer);
    expect(c.data()).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(limit("header_timeout")).toBeGreaterThanOrEqual(1);
    expect(log.lines.some((l) => l.event === "limit_reached" && l.limit === "header_timeout")).toBe(true);
  });

  it("closes a TLS connection that sends no request at all", async () => {
    const c = await connect();
    const t0 = Date.now();
    await c.closed;
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("closes a keep-alive connection left idle, and counts it", async () => {
    const before = limit("idle_timeout");
    const c = await connect();
    c.socket.write("GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => c.data().includes("\r\n\r\n"), 2000, "the first answer");
    expect(c.data()).toMatch(/^HTTP\/1\.1 200 /);
    await c.closed;
    expect(limit("idle_timeout")).toBe(before + 1);
  });

  it("closes a TCP connection that never starts its TLS handshake", async () => {
    const before = srv.metrics.handshakes.get({ result: "handshake_timeout" });
    const s = net.connect(srv.address.port, "127.0.0.1");
    sockets.push(s);
    s.on("error", () => undefined);
    const t0 = Date.now();
    await new Promise<void>((resolve) => s.on("close", () => resolve()));
    expect(Date.now() - t0).toBeLessThan(3000);
    await waitFor(() => srv.metrics.handshakes.get({ result: "handshake_timeout" }) === before + 1, 2000, "the handshake timeout to be counted");
    expect(limit("handshake_timeout")).toBeGreaterThanOrEqual(1);
  });

  it("answers 503 (Retry-After, Connection: close) on connections over the limit", async () => {
    const open = [await connect(), await connect(), await connect()];
    const extra = await connect();
    extra.socket.write("GET /over HTTP/1.1\r\nHost: x\r\n\r\n");
    await extra.closed;
    expect(extra.data()).toMatch(/^HTTP\/1\.1 503 /);
    expect(extra.data()).toMatch(/retry-after: 1/i);
    expect(extra.data()).toMatch(/connection: close/i);
    expect(limit("max_connections")).toBe(1);
    expect(upstream.received.some((r) => r.url === "/over")).toBe(false);
    // The connections within the limit are served.
    open[0]!.socket.write("GET /within HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => open[0]!.data().includes("\r\n\r\n"), 2000, "an answer within the limit");
    expect(open[0]!.data()).toMatch(/^HTTP\/1\.1 200 /);
  });
});
