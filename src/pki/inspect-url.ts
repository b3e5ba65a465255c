/**
 * `mtlskit inspect https://HOST[:PORT]`: what a TLS server presents, probed with a real
 * `node:tls` connection (loaded only when a URL is inspected), each certificate described as
 * inspect.ts describes a file's.
 */
import type { ConnectionOptions, PeerCertificate, TLSSocket } from "node:tls";
import { MtlsError } from "../errors/index.js";
import { describeCertificate, type CertificateDescription } from "./inspect.js";
import { isSignedBy, parseCertificate, type CertificateInfo } from "./x509-parse.js";

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
