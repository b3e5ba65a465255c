/**
 * The emulator's API endpoint (docs/architecture.md, "The emulator"; issue 3, "API endpoint"): one HTTPS
 * listener per (program, environment) playing the Thales API.
 *
 * - mTLS by the program's rules: TLS 1.2 or 1.3 only, a client certificate always required.
 *   MT accepts only the endorsed (pinned) self-signed certificates of this environment; D1
 *   accepts certificates issued by this environment's Business PKI CA whose CN matches the
 *   policy's pattern with this environment's code (`TLSMA-ECDSA/<id>/D1.PPR` on preprod).
 * - D1: the OAuth 2.0 JWT bearer token endpoint (RFC 7523) at `<authz path>/oauth2/token`.
 * - An echo resource under the program's base path returning the authenticated identity.
 *
 * Parts: the handshake gate and its TLS 1.3 alert encryption in `handshake-gate.ts`, the
 * client verdict (who is allowed, which refusal) in `client-verdict.ts` (a pure function), the
 * D1 token endpoint and bearer check in `token-endpoint.ts`, the echo resource in
 * `echo-route.ts`; this file wires them and routes the requests.
 *
 * ## How a refusal happens in the handshake, with a precise reason
 *
 * Node offers two things, neither enough alone:
 * - `rejectUnauthorized: true` only makes OpenSSL refuse in the handshake when the client sends
 *   no certificate (`SSL_VERIFY_FAIL_IF_NO_PEER_CERT`). Node's verify callback accepts every
 *   certificate and, for a chain that does not verify, simply destroys the socket once the
 *   handshake has finished (no alert, and no event saying why: `tlsClientError` is not emitted).
 *   And OpenSSL cannot apply our own rules (CN pattern, environment code, pins) at all.
 * - `requestCert` with `rejectUnauthorized: false` gives everything needed for a precise
 *   reason in `'secureConnection'` (`authorizationError`, the peer certificate), but by then
 *   OpenSSL has already produced its last handshake flight; destroying the socket leaves the
 *   client with a bare EOF.
 *
 * So the listener is a plain `net.Server`, and each connection goes through a small
 * {@link HandshakeGate} (`handshake-gate.ts`) (a Duplex between the TCP socket and a `tls.Server` that does not
 * listen itself). The gate reads the TLS record headers (never any decrypted data): it notes
 * the ClientHello (offered versions) and the ServerHello (negotiated version), and from the
 * moment the client sends its last handshake flight (TLS 1.2: its ChangeCipherSpec; TLS 1.3:
 * its first encrypted record) it holds back whatever the server writes. The decision is made
 * in `'secureConnection'` from OpenSSL's verification result plus our rules, then:
 * - accepted: the held bytes go out and the gate becomes a pass-through;
 * - TLS 1.2 refused: the held ChangeCipherSpec/Finished are dropped and a fatal alert goes out
 *   instead, in clear, as the handshake's last message. The client's handshake FAILS with that
 *   alert (`sslv3 alert unknown ca`, `certificate expired`, `access denied`, ...), exactly as
 *   when OpenSSL refuses by itself;
 * - TLS 1.3 refused: by protocol the client has finished its handshake when it sends its
 *   certificate, so every TLS 1.3 server (OpenSSL included) refuses with an alert the client
 *   reads right after its handshake, on its first read. The gate does the same: it drops the
 *   held NewSessionTickets and sends the fatal alert encrypted with the server's application
 *   traffic key (obtained for that connection from the `'keylog'` event, kept in memory only
 *   until the decision, never logged). The client sees `tlsv13 alert certificate required`,
 *   `tlsv1 alert unknown ca`, ... instead of an HTTP response.
 * Handshakes OpenSSL refuses by itself (TLS 1.1 and older, no shared cipher, a client that
 * refuses our server certificate, not TLS at all) arrive in `'tlsClientError'` with OpenSSL's
 * reason; the gate adds what the client offered (e.g. "offered at most TLSv1.1").
 * Each connection is tied to its gate with an AsyncLocalStorage around `emit("connection")`:
 * the TLS socket, its callbacks and events inherit that context (public API only).
 * TLS session resumption is off (no tickets, no session cache), so every handshake presents
 * a certificate and is judged against the trust in force at that moment.
 *
 * Every handshake, accepted or refused, lands in `onHandshake` with a stable code:
 * {@link HANDSHAKE_CODES}.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { constants as cryptoConstants, type KeyObject } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import net from "node:net";
import tls from "node:tls";
import { MtlsError } from "../errors/index.js";
import { fingerprint, parseCertificate, parsePem, type CertificateInfo } from "../pki/index.js";
import { type EnvironmentPolicy, type ProgramPolicy } from "../policy/index.js";
import { classifyHandshakeError } from "../server/handshake-errors.js";
import { echoResource } from "./echo-route.js";
import { judgeClient, type ClientIdentity, type ParsedTrust, type Verdict } from "./client-verdict.js";
import { ALERT, HandshakeGate, TLS_VERSION_NAMES } from "./handshake-gate.js";
import { headerValue, JsonHttpError, readBody, sendJson } from "./http-json.js";
import { TokenEndpoint } from "./token-endpoint.js";

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** The certificate and key the endpoint presents. */
export interface ServerCredential {
  /** Leaf followed by its intermediates. */
  chainPem: string;
  keyPem: string;
}

