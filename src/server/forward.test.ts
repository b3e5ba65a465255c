import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { classifyUpstreamError, correlationIdFor, downstreamResponseHeaders, failureStatus, upstreamRequestHeaders } from "./forward.js";
import type { ClientIdentity } from "./identity.js";

const identity: ClientIdentity = {
  subject: "CN=thales",
  issuer: "CN=Thales Client CA",
  subjectAttributes: { CN: ["thales"] },
  fingerprint256: "AA:BB",
  serialNumber: "01",
  notAfter: new Date(0),
  headers: ["x-client-cert-subject", "CN=thales", "client-cert", ":AAAA:"],
};

function req(raw: string[]): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) headers[raw[i]!.toLowerCase()] = raw[i + 1]!;
  return { rawHeaders: raw, headers, socket: { remoteAddress: "203.0.113.7" } } as unknown as IncomingMessage;
}

function asMap(flat: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += 2) m.set(flat[i]!.toLowerCase(), [...(m.get(flat[i]!.toLowerCase()) ?? []), flat[i + 1]!]);
  return m;
}

describe("headers sent upstream", () => {
  it("strips spoofed identity, forwarding and hop-by-hop headers, then adds the verified ones", () => {
    const out = asMap(
      upstreamRequestHeaders(
        req([
          "Host", "notify.example.com",
          "Content-Type", "application/json",
          "X-Client-Cert-Subject", "CN=spoofed",
          "Client-Cert", ":Zm9v:",
          "X-Client-Cert", "spoofed",
          "X-Client-Cert-Anything", "x",
          "X-Forwarded-Client-Cert", "By=x",
          "X-Forwarded-For", "1.2.3.4",
          "X-Forwarded-Proto", "http",
          "Forwarded", "for=1.2.3.4",
          "Connection", "keep-alive, X-Secret-Hop",
          "X-Secret-Hop", "1",
          "Keep-Alive", "timeout=5",
          "Transfer-Encoding", "chunked",
          "Expect", "100-continue",
          "Authorization", "APIKEY k",
          "X-Correlation-Id", "should-be-replaced-by-argument",
        ]),
        identity,
        "corr-1",
        true,
      ),
    );
    expect(out.get("x-client-cert-subject")).toEqual(["CN=thales"]);
    expect(out.get("client-cert")).toEqual([":AAAA:"]);
    for (const gone of ["x-client-cert", "x-client-cert-anything", "x-forwarded-client-cert", "forwarded", "connection", "x-secret-hop", "keep-alive", "transfer-encoding", "expect", "host"]) expect(out.has(gone)).toBe(false);
    expect(out.get("x-forwarded-for")).toEqual(["203.0.113.7"]);
    expect(out.get("x-forwarded-proto")).toEqual(["https"]);
    expect(out.get("x-forwarded-host")).toEqual(["notify.example.com"]);
    expect(out.get("x-correlation-id")).toEqual(["corr-1"]);
    expect(out.get("authorization")).toEqual(["APIKEY k"]);
    expect(out.get("content-type")).toEqual(["application/json"]);
  });

  it("puts the peer address given (read at the accept) in X-Forwarded-For rather than asking the socket", () => {
    expect(asMap(upstreamRequestHeaders(req(["X-Forwarded-For", "1.2.3.4"]), identity, "c", false, "198.51.100.9")).get("x-forwarded-for")).toEqual(["198.51.100.9"]);
    expect(asMap(upstreamRequestHeaders(req([]), identity, "c", false, undefined)).get("x-forwarded-for")).toEqual(["203.0.113.7"]);
  });

  it("drops Content-Length when there is no body", () => {
    expect(asMap(upstreamRequestHeaders(req(["Content-Length", "0"]), identity, "c", false)).has("content-length")).toBe(false);
  });
});

describe("correlation id", () => {
  it("passes a valid one through and generates one otherwise", () => {
    expect(correlationIdFor("abc_123-X")).toEqual({ id: "abc_123-X", generated: false });
    const g = correlationIdFor(undefined);
    expect(g.generated).toBe(true);
    expect(g.id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    const bad = correlationIdFor("has spaces and ; semicolons");
    expect(bad.generated).toBe(true);
    expect(bad.rejected).toBe(true);
    expect(correlationIdFor("x".repeat(65)).generated).toBe(true);
  });
});

describe("response headers and failures", () => {
  it("drops hop-by-hop response headers and echoes the correlation id", () => {
    const out = asMap(downstreamResponseHeaders({ "content-type": "text/plain", connection: "close, x-hop", "x-hop": "1", "transfer-encoding": "chunked", "set-cookie": ["a=1", "b=2"] }, "corr"));
    expect(out.has("connection")).toBe(false);
    expect(out.has("x-hop")).toBe(false);
    expect(out.has("transfer-encoding")).toBe(false);
    expect(out.get("set-cookie")).toEqual(["a=1", "b=2"]);
    expect(out.get("x-correlation-id")).toEqual(["corr"]);
  });

  it("maps undici errors to failures, and failures to statuses", () => {
    const e = (code: string) => Object.assign(new Error(code), { code });
    expect(classifyUpstreamError(e("ECONNREFUSED"))).toBe("unreachable");
    expect(classifyUpstreamError(e("UND_ERR_HEADERS_TIMEOUT"))).toBe("timeout");
    expect(classifyUpstreamError(e("UND_ERR_CONNECT_TIMEOUT"))).toBe("timeout");
    expect(classifyUpstreamError(e("UND_ERR_SOCKET"))).toBe("reset");
    expect(classifyUpstreamError(Object.assign(new Error("x"), { cause: { code: "ECONNREFUSED" } }))).toBe("unreachable");
    expect(classifyUpstreamError(e("UND_ERR_INVALID_ARG"))).toBeUndefined();
    expect(failureStatus("unreachable", "retryable")).toBe(503);
    expect(failureStatus("timeout", "retryable")).toBe(503);
    expect(failureStatus("unreachable", "gateway")).toBe(502);
    expect(failureStatus("reset", "gateway")).toBe(502);
    expect(failureStatus("timeout", "gateway")).toBe(504);
  });
});
