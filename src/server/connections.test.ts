import { describe, expect, it } from "vitest";
import { clientErrorAnswer } from "./connections.js";

const accepted = { accepted: true, writable: true, responding: false };

describe("client errors of the HTTP server", () => {
  it("closes a connection whose handshake never finished: nothing to answer on it", () => {
    expect(clientErrorAnswer("HPE_HEADER_OVERFLOW", { ...accepted, accepted: false })).toEqual({ action: "destroy" });
  });

  it("closes without answering when the peer is gone", () => {
    expect(clientErrorAnswer("ECONNRESET", accepted)).toEqual({ action: "destroy" });
    expect(clientErrorAnswer("EPIPE", accepted)).toEqual({ action: "destroy" });
    expect(clientErrorAnswer("HPE_INVALID_METHOD", { ...accepted, writable: false })).toEqual({ action: "destroy" });
  });

  it("reports a TLS error after the handshake (a renegotiation attempt)", () => {
    expect(clientErrorAnswer("ERR_SSL_NO_RENEGOTIATION", accepted)).toEqual({ action: "tls_error" });
  });

  it("answers 431 for a header too large, 408 for a head or body too slow, 400 otherwise", () => {
    expect(clientErrorAnswer("HPE_HEADER_OVERFLOW", accepted)).toEqual({ action: "answer", status: 431, limit: "header_size" });
    expect(clientErrorAnswer("ERR_HTTP_REQUEST_TIMEOUT", accepted)).toEqual({ action: "answer", status: 408, limit: "header_timeout" });
    expect(clientErrorAnswer("ERR_HTTP_REQUEST_TIMEOUT", { ...accepted, responding: true })).toEqual({ action: "answer", status: 408, limit: "body_timeout" });
    expect(clientErrorAnswer("HPE_INVALID_METHOD", accepted)).toEqual({ action: "answer", status: 400, limit: undefined });
    expect(clientErrorAnswer("", accepted)).toEqual({ action: "answer", status: 400, limit: undefined });
  });
});
