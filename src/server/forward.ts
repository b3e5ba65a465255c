/**
 * Forwarding a verified request to the upstream: headers cleaned and completed, body streamed
 * (with its size limit), answer streamed back, upstream failures turned into a quick status.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Dispatcher, Pool } from "undici";
import type { ClientIdentity } from "./identity.js";
import { CORRELATION_ID_PATTERN, foldHeaderName, isStrippedHeader } from "../policy/index.js";
import type { InboundLogger } from "./logger.js";
import type { InboundMetrics } from "./metrics.js";

/**
 * What an upstream failure is answered with.
 * - `retryable` (default): 503 Service Unavailable, for the upstream down, resetting or too
 *   slow. Thales retries 429 and 503 only (reference/thales-api-facts.md: 400, 401, 404, 500
 *   are not retried), so this is what gets a notification delivered once the upstream is back.
 * - `gateway`: 502 Bad Gateway (down, reset) and 504 Gateway Timeout (too slow), as nginx
 *   answers; use it when another proxy that retries on those sits in front.
 */
export type UpstreamFailureStatus = "retryable" | "gateway";

/** Why the upstream gave no answer (`bad_response`: it answered something that is not HTTP). */
export type UpstreamFailure = "unreachable" | "timeout" | "reset" | "bad_response";

/** Headers never forwarded in either direction (RFC 9110 section 7.6.1, plus legacy ones). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate", "http2-settings"]);
/** Request headers dropped besides the policy's stripped ones (compared folded). */
const REPLACED = new Set(["host", "expect"]);

/** The correlation id rule of the Thales APIs (policy: `^[A-Za-z0-9_-]{1,64}$`). */
export const DEFAULT_CORRELATION_ID_PATTERN = CORRELATION_ID_PATTERN;

/** The correlation id to use: the caller's when valid, else a new one. */
export function correlationIdFor(incoming: string | string[] | undefined, pattern: RegExp = DEFAULT_CORRELATION_ID_PATTERN): { id: string; generated: boolean; rejected?: boolean } {
  const value = Array.isArray(incoming) ? incoming[0] : incoming;
  if (value !== undefined && pattern.test(value)) return { id: value, generated: false };
  return { id: randomUUID(), generated: true, ...(value !== undefined ? { rejected: true } : {}) };
}

/**
 * The headers sent upstream, as a flat `[name, value, ...]` list: the caller's, without
 * hop-by-hop headers (and those the Connection header names), without anything that could pass
 * for a client identity or forwarding information; then the verified identity, the correlation
 * id, X-Forwarded-For/Proto/Host. `remoteAddress`: the peer's, when the caller has it already
 * (the socket's `remoteAddress` asks the kernel).
 */
export function upstreamRequestHeaders(req: IncomingMessage, identity: ClientIdentity, correlationId: string, hasBody: boolean, remoteAddress: string | undefined = req.socket.remoteAddress): string[] {
  const raw = req.rawHeaders;
  let connectionTokens: Set<string> | undefined;
  const connection = req.headers.connection;
  if (connection) connectionTokens = new Set(connection.toLowerCase().split(",").map((t) => t.trim()));
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    const folded = foldHeaderName(name);
    if (HOP_BY_HOP.has(lower) || HOP_BY_HOP.has(folded) || REPLACED.has(folded) || isStrippedHeader(name) || connectionTokens?.has(lower)) continue;
    if (lower === "content-length" && !hasBody) continue;
    out.push(name, raw[i + 1]!);
  }
  out.push(...identity.headers);
  out.push("x-correlation-id", correlationId, "x-forwarded-for", remoteAddress ?? "", "x-forwarded-proto", "https");
  const host = req.headers.host;
  if (host) out.push("x-forwarded-host", host);
  return out;
}

/** The upstream's response headers as a flat list for `writeHead`, without hop-by-hop ones. */
export function downstreamResponseHeaders(headers: Record<string, string | string[] | undefined>, correlationId: string): string[] {
  const out: string[] = [];
  let connectionTokens: Set<string> | undefined;
  const connection = headers["connection"];
  if (typeof connection === "string") connectionTokens = new Set(connection.toLowerCase().split(",").map((t) => t.trim()));
  let hasCorrelation = false;
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || connectionTokens?.has(lower)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (lower === "x-correlation-id") hasCorrelation = true;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  if (!hasCorrelation) out.push("x-correlation-id", correlationId);
  return out;
}

