/**
 * `mtlskit inspect`: what a file or a TLS server holds, as plain data ready to print or to
 * serialise. Files go through the fast read path (asn1.ts + node:crypto); a URL is probed with
 * a real `node:tls` connection, loaded only when a URL is inspected.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import type { ConnectionOptions, PeerCertificate, TLSSocket } from "node:tls";
import { isMtlsError, MtlsError } from "../errors/index.js";
import { children, contentBytes, isContext, oidOf, parseDer, type Node } from "./asn1.js";
import { readInputFile } from "./files.js";
import { describeKey, type KeyDescription } from "./keys.js";
import { OID } from "./oids.js";
import { looksLikePem, parsePem } from "./pem.js";
import { isPkcs12Der } from "./pkcs12-detect.js";
import { decodePkiObjects, type PkiItem, type ReadObjectsOptions } from "./read-objects.js";
import { colonHex, spkiPin } from "./fingerprint.js";
import { isSignedBy, parseCertificate, type CertificateInfo, type CsrInfo, type ExtensionInfo } from "./x509-parse.js";

const DAY = 86_400_000;

/** Where a certificate stands in its validity period. */
export type ValidityState = "valid" | "expired" | "not-yet-valid";

/** One extension as shown by inspect. */
export interface ExtensionDescription {
  readonly name: string;
  readonly oid: string;
  readonly critical: boolean;
  /** Human-readable value. */
  readonly value: string;
}

/** A certificate, described for people and for `--json`. */
export interface CertificateDescription {
  readonly kind: "certificate";
  /** `C=FR, O=Example, CN=...` */
  readonly subject: string;
  readonly issuer: string;
  /** Subject and issuer are the same name (a root or a self-signed leaf). */
  readonly selfIssued: boolean;
  /** Hex with colons, as openssl prints it. */
  readonly serialNumber: string;
  readonly version: number;
  /** ISO 8601, UTC. */
  readonly notBefore: string;
  readonly notAfter: string;
  readonly validity: ValidityState;
  /** Whole days until notAfter; negative once expired. */
  readonly daysLeft: number;
  /** Milliseconds until notAfter (negative once expired), for finer display than days. */
  readonly msLeft: number;
  /** Milliseconds until notBefore when not yet valid, else 0. */
  readonly msUntilValid: number;
  readonly key: KeyDescription;
  readonly signatureAlgorithm: string;
  /** basicConstraints CA:TRUE. */
  readonly ca: boolean;
  readonly subjectAltNames: readonly string[];
  readonly extensions: readonly ExtensionDescription[];
  /** SHA-256 of the DER, upper-case hex with colons. */
  readonly sha256Fingerprint: string;
  /** `sha256/<base64>` of the SubjectPublicKeyInfo. */
  readonly spkiPin: string;
}

/** A certificate signing request, described. */
export interface CsrDescription {
  readonly kind: "csr";
  readonly subject: string;
  readonly key: KeyDescription;
  readonly signatureAlgorithm: string;
  /** The CSR's self-signature verifies with the public key it carries. */
  readonly signatureValid: boolean;
  /** Extensions the CSR asks for (usually none: the CA decides). */
  readonly extensions: readonly ExtensionDescription[];
  readonly spkiPin: string;
}

/** A private key: its type only, never its material. */
export interface PrivateKeyDescription {
  readonly kind: "private-key";
  /** Undefined while the key is encrypted (its type is inside the encrypted part). */
  readonly key: KeyDescription | undefined;
  readonly encrypted: boolean;
}

/** A bare public key (`BEGIN PUBLIC KEY`). */
export interface PublicKeyDescription {
  readonly kind: "public-key";
  readonly key: KeyDescription;
  readonly spkiPin: string;
}

/** Anything inspect can describe. */
export type ObjectDescription = CertificateDescription | CsrDescription | PrivateKeyDescription | PublicKeyDescription;

/** One object of a file, with where it was found. */
export type FileObjectDescription = ObjectDescription & {
  /** The file, plus `(block N)` when the file holds several PEM blocks. */
  readonly source: string;
  /** Position in the file, from 0. */
  readonly index: number;
};

/** What {@link inspectFile} found. */
export interface FileInspection {
  readonly file: string;
  /** Set for a PKCS#12: its bags (names, key ids), MAC, encryption and a legacy warning. */
  readonly pkcs12?: Pkcs12Summary;
  /** Every object, in file order. */
  readonly objects: readonly FileObjectDescription[];
}

