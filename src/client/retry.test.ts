import http from "node:http";
import type { AddressInfo } from "node:net";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRetryAfter, retryInterceptor, type RetryInfo } from "./retry.js";

/** A server answering from a script of statuses per path; counts requests per path. */
function scriptedServer(): Promise<{ url: string; hits: Map<string, number>; script: Map<string, Array<{ status: number; headers?: Record<string, string> }>>; close(): Promise<void> }> {
  const hits = new Map<string, number>();
  const script = new Map<string, Array<{ status: number; headers?: Record<string, string> }>>();
  const server = http.createServer((req, res) => {
    const path = req.url ?? "/";
    hits.set(path, (hits.get(path) ?? 0) + 1);
    req.resume();
    req.on("end", () => {
      const next = script.get(path)?.shift() ?? { status: 200 };
      res.writeHead(next.status, { "content-type": "text/plain", ...next.headers });
      res.end(`status ${next.status}`);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        hits,
        script,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

describe("parseRetryAfter", () => {
  it("reads delay-seconds and HTTP dates", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter(" 0 ")).toBe(0);
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:02 GMT", now)).toBe(2000);
    expect(parseRetryAfter("Tue, 31 Dec 2024 23:59:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe("retryInterceptor", () => {
  let server: Awaited<ReturnType<typeof scriptedServer>>;
  let agent: Agent;
  const retries: RetryInfo[] = [];
  let dispatcher: ReturnType<Agent["compose"]>;

  beforeAll(async () => {
    server = await scriptedServer();
    agent = new Agent();
    dispatcher = agent.compose(retryInterceptor({ minDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 2000, onRetry: (r) => retries.push(r) }));
  });
  afterAll(async () => {
    await agent.close();
    await server.close();
  });

  it("retries a GET on 503 and 429, honouring Retry-After", async () => {
    server.script.set("/get", [{ status: 503, headers: { "retry-after": "1" } }, { status: 429 }]);
    retries.length = 0;
    const started = Date.now();
    const res = await request(`${server.url}/get`, { dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe("status 200");
    expect(server.hits.get("/get")).toBe(3);
    expect(retries.map((r) => [r.reason, r.retry])).toEqual([
      ["503", 1],
      ["429", 2],
    ]);
    expect(retries[0]!.delayMs).toBe(1000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
  });

  it("never retries a POST", async () => {
    server.script.set("/post", [{ status: 503 }]);
    const res = await request(`${server.url}/post`, { dispatcher, method: "POST", body: "{}" });
    expect(res.statusCode).toBe(503);
    await res.body.dump();
    expect(server.hits.get("/post")).toBe(1);
  });

  it("passes on the last 503 once the retries are spent", async () => {
    server.script.set("/busy", [{ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }]);
    const res = await request(`${server.url}/busy`, { dispatcher });
    expect(res.statusCode).toBe(503);
    expect(await res.body.text()).toBe("status 503");
    expect(server.hits.get("/busy")).toBe(3);
  });

  it("passes on a 503 asking to wait longer than the limit, without waiting", async () => {
    server.script.set("/later", [{ status: 503, headers: { "retry-after": "3600" } }]);
    const res = await request(`${server.url}/later`, { dispatcher });
    expect(res.statusCode).toBe(503);
    await res.body.dump();
    expect(server.hits.get("/later")).toBe(1);
  });

  it("does not retry other error statuses (500, 400, 401, 404)", async () => {
    for (const status of [500, 400, 401, 404]) {
      server.script.set(`/s${status}`, [{ status }]);
      const res = await request(`${server.url}/s${status}`, { dispatcher, method: "PUT", body: "x" });
      expect(res.statusCode).toBe(status);
      await res.body.dump();
      expect(server.hits.get(`/s${status}`)).toBe(1);
    }
  });

  it("retries a GET on a refused connection, then gives up with the error", async () => {
    const closed = await scriptedServer();
    const url = closed.url;
    await closed.close();
    retries.length = 0;
    const e = (await request(`${url}/x`, { dispatcher }).catch((err: unknown) => err)) as { code?: string };
    expect(e.code).toBe("ECONNREFUSED");
    expect(retries.map((r) => r.reason)).toEqual(["ECONNREFUSED", "ECONNREFUSED"]);
  });

  it("does not retry a request whose body is a stream", async () => {
    server.script.set("/stream", [{ status: 503 }]);
    const { Readable } = await import("node:stream");
    const res = await request(`${server.url}/stream`, { dispatcher, method: "PUT", body: Readable.from(["a", "b"]) });
    expect(res.statusCode).toBe(503);
    await res.body.dump();
    expect(server.hits.get("/stream")).toBe(1);
  });

  it("an abort while waiting for the next attempt ends the request at once", async () => {
    server.script.set("/abort", [{ status: 503, headers: { "retry-after": "2" } }]);
    const controller = new AbortController();
    const p = request(`${server.url}/abort`, { dispatcher, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const e = await p.catch((err: unknown) => err as Error);
    expect(e).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(server.hits.get("/abort")).toBe(1);
  });
});
