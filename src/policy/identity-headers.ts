/**
 * The identity contract with the customer's application, as data every engine uses (the node
 * engine's forwarder, and the nginx/HAProxy configurations mtlskit writes): the headers set from
 * the verified client certificate, and the incoming headers that are stripped because an
 * application could read them as client identity or forwarding information.
 *
 * One home for this list: add a name here and every engine strips it.
 */

/** The headers set from the verified client certificate. */
export const IDENTITY_HEADERS = {
  /** Subject, RFC 4514 string (most specific first: `CN=...,O=...,C=FR`). */
  subject: "x-client-cert-subject",
  /** Issuer, RFC 4514 string. */
  issuer: "x-client-cert-issuer",
  /** SHA-256 of the DER, upper-case hex with colons (openssl's and `mtlskit inspect`'s form). */
  fingerprint: "x-client-cert-sha256",
  /** Serial number, upper-case hex. */
  serial: "x-client-cert-serial",
  /** Not-after date, ISO 8601 UTC. */
  notAfter: "x-client-cert-not-after",
  /** The certificate as URL-encoded PEM (as nginx's `$ssl_client_escaped_cert`). */
  pem: "x-client-cert",
  /** RFC 9440 `Client-Cert`: the DER as a structured-field byte sequence, `:base64:`. */
  rfc9440: "client-cert",
} as const;

/** Other proxies' client-certificate headers, stripped besides those of {@link IDENTITY_HEADERS}. */
export const OTHER_CLIENT_CERT_HEADERS: readonly string[] = ["client-cert-chain", "x-forwarded-client-cert", "x-ssl-client-cert", "ssl-client-cert", "x-client-verify", "x-ssl-client-verify"];

/** Prefixes of header names stripped as client-certificate information. */
export const STRIPPED_HEADER_PREFIXES: readonly string[] = ["x-client-cert-", "x-ssl-client-"];

/** Request headers the engine replaces with its own values, so that the caller cannot forge them. */
export const FORWARDING_HEADERS: readonly string[] = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "forwarded", "x-real-ip", "x-correlation-id"];

const IDENTITY_NAMES = new Set<string>([...Object.values(IDENTITY_HEADERS), ...OTHER_CLIENT_CERT_HEADERS]);

/** True for a (lower-case) header name that could pass for client identity: never forwarded from the caller. */
export function isIdentityHeader(lowerName: string): boolean {
  return IDENTITY_NAMES.has(lowerName) || STRIPPED_HEADER_PREFIXES.some((p) => lowerName.startsWith(p));
}
