/**
 * The pool keeps connections alive: 10,000 sequential requests cost no more TLS handshakes
 * than the pool size; a new connection resumes the TLS session of an earlier one.
 */
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPlainServer, startWorld, type World } from "./outbound-fixtures.js";

const POOL_SIZE = 4;

describe("keep-alive pool and TLS session resumption", () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld("mt");
  });
  afterAll(() => world.close());

  it("10,000 sequential requests use no more TLS handshakes than the pool size", async () => {
    const dispatcher = world.dispatcher({ pool: { connections: POOL_SIZE } });
    const url = `${world.origin}${world.basePath}echo`;
    const before = world.handshakes.length;
    for (let i = 0; i < 10_000; i++) {
      const res = await request(url, { dispatcher });
      if (res.statusCode !== 200) throw new Error(`request ${i}: status ${res.statusCode}`);
      await res.body.dump();
    }
    const handshakes = world.handshakes.length - before;
    expect(handshakes).toBeGreaterThanOrEqual(1);
    expect(handshakes).toBeLessThanOrEqual(POOL_SIZE);
    expect(dispatcher.stats.connections).toBe(handshakes);
    expect(dispatcher.stats.dnsLookups).toBeLessThanOrEqual(2);
  }, 120_000);

  it("a new connection resumes the TLS session instead of a full handshake", async () => {
    const server = await startPlainServer({ server: world.serverLeaf, clientCaPem: world.client.certPem });
    try {
      const dispatcher = world.dispatcher({ pool: { keepAliveTimeoutMs: 100, keepAliveMaxTimeoutMs: 100 } });
      const url = `https://${world.host}:${server.port}/`;
      for (let i = 0; i < 3; i++) {
        const res = await request(url, { dispatcher });
        await res.body.dump();
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(dispatcher.stats.connections).toBe(3);
      expect(dispatcher.stats.fullHandshakes).toBe(1);
      expect(dispatcher.stats.resumedHandshakes).toBe(2);
      expect(server.handshakes).toEqual({ full: 1, resumed: 2 });
    } finally {
      await server.close();
    }
  });
});
