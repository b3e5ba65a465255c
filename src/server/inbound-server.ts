/**
 * `createInboundServer`: the endpoint Thales calls. Terminates mutual TLS by the programs'
 * inbound rules, forwards verified requests to the customer's application over a keep-alive
 * pool, reloads its certificates without downtime, and reports on an admin listener.
 */
import { randomBytes, X509Certificate } from "node:crypto";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { Pool } from "undici";
import { ReloadableCredentials, type CredentialFiles, type CredentialSet } from "../credentials/index.js";
import { MtlsError } from "../errors/index.js";
import type { ProgramPolicy } from "../policy/index.js";
import { adminHandler } from "./admin.js";
import { formatRetryAfter, isLoopback } from "../policy/index.js";
import { forwardRequest, pathOf, sendError, DEFAULT_CORRELATION_ID_PATTERN, type ForwardContext, type UpstreamFailureStatus } from "./forward.js";
import { classifyHandshakeError, refusalMessage } from "./handshake-errors.js";
import { checkAllowList, peerIdentity, type ClientIdentity, type IdentityAllowList } from "./identity.js";
import { createJsonLogger, type InboundLogger } from "./logger.js";
import { createInboundMetrics, type InboundMetrics } from "./metrics.js";
import { DEFAULT_LISTEN_PORT, parseUpstream, pendingHandshakeCap, resolveLimits, tcpConnectionCap, type InboundLimits, type ListenAddress } from "./options.js";
import { startReloadTriggers, type ReloadTrigger, type ReloadTriggers } from "./reloader.js";
import { secureContextOptions, serverTlsOptions } from "./tls-options.js";

/** Options of {@link createInboundServer}. */
export interface InboundServerOptions {
  /**
   * The server certificate (`certFile`, optionally followed by its chain), its key, the chain
   * (`chainFile`), and the trusted client CA (`caFile`, required: the Thales Client CA, never a
   * leaf). Or a `ReloadableCredentials` already loaded from such files.
   */
  credentials: CredentialFiles | ReloadableCredentials;
  /** The application: `http://host:port[/prefix]`. */
  upstream: string | URL;
  /** Where to listen. Default every interface, port 8443. Port 0 picks a free port. */
  listen?: Partial<ListenAddress>;
  /** The admin listener (`/healthz`, `/readyz`, `/metrics`). Default none; `mtlskit serve` uses 127.0.0.1:9464. */
  admin?: Partial<ListenAddress> | false;
  /** Profile name, for logs and the certificate gauges. Default `default`. */
  profile?: string;
  /** The program whose inbound rules apply (both say TLS 1.2+, ports 443 or 8443). */
  program?: ProgramPolicy;
  /** Identity checks on top of CA verification. */
  allow?: IdentityAllowList;
  /** Limits; see {@link InboundLimits} for the defaults. */
  limits?: Partial<InboundLimits>;
  /** How upstream failures are answered. Default `retryable` (503, which Thales retries). */
  upstreamFailureStatus?: UpstreamFailureStatus;
  /** Upstream connections kept in the pool. Default 128. */
  upstreamConnections?: number;
  reload?: {
    /** Watch the folders of the files. Default true. */
    watch?: boolean;
    /** Quiet time after a change before reloading, ms. Default 250. */
    debounceMs?: number;
    /** Reload every this many ms (0: never). Default 0. */
    intervalMs?: number;
    /** Reload on this signal. Default none (`mtlskit serve`: SIGHUP). */
    signal?: NodeJS.Signals | false;
  };
  /** A pino-compatible logger. Default: JSON lines on stderr at level info. */
  logger?: InboundLogger;
  /**
   * Connections dropped before their handshake finished (silent, aborted, not TLS, timed out,
   * evicted by a flood) are logged as one `connections_dropped` summary line per this many ms,
   * with counts by reason, not one line each. Default 10 000.
   */
  dropSummaryIntervalMs?: number;
}