/** Which client certificates the endpoint trusts. */
export type ClientTrust =
  /**
   * D1: certificates issued by this environment's Business PKI CA. `caPem` holds the issuing
   * CA certificate(s) (a leaf's direct issuer must be one of them) followed, when the issuing
   * CA is an intermediate, by the certificates up to its root so that OpenSSL can verify the
   * chain. A leaf issued by another CA under the same root is refused.
   */
  | { kind: "ca"; caPem: string }
  /** MT: the endorsed self-signed certificates of this environment (exact certificates). */
  | { kind: "pinned"; certificatesPem: string[] };

/** One handshake, accepted or refused. */
export interface HandshakeLogEntry {
  /** ISO 8601. */
  at: string;
  program: string;
  environment: string;
  /** The client's IP address. */
  remoteAddress: string;
  result: "accepted" | "refused";
  /** `OK` when accepted, else one of {@link HANDSHAKE_CODES}. */
  code: string;
  /** One sentence saying why, with what to do when refused. */
  reason: string;
  /** Negotiated version, or for a protocol refusal the highest version the client offered. */
  tlsVersion?: string;
  /** Client certificate subject (`CN=...`), when one was presented. */
  subject?: string;
  /** SHA-256 of the client certificate DER, lower-case hex, when one was presented. */
  fingerprint?: string;
}

export interface ApiServerOptions {
  program: ProgramPolicy;
  environment: EnvironmentPolicy;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  credential: ServerCredential;
  clientTrust: ClientTrust;
  /** D1 only: the OAuth key registered for (merchantGatewayId, kid), or undefined. */
  oauthKey?: (gatewayId: string, kid: string) => KeyObject | undefined;
  /** D1 resource base path (default "/d1/v1/"). MT base paths come from the policy's baseUrl. */
  d1ResourcePath?: string;
  onHandshake?: (entry: HandshakeLogEntry) => void;
}

export interface ApiServer {
  readonly port: number;
  /** `127.0.0.1:PORT` */
  readonly address: string;
  /** Replaces the server certificate for new handshakes (validated first; the old one stays on error). */
  setCredential(c: ServerCredential): void;
  /** Replaces the client trust for new handshakes (validated first; the old one stays on error). */
  setClientTrust(t: ClientTrust): void;
  close(): Promise<void>;
}

/**
 * Stable codes of the handshake log, with the TLS alert the client receives for the refusals
 * the endpoint decides itself (OpenSSL's own refusals carry OpenSSL's alert).
 */
