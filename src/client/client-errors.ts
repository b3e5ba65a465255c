import { MtlsError, type ErrorCode } from "../errors/index.js";
import type { ProgramPolicy } from "../policy/index.js";

/** A lower-level error as Node, OpenSSL and undici raise them. */
type LowError = Error & { code?: string; reason?: string; cause?: unknown; tlsStage?: TlsFailureStage };

/**
 * How far a failed TLS handshake went, set on the error by {@link watchHandshakeStage}:
 * `hello`: the server refused our ClientHello (no key material was ever agreed, so it never
 * saw, let alone refused, a client certificate); `after-hello`: it answered the hello, so an
 * alert came later (a refused client certificate, for example).
 */
export type TlsFailureStage = "hello" | "after-hello";

/**
 * Watches a client TLS socket's handshake so that an error it ends with says how far it went
 * (`tlsStage` on the error, read by {@link toMtlsError}). Node emits `keylog` once the
 * session's keys are derived: in TLS 1.2 when the client answers the server's ServerHelloDone
 * (the flight that carries our certificate), in TLS 1.3 on the ServerHello. A handshake that
 * fails before that was refused at the hello: no cipher, group or version in common.
 */
export function watchHandshakeStage(socket: import("node:tls").TLSSocket): void {
  let keys = false;
  const onKeylog = () => {
    keys = true;
  };
  socket.on("keylog", onKeylog);
  socket.prependOnceListener("error", (e: LowError) => {
    if (e && typeof e === "object" && e.tlsStage === undefined) e.tlsStage = keys ? "after-hello" : "hello";
  });
  socket.once("secureConnect", () => socket.off("keylog", onKeylog));
  socket.once("close", () => socket.off("keylog", onKeylog));
}

/** OpenSSL verification results that mean "the server chain does not verify". */
const CHAIN_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
]);

/** The name of a TLS alert received from the server, from Node's code or OpenSSL's text. */
export function receivedAlert(e: { code?: string; message?: string }): string | undefined {
  const byCode = /^ERR_SSL_(?:SSLV3|SSL\/TLS|TLSV1|TLSV13)_ALERT_(.+)$/.exec(e.code ?? "")?.[1];
  if (byCode) return byCode.toLowerCase();
  const byText = /(?:sslv3|ssl\/tls|tlsv1|tlsv13) alert ([a-z _]+)/i.exec(e.message ?? "")?.[1];
  return byText?.trim().replace(/ /g, "_").toLowerCase();
}

/**
 * What a refusal alert from the server means for our client certificate. The alerts are
 * those a TLS server sends when it refuses a client certificate (the emulator sends the same
 * ones as OpenSSL): unknown_ca (D1: not issued by the environment's CA; MT: not endorsed),
 * certificate_expired, access_denied (the CN or environment), bad/unsupported certificate,
 * handshake_failure / certificate_required (no certificate it could take).
 */
export function clientCertRefusal(alert: string, program: ProgramPolicy | undefined): { code: ErrorCode; why: string } | undefined {
  switch (alert) {
    case "unknown_ca":
      if (program?.clientCertificate.issuance === "self-signed-endorsed") return { code: "TLS_CLIENT_CERT_NOT_ENDORSED", why: "the server does not know the client certificate (not endorsed for this environment)" };
      return { code: "TLS_CLIENT_CERT_UNKNOWN_CA", why: "the client certificate was not issued by a CA the server trusts for this environment" };
    case "certificate_expired":
      return { code: "TLS_CLIENT_CERT_EXPIRED", why: "the server says the client certificate (or a CA of its chain) has expired" };
    case "access_denied":
      return { code: "TLS_CLIENT_CERT_WRONG_ENVIRONMENT", why: "the server refused the client certificate's name or environment" };
    case "bad_certificate":
    case "unsupported_certificate":
    case "certificate_unknown":
    case "certificate_revoked":
      return { code: "TLS_CLIENT_CERT_REFUSED", why: `the server refused the client certificate (alert ${alert})` };
    case "certificate_required":
    case "handshake_failure":
      return { code: "TLS_CLIENT_CERT_REFUSED", why: `the server wanted a client certificate it could accept (alert ${alert})` };
    default:
      return undefined;
  }
}

/** Where an error happened, for messages. */
export interface ErrorContext {
  /** `host:port` as the user named it (never the IP address alone). */
  target: string;
  program?: ProgramPolicy;
}

function is(e: LowError, ...codes: string[]): boolean {
  return codes.includes(e.code ?? "");
}

/**
 * Turns whatever Node, OpenSSL or undici raised into an `MtlsError` whose code names the layer
 * that failed (DNS_, TCP_, TLS_, HTTP_). MtlsErrors pass through; aborts by the caller are not
 * errors of the connection and pass through unchanged (returns undefined).
 */