/** What a PKCS#12 holds (never key material). */
export interface Pkcs12Summary {
  readonly mac: string;
  readonly encryptions: readonly string[];
  readonly legacyWarning?: string;
  readonly bags: ReadonlyArray<{ kind: "private-key" | "certificate"; friendlyName?: string; localKeyId?: string; javaTrusted?: boolean; encryption: string }>;
}

/** Options of {@link inspectFile}. */
export interface InspectFileOptions {
  /** Passphrase of encrypted private keys; without it they are reported as encrypted. */
  passphrase?: string;
  /** The time validity is judged at. Default: now. */
  now?: Date;
}

/**
 * Describes a parsed certificate: names, validity with days left, key, signature algorithm,
 * extensions, fingerprint and SPKI pin.
 *
 * @example
 * const [cert] = await readCertificates("server.crt");
 * const d = describeCertificate(cert);
 * console.log(d.subject, d.validity, d.daysLeft, d.spkiPin);
 */
export function describeCertificate(info: CertificateInfo, now: Date = new Date()): CertificateDescription {
  const t = now.getTime();
  const msLeft = info.notAfter.getTime() - t;
  const msUntilValid = Math.max(0, info.notBefore.getTime() - t);
  const validity: ValidityState = msUntilValid > 0 ? "not-yet-valid" : msLeft <= 0 ? "expired" : "valid";
  return {
    kind: "certificate",
    subject: info.subjectText,
    issuer: info.issuerText,
    selfIssued: info.selfIssued,
    serialNumber: colonHex(Buffer.from(info.serialNumber, "hex")),
    version: info.version,
    notBefore: isoSeconds(info.notBefore),
    notAfter: isoSeconds(info.notAfter),
    validity,
    daysLeft: Math.floor(msLeft / DAY),
    msLeft,
    msUntilValid,
    key: info.key,
    signatureAlgorithm: info.signatureAlgorithm.name,
    ca: info.basicConstraints?.ca ?? false,
    subjectAltNames: info.subjectAltNames ?? [],
    extensions: info.extensions.map(describeExtension),
    sha256Fingerprint: info.sha256Fingerprint,
    spkiPin: info.spkiPin,
  };
}

/**
 * Describes a parsed CSR: subject, key, signature algorithm and whether its signature verifies.
 *
 * @example
 * const [csr] = await readPkiObjects("client.csr");
 * if (csr.kind === "csr") console.log(describeCsr(csr).signatureValid);
 */
export function describeCsr(info: CsrInfo): CsrDescription {
  return {
    kind: "csr",
    subject: info.subjectText,
    key: info.key,
    signatureAlgorithm: info.signatureAlgorithm.name,
    signatureValid: info.signatureValid,
    extensions: info.extensions.map(describeExtension),
    spkiPin: info.spkiPin,
  };
}

/** Describes a private key by its type only. */
export function describePrivateKey(key: KeyObject): PrivateKeyDescription {
  return { kind: "private-key", key: describeKey(key), encrypted: false };
}

function describeItem(item: PkiItem, now: Date): ObjectDescription {
  if (item.kind === "certificate") return describeCertificate(item, now);
  if (item.kind === "csr") return describeCsr(item);
  return describePrivateKey(item.key);
}

/**
 * Reads a file (PEM with any number of blocks, or one DER object) and describes every
 * certificate, CSR and key in it, in order. A private key is described by its type only; an
 * encrypted one without a passphrase is reported as encrypted, not refused. File and format
 * problems are coded `MtlsError`s naming the file (and block).
 *
 * @example
 * const { objects } = await inspectFile("chain.pem");
 * for (const o of objects) if (o.kind === "certificate") console.log(o.subject, o.daysLeft);
 */