export const HANDSHAKE_CODES = {
  OK: "The handshake was accepted.",
  NO_CLIENT_CERTIFICATE: "The client sent no certificate (alert handshake_failure in TLS 1.2, certificate_required in TLS 1.3).",
  UNKNOWN_CA: "D1: the certificate was not issued by this environment's Business PKI CA (alert unknown_ca).",
  NOT_ENDORSED: "MT: the certificate is not one of the endorsed (pinned) certificates of this environment (alert unknown_ca).",
  CERTIFICATE_EXPIRED: "The client certificate (or a CA of its chain) has expired (alert certificate_expired).",
  CERTIFICATE_NOT_YET_VALID: "The client certificate is not valid yet (alert bad_certificate).",
  WRONG_ENVIRONMENT: "D1: the certificate's CN names another environment (D1.PRD at the preprod endpoint...) (alert access_denied).",
  CN_PATTERN: "D1: the certificate's CN does not follow TLSMA-<ECDSA|RSA>/<merchantGatewayId>/D1.<env> for its key (alert access_denied).",
  KEY_TYPE_REFUSED: "The program does not accept the certificate's key type (alert unsupported_certificate).",
  WRONG_KEY_USAGE: "The certificate's extended key usage does not allow TLS client authentication (alert unsupported_certificate).",
  BAD_CERTIFICATE: "The certificate cannot be read or fails verification for another reason (alert bad_certificate).",
  PROTOCOL_VERSION: "The client offered no TLS version of 1.2 or later (OpenSSL's alert protocol_version).",
  NO_SHARED_CIPHER: "The client offered no cipher suite or signature algorithm the endpoint accepts.",
  SERVER_CERTIFICATE_REFUSED: "The client refused the endpoint's certificate (its trust store lacks the Thales server CA).",
  CLIENT_ALERT: "The client aborted the handshake with an alert.",
  NOT_TLS: "The client did not speak TLS (plain HTTP on the TLS port?).",
  CLIENT_ABORTED: "The client closed the connection during the handshake.",
  HANDSHAKE_TIMEOUT: "The handshake did not complete in time.",
  HANDSHAKE_FAILED: "The handshake failed for another reason given by OpenSSL.",
} as const;

/** A code of the handshake log. */
export type HandshakeCode = keyof typeof HANDSHAKE_CODES;

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

/** Largest request body accepted (413 beyond). */
export const MAX_BODY_BYTES = 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 15_000;
const DEFAULT_D1_RESOURCE_PATH = "/d1/v1/";

// ---------------------------------------------------------------------------------------------
// Client certificate verdict
// ---------------------------------------------------------------------------------------------

function certificatesOf(pem: string, source: string): CertificateInfo[] {
  const blocks = parsePem(pem, source).filter((b) => b.label === "CERTIFICATE" || b.label === "TRUSTED CERTIFICATE");
  return blocks.map((b, i) => parseCertificate(b.der, blocks.length > 1 ? `${source} (certificate ${i + 1})` : source));
}

function parseTrust(t: ClientTrust): ParsedTrust {
  if (t.kind === "ca") {
    const anchors = certificatesOf(t.caPem, "client CA");
    if (anchors.length === 0) throw new MtlsError("CA_CERTIFICATE_REQUIRED", "the client trust holds no CA certificate");
    return { kind: "ca", anchors, pems: anchors.map((a) => pemOf(a)) };
  }
  const pins = new Map<string, CertificateInfo>();
  t.certificatesPem.forEach((pem, i) => {
    for (const c of certificatesOf(pem, `pinned certificate ${i + 1}`)) pins.set(fingerprint(c.der, "hex"), c);
  });
  return { kind: "pinned", pins, pems: [...pins.values()].map((c) => pemOf(c)) };
}

