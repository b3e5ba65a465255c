/**
 * `createInboundServer`: the endpoint Thales calls. Terminates mutual TLS by the programs'
 * inbound rules, forwards verified requests to the customer's application over a keep-alive
 * pool, reloads its certificates without downtime, and reports on an admin listener.
 *
 * This file wires the concerns, each in its own module: unauthenticated connections
 * (`pending-handshakes.ts`), handshake outcomes and connection errors (`connections.ts`), the
 * request path (`request-handler.ts`), the client trust of kept-alive connections
 * (`client-trust.ts`), reloads (`inbound-reload.ts`), listening and stopping (`listeners.ts`).
 */
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { Pool } from "undici";
import { ReloadableCredentials, type CredentialFiles } from "../credentials/index.js";
import { MtlsError } from "../errors/index.js";
import { isLoopback, type ProgramPolicy } from "../policy/index.js";
import { adminHandler } from "./admin.js";
import { ClientTrust } from "./client-trust.js";
import { Connections, watchConnections } from "./connections.js";
import { DEFAULT_CORRELATION_ID_PATTERN, type ForwardContext, type UpstreamFailureStatus } from "./forward.js";
import type { IdentityAllowList } from "./identity.js";
import { applyReloadedSets, certificateGauges, partialChainAnchors, startReloads } from "./inbound-reload.js";
import { closeGracefully, closeNow, listenOn, notReadyReasons, portNotThales, urlOf } from "./listeners.js";
import { createJsonLogger, type InboundLogger } from "./logger.js";
import { createInboundMetrics, type InboundMetrics } from "./metrics.js";
import { DEFAULT_LISTEN_PORT, parseUpstream, resolveLimits, tcpConnectionCap, type InboundLimits, type ListenAddress } from "./options.js";
import { trackPendingHandshakes } from "./pending-handshakes.js";
import { createRequestHandler } from "./request-handler.js";
import { serverTlsOptions } from "./tls-options.js";

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

function isCredentials(c: CredentialFiles | ReloadableCredentials): c is ReloadableCredentials {
  return c instanceof ReloadableCredentials;
}

/** The credentials of the endpoint, loaded and checked: a client CA that is no leaf, and reloads that keep refusing one. */
async function inboundCredentials(given: CredentialFiles | ReloadableCredentials): Promise<ReloadableCredentials> {
  if (!isCredentials(given) && !given.caFile) {
    throw new MtlsError("INBOUND_NOT_READY", "no client CA was given: the endpoint Thales calls must verify Thales's client certificate against the Thales Client CA");
  }
  const credentials = isCredentials(given) ? given : await ReloadableCredentials.load(given);
  if (!credentials.files.caFile || credentials.current().cas.length === 0) {
    throw new MtlsError("INBOUND_NOT_READY", "no client CA: the endpoint Thales calls must verify Thales's client certificate against the Thales Client CA");
  }
  if (credentials.rules.refuseLeafAsCa === false) {
    // Reloads must keep refusing a leaf as trust, whatever the caller's credentials allow.
    throw new MtlsError("LEAF_AS_CA", "the credentials given accept a leaf certificate as the client CA; the endpoint Thales calls never pins a leaf, which Thales may rotate at any time");
  }
  return credentials;
}

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
  const credentials = await inboundCredentials(options.credentials);
  const metrics = createInboundMetrics();
  const updateGauges = certificateGauges(metrics, profile);
  updateGauges(credentials.current());

  const pool = new Pool(upstream.origin, {
    connections: options.upstreamConnections ?? 128,
    pipelining: 1,
    keepAliveTimeout: 10_000,
    headersTimeout: limits.upstreamTimeoutMs,
    bodyTimeout: limits.upstreamTimeoutMs,
    connect: { timeout: limits.upstreamConnectTimeoutMs },
  });
  const forward: ForwardContext = {
    pool,
    pathPrefix: upstream.pathPrefix,
    upstreamTimeoutMs: limits.upstreamTimeoutMs,
    maxBodyBytes: limits.maxBodyBytes,
    failureStatus: failureMode,
    metrics,
    logger,
    correlationIdPattern: program?.auth.correlationIdPattern ?? DEFAULT_CORRELATION_ID_PATTERN,
  };

  const connections = new Connections();
  const trust = new ClientTrust(credentials.current().caPem);
  let listening = false;

  const server = https.createServer(
    {
      ...serverTlsOptions(credentials.current(), limits.handshakeTimeoutMs, program),
      maxHeaderSize: limits.maxHeaderBytes,
      connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
      noDelay: true,
    },
    createRequestHandler({ connections, trust, limits, metrics, logger, forward }),
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
  const trustAnchors = partialChainAnchors(server, logger);
  trustAnchors(credentials.current());

  const pending = trackPendingHandshakes(server, { limits, metrics, logger, summaryIntervalMs: options.dropSummaryIntervalMs ?? 10_000 });
  watchConnections(server, { connections, trust, pending, limits, metrics, logger, allow: options.allow });

  const offChange = applyReloadedSets({
    server,
    credentials,
    program,
    trust,
    logger,
    applied: (set) => {
      trustAnchors(set);
      updateGauges(set);
    },
  });
  const reloads = startReloads({
    credentials,
    metrics,
    logger,
    watch: options.reload?.watch ?? true,
    debounceMs: options.reload?.debounceMs,
    intervalMs: options.reload?.intervalMs ?? 0,
    signal: options.reload?.signal ?? false,
  });

  // --- listen
  const listenAddress: ListenAddress = { port: options.listen?.port ?? DEFAULT_LISTEN_PORT, ...(options.listen?.host ? { host: options.listen.host } : {}) };
  let admin: http.Server | undefined;
  const notReady = (): string[] => notReadyReasons({ closing: connections.closing, listening, set: credentials.current(), now: Date.now() });
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
    pending.stop();
    reloads.stop();
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
    { event: "listening", url, adminUrl, upstream: upstream.origin + upstream.pathPrefix, serverSubject: set.leaf.subjectText, serverNotAfter: set.leaf.notAfter.toISOString(), clientCas: set.cas.map((c) => c.subjectText), watched: reloads.watched },
    `serving mutual TLS on ${url}, forwarding to ${upstream.origin}${upstream.pathPrefix}`,
  );
  const ports = portNotThales(address.port, options.listen?.port, program?.inbound.ports ?? [443, 8443]);
  if (ports) logger.warn({ event: "port_not_thales", port: address.port, ports }, `Thales calls port ${ports.join(" or ")}; forward one of them to port ${address.port}`);

  let closed: Promise<void> | undefined;
  return {
    url,
    address,
    adminUrl,
    server,
    credentials,
    metrics,
    watched: reloads.watched,
    reload: () => reloads.run(),
    notReady,
    metricsText,
    close(closeOptions = {}) {
      closed ??= (async () => {
        connections.closing = true;
        pending.stop();
        pending.flush();
        reloads.stop();
        offChange();
        await closeGracefully(server, closeOptions.graceMs ?? 5000);
        await pool.close().catch(() => undefined);
        if (admin) await closeNow(admin);
        logger.info({ event: "closed" }, "stopped");
      })();
      return closed;
    },
  };
}
