/**
 * A flood of silent TCP connections must not lock Thales out (issue 10): what a connection
 * that has not finished its TLS handshake may hold is bounded (time to its first byte, a cap on
 * such connections overall and per address, the oldest closed first), so that a good client
 * completes its handshake and request while 1,500 idle sockets from the same loopback address
 * are being held open; the drops are logged as one counted summary, not one line per socket.
 *
 * The server runs with maxConnections 64, so its TCP cap is 512: before the fix the flood
 * filled the cap and the good client's connection was dropped at accept.
 * File descriptors: each idle socket costs two in this process; the flood is made smaller
 * when `ulimit -n` would not allow it.
 */
import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as net from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createInboundServer, type InboundServer } from "../src/server/index.js";
import { call, captureLogger, clientAgent, createInboundPki, startUpstream, waitFor, type CapturedLogger, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";

const WANTED = 1500;
const BATCH = 100;

function openFileLimit(): number {
  try {
    const out = execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim();
    return out === "unlimited" ? Number.POSITIVE_INFINITY : Number(out);
  } catch {
    return 1024;
  }
}

let pki: InboundPki;
let upstream: TestUpstream;
const servers: InboundServer[] = [];
const sockets: net.Socket[] = [];

beforeAll(async () => {
  pki = await createInboundPki();
  upstream = await startUpstream();
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.close({ graceMs: 100 });
});
afterAll(async () => {
  await upstream?.stop();
  if (pki) await fs.rm(pki.dir, { recursive: true, force: true });
});

function openSilent(port: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => resolve(s));
    s.on("error", () => resolve(s));
    sockets.push(s);
  });
}

describe("a flood of silent connections", () => {
  it("leaves room for a good client's handshake, and logs one counted summary", async () => {
    const log: CapturedLogger = captureLogger();
    const srv = await createInboundServer({
      credentials: pki.files,
      upstream: upstream.url,
      listen: { host: "127.0.0.1", port: 0 },
      logger: log,
      reload: { watch: false },
      // Long timeouts: the flood stays until the caps close it.
      limits: { maxConnections: 64, handshakeTimeoutMs: 60_000, firstByteTimeoutMs: 60_000, headersTimeoutMs: 60_000 },
      dropSummaryIntervalMs: 200,
    });
    servers.push(srv);
    const n = Math.min(WANTED, Math.floor((openFileLimit() - 200) / 2));
    const started = Date.now();
    for (let i = 0; i < n; i += BATCH) await Promise.all(Array.from({ length: Math.min(BATCH, n - i) }, () => openSilent(srv.address.port)));
    const agent = clientAgent(pki, pki.client);
    try {
      const res = await call(agent, `${srv.url}/notify`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
      expect(res.status).toBe(200);
    } finally {
      await agent.close();
    }
    // The summaries come every 200 ms: wait until they have reported every eviction counted so far.
    const summed = () => log.lines.filter((l) => l.event === "connections_dropped").reduce((a, l) => a + Number((l.counts as Record<string, number>).pending_evicted ?? 0), 0);
    await waitFor(() => summed() >= n - 256 - 1 && summed() === srv.metrics.limits.get({ limit: "pending_evicted" }), 10_000, "the drop summaries");
    const summaries = log.lines.filter((l) => l.event === "connections_dropped");
    const evicted = summed();
    // 64 served x 8 = 512 TCP; 448 pending at most, 256 per address: the rest of the flood was closed, oldest first.
    expect(evicted).toBeGreaterThanOrEqual(n - 256 - 1);
    // At most one summary per 200 ms interval (however long a loaded machine takes), far fewer than the sockets.
    expect(summaries.length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 200) + 1);
    expect(summaries.length).toBeLessThan(evicted / 10);
    expect(log.lines.filter((l) => l.event === "handshake_refused")).toHaveLength(0);
    expect(srv.metrics.limits.get({ limit: "pending_evicted" })).toBe(evicted);
  });

  it("closes a connection that sends no byte within firstByteTimeoutMs, long before the handshake timeout", async () => {
    const log: CapturedLogger = captureLogger();
    const srv = await createInboundServer({
      credentials: pki.files,
      upstream: upstream.url,
      listen: { host: "127.0.0.1", port: 0 },
      logger: log,
      reload: { watch: false },
      limits: { handshakeTimeoutMs: 60_000, firstByteTimeoutMs: 300 },
      dropSummaryIntervalMs: 100,
    });
    servers.push(srv);
    const silent = await Promise.all(Array.from({ length: 5 }, () => openSilent(srv.address.port)));
    await Promise.all(silent.map((s) => new Promise<void>((r) => (s.destroyed ? r() : s.once("close", () => r())))));
    await waitFor(() => log.lines.some((l) => l.event === "connections_dropped"), 5000, "the drop summary");
    const counts = log.lines.filter((l) => l.event === "connections_dropped").reduce((a, l) => a + Number((l.counts as Record<string, number>).first_byte_timeout ?? 0), 0);
    expect(counts).toBe(5);
    expect(srv.metrics.limits.get({ limit: "first_byte_timeout" })).toBe(5);
  });
});