function pemOf(c: CertificateInfo): string {
  return c.x509.toString();
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

class ApiServerImpl implements ApiServer {
  private readonly program: ProgramPolicy;
  private readonly environment: EnvironmentPolicy;
  private readonly host: string;
  private readonly net: net.Server;
  private readonly tls: tls.Server;
  private readonly http: http.Server;
  private readonly gates = new AsyncLocalStorage<HandshakeGate>();
  private readonly sockets = new Set<net.Socket>();
  private readonly identities = new WeakMap<object, ClientIdentity>();
  private credential: ServerCredential;
  private trust: ParsedTrust;
  private readonly basePath: string;
  private readonly tokenPath: string | undefined;
  /** D1 only: the OAuth 2.0 token endpoint and the tokens it issued. */
  private readonly tokenEndpoint: TokenEndpoint | undefined;
  private listeningPort = 0;

  constructor(private readonly options: ApiServerOptions) {
    const { program, environment } = options;
    if (!program.environments.some((e) => e.id === environment.id)) {
      throw new MtlsError("UNKNOWN_ENVIRONMENT", `environment '${environment.id}' is not an environment of ${program.name}`);
    }
    this.program = program;
    this.environment = environment;
    this.host = options.host ?? "127.0.0.1";
    if (program.auth.kind === "oauth2-jwt-bearer") {
      this.basePath = normalizeBase(options.d1ResourcePath ?? DEFAULT_D1_RESOURCE_PATH);
      const authz = environment.authzUrl ? new URL(environment.authzUrl).pathname.replace(/\/+$/, "") : "/authz/v1";
      this.tokenPath = `${authz}/oauth2/token`;
      this.tokenEndpoint = new TokenEndpoint({ program, environment, tokenPath: this.tokenPath, oauthKey: options.oauthKey });
    } else {
      this.basePath = normalizeBase(environment.baseUrl ? new URL(environment.baseUrl).pathname : "/");
      this.tokenPath = undefined;
      this.tokenEndpoint = undefined;
    }
    this.credential = options.credential;
    this.trust = parseTrust(options.clientTrust);
    this.tls = tls.createServer({
      ...this.contextOptions(this.credential, this.trust),
      requestCert: true,
      // Decided in 'secureConnection' (see the file comment), never by Node on its own.
      rejectUnauthorized: false,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      ALPNProtocols: ["http/1.1"],
    });
    this.tls.on("keylog", (line: Buffer) => this.onKeylog(line));
    this.tls.on("secureConnection", (socket: tls.TLSSocket) => this.onSecureConnection(socket));
    this.tls.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => this.onTlsClientError(error, socket));
    this.http = http.createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (e instanceof JsonHttpError) sendJson(res, e.status, { errors: e.errors }, e.headers);
        else sendJson(res, 500, { errors: [{ code: "INTERNAL", message: "the emulator failed to handle the request" }] });
      });
    });
    this.net = net.createServer((raw) => this.onConnection(raw));
  }

  get port(): number {
    return this.listeningPort;
  }

  get address(): string {
    return `${net.isIPv6(this.host) ? `[${this.host}]` : this.host}:${this.listeningPort}`;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.net.once("error", reject);
      this.net.listen(this.options.port ?? 0, this.host, () => {
        this.net.off("error", reject);
        resolve();
      });
    });
    this.listeningPort = (this.net.address() as net.AddressInfo).port;
  }

  setCredential(c: ServerCredential): void {
    this.apply(c, this.trust);
    this.credential = c;
  }

  setClientTrust(t: ClientTrust): void {
    const parsed = parseTrust(t);
    this.apply(this.credential, parsed);
    this.trust = parsed;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.net.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.tokenEndpoint?.clear();
    await closed;
  }

  // --- TLS ----------------------------------------------------------------------------------

  private contextOptions(c: ServerCredential, t: ParsedTrust): tls.SecureContextOptions {
    return {
      key: c.keyPem,
      cert: c.chainPem,
      // Always an explicit list (never Node's default root store); also sent to the client as
      // the acceptable CAs of the CertificateRequest.
      ca: t.pems,
      minVersion: this.program.tls.minVersion,
      maxVersion: this.program.tls.maxVersion,
      // No resumption: every handshake shows a certificate judged by the current trust.
      secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
    };
  }

  private apply(c: ServerCredential, t: ParsedTrust): void {
    try {
      this.tls.setSecureContext(this.contextOptions(c, t));
    } catch (e) {
      throw new MtlsError("SERVER_CERT_INVALID", `the API endpoint's credential was not changed: ${(e as Error).message}`, { cause: e });
    }
  }

  private onConnection(raw: net.Socket): void {
    this.sockets.add(raw);
    raw.on("close", () => this.sockets.delete(raw));
    const gate = new HandshakeGate(raw);
    // The TLS socket created by emit(), its callbacks and the gate's handlers run in this context.
    this.gates.run(gate, () => {
      gate.start();
      this.tls.emit("connection", gate);
    });
  }

  private onKeylog(line: Buffer): void {
    const gate = this.gates.getStore();
    if (!gate) return;
    const text = line.toString("latin1");
    if (!text.startsWith("SERVER_TRAFFIC_SECRET_0 ")) return;
    const secretHex = text.trim().split(" ")[2];
    if (secretHex) gate.serverTrafficSecret = Buffer.from(secretHex, "hex");
  }

  private log(gate: HandshakeGate | undefined, entry: Omit<HandshakeLogEntry, "at" | "program" | "environment" | "remoteAddress">): void {
    const full: HandshakeLogEntry = {
      at: new Date().toISOString(),
      program: this.program.id,
      environment: this.environment.id,
      remoteAddress: gate?.remoteAddress ?? "unknown",
      ...entry,
    };
    try {
      this.options.onHandshake?.(full);
    } catch {
      // a failing log consumer must not break the endpoint
    }
  }

  private onSecureConnection(socket: tls.TLSSocket): void {
    const gate = this.gates.getStore();
    const version = socket.getProtocol();
    let verdict: Verdict;
    try {
      const peer = socket.getPeerX509Certificate();
      const cert = peer ? parseCertificate(new Uint8Array(peer.raw), "client certificate") : undefined;
      verdict = judgeClient({
        program: this.program,
        environment: this.environment,
        trust: this.trust,
        client: cert ? { cert, fingerprint: fingerprint(cert.der, "hex") } : undefined,
        authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined,
        version,
        now: Date.now(),
      });
    } catch (e) {
      verdict = { ok: false, code: "BAD_CERTIFICATE", reason: `the client certificate could not be examined: ${(e as Error).message}`, alert: ALERT.bad_certificate };
    }
    const cert = verdict.cert;
    const who = cert ? { subject: cert.subjectText, fingerprint: fingerprint(cert.der, "hex") } : {};
    if (verdict.ok) {
      this.log(gate, { result: "accepted", code: "OK", reason: `accepted ${cert ? `'${cert.subjectText}'` : ""} for ${this.program.name} ${this.environment.label}`, ...(version ? { tlsVersion: version } : {}), ...who });
      this.identities.set(socket, verdict.identity);
      gate?.open();
      this.http.emit("connection", socket);
      return;
    }
    this.log(gate, { result: "refused", code: verdict.code, reason: verdict.reason, ...(version ? { tlsVersion: version } : {}), ...who });
    gate?.refuse(verdict.alert, version, socket.getCipher()?.standardName);
    socket.destroy();
  }

  private onTlsClientError(error: Error & { code?: string }, socket: tls.TLSSocket): void {
    const gate = this.gates.getStore();
    gate?.open(); // let OpenSSL's own alert reach the client
    const offered = gate?.clientHello?.maxVersion;
    const offeredName = offered !== undefined ? (TLS_VERSION_NAMES[offered] ?? `0x${offered.toString(16)}`) : undefined;
    const { code, reason } = classifyTlsError(error, offeredName);
    // A connection closed before saying anything (a port probe) is not a handshake.
    if (code === "CLIENT_ABORTED" && gate?.bytesFromClient === 0) {
      if (!socket.destroyed) socket.destroy();
      return;
    }
    this.log(gate, { result: "refused", code, reason, ...(code === "PROTOCOL_VERSION" && offeredName ? { tlsVersion: offeredName } : {}) });
    if (!socket.destroyed) socket.destroy();
  }

  // --- HTTP -----------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const identity = this.identities.get(req.socket);
    if (!identity) throw new JsonHttpError(403, [{ code: "FORBIDDEN", message: "no authenticated client certificate on this connection" }]);
    const url = new URL(req.url ?? "/", "https://emulator.invalid");
    const path = url.pathname;
    const correlationId = headerValue(req, "x-correlation-id");
    const pattern = this.program.auth.correlationIdPattern;
    // Echoed only when well formed (never reflect arbitrary bytes into a header).
    const echoable = correlationId !== undefined && (pattern ? pattern.test(correlationId) : /^[\x21-\x7e]{1,256}$/.test(correlationId));
    if (echoable) res.setHeader("x-correlation-id", correlationId);

    const body = await readBody(req, MAX_BODY_BYTES, "this endpoint");

    if (this.tokenEndpoint && path === this.tokenPath) {
      if (req.method !== "POST") throw new JsonHttpError(405, [{ code: "METHOD_NOT_ALLOWED", message: `${req.method ?? ""} is not allowed on ${path}; use POST` }], { allow: "POST" });
      const answer = await this.tokenEndpoint.issue(req, body, identity);
      sendJson(res, 200, answer, { pragma: "no-cache" });
      return;
    }
    if (path.startsWith(this.basePath) || `${path}/` === this.basePath) {
      const answer = echoResource({ program: this.program, environment: this.environment, req, path, identity, correlationId, echoable, tokenEndpoint: this.tokenEndpoint });
      sendJson(res, 200, answer);
      return;
    }
    const where = this.tokenPath ? `the token endpoint is ${this.tokenPath} and resources are under ${this.basePath}` : `resources are under ${this.basePath}`;
    throw new JsonHttpError(404, [{ code: "NOT_FOUND", message: `no resource at ${path} on the ${this.program.name} ${this.environment.label} endpoint: ${where}` }]);
  }
}