export async function inspectFile(file: string, options: InspectFileOptions = {}): Promise<FileInspection> {
  const data = await readInputFile(file);
  const now = options.now ?? new Date();
  const read: ReadObjectsOptions = options.passphrase !== undefined ? { passphrase: options.passphrase } : {};
  const objects: FileObjectDescription[] = [];
  if (isPkcs12Der(data)) {
    if (options.passphrase === undefined) {
      throw new MtlsError("PKCS12_PASSPHRASE_REQUIRED", `${file}: is a PKCS#12; its content is encrypted`, { subject: file, hint: `Give its passphrase in a file: mtlskit inspect ${file} --passphrase-file FILE` });
    }
    const { readPkcs12 } = await import("./pkcs12.js");
    const p = readPkcs12(data, options.passphrase, file);
    const { parseCertificate } = await import("./x509-parse.js");
    p.certificates.forEach((c, i) => objects.push({ ...describeCertificate(parseCertificate(c.der, file), now), source: `${file} (certificate ${i + 1}${c.friendlyName ? `, "${c.friendlyName}"` : ""})`, index: i }));
    p.keys.forEach((k, i) => objects.push({ ...describePrivateKey(k.key), source: `${file} (key ${i + 1}${k.friendlyName ? `, "${k.friendlyName}"` : ""})`, index: p.certificates.length + i }));
    const bags: Pkcs12Summary["bags"][number][] = [
      ...p.keys.map((k) => ({ kind: "private-key" as const, ...(k.friendlyName !== undefined ? { friendlyName: k.friendlyName } : {}), ...(k.localKeyId ? { localKeyId: k.localKeyId } : {}), encryption: k.encryption })),
      ...p.certificates.map((c) => ({ kind: "certificate" as const, ...(c.friendlyName !== undefined ? { friendlyName: c.friendlyName } : {}), ...(c.localKeyId ? { localKeyId: c.localKeyId } : {}), javaTrusted: c.javaTrusted, encryption: c.encryption })),
    ];
    return { file, objects, pkcs12: { mac: p.mac, encryptions: p.encryptions, ...(p.legacyWarning ? { legacyWarning: p.legacyWarning } : {}), bags } };
  }
  if (!looksLikePem(data)) {
    objects.push({ ...decodeOne(data, file, read, now, "der"), source: file, index: 0 });
    return { file, objects };
  }
  const blocks = parsePem(data.toString("latin1"), file);
  blocks.forEach((b, i) => {
    if (b.label === "EC PARAMETERS") return;
    const where = blocks.length > 1 ? `${file} (block ${i + 1})` : file;
    objects.push({ ...decodeOne(Buffer.from(b.text, "latin1"), where, read, now, b.label), source: where, index: i });
  });
  if (objects.length === 0) throw new MtlsError("INPUT_NOT_RECOGNIZED", `${file}: holds no certificate, CSR or key`, { subject: file });
  return { file, objects };
}

/** One PEM block (as text) or one DER object. */
function decodeOne(data: Buffer, where: string, read: ReadObjectsOptions, now: Date, label: string): ObjectDescription {
  if (label === "PUBLIC KEY") {
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: data, format: "pem" });
    } catch (e) {
      throw new MtlsError("INPUT_NOT_RECOGNIZED", `${where}: the PUBLIC KEY block is not a valid public key`, { subject: where, cause: e });
    }
    return describePublicKey(publicKey);
  }
  try {
    const [item] = decodePkiObjects(data, where, read);
    return describeItem(item!, now);
  } catch (e) {
    if (isMtlsError(e, "KEY_ENCRYPTED")) return { kind: "private-key", key: undefined, encrypted: true };
    if (label === "der" && isMtlsError(e, "INPUT_NOT_RECOGNIZED")) {
      const publicKey = tryPublicKeyDer(data);
      if (publicKey) return describePublicKey(publicKey);
    }
    throw e;
  }
}

function describePublicKey(key: KeyObject): PublicKeyDescription {
  return { kind: "public-key", key: describeKey(key), spkiPin: spkiPin(key) };
}

function tryPublicKeyDer(der: Buffer): KeyObject | undefined {
  try {
    return createPublicKey({ key: der, format: "der", type: "spki" });
  } catch {
    return undefined;
  }
}

function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

// Extensions the fast parser leaves as hex, decoded here for display only.
const CT_SCTS = "1.3.6.1.4.1.11129.2.4.2";
const ACCESS_METHODS: Readonly<Record<string, string>> = { "1.3.6.1.5.5.7.48.1": "OCSP", "1.3.6.1.5.5.7.48.2": "CA Issuers" };
const POLICY_NAMES: Readonly<Record<string, string>> = {
  "2.5.29.32.0": "anyPolicy",
  "2.23.140.1.2.1": "CA/B domain validated",
  "2.23.140.1.2.2": "CA/B organization validated",
  "2.23.140.1.2.3": "CA/B individual validated",
  "2.23.140.1.1": "CA/B extended validation",
};