/** Classifies an undici error. `undefined`: not an upstream failure (a bug or the caller's doing). */
export function classifyUpstreamError(err: Error & { code?: string; cause?: unknown }): UpstreamFailure | undefined {
  const code = err.code ?? (err.cause as { code?: string } | undefined)?.code ?? "";
  if (code === "UND_ERR_CONNECT_TIMEOUT" || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT" || code === "ETIMEDOUT") return "timeout";
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EADDRNOTAVAIL" || code === "ECONNABORTED") return "unreachable";
  if (code === "UND_ERR_SOCKET" || code === "ECONNRESET" || code === "EPIPE" || code === "UND_ERR_CLOSED") return "reset";
  // llhttp's parse errors (a bad status line, bad headers, a bad chunk) and undici's checks of
  // the answer: the application answered something that is not HTTP, a gateway problem.
  if (code.startsWith("HPE_") || code === "UND_ERR_RES_CONTENT_LENGTH_MISMATCH" || code === "UND_ERR_RES_EXCEEDED_MAX_SIZE" || code === "UND_ERR_INFO") return "bad_response";
  if (err.name === "HTTPParserError") return "bad_response";
  return undefined;
}

/** The status answered for an upstream failure. */
export function failureStatus(failure: UpstreamFailure, mode: UpstreamFailureStatus): number {
  if (mode === "retryable") return 503;
  return failure === "timeout" ? 504 : 502;
}

/** Why a request target was refused by {@link normaliseRequestTarget}. */
export type TargetRefusal = "PATH_OUTSIDE_PREFIX" | "BAD_REQUEST_TARGET";

/** How many rounds of percent-decoding are undone (double and triple encoding); more is refused. */
const MAX_DECODE_ROUNDS = 3;

/** Percent-decodes `s` (a byte string, latin1) once; invalid escapes are kept as they are. */
function percentDecodeOnce(s: string): string {
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** Bytes kept as they are in a path segment (RFC 3986 pchar without `%`); everything else is percent-encoded. */
const PCHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;

function encodeSegment(bytes: string): string {
  let out = "";
  for (const ch of bytes) out += PCHAR.test(ch) ? ch : `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;
  return out;
}

/**
 * The request target as the path sent upstream, in one canonical form: origin form (an
 * absolute-form target `http://host/path` is rewritten to `/path`), backslashes read as `/`,
 * percent-encoding undone (also double encoding, up to three rounds) so that `%2e%2e`, `%2f`,
 * `%5c` and `%252e` count as what an application would read them as, dot segments resolved,
 * repeated slashes merged, then each segment re-encoded. The query is kept as sent.
 *
 * Refused (`ok: false`): a path that would climb above the root (so above the upstream's
 * path prefix), a NUL byte, encoding nested deeper than three rounds, and targets that are
 * not a path (`*`, authority form).
 */
export function normaliseRequestTarget(target: string): { ok: true; path: string } | { ok: false; code: TargetRefusal; reason: string } {
  let t = target;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(t)) {
    // Absolute form (RFC 9112 section 3.2.2): only the path and query are ours to forward.
    const rest = t.slice(t.indexOf("//") + 2);
    const slash = rest.search(/[/?]/);
    t = slash < 0 ? "/" : rest[slash] === "?" ? `/${rest.slice(slash)}` : rest.slice(slash);
  }
  if (!t.startsWith("/") && !t.startsWith("\\")) return { ok: false, code: "BAD_REQUEST_TARGET", reason: "the request target is not a path" };
  const hash = t.indexOf("#");
  if (hash >= 0) t = t.slice(0, hash);
  const q = t.indexOf("?");
  const rawPath = q >= 0 ? t.slice(0, q) : t;
  const query = q >= 0 ? t.slice(q) : "";
  let decoded = rawPath;
  for (let round = 0; ; round++) {
    const next = percentDecodeOnce(decoded);
    if (next === decoded) break;
    if (round >= MAX_DECODE_ROUNDS) return { ok: false, code: "BAD_REQUEST_TARGET", reason: "the path is percent-encoded more than three times over" };
    decoded = next;
  }
  if (decoded.includes("\0")) return { ok: false, code: "BAD_REQUEST_TARGET", reason: "the path holds a NUL byte" };
  const segments: string[] = [];
  const parts = decoded.replace(/\\/g, "/").split("/");
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i]!;
    const last = i === parts.length - 1;
    if (seg === "." || seg === "") {
      if (last) segments.push("");
      continue;
    }
    if (seg === "..") {
      if (segments.length === 0 || (segments.length === 1 && segments[0] === "")) return { ok: false, code: "PATH_OUTSIDE_PREFIX", reason: "the path climbs above the root" };
      segments.pop();
      if (last) segments.push("");
      continue;
    }
    segments.push(seg);
  }
  return { ok: true, path: `/${segments.map(encodeSegment).join("/")}${query}` };
}