export function toMtlsError(err: unknown, ctx: ErrorContext): MtlsError | undefined {
  if (err instanceof MtlsError) return err;
  const e = (err ?? new Error(String(err))) as LowError;
  if (e.name === "AbortError" || is(e, "UND_ERR_ABORTED", "ABORT_ERR")) return undefined;
  // undici wraps some socket errors; the TLS alert or errno underneath says more.
  if (is(e, "UND_ERR_SOCKET") && e.cause instanceof Error && (e.cause as LowError).code) {
    const inner = toMtlsError(e.cause, ctx);
    if (inner && inner.code !== "TLS_CONNECT_FAILED") return inner;
  }
  const t = ctx.target;
  const opts = { subject: t, cause: e };
  const text = e.reason ?? e.message ?? "";
  if (is(e, "ENOTFOUND", "EAI_NONAME", "EAI_NODATA")) return new MtlsError("DNS_NOT_FOUND", `${t}: the host name does not resolve (${e.code})`, opts);
  if (is(e, "EAI_AGAIN", "EAI_FAIL", "ETIMEOUT", "ESERVFAIL", "EREFUSED", "ECONNREFUSED") && (e as { syscall?: string }).syscall?.startsWith("query")) {
    return new MtlsError("DNS_FAILED", `${t}: DNS failed (${e.code})`, opts);
  }
  if (is(e, "ECONNREFUSED")) return new MtlsError("TCP_CONNECTION_REFUSED", `${t}: connection refused (nothing listens on that port)`, opts);
  if (is(e, "UND_ERR_CONNECT_TIMEOUT", "ETIMEDOUT", "ERR_TLS_HANDSHAKE_TIMEOUT")) return new MtlsError("TCP_CONNECT_TIMEOUT", `${t}: no connection within the connect timeout (${e.code})`, opts);
  if (is(e, "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN")) return new MtlsError("TCP_CONNECT_TIMEOUT", `${t}: the network cannot reach the server (${e.code})`, opts);
  if (e.code && CHAIN_CODES.has(e.code)) {
    const why = e.code === "CERT_HAS_EXPIRED" ? "the server certificate has expired" : e.code === "CERT_NOT_YET_VALID" ? "the server certificate is not valid yet" : "the server certificate chain does not verify against the Thales server trust";
    return new MtlsError("TLS_SERVER_NOT_TRUSTED", `${t}: ${why} (${e.code})`, opts);
  }
  if (is(e, "ERR_TLS_CERT_ALTNAME_INVALID")) return new MtlsError("TLS_HOSTNAME_MISMATCH", `${t}: ${e.message}`, opts);
  if (is(e, "ERR_SSL_UNSUPPORTED_PROTOCOL", "ERR_SSL_NO_PROTOCOLS_AVAILABLE", "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION") || /unsupported protocol|alert protocol version|version too low/i.test(text)) {
    return new MtlsError("TLS_PROTOCOL_VERSION", `${t}: no TLS version in common: the server offers none of TLS 1.2 and 1.3`, opts);
  }
  if (is(e, "ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG", "ERR_SSL_HTTP_REQUEST")) return new MtlsError("TLS_NOT_TLS", `${t}: the port does not speak TLS (${e.code})`, opts);
  const alert = receivedAlert(e);
  if (e.tlsStage === "hello" && (alert === "handshake_failure" || alert === "insufficient_security" || /no (?:shared )?ciphers?|no suitable|no cipher match/i.test(text))) {
    return new MtlsError("TLS_NO_SHARED_CIPHER", `${t}: the server refused the TLS handshake at the hello (alert ${alert ?? text}), before asking for a client certificate: it shares no cipher suite with mtlskit's forward-secret AEAD suites (a server offering only CBC suites does this)`, opts);
  }
  if (alert) {
    const refusal = clientCertRefusal(alert, ctx.program);
    if (refusal) return new MtlsError(refusal.code, `${t}: ${refusal.why}`, opts);
    return new MtlsError("TLS_HANDSHAKE_FAILED", `${t}: the server ended the TLS session with alert ${alert}`, opts);
  }
  if (e.code?.startsWith("ERR_SSL_") || e.code?.startsWith("ERR_TLS_")) return new MtlsError("TLS_HANDSHAKE_FAILED", `${t}: TLS handshake failed: ${text}`, opts);
  if (is(e, "UND_ERR_HEADERS_TIMEOUT")) return new MtlsError("HTTP_HEADERS_TIMEOUT", `${t}: no response headers within the headers timeout`, opts);
  if (is(e, "UND_ERR_BODY_TIMEOUT")) return new MtlsError("HTTP_BODY_TIMEOUT", `${t}: the response body stalled beyond the body timeout`, opts);
  if (is(e, "ECONNRESET", "EPIPE")) return new MtlsError("TCP_CONNECTION_RESET", `${t}: the connection was reset (${e.code})`, opts);
  if (is(e, "UND_ERR_SOCKET", "UND_ERR_CLOSED", "UND_ERR_DESTROYED")) return new MtlsError("HTTP_CONNECTION_CLOSED", `${t}: the connection closed before the response was complete (${e.message})`, opts);
  return new MtlsError("TLS_CONNECT_FAILED", `${t}: ${e.message || String(err)}${e.code ? ` (${e.code})` : ""}`, opts);
}
