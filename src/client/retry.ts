import type { IncomingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";
import { parseRetryAfter } from "../policy/index.js";

/** When and how requests are retried. */
export interface RetryOptions {
  /** Retries after the first attempt. Default 2. 0 disables retries. */
  maxRetries?: number;
  /** First backoff delay, doubled at each retry (with jitter). Default 200 ms. */
  minDelayMs?: number;
  /** Longest backoff delay. Default 5000 ms. */
  maxDelayMs?: number;
  /**
   * Longest `Retry-After` honoured, in milliseconds. A server asking to wait longer gets its
   * 429/503 response passed on instead of a retry. Default 30000.
   */
  maxRetryAfterMs?: number;
  /** Statuses retried. Default 429 and 503 (Thales's retryable statuses). */
  statusCodes?: readonly number[];
  /** Methods retried: idempotent ones only. Default GET, HEAD, OPTIONS, PUT, DELETE, TRACE. POST and PATCH never are. */
  methods?: readonly string[];
  /** Error codes (errno, undici, or MtlsError codes) retried: connection errors, before any response. */
  errorCodes?: readonly string[];
  /** Called before each retry (for logs and tests). */
  onRetry?: (info: RetryInfo) => void;
  /** Replaces an error by the one that explains it, before deciding (the dispatcher's TLS alert memory). */
  explainError?: (err: Error) => Error;
}

/** One retry about to happen. */
export interface RetryInfo {
  method: string;
  path: string;
  /** 1 for the first retry. */
  retry: number;
  delayMs: number;
  /** The status that caused it, or the error code. */
  reason: string;
}

/** Methods that may be sent twice without changing the outcome (RFC 9110, 9.2.2). */
export const IDEMPOTENT_METHODS: readonly string[] = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"];
/** Statuses Thales documents as retryable. */
export const RETRYABLE_STATUSES: readonly number[] = [429, 503];
/** Connection errors (nothing was answered) retried for idempotent methods. */
export const RETRYABLE_ERROR_CODES: readonly string[] = [
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENETDOWN",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "DNS_FAILED",
  "TCP_CONNECTION_REFUSED",
  "TCP_CONNECT_TIMEOUT",
  "TCP_CONNECTION_RESET",
  "HTTP_CONNECTION_CLOSED",
];

/** `Retry-After` is read with policy's one parser (re-exported here for the client's users). */
export { parseRetryAfter };

function replayable(body: unknown): boolean {
  return body == null || typeof body === "string" || body instanceof Uint8Array;
}

/** The controller the caller sees: stable across attempts, forwarding to the current one (shared with the OAuth layer). */
export class StableController implements Dispatcher.DispatchController {
  target: Dispatcher.DispatchController | undefined;
  private pausedByCaller = false;
  private abortReason: Error | undefined;
  /** Set while waiting between attempts: an abort then ends the request at once. */
  onAbortBetweenAttempts: ((reason: Error) => void) | undefined;

  /** The raw headers of the current attempt's response (undici's controllers keep them). */
  get rawHeaders(): Buffer[] | string[] | IncomingHttpHeaders | null | undefined {
    return this.target?.rawHeaders;
  }

  get rawTrailers(): Buffer[] | string[] | IncomingHttpHeaders | null | undefined {
    return this.target?.rawTrailers;
  }

  setTarget(c: Dispatcher.DispatchController): void {
    this.target = c;
    if (this.pausedByCaller) c.pause();
    if (this.abortReason) c.abort(this.abortReason);
  }

  get aborted(): boolean {
    return this.abortReason !== undefined || (this.target?.aborted ?? false);
  }

  get paused(): boolean {
    return this.pausedByCaller || (this.target?.paused ?? false);
  }

  get reason(): Error | null {
    return this.abortReason ?? this.target?.reason ?? null;
  }

  abort(reason: Error): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    const between = this.onAbortBetweenAttempts;
    if (between) between(reason);
    else this.target?.abort(reason);
  }

  pause(): void {
    this.pausedByCaller = true;
    this.target?.pause();
  }

  resume(): void {
    this.pausedByCaller = false;
    this.target?.resume();
  }
}

/**
 * The retry layer's handler of one request. It is also the controller the caller is given
 * (stable across attempts): one object per request rather than two, as every object made per
 * request adds to the garbage collector's work, which shows in the tail latency (issue 11).
 */
class RetryingHandler extends StableController implements Dispatcher.DispatchHandler {
  private started = false;
  private forwarded = false;
  private swallowing: { delayMs: number; reason: string } | undefined;
  private retries = 0;
  private done = false;