/** Answers up to this size are sent in one write; larger ones are streamed. */
export const RESPONSE_BUFFER_BYTES = 64 * 1024;

/** The request body was larger than the limit. */
export class BodyTooLargeError extends Error {
  readonly code = "MTLSKIT_BODY_TOO_LARGE";
}

/** Streams `req`, failing once more than `limit` bytes came (bodies without Content-Length). */
async function* limitedBody(req: IncomingMessage, limit: number): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new BodyTooLargeError(`request body larger than ${limit} bytes`);
    yield chunk;
  }
}

/** What {@link forwardRequest} needs besides the request. */
export interface ForwardContext {
  readonly pool: Pool;
  /** Path prefix of the upstream URL (no trailing slash), or "". */
  readonly pathPrefix: string;
  readonly upstreamTimeoutMs: number;
  readonly maxBodyBytes: number;
  readonly failureStatus: UpstreamFailureStatus;
  readonly metrics: InboundMetrics;
  readonly logger: InboundLogger;
  readonly correlationIdPattern: RegExp;
}

/** Answers with a small JSON error. */
export function sendError(res: ServerResponse, status: number, code: string, message: string, correlationId: string | undefined, close = false, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code, message, ...(correlationId ? { correlationId } : {}) } });
  const headers: Record<string, string | number> = { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...extra };
  if (correlationId) headers["x-correlation-id"] = correlationId;
  if (close) {
    headers["connection"] = "close";
    res.shouldKeepAlive = false;
  }
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * Sends `req` to the upstream and streams the answer into `res`. Never throws: every failure
 * ends in an answer (or, once the answer has started, a closed connection). `remoteAddress`:
 * the peer's, when known (default: the socket's).
 */
