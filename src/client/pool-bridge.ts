/**
 * Where the dispatcher's layers meet undici's pool, and the response headers they pass up.
 *
 * undici's `Client` calls its handlers in the older callback style (`onConnect`, `onHeaders`
 * with the raw header list, ...). Given a handler in the newer style (`onRequestStart`,
 * `onResponseStart` with parsed headers), as every layer of the dispatcher is written, its
 * `Agent` wraps it in a converter that parses the response headers into an object at every
 * response, then the dispatcher's outermost layer hands the raw list back to `request()` /
 * `fetch()`, which parse it again. {@link PoolBridge} is that converter, but the object it
 * passes up is parsed only when something reads it ({@link lazyHeaders}): on the usual path
 * no layer does (the retry layer reads `retry-after` of a 429/503 only) and the caller's own
 * handler takes the raw list, so the headers are parsed once, by the caller, as with a bare
 * undici `Agent` (issue 11, item 7).
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import { util, type Dispatcher } from "undici";

/** The callbacks of a handler in undici's older style (`request`, `fetch` and `stream` use them). */
export interface LegacyHandler {
  onConnect?(abort: (reason?: Error) => void, context?: unknown): void;
  onResponseStarted?(): void;
  onUpgrade?(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void;
  onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage?: string): boolean;
  onData?(chunk: Buffer): boolean;
  onComplete?(trailers: Buffer[] | string[] | null): void;
  onError?(err: Error): void;
}

type RawHeaders = Buffer[] | string[];

/** Read on a {@link lazyHeaders} object: the plain parsed object behind it. */
const MATERIAL = Symbol("plain headers");

/** What a lazy headers object wraps: the raw list, and the object parsed from it once read. */
class LazyTarget {
  parsed: IncomingHttpHeaders | undefined = undefined;

  constructor(readonly raw: RawHeaders) {}
}

function parsed(t: LazyTarget): IncomingHttpHeaders {
  return (t.parsed ??= util.parseHeaders(t.raw) as IncomingHttpHeaders);
}

/**
 * One handler for every lazy headers object: no closure is made per response. Every trap goes
 * to the parsed object, so the target's own fields are never seen (they are configurable, so
 * the proxy invariants hold whatever the parsed object has).
 */
const LAZY: ProxyHandler<LazyTarget> = {
  get: (t, k) => (k === MATERIAL ? parsed(t) : Reflect.get(parsed(t), k)),
  has: (t, k) => Reflect.has(parsed(t), k),
  ownKeys: (t) => Reflect.ownKeys(parsed(t)),
  getOwnPropertyDescriptor: (t, k) => Reflect.getOwnPropertyDescriptor(parsed(t), k),
  set: (t, k, v) => Reflect.set(parsed(t), k, v),
  deleteProperty: (t, k) => Reflect.deleteProperty(parsed(t), k),
  defineProperty: (t, k, d) => Reflect.defineProperty(parsed(t), k, d),
  getPrototypeOf: (t) => Reflect.getPrototypeOf(parsed(t)),
};

/**
 * Response headers as undici's `parseHeaders` gives them, parsed when first read (any read:
 * a property, `in`, `Object.keys`, a spread). Reads and writes go to that one parsed object.
 */
export function lazyHeaders(raw: RawHeaders): IncomingHttpHeaders {
  return new Proxy<LazyTarget>(new LazyTarget(raw), LAZY) as unknown as IncomingHttpHeaders;
}

/** The plain object of headers, for a handler outside the dispatcher (it never sees the lazy wrapper). */
export function plainHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return (headers as { [MATERIAL]?: IncomingHttpHeaders })[MATERIAL] ?? headers;
}

/**
 * A newer-style handler, given to undici's pool as an older-style one: what undici's own
 * `UnwrapHandler` does, with the response headers parsed only when read. The bridge is also
 * the controller the handler is given (pause, resume, abort, the raw headers): one object per
 * request rather than two, since every object made per request adds to the garbage collector's
 * work, which shows in the tail latency (issue 11, item 7).
 */
export class PoolBridge implements LegacyHandler, Dispatcher.DispatchController {
  rawHeaders: RawHeaders | null = null;
  rawTrailers: RawHeaders | null = null;
  private resumeFn: (() => void) | undefined = undefined;
  private abortFn: ((reason?: Error) => void) | undefined = undefined;
  private isPaused = false;
  private isAborted = false;
  private abortReason: Error | null = null;

  constructor(private readonly handler: Dispatcher.DispatchHandler) {}

  get aborted(): boolean {
    return this.isAborted;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  get reason(): Error | null {
    return this.abortReason;
  }

  pause(): void {
    this.isPaused = true;
  }

  resume(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    this.resumeFn?.();
  }

  abort(reason: Error): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.abortReason = reason;
    this.abortFn?.(reason);
  }

  onConnect(abort: (reason?: Error) => void, context?: unknown): void {
    this.abortFn = abort;
    this.handler.onRequestStart?.(this, context);
  }

  onResponseStarted(): void {
    (this.handler as LegacyHandler).onResponseStarted?.();
  }

  onUpgrade(statusCode: number, rawHeaders: RawHeaders | null, socket: Duplex): void {
    this.rawHeaders = rawHeaders;
    this.handler.onRequestUpgrade?.(this, statusCode, util.parseHeaders(rawHeaders ?? []) as IncomingHttpHeaders, socket);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage?: string): boolean {
    this.resumeFn = resume;
    this.rawHeaders = rawHeaders;
    this.handler.onResponseStart?.(this, statusCode, lazyHeaders(rawHeaders), statusMessage);
    return !this.isPaused;
  }

  onData(chunk: Buffer): boolean {
    this.handler.onResponseData?.(this, chunk);
    return !this.isPaused;
  }

  onComplete(rawTrailers: RawHeaders | null): void {
    this.rawTrailers = rawTrailers;
    this.handler.onResponseEnd?.(this, rawTrailers && rawTrailers.length > 0 ? (util.parseHeaders(rawTrailers) as IncomingHttpHeaders) : {});
  }

  onError(err: Error): void {
    if (!this.handler.onResponseError) throw err;
    // Before onConnect (a request refused at dispatch) there is no controller yet, as with undici's UnwrapHandler.
    this.handler.onResponseError(this.abortFn ? this : (undefined as unknown as Dispatcher.DispatchController), err);
  }
}
