/**
 * Scenario 5: the emulator's DNS stand-in moves the Thales host to another loopback address
 * (TTL 1 s) while requests stream through the dispatcher. The emulator's mTLS endpoint listens
 * on both 127.0.0.1 and 127.0.0.2 (same port, same certificate and trust). Which address
 * served each request is read from undici's diagnostics channel (the socket the request went
 * out on). Expected: no request fails, and once the TTL has passed (plus a margin for the
 * requests already on their way) every request goes to the new address, and no new connection
 * is made to the old one.
 */
import diagnostics from "node:diagnostics_channel";
import type { Socket } from "node:net";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, type ApiServer, type HandshakeLogEntry } from "../../src/emulator/api-server.js";
import { startWorld, type World } from "../outbound-fixtures.js";
import { Recovery, reportLoad, sleep, startLoad } from "./harness.js";

const TTL_S = 1;
/** After the TTL, time for requests already resolved to go out. Not a speed target: a bound. */
const MARGIN_MS = 2000;
const MAX_REQUESTS = 3000;

let world: World;
let moved: ApiServer;
const movedHandshakes: HandshakeLogEntry[] = [];
/** correlation id -> address the request was sent to. */
const sentTo = new Map<string, string>();
const onHeaders = (message: unknown) => {
  const { headers, socket } = message as { headers: string; socket: Socket };
  const id = /^x-correlation-id: *(\S+)/im.exec(headers)?.[1];
  if (id?.startsWith("scn5-") && socket.remoteAddress) sentTo.set(id, socket.remoteAddress);
};

beforeAll(async () => {
  world = await startWorld("mt", { ttlSeconds: TTL_S });
  // The same endpoint on the address the host moves to.
  moved = await startApiServer({
    program: world.program,
    environment: world.environment,
    host: "127.0.0.2",
    port: world.api.port,
    credential: { chainPem: world.serverLeaf.chainPem, keyPem: world.serverLeaf.keyPem },
    clientTrust: { kind: "pinned", certificatesPem: [world.client.certPem] },
    onHandshake: (e) => movedHandshakes.push(e),
  });
  diagnostics.subscribe("undici:client:sendHeaders", onHeaders);
});
afterAll(async () => {
  diagnostics.unsubscribe("undici:client:sendHeaders", onHeaders);
  await moved?.close();
  await world?.close();
});

interface Answer {
  status: number;
  id: string;
}

describe("scenario 5: the Thales host moves to another address in DNS (TTL 1 s)", () => {
  it("is followed after the TTL with no request failing", async () => {
    const dispatcher = world.dispatcher({ pool: { keepAliveTimeoutMs: 500, keepAliveMaxTimeoutMs: 500 } });
    const url = `${world.origin}${world.basePath}echo`;
    const recovery = new Recovery();
    let movedAt = Number.POSITIVE_INFINITY;
    const load = startLoad<Answer>({
      requests: MAX_REQUESTS,
      concurrency: 3,
      timeLimitMs: 30_000,
      paceMs: 15,
      send: async (i) => {
        const id = `scn5-${i}`;
        const post = i % 3 === 2;
        const res = await request(url, { dispatcher, method: post ? "POST" : "GET", headers: { "x-correlation-id": id, ...(post ? { "content-type": "application/json" } : {}) }, ...(post ? { body: "{}" } : {}) });
        await res.body.dump();
        return { status: res.statusCode, id };
      },
      check: (a) => (a.status === 200 ? undefined : `status ${a.status}`),
      recovery,
      recoveredWhen: (a) => sentTo.get(a.id) === "127.0.0.2",
    });

    await load.reached(60);
    movedAt = Date.now();
    recovery.fault(movedAt);
    world.dns.set(world.host, "127.0.0.2", TTL_S);
    // Past the TTL and the margin, then 100 requests more (each worker's next request starts after the deadline).
    const deadline = movedAt + TTL_S * 1000 + MARGIN_MS;
    while (Date.now() <= deadline) await sleep(20);
    await load.reached(load.ended + 100 + 3);
    load.stop();
    const result = await load.done;
    const records = result.records;

    const beforeMove = records.filter((r) => r.end < movedAt);
    const afterDeadline = records.filter((r) => r.start > deadline);
    const unknown = records.filter((r) => r.answer && !sentTo.has(r.answer.id));
    const stale = afterDeadline.filter((r) => sentTo.get(r.answer?.id ?? "") !== "127.0.0.2");
    const oldHandshakesAfterDeadline = world.handshakes.filter((h) => Date.parse(h.at) > deadline);

    await reportLoad("05-outbound-dns-moved", result, recovery, {
        ttlSeconds: TTL_S,
        toOld: records.filter((r) => sentTo.get(r.answer?.id ?? "") === "127.0.0.1").length,
        toNew: records.filter((r) => sentTo.get(r.answer?.id ?? "") === "127.0.0.2").length,
        toOldAfterTtlAndMargin: stale.length,
        newConnectionsToOldAfterTtlAndMargin: oldHandshakesAfterDeadline.length,
        connectionsToNew: movedHandshakes.length,
        dnsLookups: dispatcher.stats.dnsLookups,
        retries: dispatcher.stats.retries,
      });

    expect(result.firstFailures).toEqual([]);
    expect(result.failed + result.lost).toBe(0);
    expect(unknown.map((r) => r.i)).toEqual([]);
    expect(beforeMove.length).toBeGreaterThan(20);
    expect(beforeMove.every((r) => sentTo.get(r.answer!.id) === "127.0.0.1")).toBe(true);
    expect(afterDeadline.length).toBeGreaterThanOrEqual(100);
    expect(stale.map((r) => r.i)).toEqual([]);
    expect(oldHandshakesAfterDeadline).toEqual([]);
    expect(movedHandshakes.every((h) => h.result === "accepted")).toBe(true);
    expect(recovery.ms).toBeDefined();
    expect(recovery.ms!).toBeLessThan(10_000);
  });
});
