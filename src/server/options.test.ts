import { describe, expect, it } from "vitest";
import { isMtlsError } from "../errors/index.js";
import { DEFAULT_LIMITS, parseDurationMs, parseListenAddress, parseUpstream, resolveLimits } from "./options.js";

describe("parseListenAddress", () => {
  it.each([
    ["127.0.0.1:8443", { host: "127.0.0.1", port: 8443 }],
    ["0.0.0.0:443", { host: "0.0.0.0", port: 443 }],
    [":9000", { port: 9000 }],
    ["9000", { port: 9000 }],
    ["*:8443", { port: 8443 }],
    ["[::1]:8443", { host: "::1", port: 8443 }],
    ["localhost", { host: "localhost", port: 8443 }],
    ["notify.example.com:0", { host: "notify.example.com", port: 0 }],
  ])("%s", (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });

  it.each(["", "host:port", "1.2.3.4:70000", "[nope]:1", "a b:1"])("refuses %j with LISTEN_ADDRESS_INVALID", (text) => {
    expect(() => parseListenAddress(text)).toThrow(expect.objectContaining({ code: "LISTEN_ADDRESS_INVALID" }));
  });
});

describe("parseUpstream", () => {
  it("takes the origin and a path prefix", () => {
    expect(parseUpstream("http://127.0.0.1:8080")).toEqual({ origin: "http://127.0.0.1:8080", pathPrefix: "" });
    expect(parseUpstream("http://app:8080/thales/")).toEqual({ origin: "http://app:8080", pathPrefix: "/thales" });
  });

  it.each(["ftp://x", "not a url", "http://u:p@x:1", "http://x:1/?q=1", "http://x:1/#f"])("refuses %j with UPSTREAM_INVALID", (u) => {
    try {
      parseUpstream(u);
      expect.unreachable();
    } catch (e) {
      expect(isMtlsError(e, "UPSTREAM_INVALID")).toBe(true);
      expect((e as Error).message).not.toContain(":p@");
    }
  });
});

describe("limits and durations", () => {
  it("fills in defaults and refuses nonsense", () => {
    expect(resolveLimits({ maxConnections: 3 })).toEqual({ ...DEFAULT_LIMITS, maxConnections: 3 });
    expect(() => resolveLimits({ maxConnections: -1 })).toThrow(expect.objectContaining({ code: "USAGE" }));
    expect(() => resolveLimits({ nope: 1 } as never)).toThrow(expect.objectContaining({ code: "USAGE" }));
    expect(resolveLimits({ headersTimeoutMs: 60_000 }).requestTimeoutMs).toBe(60_000);
  });

  it("parses durations", () => {
    expect(parseDurationMs("500ms")).toBe(500);
    expect(parseDurationMs("30")).toBe(30_000);
    expect(parseDurationMs("10m")).toBe(600_000);
    expect(parseDurationMs("0")).toBe(0);
    expect(() => parseDurationMs("soon")).toThrow(expect.objectContaining({ code: "USAGE" }));
  });
});
