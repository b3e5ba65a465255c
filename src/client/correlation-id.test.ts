import { Agent, request } from "undici";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { isMtlsError } from "../errors/index.js";
import { d1, mt } from "../policy/index.js";
import { assertCorrelationId, correlationIdInterceptor, correlationIdPattern, newCorrelationId } from "./correlation-id.js";

describe("x-correlation-id", () => {
  it("follows the D1 rule, for MT too (which documents none)", () => {
    expect(correlationIdPattern(d1)).toBe(d1.auth.correlationIdPattern);
    expect(String(correlationIdPattern(mt))).toBe(String(/^[A-Za-z0-9_-]{1,64}$/));
    for (let i = 0; i < 50; i++) expect(newCorrelationId()).toMatch(correlationIdPattern(d1));
  });

  it("is a random version 4 UUID, new at every call, every random bit varying", () => {
    const first = newCorrelationId();
    // 600 ids: more than the 256 one draw of random bytes gives, so the refill is used too.
    const ids = [first, ...Array.from({ length: 599 }, () => newCorrelationId())];
    expect(first).toBe(ids[0]);
    expect(new Set(ids).size).toBe(ids.length);
    const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    for (const id of ids) expect(id).toMatch(uuidV4);
    // Every one of the 122 random bits is seen as 0 and as 1 (a stuck digit or a reused draw would not be).
    const bits = (id: string) => BigInt(`0x${id.replace(/-/g, "")}`);
    const fixed = (0xfn << 76n) | (0x3n << 62n);
    let ones = 0n;
    let zeros = 0n;
    for (const id of ids) {
      ones |= bits(id);
      zeros |= ~bits(id) & ((1n << 128n) - 1n);
    }
    expect((ones & zeros) | fixed).toBe((1n << 128n) - 1n);
  });

  it("accepts 1 to 64 letters, digits, '-' and '_' and refuses anything else", () => {
    expect(assertCorrelationId("a")).toBe("a");
    expect(assertCorrelationId("A-b_9".repeat(12) + "abcd")).toHaveLength(64);
    for (const bad of ["", "x".repeat(65), "a b", "a/b", "é", "a\nb"]) {
      expect(() => assertCorrelationId(bad)).toThrow(expect.objectContaining({ code: "HTTP_CORRELATION_ID_INVALID" }));
    }
  });

  it("is added to each request, or passed through, or refused before sending", async () => {
    const seen: Array<string | undefined> = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers["x-correlation-id"] as string | undefined);
      res.end("ok");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const agent = new Agent();
    const dispatcher = agent.compose(correlationIdInterceptor({ generate: () => "generated-1" }));
    try {
      await (await request(url, { dispatcher })).body.dump();
      await (await request(url, { dispatcher, headers: { "X-Correlation-ID": "given_2" } })).body.dump();
      const e = await request(url, { dispatcher, headers: { "x-correlation-id": "no spaces allowed" } }).catch((err: unknown) => err);
      expect(isMtlsError(e, "HTTP_CORRELATION_ID_INVALID")).toBe(true);
      expect(seen).toEqual(["generated-1", "given_2"]);
    } finally {
      await agent.close();
      server.close();
    }
  });
});