/** Handshake outcomes logged as a periodic counted summary rather than one line each. */
const SUMMARISED = new Set(["aborted", "not_tls", "handshake_timeout"]);

/** The outcome of one reload. */
export type InboundReloadResult = { ok: true; changed: boolean; version: number; clientCaChanged: boolean } | { ok: false; error: MtlsError };

/** A running inbound server. */
export interface InboundServer {
  /** `https://host:port` of the listener (127.0.0.1 when listening on every interface). */
  readonly url: string;
  readonly address: AddressInfo;
  /** `http://host:port` of the admin listener, when there is one. */
  readonly adminUrl: string | undefined;
  /** The Node server (for tests and embedding). */
  readonly server: https.Server;
  readonly credentials: ReloadableCredentials;
  readonly metrics: InboundMetrics;
  /** The folders watched for changes. */
  readonly watched: readonly string[];
  /** Reloads now (the same reload a signal, the timer or a file change run). */
  reload(): Promise<InboundReloadResult>;
  /** Why the server is not ready; empty when ready. */
  notReady(): string[];
  /** The metrics in Prometheus format. */
  metricsText(): string;
  /**
   * Stops accepting, lets requests in progress finish for up to `graceMs` (default 5 000),
   * then closes every connection, the upstream pool and the admin listener.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

interface ConnectionState {
  identity: ClientIdentity | undefined;
  overLimit: boolean;
  /** The trust generation under which the peer's certificate was last found trusted. */
  trustGeneration: number;
}

/**
 * True when the peer's certificate, or a certificate of the chain it presented, is one of
 * `cas` or is issued (and signed) by one of them: the check a new handshake would pass.
 */
function peerStillTrusted(socket: TLSSocket, cas: readonly X509Certificate[]): boolean {
  let cert: X509Certificate | undefined = socket.getPeerX509Certificate();
  const seen = new Set<string>();
  while (cert && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    for (const ca of cas) {
      if (cert.fingerprint256 === ca.fingerprint256) return true;
      if (cert.checkIssued(ca) && cert.verify(ca.publicKey)) return true;
    }
    cert = cert.issuerCertificate;
  }
  return false;
}

function x509s(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
}

function isCredentials(c: CredentialFiles | ReloadableCredentials): c is ReloadableCredentials {
  return c instanceof ReloadableCredentials;
}

/** True when some trusted certificate is self-signed: OpenSSL then needs no partial chain. */
function hasSelfSignedAnchor(set: CredentialSet): boolean {
  return set.cas.some((c) => c.selfIssued);
}

/**
 * Node 20's `tls.Server` drops `allowPartialTrustChain`; set it on the server's context
 * directly when the trusted client CA is an intermediate shipped without its root.
 */
function allowPartialChain(server: https.Server): boolean {
  const ctx = (server as unknown as { _sharedCreds?: { context?: { setAllowPartialTrustChain?: () => void } } })._sharedCreds?.context;
  if (typeof ctx?.setAllowPartialTrustChain !== "function") return false;
  ctx.setAllowPartialTrustChain();
  return true;
}

function listenOn(server: http.Server | https.Server, address: ListenAddress, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      const where = `${address.host ?? "*"}:${address.port}`;
      const why = e.code === "EADDRINUSE" ? "the port is in use" : e.code === "EACCES" ? `port ${address.port} needs privileges` : e.code === "EADDRNOTAVAIL" ? "the address is not on this machine" : e.message;
      reject(new MtlsError("LISTEN_FAILED", `the ${what} cannot listen on ${where}: ${why}`, { cause: e, subject: where }));
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(address.port, address.host);
  });
}

