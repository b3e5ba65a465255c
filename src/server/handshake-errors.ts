/**
 * Why a TLS handshake on the inbound listener was refused, from Node's `tlsClientError`.
 *
 * Node verifies the client certificate during the handshake but tears the connection down
 * only once the handshake is done; the OpenSSL verification result is then left in the
 * socket's `authorizationError` (`CERT_HAS_EXPIRED`, `UNABLE_TO_GET_ISSUER_CERT_LOCALLY`...),
 * while the error itself only says "socket hang up". Other refusals carry an OpenSSL error
 * code (`ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE`, `ERR_SSL_UNSUPPORTED_PROTOCOL`...).
 *
 * This is the one classification of a server-side handshake error: the inbound server counts
 * and logs its reasons, and the emulator's API endpoint maps them to its handshake log codes.
 */

/** The reasons a handshake is refused; also the `result` label of the handshake counter. */
export type HandshakeRefusal =
  | "no_certificate"
  | "unknown_ca"
  | "expired"
  | "not_yet_valid"
  | "bad_certificate"
  | "protocol_version"
  | "no_shared_cipher"
  | "not_tls"
  | "handshake_timeout"
  | "server_certificate_refused"
  | "identity_not_allowed"
  | "aborted"
  | "other";

/** A refusal with the detail to log. */
export interface ClassifiedRefusal {
  reason: HandshakeRefusal;
  /** The verification error or OpenSSL code, for the log. */
  detail: string;
  /** One sentence for the log line. */
  message: string;
  /** OpenSSL's reason text (`unsupported protocol`, `tlsv1 alert unknown ca`), else the error's message. */
  openssl: string;
  /** The alert the client sent, when the error is one (`unknown ca`, `protocol version`). */
  alert?: string;
}

const VERIFY: Record<string, HandshakeRefusal> = {
  CERT_HAS_EXPIRED: "expired",
  CERT_NOT_YET_VALID: "not_yet_valid",
  UNABLE_TO_GET_ISSUER_CERT: "unknown_ca",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unknown_ca",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unknown_ca",
  DEPTH_ZERO_SELF_SIGNED_CERT: "unknown_ca",
  SELF_SIGNED_CERT_IN_CHAIN: "unknown_ca",
};

const MESSAGES: Record<HandshakeRefusal, string> = {
  no_certificate: "refused a handshake without a client certificate",
  unknown_ca: "refused a client certificate not issued by the trusted client CA",
  expired: "refused an expired client certificate",
  not_yet_valid: "refused a client certificate that is not valid yet",
  bad_certificate: "refused a client certificate that does not verify",
  protocol_version: "refused a handshake below TLS 1.2",
  no_shared_cipher: "refused a handshake with no forward-secret AEAD cipher in common",
  not_tls: "refused a connection that does not speak TLS (plain HTTP on the TLS port?)",
  handshake_timeout: "closed a connection whose TLS handshake did not finish in time",
  server_certificate_refused: "the client refused this server's certificate (is the server chain registered with Thales?)",
  identity_not_allowed: "refused a client certificate from the trusted CA whose identity is not on the allow-list",
  aborted: "the client closed the connection during the handshake",
  other: "refused a handshake",
};

/** The sentence logged for a refusal reason. */
export function refusalMessage(reason: HandshakeRefusal): string {
  return MESSAGES[reason];
}

const PROTOCOL_CODES = new Set(["ERR_SSL_UNSUPPORTED_PROTOCOL", "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION", "ERR_SSL_NO_PROTOCOLS_AVAILABLE", "ERR_SSL_UNKNOWN_PROTOCOL", "ERR_SSL_VERSION_TOO_LOW"]);
const CIPHER_CODES = new Set(["ERR_SSL_NO_SHARED_CIPHER", "ERR_SSL_NO_SHARED_SIGNATURE_ALGORITHMS", "ERR_SSL_NO_SUITABLE_KEY_SHARE", "ERR_SSL_NO_SUITABLE_SIGNATURE_ALGORITHM"]);
const NOT_TLS_CODES = new Set(["ERR_SSL_HTTP_REQUEST", "ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG", "ERR_SSL_RECORD_LENGTH_MISMATCH"]);
/** Alerts a client sends when it refuses the server's certificate. */
const CERTIFICATE_ALERTS = /^(unknown ca|bad certificate|certificate unknown|unsupported certificate|certificate expired|decrypt error|access denied)$/i;

/** OpenSSL's reason: "...:error:0A000102:SSL routines:<function>:<reason>:<file>:<line>:" -> <reason>. */
function opensslReason(message: string): string {
  return /error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:]+)/.exec(message)?.[1]?.trim() ?? message.trim();
}

/** The alert named by an OpenSSL code (`ERR_SSL_TLSV1_ALERT_UNKNOWN_CA`) or reason (`tlsv1 alert unknown ca`). */
function alertOf(code: string, openssl: string): string | undefined {
  const fromCode = /^ERR_SSL_(?:SSLV3|SSL\/TLS|TLSV1|TLSV13)_ALERT_([A-Z_]+)$/.exec(code)?.[1];
  if (fromCode) return fromCode.toLowerCase().replace(/_/g, " ");
  return /alert (.+)$/i.exec(openssl)?.[1]?.trim().toLowerCase();
}

/** Classifies a `tlsClientError`: the error and the socket's `authorizationError`. */
export function classifyHandshakeError(err: Error & { code?: string }, authorizationError?: unknown): ClassifiedRefusal {
  const code = err.code ?? "";
  const text = err.message ?? "";
  const openssl = opensslReason(text);
  const alert = alertOf(code, openssl);
  const make = (reason: HandshakeRefusal, detail: string): ClassifiedRefusal => ({ reason, detail, message: MESSAGES[reason], openssl, ...(alert ? { alert } : {}) });
  const verify = typeof authorizationError === "string" ? authorizationError : authorizationError instanceof Error ? ((authorizationError as { code?: string }).code ?? authorizationError.message) : undefined;
  if (verify) return make(VERIFY[verify] ?? "bad_certificate", verify);
  if (code === "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE") return make("no_certificate", code);
  if (code === "ERR_TLS_HANDSHAKE_TIMEOUT" || /handshake timeout/i.test(text)) return make("handshake_timeout", code || "timeout");
  if (PROTOCOL_CODES.has(code) || /unsupported protocol|version too low/i.test(text)) return make("protocol_version", code || openssl);
  if (CIPHER_CODES.has(code) || /no shared (cipher|signature)/i.test(text)) return make("no_shared_cipher", code || openssl);
  if (NOT_TLS_CODES.has(code)) return make("not_tls", code);
  // An alert received from the client about our certificate.
  if (alert && CERTIFICATE_ALERTS.test(alert)) return make("server_certificate_refused", code || openssl);
  if (code === "ECONNRESET" || code === "EPIPE" || /socket hang up|disconnected/i.test(text)) return make("aborted", code || "ECONNRESET");
  if (code.startsWith("ERR_SSL_") && /CERTIFICATE|CERT_/.test(code)) return make("bad_certificate", code);
  return make("other", code || text.slice(0, 120));
}