function describeExtension(e: ExtensionInfo): ExtensionDescription {
  return { name: e.name, oid: e.oid, critical: e.critical, value: readableExtension(e) };
}

const DECODED_HERE = new Set<string>([OID.authorityInfoAccess, OID.crlDistributionPoints, OID.certificatePolicies, CT_SCTS]);

function readableExtension(e: ExtensionInfo): string {
  if (!DECODED_HERE.has(e.oid) || !/^[0-9a-f]+$/.test(e.text)) return e.text;
  try {
    const value = parseDer(new Uint8Array(Buffer.from(e.text, "hex")));
    switch (e.oid) {
      case OID.authorityInfoAccess:
        return children(value)
          .map((ad) => {
            const [method, location] = children(ad);
            const m = oidOf(method);
            return `${ACCESS_METHODS[m] ?? m} - ${generalName(location)}`;
          })
          .join(", ");
      case OID.crlDistributionPoints:
        return children(value)
          .flatMap((dp) => children(children(dp).find((n) => isContext(n, 0))).flatMap((name) => (isContext(name, 0) ? children(name).map(generalName) : [])))
          .join(", ");
      case OID.certificatePolicies:
        return children(value)
          .map((p) => {
            const oid = oidOf(children(p)[0]);
            return POLICY_NAMES[oid] ? `${oid} (${POLICY_NAMES[oid]})` : oid;
          })
          .join(", ");
      case CT_SCTS: {
        // An OCTET STRING holding a TLS-encoded list: 2-byte total length, then 2-byte length + SCT each.
        const list = contentBytes(value);
        let n = 0;
        for (let at = 2; at + 2 <= list.length; n++) at += 2 + ((list[at]! << 8) | list[at + 1]!);
        return `${n} signed certificate timestamp${n === 1 ? "" : "s"}`;
      }
      default:
        return e.text;
    }
  } catch {
    return e.text;
  }
}

function generalName(n: Node | undefined): string {
  if (isContext(n, 6)) return `URI:${latin1(n!)}`;
  if (isContext(n, 2)) return `DNS:${latin1(n!)}`;
  if (isContext(n, 1)) return `email:${latin1(n!)}`;
  return "<other name>";
}

function latin1(n: Node): string {
  return Buffer.from(contentBytes(n)).toString("latin1");
}

// ---------------------------------------------------------------------------------------------
// TLS servers

/** Options of {@link inspectUrl}. */
export interface InspectUrlOptions {
  /** Give up when no TLS session is set up within this many milliseconds (TCP connect and handshake together). Default 10000. */
  timeoutMs?: number;
  /**
   * The name sent as SNI and checked against the certificate. Default: the URL's host name
   * (an IP address is checked, but never sent as SNI).
   */
  servername?: string;
  /** CA certificates (PEM) to verify the chain against, instead of Node's trust store. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** The time validity is judged at. Default: now. */
  now?: Date;
}

/** What {@link inspectUrl} found. */
export interface UrlInspection {
  /** The URL as given. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The SNI name sent, if any. */
  readonly servername: string | undefined;
  /** The IP address connected to. */
  readonly remoteAddress: string | undefined;
  /** Negotiated protocol, e.g. `TLSv1.3`. */
  readonly protocol: string;
  /** Negotiated cipher suite: OpenSSL name, IANA name, and the protocol version that defined it. */
  readonly cipher: { readonly name: string; readonly standardName: string; readonly version: string };
  /** Key exchange group, e.g. `X25519`, when known. */
  readonly keyExchange: string | undefined;
  /** The chain verified against `trust`. The inspection succeeds either way. */
  readonly authorized: boolean;
  /** OpenSSL's reason when not authorized, e.g. `UNABLE_TO_GET_ISSUER_CERT_LOCALLY`. */
  readonly authorizationError: string | undefined;
  /** What the chain was verified against. */
  readonly trust: "node-default" | "custom-ca";
  /** The host-name check Node's TLS clients apply (SAN DNS / IP entries). */
  readonly hostname: { readonly name: string; readonly matches: boolean; readonly error: string | undefined };
  /** Each certificate is signed by the next one (the order TLS asks servers to send them in). */
  readonly chainOrdered: boolean;
  /** The certificates exactly as the server presented them, leaf first, described. */
  readonly chain: readonly CertificateDescription[];
  /** The same certificates, parsed (their `der` is what the server sent). */
  readonly certificates: readonly CertificateInfo[];
}

