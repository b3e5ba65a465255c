/**
 * DNS: the emulator's DNS stand-in moves the Thales host to another loopback address with a
 * TTL of 1 s; requests follow within TTL plus a bounded margin, none is lost, and keep-alive
 * connections to the old address are closed within the keep-alive bound.
 */
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json, startPlainServer, startWorld, type PlainServer, type World } from "./outbound-fixtures.js";

const TTL_MS = 1000;
/** Time after the TTL within which every new request must reach the new address. */
const MARGIN_MS = 500;
const KEEP_ALIVE_MS = 400;

describe("a host moved in DNS with TTL 1 s", () => {
  let world: World;
  let oldServer: PlainServer;
  let newServer: PlainServer;

  beforeAll(async () => {
    world = await startWorld("mt", { ttlSeconds: 1 });
    const caPem = world.client.certPem;
    oldServer = await startPlainServer({ server: world.serverLeaf, clientCaPem: caPem, address: "127.0.0.1" });
    newServer = await startPlainServer({ server: world.serverLeaf, clientCaPem: caPem, address: "127.0.0.2", port: oldServer.port });
  });
  afterAll(async () => {
    await oldServer.close();
    await newServer.close();
    await world.close();
  });

  it("is followed within TTL + margin by every stream of requests, none lost, and the old connections are closed", async () => {
    const dispatcher = world.dispatcher({ pool: { keepAliveTimeoutMs: KEEP_ALIVE_MS, keepAliveMaxTimeoutMs: KEEP_ALIVE_MS } });
    const url = `https://${world.host}:${oldServer.port}/1/sandbox-v2/echo`;
    const results: Array<{ start: number; end: number; server: string; status: number }> = [];
    const failures: unknown[] = [];
    let movedAt = Number.POSITIVE_INFINITY;
    const started = Date.now();
    const stream = async (method: "GET" | "POST"): Promise<void> => {
      while (Date.now() - started < 3200) {
        const start = Date.now();
        try {
          const res = await request(url, { dispatcher, method, ...(method === "POST" ? { body: "{}" } : {}) });
          const body = await json<{ server: string }>(res.body);
          results.push({ start, end: Date.now(), server: body.server, status: res.statusCode });
        } catch (e) {
          failures.push(e);
        }
        await new Promise((r) => setTimeout(r, 15));
      }
    };
    const mover = (async () => {
      await new Promise((r) => setTimeout(r, 1000));
      movedAt = Date.now();
      world.dns.set(world.host, "127.0.0.2", 1);
    })();
    await Promise.all([stream("GET"), stream("GET"), stream("POST"), mover]);

    expect(failures).toEqual([]);
    expect(results.every((r) => r.status === 200)).toBe(true);
    const before = results.filter((r) => r.end < movedAt);
    expect(before.length).toBeGreaterThan(10);
    expect(before.every((r) => r.server === "127.0.0.1")).toBe(true);
    const deadline = movedAt + TTL_MS + MARGIN_MS;
    const late = results.filter((r) => r.start > deadline);
    expect(late.length).toBeGreaterThan(10);
    expect(late.filter((r) => r.server !== "127.0.0.2")).toEqual([]);
    // Nothing reached the old address after the deadline.
    expect(oldServer.requests.filter((r) => r.at > deadline)).toEqual([]);
    // The keep-alive connections to the old address were not kept: closed within the bound.
    await new Promise((r) => setTimeout(r, KEEP_ALIVE_MS + 300));
    expect(await oldServer.openConnections()).toBe(0);
    // Asked again about once per TTL, not at every request.
    expect(dispatcher.stats.dnsLookups).toBeLessThan(results.length / 5);
  });
});
