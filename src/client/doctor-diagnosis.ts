/**
 * The doctor's diagnoses (doctor.ts): each coded error a step can end in, named in the words a
 * payments engineer uses, with its fix.
 */
import { ERROR_CODES, type ErrorCode, type MtlsError } from "../errors/index.js";

/** A named diagnosis: what is wrong, in words a payments engineer uses, and the fix. */
export interface Diagnosis {
  /** The error code (docs/errors.md). */
  readonly code: ErrorCode;
  /** Short name: "server chain not trusted", "TLS version too low", ... */
  readonly name: string;
  /** What was found. */
  readonly message: string;
  /** What to do. */
  readonly fix: string;
}

/** The short names of the diagnoses. */
export const DIAGNOSIS_NAMES: Partial<Record<ErrorCode, string>> = {
  PROFILE_INCOMPLETE: "profile incomplete",
  KEY_MISMATCH: "key does not match certificate",
  CHAIN_INVALID: "client certificate chain broken",
  CERTIFICATE_NOT_CURRENT: "client certificate expired or not yet valid",
  CERTIFICATE_RENEWAL_DUE: "client certificate due for renewal",
  ENVIRONMENT_MISMATCH: "client certificate of another environment",
  LEAF_AS_CA: "a leaf pinned as server trust",
  DNS_NOT_FOUND: "DNS failure: host not found",
  DNS_FAILED: "DNS failure: resolver not answering",
  TCP_CONNECTION_REFUSED: "connection refused",
  TCP_CONNECT_TIMEOUT: "connection timed out",
  TCP_CONNECTION_RESET: "connection reset",
  TLS_PROTOCOL_VERSION: "TLS version too low",
  TLS_NOT_TLS: "not TLS on that port",
  TLS_HANDSHAKE_FAILED: "TLS handshake failed",
  TLS_SERVER_NOT_TRUSTED: "server chain not trusted",
  TLS_SERVER_WRONG_CA: "server chain has the wrong CA",
  TLS_HOSTNAME_MISMATCH: "host name mismatch",
  TLS_CLIENT_CERT_NOT_ENDORSED: "client certificate refused: not endorsed",
  TLS_CLIENT_CERT_UNKNOWN_CA: "client certificate refused: wrong CA",
  TLS_CLIENT_CERT_EXPIRED: "client certificate refused: expired",
  TLS_CLIENT_CERT_WRONG_ENVIRONMENT: "client certificate refused: wrong environment",
  TLS_CLIENT_CERT_REFUSED: "client certificate refused",
  HTTP_BASE_PATH_NOT_FOUND: "base path not found",
  HTTP_SERVER_ERROR: "server error",
  HTTP_HEADERS_TIMEOUT: "no HTTP answer",
  HTTP_CONNECTION_CLOSED: "connection closed",
  OAUTH_KEY_MISSING: "no OAuth key",
  OAUTH_KEY_INVALID: "OAuth key unusable",
  OAUTH_UNKNOWN_KID: "token refused: unknown kid",
  OAUTH_CLOCK_SKEW: "token refused: clock skew",
  OAUTH_TOKEN_REFUSED: "token refused",
  OAUTH_TOKEN_RESPONSE_INVALID: "token response invalid",
};

/** The diagnosis of a coded error. */
export function diagnose(e: MtlsError, fix?: string): Diagnosis {
  return { code: e.code, name: DIAGNOSIS_NAMES[e.code] ?? ERROR_CODES[e.code].meaning, message: e.message, fix: fix ?? e.hint };
}
