/**
 * Scenario 9: 1,000 connections open to the inbound server and send nothing, while a stream of
 * requests runs (keep-alive and new connections). Most are bare TCP connections that never
 * start TLS (closed by the handshake timeout); a few finish the TLS handshake and then never
 * send a request (closed by the header timeout). Expected: no request of the stream fails, and
 * every idle connection is closed by the server.
 *
 * The server runs with the default connection limits (512 served, TCP connections beyond
 * 4,096 dropped): connections still in their handshake count against the TCP cap only, so the
 * flood does not crowd out new connections.
 * File descriptors: each idle connection costs two in this process (both ends); the flood is
 * opened in batches, and made smaller when `ulimit -n` would not allow it.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import type { Agent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InboundServer } from "../../src/server/index.js";
import { clientAgent, startInboundWorld, waitFor, type CapturedLogger, type InboundPki, type InboundWorld } from "../support/server-fixtures.js";
import { openFileLimit } from "../support/net.js";
import { expect2xx, inboundRequest, Recovery, reportLoad, startLoad } from "./harness.js";

const HOST = "notify.customer.test";
const WANTED = 1000;
/** Of which these finish the TLS handshake and then say nothing. */
const TLS_IDLE = 50;
const BATCH = 100;
const TIMEOUT_MS = 2000;

let world: InboundWorld | undefined;
let pki: InboundPki;
let srv: InboundServer;
let log: CapturedLogger;
let keepAlive: Agent;
const idle: net.Socket[] = [];

beforeAll(async () => {
  // The default connection limits: the flood must not crowd out the stream.
  world = await startInboundWorld({ limits: { handshakeTimeoutMs: TIMEOUT_MS, headersTimeoutMs: TIMEOUT_MS } });
  ({ pki, srv, log } = world);
  keepAlive = clientAgent(pki, pki.client);
});
afterAll(async () => {
  for (const s of idle) s.destroy();
  await keepAlive?.close();
  await world?.close();
});

interface Answer {
  status: number | undefined;
}

/** Opens one connection that sends nothing (bare TCP, or TLS with no request); resolves once it is open. */
function openIdle(withTls: boolean): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = withTls
      ? tls.connect({ host: "127.0.0.1", port: srv.address.port, servername: HOST, ca: pki.serverPki.root.certPem, cert: pki.client.chainPem, key: pki.client.keyPem })
      : net.connect(srv.address.port, "127.0.0.1");
    s.on("error", () => undefined);
    s.resume(); // read (and drop) what the server sends, so that its close is seen
    s.once(withTls ? "secureConnect" : "connect", () => resolve(s));
    s.once("close", () => reject(new Error("closed before it was open")));
  });
}

describe("scenario 9: 1,000 connections that open and send nothing", () => {
  it("keeps answering a parallel stream of requests, and closes the idle connections", async () => {
    const limit = openFileLimit();
    const count = Math.max(TLS_IDLE + BATCH, Math.min(WANTED, Math.floor((limit - 300) / 2)));
    const recovery = new Recovery();
    let floodOver = false;
    const load = startLoad<Answer>({
      requests: 5000,
      concurrency: 4,
      timeLimitMs: 60_000,
      paceMs: 10,
      send: (i) => inboundRequest({ url: srv.url, port: srv.address.port, servername: HOST, ca: pki.serverPki.root.certPem, client: pki.client, keepAlive }, i, "{}"),
      check: expect2xx,
    });

    await load.reached(20);
    const floodAt = Date.now();
    recovery.fault(floodAt);
    let closed = 0;
    for (let opened = 0; opened < count; opened += BATCH) {
      const n = Math.min(BATCH, count - opened);
      const batch = await Promise.all(Array.from({ length: n }, (_, k) => openIdle(opened + k < TLS_IDLE)));
      for (const s of batch) s.once("close", () => closed++);
      idle.push(...batch);
    }
    const allOpenAt = Date.now();
    await waitFor(() => closed === count, TIMEOUT_MS + 15_000, `the ${count} idle connections to be closed by the server`);
    recovery.observe();
    floodOver = true;
    // A little more of the stream once the flood is gone.
    await load.reached(load.ended + 20);
    load.stop();
    const result = await load.done;

    const during = result.records.filter((r) => r.start >= floodAt && r.end <= recovery.recoveredAt!);
    const timedOut = srv.metrics.handshakes.get({ result: "handshake_timeout" });
    const headerTimeouts = srv.metrics.limits.get({ limit: "header_timeout" });

    await reportLoad("09-inbound-idle-connections", result, recovery, {
        idleConnections: count,
        openFileLimit: limit,
        openingMs: allOpenAt - floodAt,
        requestsDuringFlood: during.length,
        handshakeTimeouts: timedOut,
        evicted: srv.metrics.handshakes.get({ result: "evicted" }),
        headerTimeouts,
        dropped: srv.metrics.limits.get({ limit: "max_connections" }),
        answered400: srv.metrics.requests.get({ status: "400" }),
        floodOver,
      });

    expect(result.firstFailures).toEqual([]);
    expect(result.failed + result.lost).toBe(0);
    if (count < WANTED) console.warn(`scenario 9: opened ${count} idle connections, not ${WANTED}: ulimit -n is ${limit}`);
    expect(during.length).toBeGreaterThan(20);
    // Silent connections are closed by their first-byte timeout (counted as handshake timeouts)
    // or, past the per-address cap of connections still in their handshake, evicted oldest first.
    expect(timedOut + srv.metrics.handshakes.get({ result: "evicted" })).toBe(count - TLS_IDLE);
    expect(headerTimeouts).toBe(TLS_IDLE);
    expect(srv.metrics.limits.get({ limit: "max_connections" })).toBe(0);
    // A handshake that timed out is a refused handshake, not a malformed HTTP request answered 400.
    expect(srv.metrics.requests.get({ status: "400" })).toBe(0);
    expect(log.lines.filter((l) => l.event === "bad_request")).toEqual([]);
    expect(recovery.ms!).toBeLessThan(TIMEOUT_MS + 15_000);
  });
});
