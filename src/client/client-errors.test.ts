import { describe, expect, it } from "vitest";
import { MtlsError } from "../errors/index.js";
import { d1, mt } from "../policy/index.js";
import { clientCertRefusal, receivedAlert, toMtlsError } from "./client-errors.js";

const err = (code: string, message = code): Error => Object.assign(new Error(message), { code });
const ctx = { target: "api.d1-stg.thalescloud.io:443", program: d1 };

describe("errors get a code naming the layer that failed", () => {
  it.each([
    ["ENOTFOUND", "DNS_NOT_FOUND"],
    ["ECONNREFUSED", "TCP_CONNECTION_REFUSED"],
    ["UND_ERR_CONNECT_TIMEOUT", "TCP_CONNECT_TIMEOUT"],
    ["ECONNRESET", "TCP_CONNECTION_RESET"],
    ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "TLS_SERVER_NOT_TRUSTED"],
    ["SELF_SIGNED_CERT_IN_CHAIN", "TLS_SERVER_NOT_TRUSTED"],
    ["CERT_HAS_EXPIRED", "TLS_SERVER_NOT_TRUSTED"],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "TLS_HOSTNAME_MISMATCH"],
    ["ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION", "TLS_PROTOCOL_VERSION"],
    ["ERR_SSL_UNSUPPORTED_PROTOCOL", "TLS_PROTOCOL_VERSION"],
    ["ERR_SSL_WRONG_VERSION_NUMBER", "TLS_NOT_TLS"],
    ["ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "TLS_CLIENT_CERT_UNKNOWN_CA"],
    ["ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED", "TLS_CLIENT_CERT_EXPIRED"],
    // OpenSSL 3.2+ (Node 22+) spells the SSLv3 alerts "ssl/tls alert ...".
    ["ERR_SSL_SSL/TLS_ALERT_CERTIFICATE_EXPIRED", "TLS_CLIENT_CERT_EXPIRED"],
    ["ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE", "TLS_CLIENT_CERT_REFUSED"],
    ["ERR_SSL_TLSV1_ALERT_ACCESS_DENIED", "TLS_CLIENT_CERT_WRONG_ENVIRONMENT"],
    ["ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", "TLS_CLIENT_CERT_REFUSED"],
    ["ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE", "TLS_CLIENT_CERT_REFUSED"],
    ["UND_ERR_HEADERS_TIMEOUT", "HTTP_HEADERS_TIMEOUT"],
    ["UND_ERR_BODY_TIMEOUT", "HTTP_BODY_TIMEOUT"],
    ["UND_ERR_SOCKET", "HTTP_CONNECTION_CLOSED"],
  ])("%s -> %s", (low, code) => {
    const e = toMtlsError(err(low), ctx);
    expect(e?.code).toBe(code);
    expect(e?.message).toContain("api.d1-stg.thalescloud.io:443");
    expect((e?.cause as Error).message).toBe(low);
  });

  it("MT: unknown_ca means the certificate is not endorsed", () => {
    expect(toMtlsError(err("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA"), { target: "t", program: mt })?.code).toBe("TLS_CLIENT_CERT_NOT_ENDORSED");
    expect(clientCertRefusal("unknown_ca", mt)?.code).toBe("TLS_CLIENT_CERT_NOT_ENDORSED");
  });

  it("reads alerts from OpenSSL's text too", () => {
    expect(receivedAlert({ message: "error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca" })).toBe("unknown_ca");
    expect(receivedAlert({ code: "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE" })).toBe("bad_certificate");
  });

  it("finds the TLS alert under undici's SocketError", () => {
    const socketError = Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET", cause: err("ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED") });
    expect(toMtlsError(socketError, ctx)?.code).toBe("TLS_CLIENT_CERT_EXPIRED");
  });

  it("keeps MtlsErrors and leaves the caller's aborts alone", () => {
    const m = new MtlsError("DNS_FAILED", "x");
    expect(toMtlsError(m, ctx)).toBe(m);
    expect(toMtlsError(Object.assign(new Error("aborted"), { name: "AbortError" }), ctx)).toBeUndefined();
    expect(toMtlsError(err("UND_ERR_ABORTED"), ctx)).toBeUndefined();
  });
});
