import { describe, expect, it } from "vitest";
import { formatRetryAfter, parseRetryAfter } from "./retry-after.js";

describe("Retry-After: one parser, one writer", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  it("reads delay-seconds and HTTP dates", () => {
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    expect(parseRetryAfter(["3", "9"], now)).toBe(3000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:59:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("Thursday, 01-Jan-26 00:00:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfter("Thu Jan  1 00:00:20 2026", now)).toBe(20_000);
  });
  it("is undefined when absent or unreadable", () => {
    for (const v of [undefined, "", "  ", "soon", "-5", "1.5", "2030-01-01"]) expect(parseRetryAfter(v, now), String(v)).toBeUndefined();
    expect(parseRetryAfter([], now)).toBeUndefined();
  });
  it("writes whole seconds, rounded up", () => {
    expect(formatRetryAfter(1000)).toBe("1");
    expect(formatRetryAfter(1)).toBe("1");
    expect(formatRetryAfter(0)).toBe("0");
    expect(formatRetryAfter(-5)).toBe("0");
    expect(parseRetryAfter(formatRetryAfter(2500), now)).toBe(3000);
  });
});
