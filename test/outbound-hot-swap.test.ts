/**
 * Certificate hot swap: a renewed client certificate installed while a stream of requests
 * runs is taken by new requests; the requests in flight on the old pool finish; none is lost.
 */
import { promises as fs } from "node:fs";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json, startPlainServer, startWorld, type PlainServer, type World } from "./outbound-fixtures.js";

describe("hot swap of the client certificate under a stream of requests", () => {
  let world: World;
  let server: PlainServer;

  beforeAll(async () => {
    world = await startWorld("d1");
    // A slow endpoint keeps requests in flight across the swap.
    server = await startPlainServer({ server: world.serverLeaf, clientCaPem: world.businessPki!.caBundlePem, delayMs: 150 });
  });
  afterAll(async () => {
    await server.close();
    await world.close();
  });

  it("switches new requests to the renewed certificate and loses none", async () => {
    const dispatcher = world.dispatcher({ oauth: undefined });
    const url = `https://${world.host}:${server.port}/d1/v1/echo`;
    const oldFp = world.client.info.sha256Fingerprint;
    const renewed = await world.businessPki!.issue({ cn: world.client.info.commonName! });
    const newFp = renewed.info.sha256Fingerprint;
    const results: Array<{ start: number; end: number; fingerprint: string }> = [];
    const failures: unknown[] = [];
    let swappedAt = Number.POSITIVE_INFINITY;
    const started = Date.now();
    const stream = async (method: "GET" | "POST"): Promise<void> => {
      while (Date.now() - started < 2000) {
        const start = Date.now();
        try {
          const res = await request(url, { dispatcher, method, ...(method === "POST" ? { body: "{}" } : {}) });
          const body = await json<{ fingerprint: string }>(res.body);
          results.push({ start, end: Date.now(), fingerprint: body.fingerprint });
        } catch (e) {
          failures.push(e);
        }
      }
    };
    const swapper = (async () => {
      await new Promise((r) => setTimeout(r, 700));
      await world.writeClient(renewed);
      const r = await dispatcher.reload();
      swappedAt = Date.now();
      expect(r.ok && r.changed).toBe(true);
      // Requests were in flight on the old pool at that moment.
      expect(dispatcher.stats.draining).toBe(1);
    })();
    await Promise.all([stream("GET"), stream("POST"), stream("GET"), stream("POST"), swapper]);

    expect(failures).toEqual([]);
    const colon = (hex: string) => hex.toUpperCase();
    const before = results.filter((r) => r.end < swappedAt);
    const after = results.filter((r) => r.start > swappedAt);
    expect(before.length).toBeGreaterThan(8);
    expect(after.length).toBeGreaterThan(8);
    expect(before.every((r) => colon(r.fingerprint) === oldFp)).toBe(true);
    expect(after.every((r) => colon(r.fingerprint) === newFp)).toBe(true);
    // Requests that started before the swap and ended after it finished on the old pool.
    expect(results.filter((r) => r.start < swappedAt && r.end > swappedAt).length).toBeGreaterThan(0);
    expect(dispatcher.stats.swaps).toBe(1);
    expect(dispatcher.stats.draining).toBe(0);
    expect(dispatcher.stats.credentialVersion).toBe(2);
  });

  it("replaces the pool every maxConnectionAgeMs: new requests get new connections, requests in flight finish, none is lost", async () => {
    const dispatcher = world.dispatcher({ oauth: undefined, pool: { maxConnectionAgeMs: 400 } });
    const url = `https://${world.host}:${server.port}/d1/v1/echo`;
    const failures: unknown[] = [];
    let done = 0;
    const started = Date.now();
    const stream = async (method: "GET" | "POST"): Promise<void> => {
      while (Date.now() - started < 1500) {
        try {
          const res = await request(url, { dispatcher, method, ...(method === "POST" ? { body: "{}" } : {}) });
          expect(res.statusCode).toBe(200);
          await res.body.dump();
          done += 1;
        } catch (e) {
          failures.push(e);
        }
      }
    };
    await Promise.all([stream("GET"), stream("POST")]);
    expect(failures).toEqual([]);
    expect(done).toBeGreaterThan(4);
    // Two connections at first, then new ones after each replacement of the pool.
    expect(dispatcher.stats.connections).toBeGreaterThanOrEqual(4);
    expect(dispatcher.stats.swaps).toBe(0);
    // The replaced pools close once their requests are done.
    for (let i = 0; i < 40 && dispatcher.stats.draining > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(dispatcher.stats.draining).toBe(0);
    await dispatcher.close();
  });

  it("keeps the old certificate when the new files are broken (reload refused, no swap)", async () => {
    const dispatcher = world.dispatcher({ oauth: undefined });
    const other = await world.businessPki!.issue({ cn: world.client.info.commonName! });
    // A key that does not match the certificate.
    await fs.writeFile(world.files.certFile, other.chainPem);
    const r = await dispatcher.reload();
    expect(r.ok).toBe(false);
    const res = await request(`https://${world.host}:${server.port}/d1/v1/echo`, { dispatcher });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(dispatcher.stats.swaps).toBe(0);
  });
});