/** A parsed `https://HOST[:PORT]` URL. */
export interface HttpsTarget {
  /** Host name or IP address, without IPv6 brackets. */
  readonly host: string;
  readonly port: number;
  /** `host:port` (IPv6 in brackets), for messages. */
  readonly display: string;
}

/** Parses `https://HOST[:PORT]` (port 443 by default). `URL_INVALID` otherwise. */
export function parseHttpsUrl(text: string): HttpsTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch (e) {
    const port = /^https:\/\/[^/?#]*:([^/?#\]]*)(?:[/?#]|$)/i.exec(text)?.[1];
    const why = port !== undefined ? `'${port}' is not a port (1 to 65535)` : "it is not a valid URL";
    throw new MtlsError("URL_INVALID", `${text}: ${why}`, { subject: text, cause: e });
  }
  if (url.protocol !== "https:") {
    throw new MtlsError("URL_INVALID", `${text}: only https:// URLs can be inspected (TLS), not ${url.protocol}//`, { subject: text });
  }
  if (url.hostname === "") throw new MtlsError("URL_INVALID", `${text}: the URL has no host name`, { subject: text });
  const port = url.port === "" ? 443 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new MtlsError("URL_INVALID", `${text}: '${url.port}' is not a port (1 to 65535)`, { subject: text });
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return { host, port, display: `${url.hostname}:${port}` };
}

/**
 * Connects to a TLS server and reports what it presents: the chain exactly as sent (leaf
 * first), the negotiated protocol and cipher, whether the chain verifies against Node's trust
 * store (or `ca`) and whether the host name matches. An untrusted chain or a name mismatch is
 * reported, not thrown: this is an inspection. Network and handshake failures are coded
 * `MtlsError`s naming host:port: `HOST_NOT_FOUND`, `CONNECTION_REFUSED`, `CONNECT_TIMEOUT`,
 * `TLS_HANDSHAKE_FAILED`, `TLS_CONNECT_FAILED`; a bad URL is `URL_INVALID`.
 *
 * @example
 * const r = await inspectUrl("https://tmg.dbp-stg.thalescloud.io", { timeoutMs: 5000 });
 * console.log(r.protocol, r.cipher.standardName, r.authorized, r.chain.map((c) => c.subject));
 */
export async function inspectUrl(url: string, options: InspectUrlOptions = {}): Promise<UrlInspection> {
  const target = parseHttpsUrl(url);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const checkName = options.servername ?? target.host;
  // Loaded here, not at the top: inspecting a file must not pay for the TLS stack.
  const [tls, { isIP }] = await Promise.all([import("node:tls"), import("node:net")]);
  const sni = isIP(checkName) ? undefined : checkName;
  const connectOptions: ConnectionOptions = {
    host: target.host,
    port: target.port,
    rejectUnauthorized: false,
    // Node folds a host-name mismatch into `authorized`; keep the two verdicts apart.
    checkServerIdentity: () => undefined,
    ...(sni !== undefined ? { servername: sni } : {}),
    ...(options.ca !== undefined ? { ca: options.ca } : {}),
  };
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    let tcpConnected = false;
    const s = tls.connect(connectOptions);
    const timer = setTimeout(() => {
      s.destroy();
      const phase = tcpConnected ? "the TLS handshake did not finish" : "the TCP connection was not set up";
      reject(new MtlsError("CONNECT_TIMEOUT", `${target.display}: ${phase} within ${timeoutMs} ms`, { subject: url }));
    }, timeoutMs);
    s.once("connect", () => (tcpConnected = true));
    s.once("secureConnect", () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.on("error", (e) => {
      clearTimeout(timer);
      // A TLS 1.2 server that requires a client certificate fails the handshake after sending
      // its chain: name what it presented, since that is what the user came to see.
      let presented: string | undefined;
      try {
        const chain = presentedChain(s, target.display);
        presented = `the server presented ${chain.length === 1 ? "1 certificate" : `${chain.length} certificates`}, leaf ${chain[0]!.subjectText || "(empty subject)"}`;
      } catch {
        presented = undefined;
      }
      s.destroy();
      reject(connectError(e as NodeJS.ErrnoException & { reason?: string }, target, url, tcpConnected, presented));
    });
  });
  try {
    // Read the legacy peer object first: in Node 20, getPeerX509Certificate() consumes the
    // peer chain it walks, after which getPeerCertificate() returns an empty object.
    const peer: PeerCertificate = socket.getPeerCertificate();
    const nameError = Object.keys(peer).length > 0 ? tls.checkServerIdentity(checkName, peer) : new Error("the server presented no certificate");
    const certificates = presentedChain(socket, target.display);
    const cipher = socket.getCipher();
    const ephemeral = socket.getEphemeralKeyInfo();
    const now = options.now ?? new Date();
    const authError = socket.authorizationError as unknown as Error | string | null | undefined;
    return {
      url,
      host: target.host,
      port: target.port,
      servername: sni,
      remoteAddress: socket.remoteAddress,
      protocol: socket.getProtocol() ?? "unknown",
      cipher: { name: cipher.name, standardName: cipher.standardName, version: cipher.version },
      keyExchange: ephemeral && "name" in ephemeral && ephemeral.name ? String(ephemeral.name) : undefined,
      authorized: socket.authorized,
      authorizationError: socket.authorized ? undefined : authError ? (typeof authError === "string" ? authError : authError.message) : undefined,
      trust: options.ca !== undefined ? "custom-ca" : "node-default",
      hostname: { name: checkName, matches: nameError === undefined, error: nameError?.message },
      chainOrdered: certificates.every((c, i) => i === certificates.length - 1 || isSignedBy(c, certificates[i + 1]!)),
      chain: certificates.map((c) => describeCertificate(c, now)),
      certificates,
    };
  } finally {
    socket.destroy();
  }
}

