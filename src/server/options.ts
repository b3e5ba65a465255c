/**
 * Options of the inbound server: addresses, the upstream URL, limits and their defaults.
 */
import { isIP } from "node:net";
import { MtlsError } from "../errors/index.js";

/** Thales calls port 443 (preferred) or 8443; 8443 needs no privileges. */
export const DEFAULT_LISTEN_PORT = 8443;
/** The admin listener: loopback, the port of OpenTelemetry's Prometheus exporter. */
export const DEFAULT_ADMIN_HOST = "127.0.0.1";
export const DEFAULT_ADMIN_PORT = 9464;

/** Limits of the inbound listener. Each one reached is answered, logged and counted. */
export interface InboundLimits {
  /** Largest request head (request line + headers), bytes; more is answered 431. Default 16 KiB. */
  maxHeaderBytes: number;
  /** Largest request body, bytes; more is answered 413. Default 1 MiB (notifications are small). */
  maxBodyBytes: number;
  /** Time for a whole request head after the connection or the previous request, ms; 408 after. Default 10 000. */
  headersTimeoutMs: number;
  /** Time for a whole request (head and body), ms; 408 after. Default 30 000. */
  requestTimeoutMs: number;
  /** Idle time of a kept-alive connection between requests, ms. Default 15 000. */
  idleTimeoutMs: number;
  /** Time for the TLS handshake, ms. Default 10 000. */
  handshakeTimeoutMs: number;
  /**
   * Time for the first byte of a new connection (Thales sends its ClientHello at once), ms;
   * a connection silent for longer is closed. Default 3 000 (never more than the handshake time).
   */
  firstByteTimeoutMs: number;
  /**
   * Connections still in their TLS handshake (unauthenticated), all addresses together. A new
   * connection over this closes the oldest such one, so that a flood of silent connections
   * never keeps a new one out. Default 1 024 (never more than the TCP cap minus maxConnections).
   */
  maxPendingHandshakes: number;
  /** Connections still in their TLS handshake from one address; a new one over this closes that address's oldest. Default 256. */
  maxPendingPerAddress: number;
  /** Open connections served; requests on more are answered 503 and those connections closed. Default 512. */
  maxConnections: number;
  /** Time for the upstream's response headers (and between body chunks), ms. Default 8 000. */
  upstreamTimeoutMs: number;
  /** Time to connect to the upstream, ms. Default 2 000. */
  upstreamConnectTimeoutMs: number;
}

/** The default limits. */
export const DEFAULT_LIMITS: Readonly<InboundLimits> = {
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 15_000,
  handshakeTimeoutMs: 10_000,
  firstByteTimeoutMs: 3_000,
  maxPendingHandshakes: 1024,
  maxPendingPerAddress: 256,
  maxConnections: 512,
  upstreamTimeoutMs: 8_000,
  upstreamConnectTimeoutMs: 2_000,
};

/** TCP connections accepted at once (handshakes in progress included): 8x maxConnections, at least maxConnections + 16. */
export function tcpConnectionCap(maxConnections: number): number {
  return Math.max(maxConnections * 8, maxConnections + 16);
}

/** Connections allowed in their handshake at once: the configured number, kept under the TCP cap with room for served ones. */
export function pendingHandshakeCap(limits: Pick<InboundLimits, "maxConnections" | "maxPendingHandshakes">): number {
  return Math.max(1, Math.min(limits.maxPendingHandshakes, tcpConnectionCap(limits.maxConnections) - limits.maxConnections));
}

/** Merges and checks limits; `USAGE` for a value that is not a positive number. */
export function resolveLimits(limits: Partial<InboundLimits> | undefined): InboundLimits {
  const out: InboundLimits = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(limits ?? {})) {
    if (v === undefined) continue;
    if (!(k in DEFAULT_LIMITS)) throw new MtlsError("USAGE", `unknown inbound limit '${k}'`);
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new MtlsError("USAGE", `inbound limit ${k} must be a positive number, not ${String(v)}`);
    (out as unknown as Record<string, number>)[k] = Math.floor(v);
  }
  if (out.headersTimeoutMs > out.requestTimeoutMs) out.requestTimeoutMs = out.headersTimeoutMs;
  return out;
}

/** A host and port to listen on. `host` undefined: every interface. */
export interface ListenAddress {
  host?: string;
  port: number;
}

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `PORT` (every interface).
 * Throws `LISTEN_ADDRESS_INVALID`.
 */
export function parseListenAddress(text: string, defaultPort = DEFAULT_LISTEN_PORT): ListenAddress {
  const bad = () => new MtlsError("LISTEN_ADDRESS_INVALID", `'${text}' is not a listen address`, { subject: text });
  const t = text.trim();
  if (t === "") throw bad();
  let host: string | undefined;
  let portText: string | undefined;
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(t);
  if (v6) {
    host = v6[1];
    portText = v6[2];
    if (isIP(host!) !== 6) throw bad();
  } else if (/^\d+$/.test(t)) {
    portText = t;
  } else {
    const i = t.lastIndexOf(":");
    if (i === -1) host = t;
    else {
      host = t.slice(0, i) || undefined;
      portText = t.slice(i + 1);
    }
    if (host !== undefined && host !== "*" && !/^[A-Za-z0-9.-]+$/.test(host)) throw bad();
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) throw bad();
    port = Number(portText);
    if (port > 65535) throw bad();
  }
  return host === undefined || host === "*" ? { port } : { host, port };
}

/** A checked upstream: origin for the pool and path prefix. */
export interface UpstreamTarget {
  /** `http://host:port` */
  readonly origin: string;
  /** Path prefix without the trailing slash ("" for none). */
  readonly pathPrefix: string;
}

/** Checks the upstream URL: http(s), a host, no credentials, query or fragment. Throws `UPSTREAM_INVALID`. */
export function parseUpstream(value: string | URL): UpstreamTarget {
  const text = String(value);
  let url: URL;
  try {
    url = new URL(text);
  } catch (e) {
    throw new MtlsError("UPSTREAM_INVALID", `'${text}' is not a URL`, { cause: e, subject: text });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new MtlsError("UPSTREAM_INVALID", `the upstream must be an http:// URL (or https://), not ${url.protocol}`, { subject: text });
  if (!url.hostname) throw new MtlsError("UPSTREAM_INVALID", `the upstream URL '${text}' has no host`, { subject: text });
  if (url.username || url.password) throw new MtlsError("UPSTREAM_INVALID", "the upstream URL must not carry a user name or password", { subject: url.origin });
  if (url.search || url.hash) throw new MtlsError("UPSTREAM_INVALID", `the upstream URL '${text}' must not have a query or fragment`, { subject: text });
  return { origin: url.origin, pathPrefix: url.pathname.replace(/\/+$/, "") };
}

/**
 * Parses a duration: `500ms`, `30s`, `10m`, `1h`, `1d`, or a bare number of seconds; `0` is
 * zero (off). Throws `USAGE`.
 */
export function parseDurationMs(text: string, what = "duration"): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new MtlsError("USAGE", `${what} '${text}' is not a duration`, { hint: "Write it like 500ms, 30s, 10m, 1h or 1d (0 turns it off)." });
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h" | "d"];
  return Math.round(Number(m[1]) * unit);
}
