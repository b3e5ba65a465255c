/**
 * The connections of the inbound server (see `inbound-server.ts`) from the end of their
 * handshake: accepted (allow-list, then registered and counted, marked when over
 * `maxConnections`) or refused (classified, counted, logged or summarised), then the errors
 * Node's HTTP server reports on them (malformed or too large or too slow requests answered
 * and closed, idle ones closed).
 */
import * as http from "node:http";
import type * as https from "node:https";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { ClientTrust } from "./client-trust.js";
import { classifyHandshakeError, refusalMessage } from "./handshake-errors.js";
import { checkAllowList, peerIdentity, type ClientIdentity, type IdentityAllowList } from "./identity.js";
import type { InboundLogger } from "./logger.js";
import type { InboundMetrics } from "./metrics.js";
import type { InboundLimits } from "./options.js";
import type { PendingHandshakes } from "./pending-handshakes.js";

/** What the server keeps per accepted connection. */
export interface ConnectionState {
  identity: ClientIdentity | undefined;
  overLimit: boolean;
  /** The trust generation under which the peer's certificate was last found trusted. */
  trustGeneration: number;
  /** The peer address, as read at the TCP accept (the TLS socket's own `remoteAddress` costs a system call each time). */
  readonly remote: string | undefined;
}

/** The connections of one server, shared by the connection events and the request handler. */
export class Connections {
  /** Connections whose handshake finished and passed the allow-list. */
  readonly accepted = new WeakMap<TLSSocket, ConnectionState>();
  /** The response in progress on a connection, for a client error that comes during it. */
  readonly responding = new WeakMap<Socket, http.ServerResponse>();
  /** Accepted connections open now. */
  open = 0;
  /** `close()` was called: requests get 503 and their connection closes. */
  closing = false;
}

/** Handshake outcomes logged as a periodic counted summary rather than one line each. */
const SUMMARISED = new Set(["aborted", "not_tls", "handshake_timeout"]);

const CLIENT_ERROR_STATUS: Record<string, number> = { HPE_HEADER_OVERFLOW: 431, ERR_HTTP_REQUEST_TIMEOUT: 408 };

/** The TCP socket under a TLS socket. */
function rawSocketOf(socket: TLSSocket): Socket | undefined {
  return (socket as unknown as { _parent?: Socket })._parent;
}

/** The peer address of a TLS socket, also after it was destroyed (then from the TCP socket under it). */
function remoteOf(socket: TLSSocket): string | undefined {
  return socket.remoteAddress ?? rawSocketOf(socket)?.remoteAddress;
}

/** What to do with a `clientError` of Node's HTTP server. */
export type ClientErrorAnswer =
  /** Nothing to answer (no HTTP on the connection, or the peer is gone): close it. */
  | { action: "destroy" }
  /** A TLS error after the handshake (e.g. a renegotiation attempt): log it and close. */
  | { action: "tls_error" }
  /** Answer `status` and close; `limit` is the limit reached, if any. */
  | { action: "answer"; status: number; limit: string | undefined };

/**
 * Decides the answer to a `clientError` from its code, whether the connection was accepted
 * (finished its handshake), whether it is still writable and whether a response was in progress.
 */
export function clientErrorAnswer(code: string, c: { accepted: boolean; writable: boolean; responding: boolean }): ClientErrorAnswer {
  // https.Server passes every 'tlsClientError' on as a 'clientError' too: a connection whose
  // handshake never finished (refused, aborted, timed out) is counted and logged by the
  // 'tlsClientError' listener; there is no HTTP to answer on it.
  if (!c.accepted) return { action: "destroy" };
  if (code === "ECONNRESET" || code === "EPIPE" || !c.writable) return { action: "destroy" };
  if (code.startsWith("ERR_SSL_")) return { action: "tls_error" };
  const status = CLIENT_ERROR_STATUS[code] ?? 400;
  let limit: string | undefined;
  if (status === 431) limit = "header_size";
  else if (status === 408) limit = c.responding ? "body_timeout" : "header_timeout";
  return { action: "answer", status, limit };
}

/** What {@link watchConnections} needs. */
export interface ConnectionContext {
  connections: Connections;
  trust: ClientTrust;
  pending: PendingHandshakes;
  limits: InboundLimits;
  metrics: InboundMetrics;
  logger: InboundLogger;
  allow: IdentityAllowList | undefined;
}

/** Installs the connection listeners of `server`: handshakes accepted and refused, client errors, idle timeouts, TCP drops. */
export function watchConnections(server: https.Server, ctx: ConnectionContext): void {
  const { connections, metrics, logger, limits, pending } = ctx;

  // Before https.Server's own listener: a connection refused by the allow-list gets no HTTP.
  server.prependListener("secureConnection", (socket: TLSSocket) => {
    const raw = rawSocketOf(socket);
    if (raw) pending.settle(raw);
    // Read (and kept) by the TCP socket at its accept; the TLS socket would ask the kernel again.
    const remote = raw?.remoteAddress ?? socket.remoteAddress;
    let identity: ClientIdentity | undefined;
    if (ctx.allow) {
      identity = peerIdentity(socket);
      const why = identity ? checkAllowList(identity, ctx.allow) : "no certificate";
      if (why) {
        metrics.handshakes.inc({ result: "identity_not_allowed" });
        logger.warn({ event: "handshake_refused", reason: "identity_not_allowed", detail: why, remote, subject: identity?.subject, issuer: identity?.issuer, serial: identity?.serialNumber }, refusalMessage("identity_not_allowed"));
        socket.destroy();
        return;
      }
    }
    metrics.handshakes.inc({ result: "ok" });
    connections.open++;
    metrics.connections.set(undefined, connections.open);
    connections.accepted.set(socket, { identity, overLimit: connections.open > limits.maxConnections, trustGeneration: ctx.trust.generation, remote });
    socket.once("close", () => {
      connections.open--;
      metrics.connections.set(undefined, connections.open);
    });
  });

  server.on("tlsClientError", (err: Error & { code?: string }, socket: TLSSocket) => {
    const raw = rawSocketOf(socket);
    if (raw) pending.settle(raw);
    const ours = raw ? pending.droppedAs(raw) : undefined;
    if (ours) {
      metrics.handshakes.inc({ result: ours === "first_byte_timeout" ? "handshake_timeout" : "evicted" });
      pending.countDrop(ours);
      return;
    }
    const c = classifyHandshakeError(err, socket.authorizationError);
    metrics.handshakes.inc({ result: c.reason });
    if (c.reason === "handshake_timeout") metrics.limits.inc({ limit: "handshake_timeout" });
    if (SUMMARISED.has(c.reason)) {
      pending.countDrop(c.reason);
      return;
    }
    const fields = { event: "handshake_refused", reason: c.reason, detail: c.detail, remote: remoteOf(socket), protocol: socket.getProtocol?.() ?? undefined };
    logger.warn(fields, c.message);
  });

  server.on("clientError", (err: Error & { code?: string }, socket: Socket) => {
    const code = err.code ?? "";
    const inFlight = connections.responding.get(socket);
    const answer = clientErrorAnswer(code, { accepted: connections.accepted.has(socket as TLSSocket), writable: socket.writable, responding: inFlight !== undefined });
    if (answer.action === "destroy") {
      socket.destroy();
      return;
    }
    if (answer.action === "tls_error") {
      logger.warn({ event: "tls_error", error: code, remote: socket.remoteAddress }, "closed a connection on a TLS error after the handshake (renegotiation is refused)");
      socket.destroy();
      return;
    }
    const { status, limit } = answer;
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
}