  constructor(
    private readonly opts: Dispatcher.DispatchOptions,
    private readonly handler: Dispatcher.DispatchHandler,
    private readonly dispatch: Dispatcher["dispatch"],
    private readonly policy: Required<Omit<RetryOptions, "onRetry" | "explainError">> & Pick<RetryOptions, "onRetry" | "explainError">,
    private readonly eligible: boolean,
  ) {
    super();
  }

  start(): boolean {
    return this.dispatch(this.opts, this);
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.setTarget(controller);
    if (!this.started) {
      this.started = true;
      this.handler.onRequestStart?.(this, context);
    }
  }

  onRequestUpgrade(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.forwarded = true;
    this.handler.onRequestUpgrade?.(this, statusCode, headers, socket);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (this.eligible && !this.aborted && this.retries < this.policy.maxRetries && this.policy.statusCodes.includes(statusCode)) {
      const after = parseRetryAfter(headers["retry-after"]);
      if (after === undefined || after <= this.policy.maxRetryAfterMs) {
        this.swallowing = { delayMs: after ?? this.backoff(), reason: String(statusCode) };
        // Let the refused response's body flow (it is dropped) even if the caller paused.
        controller.resume();
        return;
      }
    }
    this.forwarded = true;
    this.handler.onResponseStart?.(this, statusCode, headers, statusMessage);
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.swallowing) return;
    this.handler.onResponseData?.(this, chunk);
  }

  onResponseEnd(_c: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    if (this.swallowing) {
      const s = this.swallowing;
      this.swallowing = undefined;
      this.schedule(s.delayMs, s.reason);
      return;
    }
    this.finish();
    this.handler.onResponseEnd?.(this, trailers);
  }

  onResponseError(_c: Dispatcher.DispatchController | null, error: Error): void {
    if (this.done) return;
    const err = this.policy.explainError?.(error) ?? error;
    if (this.swallowing) {
      // The refused response broke off: retry as planned.
      const s = this.swallowing;
      this.swallowing = undefined;
      this.schedule(s.delayMs, s.reason);
      return;
    }
    const code = (err as { code?: string }).code ?? "";
    if (this.eligible && !this.forwarded && !this.aborted && this.retries < this.policy.maxRetries && this.policy.errorCodes.includes(code)) {
      this.schedule(this.backoff(), code);
      return;
    }
    this.finish();
    this.handler.onResponseError?.(this, err);
  }

  private finish(): void {
    this.done = true;
  }

  private backoff(): number {
    const d = Math.min(this.policy.maxDelayMs, this.policy.minDelayMs * 2 ** this.retries);
    return Math.round(d / 2 + (Math.random() * d) / 2);
  }

  private schedule(delayMs: number, reason: string): void {
    this.retries += 1;
    this.policy.onRetry?.({ method: this.opts.method, path: this.opts.path, retry: this.retries, delayMs, reason });
    const timer = setTimeout(() => {
      this.onAbortBetweenAttempts = undefined;
      this.start();
    }, delayMs);
    this.onAbortBetweenAttempts = (why) => {
      clearTimeout(timer);
      this.onAbortBetweenAttempts = undefined;
      this.finish();
      this.handler.onResponseError?.(this, why);
    };
  }
}

/**
 * An undici interceptor that retries idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE,
 * TRACE) on connection errors before any response, and on 429 and 503 responses, with an
 * exponential backoff that honours `Retry-After`. POST and PATCH are never retried, nor is a
 * request whose body is a stream (it cannot be sent twice). Once retries are spent, the last
 * 429/503 response is passed on as it came, and the last error likewise.
 */
export function retryInterceptor(options: RetryOptions = {}): Dispatcher.DispatcherComposeInterceptor {
  const policy = {
    maxRetries: options.maxRetries ?? 2,
    minDelayMs: options.minDelayMs ?? 200,
    maxDelayMs: options.maxDelayMs ?? 5000,
    maxRetryAfterMs: options.maxRetryAfterMs ?? 30_000,
    statusCodes: options.statusCodes ?? RETRYABLE_STATUSES,
    methods: (options.methods ?? IDEMPOTENT_METHODS).map((m) => m.toUpperCase()),
    errorCodes: options.errorCodes ?? RETRYABLE_ERROR_CODES,
    onRetry: options.onRetry,
    explainError: options.explainError,
  };
  const methods = new Set(policy.methods);
  return (dispatch) =>
    function retry(opts, handler) {
      const eligible = policy.maxRetries > 0 && (methods.has(opts.method) || methods.has(String(opts.method).toUpperCase())) && replayable(opts.body);
      if (!eligible) return dispatch(opts, handler);
      return new RetryingHandler(opts, handler, dispatch, policy, eligible).start();
    };
}