function normalizeBase(path: string): string {
  let p = path.startsWith("/") ? path : `/${path}`;
  if (!p.endsWith("/")) p += "/";
  return p;
}

/** A `tlsClientError` as a handshake log code and sentence, from the server's one classification. */
function classifyTlsError(error: Error & { code?: string }, offered: string | undefined): { code: HandshakeCode; reason: string } {
  const c = classifyHandshakeError(error);
  const openssl = c.openssl;
  switch (c.reason) {
    case "protocol_version":
      return { code: "PROTOCOL_VERSION", reason: `the client offered ${offered ? `at most ${offered}` : "no acceptable TLS version"}; this endpoint accepts TLS 1.2 and 1.3 only (OpenSSL: ${openssl})` };
    case "no_shared_cipher":
      return { code: "NO_SHARED_CIPHER", reason: `the client offered no cipher suite or signature algorithm this endpoint accepts (OpenSSL: ${openssl})` };
    case "not_tls":
      return { code: "NOT_TLS", reason: `the client did not start a TLS handshake (OpenSSL: ${openssl}); use https://` };
    case "server_certificate_refused":
      return { code: "SERVER_CERTIFICATE_REFUSED", reason: `the client refused the endpoint's certificate (it sent alert '${c.alert ?? openssl}'): its trust store must hold the Thales server CA chain of this environment` };
    case "handshake_timeout":
      return { code: "HANDSHAKE_TIMEOUT", reason: `the handshake did not complete within ${HANDSHAKE_TIMEOUT_MS / 1000} s` };
    case "no_certificate":
      return { code: "NO_CLIENT_CERTIFICATE", reason: `the client sent no certificate (OpenSSL: ${openssl})` };
    default:
      if (c.alert) return { code: "CLIENT_ALERT", reason: `the client aborted the handshake with alert '${c.alert}'` };
      if (c.reason === "aborted") return { code: "CLIENT_ABORTED", reason: "the client closed the connection during the handshake" };
      return { code: "HANDSHAKE_FAILED", reason: `the handshake failed (OpenSSL: ${openssl})` };
  }
}

/**
 * Starts the HTTPS listener of one (program, environment): see the file comment for the rules
 * and how refusals reach the client and the handshake log.
 *
 * @example
 * const api = await startApiServer({ program: d1, environment: getEnvironment(d1, "preprod"),
 *   credential: { chainPem, keyPem }, clientTrust: { kind: "ca", caPem }, oauthKey, onHandshake: (e) => log.push(e) });
 * // https://api.d1-stg.thalescloud.test:<api.port>/authz/v1/oauth2/token
 */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const server = new ApiServerImpl(options);
  await server.listen();
  return server;
}