/** The chain in the order the server sent it (Node links each presented certificate to the next). */
function presentedChain(socket: TLSSocket, display: string): CertificateInfo[] {
  const ders: Buffer[] = [];
  const seen = new Set<string>();
  for (let c = socket.getPeerX509Certificate(); c && ders.length < 32; c = c.issuerCertificate) {
    if (seen.has(c.fingerprint256)) break;
    seen.add(c.fingerprint256);
    ders.push(c.raw);
  }
  if (ders.length === 0) {
    // Fallback for runtimes where the chain was already consumed: Node's linked view.
    let d = socket.getPeerCertificate(true);
    while (d && d.raw && !seen.has(d.fingerprint256)) {
      seen.add(d.fingerprint256);
      ders.push(d.raw);
      d = d.issuerCertificate;
    }
  }
  if (ders.length === 0) throw new MtlsError("TLS_HANDSHAKE_FAILED", `${display}: the server presented no certificate`, { subject: display });
  return ders.map((der, i) => parseCertificate(new Uint8Array(der), `${display} (certificate ${i + 1})`));
}

const HANDSHAKE_HINTS: Array<[RegExp, string]> = [
  [/wrong version number|packet length too long|http request/i, "the port does not seem to speak TLS (plain HTTP?); check the port"],
  [/unsupported protocol|protocol version|no protocols available/i, "no TLS version in common: mtlskit speaks TLS 1.2 and 1.3 only"],
  [/handshake failure|certificate required|no shared cipher/i, "the server refused the handshake; it may require a client certificate or share no cipher suite"],
];

function connectError(e: NodeJS.ErrnoException & { reason?: string }, target: HttpsTarget, url: string, tcpConnected: boolean, presented?: string): MtlsError {
  const code = e.code ?? "";
  const opts = { subject: url, cause: e };
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME" || code === "EAI_FAIL") {
    return new MtlsError("HOST_NOT_FOUND", `${target.host}: the host name does not resolve (${code})`, opts);
  }
  if (code === "ECONNREFUSED") return new MtlsError("CONNECTION_REFUSED", `${target.display}: connection refused (nothing listens on that port)`, opts);
  const reason = e.reason ?? e.message;
  if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_") || (tcpConnected && (code === "ECONNRESET" || code === "EPIPE"))) {
    const why = code === "ECONNRESET" || code === "EPIPE" ? "the server closed the connection during the handshake" : reason;
    const hint = HANDSHAKE_HINTS.find(([re]) => re.test(reason))?.[1];
    return new MtlsError("TLS_HANDSHAKE_FAILED", `${target.display}: TLS handshake failed: ${why}${hint ? ` (${hint})` : ""}${presented ? `; ${presented}` : ""}`, opts);
  }
  return new MtlsError("TLS_CONNECT_FAILED", `${target.display}: cannot connect: ${reason}${code && !reason.includes(code) ? ` (${code})` : ""}`, opts);
}
