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