function urlOf(scheme: string, a: AddressInfo, requested: string | undefined): string {
  const host = requested && requested !== "0.0.0.0" && requested !== "::" ? requested : a.family === "IPv6" && requested === "::" ? "::1" : "127.0.0.1";
  return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${a.port}`;
}

/** The peer address of a TLS socket, also after it was destroyed (then from the TCP socket under it). */
function remoteOf(socket: TLSSocket): string | undefined {
  return socket.remoteAddress ?? (socket as unknown as { _parent?: Socket })._parent?.remoteAddress;
}

const CLIENT_ERROR_STATUS: Record<string, number> = { HPE_HEADER_OVERFLOW: 431, ERR_HTTP_REQUEST_TIMEOUT: 408 };

/**
 * Starts the endpoint Thales calls: mutual TLS (TLS 1.2/1.3, forward-secret AEAD suites, no
 * renegotiation or compression), a client certificate required and verified against the
 * trusted client CA (never a pinned leaf: a new Thales certificate from the same CA is accepted
 * with no change), optional CN/O allow-list, forwarding to the upstream with the verified
 * identity in headers, limits, hot reload and metrics.
 *
 * Throws `INBOUND_NOT_READY` without a client CA, `LEAF_AS_CA` when the CA file holds a leaf,
 * the credential errors of an invalid set (`KEY_MISMATCH`, `CHAIN_INVALID`, ...),
 * `UPSTREAM_INVALID` and `LISTEN_FAILED`.
 *
 * @example
 * const srv = await createInboundServer({
 *   credentials: { certFile: "server.crt", keyFile: "server.key", chainFile: "chain.pem", caFile: "thales-client-ca.pem" },
 *   upstream: "http://127.0.0.1:8080",
 *   listen: { port: 8443 },
 *   admin: { host: "127.0.0.1", port: 9464 },
 * });
 * // ... later
 * await srv.close();
 */
export async function createInboundServer(options: InboundServerOptions): Promise<InboundServer> {
  const limits = resolveLimits(options.limits);
  const upstream = parseUpstream(options.upstream);
  const profile = options.profile ?? "default";
  const logger = options.logger ?? createJsonLogger({ base: { profile } });
  const program = options.program;
  const failureMode: UpstreamFailureStatus = options.upstreamFailureStatus ?? "retryable";
  if (!isCredentials(options.credentials) && !options.credentials.caFile) {
    throw new MtlsError("INBOUND_NOT_READY", "no client CA was given: the endpoint Thales calls must verify Thales's client certificate against the Thales Client CA");
  }
  const credentials = isCredentials(options.credentials) ? options.credentials : await ReloadableCredentials.load(options.credentials);
  if (!credentials.files.caFile || credentials.current().cas.length === 0) {
    throw new MtlsError("INBOUND_NOT_READY", "no client CA: the endpoint Thales calls must verify Thales's client certificate against the Thales Client CA");
  }
  if (credentials.rules.refuseLeafAsCa === false) {
    // Reloads must keep refusing a leaf as trust, whatever the caller's credentials allow.
    throw new MtlsError("LEAF_AS_CA", "the credentials given accept a leaf certificate as the client CA; the endpoint Thales calls never pins a leaf, which Thales may rotate at any time");
  }
  const metrics = createInboundMetrics();
  const updateGauges = (set: CredentialSet) => {
    metrics.notAfter.reset();
    const at = (c: CredentialSet["leaf"], role: string) => metrics.notAfter.set({ profile, role, subject: c.subjectText, serial: c.serialNumber }, Math.floor(c.notAfter.getTime() / 1000));
    at(set.leaf, "server");
    set.chain.slice(1).forEach((c) => at(c, "server-chain"));
    set.cas.forEach((c) => at(c, "inbound-client-ca"));
  };
  updateGauges(credentials.current());

  const pool = new Pool(upstream.origin, {
    connections: options.upstreamConnections ?? 128,
    pipelining: 1,
    keepAliveTimeout: 10_000,
    headersTimeout: limits.upstreamTimeoutMs,
    bodyTimeout: limits.upstreamTimeoutMs,
    connect: { timeout: limits.upstreamConnectTimeoutMs },
  });
  const fwd: ForwardContext = {
    pool,
    pathPrefix: upstream.pathPrefix,
    upstreamTimeoutMs: limits.upstreamTimeoutMs,
    maxBodyBytes: limits.maxBodyBytes,
    failureStatus: failureMode,
    metrics,
    logger,
    correlationIdPattern: program?.auth.correlationIdPattern ?? DEFAULT_CORRELATION_ID_PATTERN,
  };

  const connections = new WeakMap<TLSSocket, ConnectionState>();
  /** The trusted client CAs, and a generation that changes with them (see onRequest). */
  const trust = { generation: 0, cas: x509s(credentials.current().caPem) };
  const responding = new WeakMap<Socket, http.ServerResponse>();
  let open = 0;
  let closing = false;
  let listening = false;

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket as TLSSocket;
    responding.set(socket, res);
    res.once("close", () => {
      if (responding.get(socket) === res) responding.delete(socket);
      metrics.requests.inc({ status: res.writableFinished ? String(res.statusCode) : "499" });
      if (closing && !socket.destroyed) socket.end();
    });
    const conn = connections.get(socket);
    if (closing) {
      sendError(res, 503, "SHUTTING_DOWN", "the server is shutting down; try again", undefined, true);
      return;
    }
    if (!conn || conn.overLimit) {
      metrics.limits.inc({ limit: "max_connections" });
      logger.warn({ event: "limit_reached", limit: "max_connections", open, max: limits.maxConnections }, `more than ${limits.maxConnections} connections are open: answered 503 and closed this one`);
      sendError(res, 503, "TOO_MANY_CONNECTIONS", "too many connections; try again", undefined, true, { "retry-after": formatRetryAfter(1000) });
      return;
    }
    const cl = req.headers["content-length"];
    if (cl !== undefined && Number(cl) > limits.maxBodyBytes) {
      metrics.limits.inc({ limit: "body_size" });
      logger.warn({ event: "limit_reached", limit: "body_size", contentLength: Number(cl), max: limits.maxBodyBytes, method: req.method, path: pathOf(req) }, `refused a request body of ${cl} bytes (limit ${limits.maxBodyBytes})`);
      sendError(res, 413, "BODY_TOO_LARGE", `the request body is larger than ${limits.maxBodyBytes} bytes`, undefined, true);
      return;
    }
    if (conn.trustGeneration !== trust.generation) {
      // The trusted client CA changed since this connection's handshake: a connection of a
      // CA that is no longer trusted gets no more requests through (a new handshake would be
      // refused too); one of a CA still trusted goes on.
      if (!peerStillTrusted(socket, trust.cas)) {
        logger.warn({ event: "trust_removed", remote: socket.remoteAddress, subject: conn.identity?.subject, issuer: conn.identity?.issuer, method: req.method, path: pathOf(req) }, "refused a request on a connection whose client certificate the reloaded client CA no longer trusts; the connection is closed");
        sendError(res, 403, "CLIENT_CA_NOT_TRUSTED", "the client certificate of this connection is no longer trusted", undefined, true);
        return;
      }
      conn.trustGeneration = trust.generation;
    }
    const identity = (conn.identity ??= peerIdentity(socket));
    if (!identity) {
      // Cannot happen with rejectUnauthorized; kept so that a Node change never forwards anonymously.
      sendError(res, 403, "NO_CLIENT_CERTIFICATE", "a verified client certificate is required", undefined, true);
      return;
    }
    forwardRequest(fwd, req, res, identity);
  };

  const server = https.createServer(
    {
      ...serverTlsOptions(credentials.current(), limits.handshakeTimeoutMs, program),
      maxHeaderSize: limits.maxHeaderBytes,
      connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
      noDelay: true,
    },
    onRequest,
  );
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.idleTimeoutMs;
  server.timeout = 0;
  // A hard cap at the TCP level, above which connections are dropped unanswered; between
  // maxConnections and the cap they are answered 503 (which Thales retries). The cap counts
  // connections still in their handshake too: it is kept well above maxConnections so that a
  // flood of connections that never speak (each closed by the handshake timeout) cannot
  // crowd out Thales's new connections meanwhile.
  server.maxConnections = tcpConnectionCap(limits.maxConnections);
  let partialChainWarned = false;
  const trustAnchors = (set: CredentialSet) => {
    if (hasSelfSignedAnchor(set)) return;
    if (!allowPartialChain(server) && !partialChainWarned) {
      partialChainWarned = true;
      logger.warn({ event: "partial_chain_unsupported" }, "the client CA file has no root certificate and this Node version cannot trust an intermediate alone: add the root of the Thales Client CA to the file");
    }
  };
  trustAnchors(credentials.current());

  server.prependListener("secureConnection", (socket: TLSSocket) => {
    const raw = (socket as unknown as { _parent?: Socket })._parent;
    if (raw) unpend(raw);
    let identity: ClientIdentity | undefined;
    if (options.allow) {
      identity = peerIdentity(socket);
      const why = identity ? checkAllowList(identity, options.allow) : "no certificate";
      if (why) {
        metrics.handshakes.inc({ result: "identity_not_allowed" });
        logger.warn({ event: "handshake_refused", reason: "identity_not_allowed", detail: why, remote: socket.remoteAddress, subject: identity?.subject, issuer: identity?.issuer, serial: identity?.serialNumber }, refusalMessage("identity_not_allowed"));
        socket.destroy();
        return;
      }
    }
    metrics.handshakes.inc({ result: "ok" });
    open++;
    metrics.connections.set(undefined, open);
    connections.set(socket, { identity, overLimit: open > limits.maxConnections, trustGeneration: trust.generation });
    socket.once("close", () => {
      open--;
      metrics.connections.set(undefined, open);
    });
  });

  // --- unauthenticated connections: what one that has not finished its handshake may hold.
  // Tracked from the TCP accept to the end of the handshake, oldest first. A new connection
  // over the global or per-address cap closes the oldest pending one (of all, or of its
  // address), so that a flood of silent connections can never keep a new one out: the flood
  // only churns itself. A connection that sends no byte within firstByteTimeoutMs is closed.
  // Only connections that have not finished their handshake are closed here (the TCP socket
  // under a TLS socket still in its handshake; no HTTP state exists yet).
  const pendingCap = pendingHandshakeCap(limits);
  const firstByteMs = Math.min(limits.firstByteTimeoutMs, limits.handshakeTimeoutMs);
  const pending = new Map<Socket, { since: number; address: string }>();
  const pendingByAddress = new Map<string, Set<Socket>>();
  /** Why we closed a pending connection, read back when its TLS socket reports the error. */
  const dropped = new WeakMap<Socket, "first_byte_timeout" | "pending_evicted">();
  const dropCounts = new Map<string, number>();
  const countDrop = (reason: string) => dropCounts.set(reason, (dropCounts.get(reason) ?? 0) + 1);
  const unpend = (raw: Socket) => {
    const p = pending.get(raw);
    if (!p) return;
    pending.delete(raw);
    const set = pendingByAddress.get(p.address);
    set?.delete(raw);
    if (set?.size === 0) pendingByAddress.delete(p.address);
  };
  const drop = (raw: Socket, why: "first_byte_timeout" | "pending_evicted") => {
    unpend(raw);
    dropped.set(raw, why);
    metrics.limits.inc({ limit: why });
    raw.destroy();
  };
  server.on("connection", (raw: Socket) => {
    // The peer address is read now, so that a refusal can still name it once the socket is gone.
    const address = raw.remoteAddress ?? "?";
    let mine = pendingByAddress.get(address);
    if (mine && mine.size >= limits.maxPendingPerAddress) drop(mine.values().next().value!, "pending_evicted");
    if (pending.size >= pendingCap) drop(pending.keys().next().value!, "pending_evicted");
    pending.set(raw, { since: performance.now(), address });
    mine = pendingByAddress.get(address);
    if (!mine) pendingByAddress.set(address, (mine = new Set()));
    mine.add(raw);
    raw.once("close", () => unpend(raw));
  });
  const sweep = setInterval(
    () => {
      const deadline = performance.now() - firstByteMs;
      for (const [raw, p] of pending) {
        if (p.since > deadline) break;
        if (raw.bytesRead === 0) drop(raw, "first_byte_timeout");
      }
    },
    Math.max(25, Math.min(250, Math.floor(firstByteMs / 4))),
  );
  sweep.unref();
  const flushDrops = () => {
    if (dropCounts.size === 0) return;
    const counts = Object.fromEntries(dropCounts);
    const total = [...dropCounts.values()].reduce((a, b) => a + b, 0);
    dropCounts.clear();
    logger.warn({ event: "connections_dropped", total, counts, pending: pending.size, pendingCap }, `dropped ${total} connection${total === 1 ? "" : "s"} before their TLS handshake finished (${Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join(", ")})`);
  };
  const summary = setInterval(flushDrops, options.dropSummaryIntervalMs ?? 10_000);
  summary.unref();

  server.on("tlsClientError", (err: Error & { code?: string }, socket: TLSSocket) => {
    const raw = (socket as unknown as { _parent?: Socket })._parent;
    if (raw) unpend(raw);
    const ours = raw ? dropped.get(raw) : undefined;
    if (ours) {
      metrics.handshakes.inc({ result: ours === "first_byte_timeout" ? "handshake_timeout" : "evicted" });
      countDrop(ours);
      return;
    }
    const c = classifyHandshakeError(err, socket.authorizationError);
    metrics.handshakes.inc({ result: c.reason });
    if (c.reason === "handshake_timeout") metrics.limits.inc({ limit: "handshake_timeout" });
    if (SUMMARISED.has(c.reason)) {
      countDrop(c.reason);
      return;
    }
    const fields = { event: "handshake_refused", reason: c.reason, detail: c.detail, remote: remoteOf(socket), protocol: socket.getProtocol?.() ?? undefined };
    logger.warn(fields, c.message);
  });

  server.on("clientError", (err: Error & { code?: string }, socket: Socket) => {
    const code = err.code ?? "";
    // https.Server passes every 'tlsClientError' on as a 'clientError' too: a connection whose
    // handshake never finished (refused, aborted, timed out) is counted and logged by the
    // 'tlsClientError' listener; there is no HTTP to answer on it.
    if (!connections.has(socket as TLSSocket)) {
      socket.destroy();
      return;
    }
    if (code === "ECONNRESET" || code === "EPIPE" || !socket.writable) {
      socket.destroy();
      return;
    }
    if (code.startsWith("ERR_SSL_")) {
      // After the handshake, e.g. a renegotiation attempt (refused: SSL_OP_NO_RENEGOTIATION).
      logger.warn({ event: "tls_error", error: code, remote: socket.remoteAddress }, "closed a connection on a TLS error after the handshake (renegotiation is refused)");
      socket.destroy();
      return;
    }
    const status = CLIENT_ERROR_STATUS[code] ?? 400;
    const inFlight = responding.get(socket);
    let limit: string | undefined;
    if (status === 431) limit = "header_size";
    else if (status === 408) limit = inFlight ? "body_timeout" : "header_timeout";
    if (limit) metrics.limits.inc({ limit });
    metrics.requests.inc({ status: String(status) });
    logger.warn({ event: limit ? "limit_reached" : "bad_request", limit, status, error: code, remote: socket.remoteAddress }, limit ? `${limit.replace("_", " ")} limit reached: answered ${status} and closed the connection` : `malformed request: answered ${status}`);
    if (inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const reason = http.STATUS_CODES[status] ?? "Error";
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    setTimeout(() => socket.destroy(), 1000).unref();
  });

  server.on("timeout", (socket: Socket) => {
    metrics.limits.inc({ limit: "idle_timeout" });
    logger.debug({ event: "limit_reached", limit: "idle_timeout", remote: socket.remoteAddress }, "closed an idle connection");
    socket.destroy();
  });

  server.on("drop", () => {
    metrics.limits.inc({ limit: "max_connections" });
  });

  // --- reload
  const offChange = credentials.onChange((set, previous) => {
    const clientCaChanged = set.caPem !== previous.caPem;
    const serverChanged = set.certChainPem !== previous.certChainPem;
    // A new context comes with new ticket keys. Sessions stay resumable across a change of the
    // server certificate alone (the client checked ours when the session began), but never
    // across a change of the trust: a ticket would resume a session whose client certificate
    // was verified by a CA that is no longer trusted.
    const ticketKeys = clientCaChanged ? randomBytes(48) : server.getTicketKeys();
    try {
      server.setSecureContext(secureContextOptions(set, program));
      server.setTicketKeys(ticketKeys);
    } catch (e) {
      logger.error({ event: "reload_failed", error: (e as Error).message }, "the new certificate set was valid but Node refused it; new connections keep the previous one");
      return;
    }
    if (clientCaChanged) {
      trust.cas = x509s(set.caPem);
      trust.generation += 1;
    }
    trustAnchors(set);
    updateGauges(set);
    logger.info(
      { event: "reloaded", version: set.version, serverChanged, clientCaChanged, ticketsRotated: clientCaChanged, serverSubject: set.leaf.subjectText, serverNotAfter: set.leaf.notAfter.toISOString(), serverSha256: set.leaf.sha256Fingerprint, clientCas: set.cas.map((c) => c.subjectText) },
      `new connections use the reloaded set (version ${set.version})${clientCaChanged ? "; the client CA changed, so TLS session tickets were rotated and no session resumes under the old trust" : ""}${serverChanged ? "; the server chain changed: Thales must have it registered" : ""}`,
    );
  });

  let lastClientCa = credentials.current().caPem;
  const reloadOnce = async (trigger: ReloadTrigger): Promise<InboundReloadResult> => {
    const r = await credentials.reload();
    if (!r.ok) {
      metrics.reloads.inc({ result: "failed", trigger });
      logger.warn({ event: "reload_failed", trigger, code: r.error.code, subject: r.error.subject }, `reload refused, still serving version ${r.kept.version}: ${r.error.message}`);
      return { ok: false, error: r.error };
    }
    metrics.reloads.inc({ result: r.changed ? "changed" : "unchanged", trigger });
    if (!r.changed) logger.debug({ event: "reload_unchanged", trigger }, "reload: nothing changed");
    const clientCaChanged = r.set.caPem !== lastClientCa;
    lastClientCa = r.set.caPem;
    return { ok: true, changed: r.changed, version: r.set.version, clientCaChanged };
  };
  let lastResult: InboundReloadResult | undefined;
  const files = [credentials.files.certFile, credentials.files.keyFile, credentials.files.chainFile, credentials.files.caFile, credentials.files.passphraseFile].filter((f): f is string => !!f);
  const triggers: ReloadTriggers = startReloadTriggers({
    files,
    watch: options.reload?.watch ?? true,
    ...(options.reload?.debounceMs !== undefined ? { debounceMs: options.reload.debounceMs } : {}),
    intervalMs: options.reload?.intervalMs ?? 0,
    signal: options.reload?.signal ?? false,
    reload: async (trigger) => {
      lastResult = await reloadOnce(trigger);
    },
    onWatchError: (dir, e) => logger.warn({ event: "watch_failed", dir, error: e.message }, `cannot watch ${dir} for changes; reload with the signal or the timer`),
  });

  // --- listen
  const listenAddress: ListenAddress = { port: options.listen?.port ?? DEFAULT_LISTEN_PORT, ...(options.listen?.host ? { host: options.listen.host } : {}) };
  let admin: http.Server | undefined;
  const notReady = (): string[] => {
    const reasons: string[] = [];
    if (closing) reasons.push("shutting down");
    if (!listening) reasons.push("not listening");
    const set = credentials.current();
    const now = Date.now();
    if (set.leaf.notAfter.getTime() < now) reasons.push(`the server certificate expired on ${set.leaf.notAfter.toISOString()}`);
    if (set.cas.every((c) => c.notAfter.getTime() < now)) reasons.push("every trusted client CA has expired");
    return reasons;
  };
  const metricsText = () => metrics.registry.render();
  try {
    await listenOn(server, listenAddress, "inbound listener");
    listening = true;
    if (options.admin) {
      const adminAddress: ListenAddress = { port: options.admin.port ?? 0, host: options.admin.host ?? "127.0.0.1" };
      admin = http.createServer(adminHandler({ notReady, metricsText }));
      await listenOn(admin, adminAddress, "admin listener");
      if (!isLoopback(adminAddress.host!)) logger.warn({ event: "admin_not_loopback", host: adminAddress.host }, "the admin listener is not on loopback: keep it away from the internet");
    }
  } catch (e) {
    clearInterval(sweep);
    clearInterval(summary);
    triggers.stop();
    offChange();
    server.close();
    await pool.close().catch(() => undefined);
    throw e;
  }
  const address = server.address() as AddressInfo;
  const url = urlOf("https", address, listenAddress.host);
  const adminUrl = admin ? urlOf("http", admin.address() as AddressInfo, options.admin ? (options.admin.host ?? "127.0.0.1") : undefined) : undefined;
  const set = credentials.current();
  logger.info(
    { event: "listening", url, adminUrl, upstream: upstream.origin + upstream.pathPrefix, serverSubject: set.leaf.subjectText, serverNotAfter: set.leaf.notAfter.toISOString(), clientCas: set.cas.map((c) => c.subjectText), watched: triggers.watched },
    `serving mutual TLS on ${url}, forwarding to ${upstream.origin}${upstream.pathPrefix}`,
  );
  const ports = program?.inbound.ports ?? [443, 8443];
  if (address.port !== 0 && !ports.includes(address.port) && options.listen?.port !== 0) {
    logger.warn({ event: "port_not_thales", port: address.port, ports }, `Thales calls port ${ports.join(" or ")}; forward one of them to port ${address.port}`);
  }

  let closed: Promise<void> | undefined;
  return {
    url,
    address,
    adminUrl,
    server,
    credentials,
    metrics,
    watched: triggers.watched,
    async reload() {
      await triggers.run("api");
      return lastResult!;
    },
    notReady,
    metricsText,
    close(closeOptions = {}) {
      closed ??= (async () => {
        closing = true;
        clearInterval(sweep);
        clearInterval(summary);
        flushDrops();
        triggers.stop();
        offChange();
        const graceMs = closeOptions.graceMs ?? 5000;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // After the grace time every HTTP connection goes. A connection still in its TLS
        // handshake is left to its handshake timeout: Node offers no safe way to end it early
        // (destroying the TCP socket under a TLS socket crashes Node 20).
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            server.closeAllConnections();
            resolve();
          }, graceMs);
        });
        await Promise.race([stopped, grace]);
        clearTimeout(timer);
        await pool.close().catch(() => undefined);
        if (admin) {
          const a = admin;
          const adminClosed = new Promise<void>((resolve) => a.close(() => resolve()));
          a.closeAllConnections();
          await adminClosed;
        }
        logger.info({ event: "closed" }, "stopped");
      })();
      return closed;
    },
  };
}
