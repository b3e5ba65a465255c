import { fetch, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isMtlsError } from "../src/errors/index.js";
import { json, startPlainServer, startWorld, type World } from "./outbound-fixtures.js";

describe("MT: the echo resource over mTLS, through fetch and request", () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld("mt");
  });
  afterAll(() => world.close());

  it("reaches the echo with the endorsed certificate, resolving the host through the profile's resolver", async () => {
    const dispatcher = world.dispatcher();
    const res = await request(`${world.origin}${world.basePath}echo`, { dispatcher });
    expect(res.statusCode).toBe(200);
    const body = await json<{ identity: { subject: string }; correlationId: string; path: string }>(res.body);
    expect(body.identity.subject).toBe("CN=MT-123456-SBX");
    expect(body.path).toBe("/1/sandbox-v2/echo");
    // A correlation id was generated, in the format of the rule.
    expect(body.correlationId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(res.headers["x-correlation-id"]).toBe(body.correlationId);
    expect(world.dns.queries().some((q) => q.name === world.host && q.type === "A")).toBe(true);

    const viaFetch = await fetch(`${world.origin}${world.basePath}echo`, { dispatcher, method: "POST", body: "{}", headers: { "content-type": "application/json", "x-correlation-id": "given_id-1" } });
    expect(viaFetch.status).toBe(200);
    const fetched = (await viaFetch.json()) as { correlationId: string; method: string };
    expect(fetched).toMatchObject({ correlationId: "given_id-1", method: "POST" });
    expect(world.handshakes.filter((h) => h.result === "accepted").length).toBeGreaterThanOrEqual(1);
    // Sequential requests: undici may open a second connection while the first is being
    // released, never more (the emulator offers no session resumption: each is a full handshake).
    expect(dispatcher.stats.fullHandshakes).toBeLessThanOrEqual(2);
  });

  it("a caller's abort ends a fetch with an AbortError, not a connection error", async () => {
    const server = await startPlainServer({ server: world.serverLeaf, clientCaPem: world.client.certPem, delayMs: 2000 });
    try {
      const dispatcher = world.dispatcher();
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      const started = Date.now();
      const e = await fetch(`https://${world.host}:${server.port}/slow`, { dispatcher, signal: controller.signal }).catch((err: unknown) => err as Error);
      expect((e as Error).name).toBe("AbortError");
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await server.close();
    }
  });

  it("refuses an invalid correlation id before sending anything (HTTP_CORRELATION_ID_INVALID)", async () => {
    const dispatcher = world.dispatcher();
    const e = await request(`${world.origin}${world.basePath}echo`, { dispatcher, headers: { "x-correlation-id": "has space" } }).catch((err: unknown) => err);
    expect(isMtlsError(e, "HTTP_CORRELATION_ID_INVALID")).toBe(true);
    expect(dispatcher.stats.connections).toBe(0);
  });
});

describe("D1: the echo resource with mTLS and an OAuth 2.0 token", () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld("d1");
  });
  afterAll(() => world.close());

  it("gets a token once (JWT bearer, ES256), then calls with Bearer and x-correlation-id", async () => {
    const dispatcher = world.dispatcher();
    const results = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const res = await request(`${world.origin}${world.basePath}echo`, { dispatcher, headers: { "x-correlation-id": `call-${i}` } });
        return { status: res.statusCode, body: await json<{ correlationId: string; token?: { sub: string } }>(res.body) };
      }),
    );
    for (const [i, r] of results.entries()) {
      expect(r.status).toBe(200);
      expect(r.body.correlationId).toBe(`call-${i}`);
      expect(r.body.token?.sub).toBe("123456");
    }
    // Eight concurrent calls, one token request.
    expect(dispatcher.oauth?.requests).toBe(1);
  });

  it("gets a new token and retries once when the server says 401", async () => {
    const dispatcher = world.dispatcher();
    const first = await request(`${world.origin}${world.basePath}echo`, { dispatcher });
    expect(first.statusCode).toBe(200);
    await first.body.dump();
    // The client holds a token the server does not know (as after a restart of the token
    // service): the call gets a 401, a new token, and goes through on the second try.
    const token = dispatcher.oauth!.cachedToken()!;
    const forged = Object.create(token) as typeof token;
    Object.defineProperty(forged, "value", { value: "unknown-token" });
    (dispatcher.oauth as unknown as { current: unknown }).current = forged;
    const res = await request(`${world.origin}${world.basePath}echo`, { dispatcher, method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(dispatcher.oauth?.requests).toBe(2);
  });
});