export function forwardRequest(ctx: ForwardContext, req: IncomingMessage, res: ServerResponse, identity: ClientIdentity, remoteAddress: string | undefined = req.socket.remoteAddress): void {
  const correlation = correlationIdFor(req.headers["x-correlation-id"], ctx.correlationIdPattern);
  if (correlation.rejected) ctx.logger.debug({ event: "correlation_id_replaced", correlationId: correlation.id }, "the caller's x-correlation-id does not match the pattern; a new one was generated");
  const target = normaliseRequestTarget(req.url ?? "/");
  if (!target.ok) {
    ctx.logger.warn({ event: "bad_request", error: target.code, correlationId: correlation.id, method: req.method, path: pathOf(req) }, `refused the request target: ${target.reason}`);
    sendError(res, 400, target.code, target.code === "PATH_OUTSIDE_PREFIX" ? "the request path climbs above the root" : `the request target was refused: ${target.reason}`, correlation.id, true);
    return;
  }
  const cl = req.headers["content-length"];
  const chunked = req.headers["transfer-encoding"] !== undefined;
  const hasBody = chunked || (cl !== undefined && cl !== "0");
  const headers = upstreamRequestHeaders(req, identity, correlation.id, hasBody, remoteAddress);
  const body = !hasBody ? null : chunked ? limitedBody(req, ctx.maxBodyBytes) : req;
  const started = performance.now();
  let controller: Dispatcher.DispatchController | undefined;
  let clientGone = false;
  let done = false;
  // The answer is held until it ends or passes RESPONSE_BUFFER_BYTES, then streamed.
  let upstreamStatus = 0;
  let responseHeaders: string[] = [];
  let hasLength = false;
  let buffered: Buffer[] | undefined = [];
  let bufferedBytes = 0;
  let controllerForDrain: Dispatcher.DispatchController | undefined;
  const startStreaming = () => {
    const chunks = buffered ?? [];
    buffered = undefined;
    res.writeHead(upstreamStatus, responseHeaders);
    res.on("drain", () => controllerForDrain?.resume());
    let ok = true;
    for (const chunk of chunks) ok = res.write(chunk);
    if (!ok) controllerForDrain?.pause();
  };
  res.once("close", () => {
    if (!done && !res.writableFinished) {
      clientGone = true;
      controller?.abort(new Error("the caller closed the connection"));
    }
  });
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (clientGone) c.abort(new Error("the caller closed the connection"));
    },
    onResponseStart(c, statusCode, upstreamHeaders) {
      if (statusCode < 200) return;
      ctx.metrics.upstreamLatency.observe((performance.now() - started) / 1000);
      upstreamStatus = statusCode;
      responseHeaders = downstreamResponseHeaders(upstreamHeaders as Record<string, string | string[] | undefined>, correlation.id);
      hasLength = upstreamHeaders["content-length"] !== undefined;
      controllerForDrain = c;
    },
    onResponseData(c, chunk) {
      if (buffered !== undefined) {
        buffered.push(chunk);
        bufferedBytes += chunk.length;
        if (bufferedBytes <= RESPONSE_BUFFER_BYTES) return;
        startStreaming();
        return;
      }
      if (!res.write(chunk)) c.pause();
    },
    onResponseEnd() {
      done = true;
      if (buffered === undefined) {
        res.end();
        return;
      }
      // A small answer goes out as one write: head and body in one TLS record where possible.
      if (!hasLength && bufferedBytes > 0) responseHeaders.push("content-length", String(bufferedBytes));
      res.writeHead(upstreamStatus, responseHeaders);
      res.end(buffered.length === 1 ? buffered[0] : Buffer.concat(buffered, bufferedBytes));
    },
    onResponseError(_c, err) {
      done = true;
      if (clientGone) return;
      if (err instanceof BodyTooLargeError) {
        ctx.metrics.limits.inc({ limit: "body_size" });
        ctx.logger.warn({ event: "limit_reached", limit: "body_size", correlationId: correlation.id, method: req.method, path: pathOf(req) }, `refused a request body larger than ${ctx.maxBodyBytes} bytes`);
        sendError(res, 413, "BODY_TOO_LARGE", `the request body is larger than ${ctx.maxBodyBytes} bytes`, correlation.id, true);
        return;
      }
      const failure = classifyUpstreamError(err as Error & { code?: string });
      if (res.headersSent) {
        ctx.logger.warn({ event: "upstream_error", failure: failure ?? "other", error: errorCode(err), correlationId: correlation.id, method: req.method, path: pathOf(req) }, "the upstream failed while answering; the connection is closed");
        res.destroy();
        return;
      }
      if (!failure) {
        ctx.logger.warn({ event: "bad_request", error: errorCode(err), correlationId: correlation.id, method: req.method, path: pathOf(req) }, `could not forward the request: ${err.message}`);
        sendError(res, 400, "BAD_REQUEST", "the request could not be forwarded", correlation.id, true);
        return;
      }
      ctx.metrics.upstreamErrors.inc({ reason: failure });
      const status = failureStatus(failure, ctx.failureStatus);
      const ms = Math.round(performance.now() - started);
      ctx.logger.warn(
        { event: "upstream_error", failure, error: errorCode(err), status, ms, correlationId: correlation.id, method: req.method, path: pathOf(req) },
        failure === "timeout" ? `the upstream did not answer within ${ctx.upstreamTimeoutMs} ms` : failure === "unreachable" ? "the upstream is unreachable" : failure === "bad_response" ? `the upstream answered something that is not valid HTTP (${errorCode(err)})` : "the upstream closed the connection",
      );
      const [code, message] = failure === "timeout" ? ["UPSTREAM_TIMEOUT", "the application did not answer in time"] : failure === "bad_response" ? ["UPSTREAM_BAD_RESPONSE", "the application's answer was not valid HTTP"] : ["UPSTREAM_UNAVAILABLE", "the application is not reachable"];
      sendError(res, status, code, message, correlation.id);
    },
  };
  try {
    ctx.pool.dispatch(
      {
        path: ctx.pathPrefix + target.path,
        method: (req.method ?? "GET") as Dispatcher.HttpMethod,
        headers,
        body: body as Dispatcher.DispatchOptions["body"],
        headersTimeout: ctx.upstreamTimeoutMs,
        bodyTimeout: ctx.upstreamTimeoutMs,
      },
      handler,
    );
  } catch (e) {
    handler.onResponseError!(undefined as unknown as Dispatcher.DispatchController, e as Error);
  }
}

/** The request path without query or fragment: what a log line may show (a query can carry secrets). */
export function pathOf(req: IncomingMessage): string {
  return (req.url ?? "/").replace(/[?#].*$/, "");
}

function errorCode(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string }; name?: string };
  return e.code ?? e.cause?.code ?? e.name ?? "Error";
}
