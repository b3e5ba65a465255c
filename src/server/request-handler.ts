/**
 * The request path of the inbound server (see `inbound-server.ts`): each request on an
 * accepted connection is refused when the server is shutting down, the connection is over
 * `maxConnections`, the declared body is over `maxBodyBytes`, or the client CA changed since
 * the handshake and no longer trusts the connection's certificate ({@link requestRefusal}, a
 * pure function); otherwise it is forwarded upstream with the verified identity in headers.
 */
import type * as http from "node:http";
import type { TLSSocket } from "node:tls";
import { formatRetryAfter } from "../policy/index.js";
import type { ClientTrust } from "./client-trust.js";
import type { ConnectionState, Connections } from "./connections.js";
import { forwardRequest, pathOf, sendError, type ForwardContext } from "./forward.js";
import { peerIdentity } from "./identity.js";
import type { InboundLogger } from "./logger.js";
import type { InboundMetrics } from "./metrics.js";
import type { InboundLimits } from "./options.js";

/** Why a request is not forwarded. */
export type RequestRefusal = "shutting_down" | "max_connections" | "body_size" | "trust_removed";

/** What {@link requestRefusal} decides on. */
export interface RequestFacts {
  closing: boolean;
  /** The connection's state; undefined when it was never accepted. */
  connection: Pick<ConnectionState, "overLimit" | "trustGeneration"> | undefined;
  /** The `content-length` header as sent. */
  contentLength: string | undefined;
  maxBodyBytes: number;
  /** The trust generation now. */
  trustGeneration: number;
  /** Whether the peer would pass a new handshake under the trust now; asked only after a change of trust. */
  stillTrusted: () => boolean;
}

/** The refusal of a request, in the order checked, or undefined when it goes on. */
export function requestRefusal(f: RequestFacts): RequestRefusal | undefined {
  if (f.closing) return "shutting_down";
  if (!f.connection || f.connection.overLimit) return "max_connections";
  if (f.contentLength !== undefined && Number(f.contentLength) > f.maxBodyBytes) return "body_size";
  // The trusted client CA changed since this connection's handshake: a connection of a CA that
  // is no longer trusted gets no more requests through (a new handshake would be refused too);
  // one of a CA still trusted goes on.
  if (f.connection.trustGeneration !== f.trustGeneration && !f.stillTrusted()) return "trust_removed";
  return undefined;
}

/** What {@link createRequestHandler} needs. */
export interface RequestContext {
  connections: Connections;
  trust: ClientTrust;
  limits: InboundLimits;
  metrics: InboundMetrics;
  logger: InboundLogger;
  forward: ForwardContext;
}

/** The request listener of the inbound server. */
export function createRequestHandler(ctx: RequestContext): http.RequestListener {
  const { connections, trust, limits, metrics, logger } = ctx;
  return (req, res) => {
    const socket = req.socket as TLSSocket;
    connections.responding.set(socket, res);
    res.once("close", () => {
      if (connections.responding.get(socket) === res) connections.responding.delete(socket);
      metrics.requests.inc({ status: res.writableFinished ? String(res.statusCode) : "499" });
      if (connections.closing && !socket.destroyed) socket.end();
    });
    const conn = connections.accepted.get(socket);
    const cl = req.headers["content-length"];
    const refusal = requestRefusal({
      closing: connections.closing,
      connection: conn,
      contentLength: cl,
      maxBodyBytes: limits.maxBodyBytes,
      trustGeneration: trust.generation,
      stillTrusted: () => trust.stillTrusts(socket),
    });
    switch (refusal) {
      case "shutting_down":
        sendError(res, 503, "SHUTTING_DOWN", "the server is shutting down; try again", undefined, true);
        return;
      case "max_connections":
        metrics.limits.inc({ limit: "max_connections" });
        logger.warn({ event: "limit_reached", limit: "max_connections", open: connections.open, max: limits.maxConnections }, `more than ${limits.maxConnections} connections are open: answered 503 and closed this one`);
        sendError(res, 503, "TOO_MANY_CONNECTIONS", "too many connections; try again", undefined, true, { "retry-after": formatRetryAfter(1000) });
        return;
      case "body_size":
        metrics.limits.inc({ limit: "body_size" });
        logger.warn({ event: "limit_reached", limit: "body_size", contentLength: Number(cl), max: limits.maxBodyBytes, method: req.method, path: pathOf(req) }, `refused a request body of ${cl} bytes (limit ${limits.maxBodyBytes})`);
        sendError(res, 413, "BODY_TOO_LARGE", `the request body is larger than ${limits.maxBodyBytes} bytes`, undefined, true);
        return;
      case "trust_removed":
        logger.warn({ event: "trust_removed", remote: socket.remoteAddress, subject: conn?.identity?.subject, issuer: conn?.identity?.issuer, method: req.method, path: pathOf(req) }, "refused a request on a connection whose client certificate the reloaded client CA no longer trusts; the connection is closed");
        sendError(res, 403, "CLIENT_CA_NOT_TRUSTED", "the client certificate of this connection is no longer trusted", undefined, true);
        return;
    }
    // Not refused: the connection was accepted, and is trusted under the trust now.
    const accepted = conn!;
    accepted.trustGeneration = trust.generation;
    const identity = (accepted.identity ??= peerIdentity(socket));
    if (!identity) {
      // Cannot happen with rejectUnauthorized; kept so that a Node change never forwards anonymously.
      sendError(res, 403, "NO_CLIENT_CERTIFICATE", "a verified client certificate is required", undefined, true);
      return;
    }
    forwardRequest(ctx.forward, req, res, identity, accepted.remote);
  };
}
