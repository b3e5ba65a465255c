/**
 * The verified client identity of a connection, and the headers that carry it upstream.
 *
 * Only connections whose certificate verified against the trusted client CA get here, so the
 * identity is a fact, not a claim. Any incoming header of the same names is removed before
 * these are added ({@link IDENTITY_HEADERS}, {@link isIdentityHeader}).
 */
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { fingerprint } from "../pki/index.js";
import { IDENTITY_HEADERS } from "../policy/index.js";

export { IDENTITY_HEADERS, isIdentityHeader } from "../policy/index.js";

/** The verified identity of a client certificate. */
export interface ClientIdentity {
  /** RFC 4514 subject. */
  readonly subject: string;
  readonly issuer: string;
  /** Attribute values of the subject, by short name (`CN`, `O`, ...). */
  readonly subjectAttributes: Readonly<Record<string, readonly string[]>>;
  readonly fingerprint256: string;
  readonly serialNumber: string;
  readonly notAfter: Date;
  /** Header name/value pairs, flat (`[name, value, name, value...]`), ready to forward. */
  readonly headers: readonly string[];
}

/**
 * Node's multi-line name (`C=FR\nO=Example\nCN=x`, RFC 2253 escaping) to an RFC 4514 string,
 * most specific first. Characters outside printable ASCII are written as `\XX` UTF-8 escapes
 * (RFC 4514, section 2.4), so that the value is a valid header value.
 */
export function rfc4514(multiline: string): string {
  return multiline
    .split("\n")
    .filter((l) => l !== "")
    .reverse()
    .map((rdn) => asciiEscape(rdn))
    .join(",");
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function asciiEscape(s: string): string {
  if (PRINTABLE_ASCII.test(s)) return s;
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x20 && c < 0x7f) out += ch;
    else
      for (const b of Buffer.from(ch, "utf8")) out += `\\${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Unescapes an RFC 2253 value as Node prints it (`\,` `\+` `\"` `\\` `\XX`). */
function unescapeValue(v: string): string {
  if (!v.includes("\\")) return v;
  const bytes: number[] = [];
  for (let i = 0; i < v.length; i++) {
    const ch = v[i]!;
    if (ch === "\\" && i + 1 < v.length) {
      const hex = v.slice(i + 1, i + 3);
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
        continue;
      }
      i++;
      bytes.push(...Buffer.from(v[i]!, "utf8"));
      continue;
    }
    bytes.push(...Buffer.from(ch, "utf8"));
  }
  return Buffer.from(bytes).toString("utf8");
}

function attributes(multiline: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of multiline.split("\n")) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const name = line.slice(0, eq);
    (out[name] ??= []).push(unescapeValue(line.slice(eq + 1)));
  }
  return out;
}

function pemOf(der: Buffer): string {
  const b64 = der.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** The identity of a verified certificate. */
export function identityOf(x509: X509Certificate): ClientIdentity {
  const subject = rfc4514(x509.subject);
  const issuer = rfc4514(x509.issuer);
  const notAfter = new Date(Date.parse(x509.validTo));
  const der = x509.raw;
  const sha256 = fingerprint(der, "colon-hex");
  const headers = [
    IDENTITY_HEADERS.subject,
    subject,
    IDENTITY_HEADERS.issuer,
    issuer,
    IDENTITY_HEADERS.fingerprint,
    sha256,
    IDENTITY_HEADERS.serial,
    x509.serialNumber.toUpperCase(),
    IDENTITY_HEADERS.notAfter,
    notAfter.toISOString().replace(/\.\d{3}Z$/, "Z"),
    IDENTITY_HEADERS.pem,
    encodeURIComponent(pemOf(der)),
    IDENTITY_HEADERS.rfc9440,
    `:${der.toString("base64")}:`,
  ];
  return { subject, issuer, subjectAttributes: attributes(x509.subject), fingerprint256: sha256, serialNumber: x509.serialNumber.toUpperCase(), notAfter, headers };
}

/** Most identities kept by {@link peerIdentity}: Thales calls with one or two certificates at a time. */
const CACHE_SIZE = 64;
const cache = new Map<string, ClientIdentity>();

/**
 * The identity of a connection's verified peer, or undefined when it has none. Identities are
 * kept by certificate fingerprint: every connection from Thales presents the same certificate,
 * and building the headers (PEM, DER, names) costs more than the rest of the request.
 *
 * The certificate is read once per connection, as Node's plain peer object (its SHA-256
 * fingerprint and DER), not as an `X509Certificate`: in Node 20 `getPeerX509Certificate()`
 * also copies the issuer certificate the peer sent (a DER round trip through OpenSSL's
 * decoders), twice the CPU time of the plain object (about 0.2 ms against 0.1 ms a connection,
 * bench/inbound.ts --node-cpu), and takes that issuer out of the socket's peer chain. The
 * `X509Certificate` is built only for a certificate not seen before.
 */
export function peerIdentity(socket: TLSSocket): ClientIdentity | undefined {
  const peer = socket.getPeerCertificate();
  // An empty object without a peer certificate, null once the socket is destroyed.
  if (!peer?.raw) return undefined;
  const key = peer.fingerprint256;
  let id = cache.get(key);
  if (!id) {
    id = identityOf(new X509Certificate(peer.raw));
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(key, id);
  }
  return id;
}

/**
 * Identity checks on top of CA verification (never instead of it): the certificate's subject
 * must carry one of the listed CNs and/or one of the listed Os. An empty or absent list does
 * not restrict.
 */
export interface IdentityAllowList {
  commonNames?: readonly string[];
  organizations?: readonly string[];
}

/** Why an identity is not allowed, or undefined when it is. */
export function checkAllowList(identity: ClientIdentity, allow: IdentityAllowList | undefined): string | undefined {
  if (!allow) return undefined;
  const cns = allow.commonNames ?? [];
  const os = allow.organizations ?? [];
  if (cns.length > 0 && !(identity.subjectAttributes["CN"] ?? []).some((v) => cns.includes(v))) {
    return `subject CN is not one of the allowed (${cns.join(", ")})`;
  }
  if (os.length > 0 && !(identity.subjectAttributes["O"] ?? []).some((v) => os.includes(v))) {
    return `subject O is not one of the allowed (${os.join(", ")})`;
  }
  return undefined;
}
