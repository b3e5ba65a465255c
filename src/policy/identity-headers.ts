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

/**
 * A header name as application servers compare it: lower-case, `_` folded to `-`. WSGI, CGI,
 * PHP and Rack turn `X-Client-Cert`, `x_client_cert` and `X_CLIENT-CERT` into the same
 * `HTTP_X_CLIENT_CERT` variable, so a caller could smuggle one of ours in another spelling.
 * Every comparison with the lists below is made on folded names.
 */
export function foldHeaderName(name: string): string {
  return name.toLowerCase().replace(/_/g, "-");
}

/**
 * Other proxies' and load balancers' client-certificate headers (Envoy, Apache mod_ssl
 * conventions, F5, HAProxy examples, IIS ARR, AWS ALB mTLS, Traefik), stripped besides those of
 * {@link IDENTITY_HEADERS}. Folded names (see {@link foldHeaderName}).
 */
export const OTHER_CLIENT_CERT_HEADERS: readonly string[] = [
  "client-cert-chain",
  "x-forwarded-client-cert",
  "x-ssl-cert",
  "x-ssl-client-cert",
  "ssl-client-cert",
  "x-client-verify",
  "x-ssl-client-verify",
  "ssl-client-verify",
  "x-client-dn",
  "x-client-cert-dn",
  "x-ssl-client-s-dn",
  "x-ssl-client-i-dn",
  "ssl-client-s-dn",
  "ssl-client-i-dn",
  "x-arr-clientcert",
  "x-arr-ssl",
  "x-amzn-mtls-clientcert",
  "x-amzn-mtls-clientcert-leaf",
  "x-amzn-mtls-clientcert-serial-number",
  "x-amzn-mtls-clientcert-issuer",
  "x-amzn-mtls-clientcert-subject",
  "x-amzn-mtls-clientcert-validity",
  "x-forwarded-tls-client-cert",
  "x-forwarded-tls-client-cert-info",
  "x-client-certificate",
  "x-ssl-client-sha1",
  "x-ssl-client-serial",
];

/** Prefixes of (folded) header names stripped as client-certificate information. */
export const STRIPPED_HEADER_PREFIXES: readonly string[] = ["x-client-cert-", "x-ssl-client-", "ssl-client-", "x-amzn-mtls-", "x-forwarded-tls-client-"];

/**
 * Client-address headers that an application or its framework may read as the caller's address
 * (Express `trust proxy`, Django, Rails, Spring's ForwardedHeaderFilter, CDNs). Stripped; the
 * engine sets only `X-Forwarded-For` (and `-Proto`, `-Host`) itself. Folded names.
 */
export const CLIENT_ADDRESS_HEADERS: readonly string[] = [
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-forwarded-port",
  "x-forwarded-server",
  "x-forwarded-scheme",
  "x-forwarded-ssl",
  "x-forwarded",
  "forwarded-for",
  "forwarded",
  "x-real-ip",
  "x-client-ip",
  "true-client-ip",
  "cf-connecting-ip",
  "fastly-client-ip",
  "x-cluster-client-ip",
  "client-ip",
  "x-original-forwarded-for",
  "x-original-host",
  "x-original-url",
  "x-rewrite-url",
  "x-original-remote-addr",
  "x-remote-addr",
  "x-remote-ip",
  "x-proxyuser-ip",
  "x-envoy-external-address",
  "x-scheme",
  "front-end-https",
];

/**
 * The correlation id rule of the Thales APIs (thales-api-facts: `^[A-Za-z0-9_-]{1,64}$`). Every
 * engine keeps a caller's `x-correlation-id` that matches it (Thales's id, which its support asks
 * for) and replaces any other value with a new id.
 */
export const CORRELATION_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Request headers the engine replaces with its own values, so that the caller cannot forge them. Folded names. */
export const FORWARDING_HEADERS: readonly string[] = [...CLIENT_ADDRESS_HEADERS, "x-correlation-id"];

/** One entry of {@link STRIPPED_HEADERS}: a folded name (or prefix, ending in `*`) and why it goes. */
export interface StrippedHeader {
  readonly name: string;
  readonly kind: "ours" | "client-certificate" | "client-address" | "correlation";
}

/**
 * The documented list of every incoming header the engines strip (compared after
 * {@link foldHeaderName}): ours (re-set from the verified certificate), other proxies'
 * client-certificate headers, client-address headers, and the correlation id (replaced when it
 * does not match the program's pattern). Prefix entries end in `*`.
 */
export const STRIPPED_HEADERS: readonly StrippedHeader[] = [
  ...Object.values(IDENTITY_HEADERS).map((name) => ({ name, kind: "ours" as const })),
  ...OTHER_CLIENT_CERT_HEADERS.map((name) => ({ name, kind: "client-certificate" as const })),
  ...STRIPPED_HEADER_PREFIXES.map((p) => ({ name: `${p}*`, kind: "client-certificate" as const })),
  ...CLIENT_ADDRESS_HEADERS.map((name) => ({ name, kind: "client-address" as const })),
];

const IDENTITY_NAMES = new Set<string>([...Object.values(IDENTITY_HEADERS), ...OTHER_CLIENT_CERT_HEADERS]);
const FORWARDING_NAMES = new Set<string>(FORWARDING_HEADERS);

/** True for a header name (any case, `_` or `-`) that could pass for client identity: never forwarded from the caller. */
export function isIdentityHeader(name: string): boolean {
  const folded = foldHeaderName(name);
  return IDENTITY_NAMES.has(folded) || STRIPPED_HEADER_PREFIXES.some((p) => folded.startsWith(p));
}

/** True for a header name (any case, `_` or `-`) that the engine replaces with its own value (client address, forwarding, correlation id). */
export function isForwardingHeader(name: string): boolean {
  return FORWARDING_NAMES.has(foldHeaderName(name));
}

/** True for an incoming header that is never passed on as the caller sent it: {@link isIdentityHeader} or {@link isForwardingHeader}. */
export function isStrippedHeader(name: string): boolean {
  return isIdentityHeader(name) || isForwardingHeader(name);
}
