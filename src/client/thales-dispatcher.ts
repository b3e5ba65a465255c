import type { IncomingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { Agent, buildConnector, Dispatcher } from "undici";
import { ReloadableCredentials, type CredentialFiles, type CredentialSet, type ReloadResult } from "../credentials/index.js";
import { MtlsError } from "../errors/index.js";
import type { ProgramPolicy } from "../policy/index.js";
import { toMtlsError, watchHandshakeStage } from "./client-errors.js";
import { correlationIdInterceptor, correlationIdPattern } from "./correlation-id.js";
import { ttlDnsInterceptor } from "./dns-interceptor.js";
import { TtlResolver, type TtlResolverOptions } from "./dns-resolver.js";
import { OAuthClient, oauthInterceptor, type OAuthClientOptions } from "./oauth-client.js";
import { plainHeaders, PoolBridge, type LegacyHandler } from "./pool-bridge.js";
import { retryInterceptor, type RetryOptions } from "./retry.js";
import { thalesTlsOptions } from "./tls-options.js";

/** The connection pool, per resolved address. */
export interface PoolOptions {
  /** Most connections to one address. Default 16. */
  connections?: number;
  /** An idle keep-alive connection is closed after this long. Default 10000 ms. */
  keepAliveTimeoutMs?: number;
  /** Upper bound of the server's own keep-alive hint. Default 30000 ms. */
  keepAliveMaxTimeoutMs?: number;
  /**
   * A connection older than this is not given new requests (and is closed): every connection
   * is set up again from a fresh DNS answer and the credentials in force at least this often.
   * The pool is replaced by a new one this often (same credentials, TLS sessions resumed); the
   * old one finishes its requests and closes, as at a certificate swap. Default 300000 ms
   * (5 minutes); 0 for no limit.
   */
  maxConnectionAgeMs?: number;
  /** TLS sessions kept for resumption (per host name). Default 100. 0 disables resumption. */
  maxCachedSessions?: number;
}

/** Time limits. */
export interface TimeoutOptions {
  /** TCP connection and TLS handshake together. Default 10000 ms. */
  connectMs?: number;
  /** From sending the request to the end of the response headers. Default 30000 ms. */
  headersMs?: number;
  /** Longest pause between two chunks of the response body. Default 30000 ms. */
  bodyMs?: number;
}

/** Options of {@link createThalesDispatcher}. */
export interface ThalesDispatcherOptions {
  /** The program (TLS versions, server trust rule, correlation id format). */
  program: ProgramPolicy;
  /** The client certificate, key and server trust; a successful `reload()` swaps them in. */
  credentials: ReloadableCredentials;
  /** CA certificates (PEM) to verify Thales against instead of the credentials' `caPem` / Node's roots. */
  serverTrustPem?: string;
  /** The resolver (one made elsewhere), or options for a new one: the profile's `dns.servers`. */
  dns?: TtlResolver | TtlResolverOptions;
  /** Upper bound of the time a DNS answer is used, whatever its TTL. Default 300 s. */
  maxDnsTtlSeconds?: number;
  pool?: PoolOptions;
  timeouts?: TimeoutOptions;
  /** Retry policy, or `false` for none. Default: {@link RetryOptions} defaults. */
  retry?: RetryOptions | false;
  /** D1: the OAuth 2.0 client to set up on this connection, and the API origin its tokens are for. */
  oauth?: Omit<OAuthClientOptions, "dispatcher" | "program"> & { apiOrigin: string };
  /** How long an old pool may take to finish its requests after a certificate swap before it is destroyed. Default 30000 ms. */
  drainTimeoutMs?: number;
  /** Poll the credential files this often (ms) and swap when they changed. Default: no polling. */
  reloadIntervalMs?: number;
  /** Generates correlation ids. Default: random UUIDs. */
  correlationId?: () => string;
  /** Cipher list (default: AEAD, forward secret). */
  ciphers?: string;
}

/** Counters of a {@link ThalesDispatcher}, for tests, benchmarks and the doctor. */
export interface ThalesDispatcherStats {
  /** TLS connections set up. */
  connections: number;
  /** Of which full handshakes (a certificate was presented). */
  fullHandshakes: number;
  /** Of which resumed sessions. */
  resumedHandshakes: number;
  /** DNS questions asked (each name once per TTL). */
  dnsLookups: number;
  /** Retries made by the retry layer. */
  retries: number;
  /** Certificate swaps. */
  swaps: number;
  /** Old pools still finishing their requests. */
  draining: number;
  /** Version of the credential set in force. */
  credentialVersion: number;
}

/**
 * Forwards each request to the pool in force, replaced at each certificate swap. The layers'
 * handlers go to the pool through a {@link PoolBridge}: undici's own converter would parse
 * every response's headers for them, which nothing reads on the usual path.
 */
class Router extends Dispatcher {
  constructor(public agent: Agent) {
    super();
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.agent.dispatch(opts, handler.onRequestStart ? (new PoolBridge(handler) as unknown as Dispatcher.DispatchHandler) : handler);
  }
}

/**
 * The TLS errors (server alerts) of recent connections, by local `address:port`. undici
 * reports a connection the server ended with an alert after the handshake (how TLS 1.3
 * servers refuse a client certificate) as "other side closed": its socket's own 'error'
 * is replaced by that of its 'end'. The alert says why, so it is kept here for a while.
 */
class TlsErrorMemory {
  private readonly errors = new Map<string, Error>();

  watch(socket: TLSSocket): void {
    const key = `${socket.localAddress ?? ""}:${socket.localPort ?? ""}`;
    socket.once("error", (e: Error & { code?: string }) => {
      if (!e.code?.startsWith("ERR_SSL_")) return;
      this.errors.set(key, e);
      setTimeout(() => this.errors.delete(key), 10_000).unref();
    });
  }

  /** The TLS error behind undici's `SocketError`, if one was seen. */
  explain(err: Error): Error {
    const info = (err as { code?: string; socket?: { localAddress?: string; localPort?: number } }).socket;
    if ((err as { code?: string }).code !== "UND_ERR_SOCKET" || !info) return err;
    return this.errors.get(`${info.localAddress ?? ""}:${info.localPort ?? ""}`) ?? err;
  }
}

function toRawHeaders(headers: IncomingHttpHeaders): Buffer[] {
  const raw: Buffer[] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) raw.push(Buffer.from(k, "latin1"), Buffer.from(one, "latin1"));
  }
  return raw;
}

/**
 * The outermost layer: maps the errors of everything below to coded MtlsErrors, and speaks to
 * the caller's handler in its own style. undici's `compose` would wrap a `request`/`fetch`
 * handler in a converter that rebuilds the raw headers from the parsed ones at every response;
 * this layer hands over the raw headers undici already has instead.
 */
class OutermostHandler implements Dispatcher.DispatchHandler {
  private readonly legacy: LegacyHandler | undefined;

  constructor(
    private readonly handler: Dispatcher.DispatchHandler,
    /** The request's origin; its `host:port` is worked out only for an error message. */
    private readonly origin: string | URL | undefined,
    private readonly targetOf: (origin: string | URL | undefined) => string,
    private readonly program: ProgramPolicy,
    private readonly memory: TlsErrorMemory,
  ) {
    this.legacy = handler.onRequestStart ? undefined : (handler as unknown as LegacyHandler);
  }

  onRequestStart(c: Dispatcher.DispatchController, context: unknown): void {
    if (this.legacy) this.legacy.onConnect?.((reason) => c.abort(reason ?? new Error("aborted")), context);
    else this.handler.onRequestStart?.(c, context);
  }

  onRequestUpgrade(c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    if (this.legacy) this.legacy.onUpgrade?.(statusCode, (c.rawHeaders as Buffer[] | null | undefined) ?? toRawHeaders(headers), socket);
    else this.handler.onRequestUpgrade?.(c, statusCode, plainHeaders(headers), socket);
  }

  onResponseStart(c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (!this.legacy) return this.handler.onResponseStart?.(c, statusCode, plainHeaders(headers), statusMessage);
    const raw = Array.isArray(c.rawHeaders) && c.rawHeaders.length > 0 ? (c.rawHeaders as Buffer[]) : toRawHeaders(headers);
    if (this.legacy.onHeaders?.(statusCode, raw, () => c.resume(), statusMessage) === false) c.pause();
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.legacy) return this.handler.onResponseData?.(c, chunk);
    if (this.legacy.onData?.(chunk) === false) c.pause();
  }

  onResponseEnd(c: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    if (!this.legacy) return this.handler.onResponseEnd?.(c, trailers);
    this.legacy.onComplete?.(Array.isArray(c.rawTrailers) ? (c.rawTrailers as Buffer[]) : toRawHeaders(trailers));
  }

  onResponseError(c: Dispatcher.DispatchController, err: Error): void {
    const mapped = toMtlsError(this.memory.explain(err), { target: this.targetOf(this.origin), program: this.program }) ?? err;
    if (!this.legacy) return this.handler.onResponseError?.(c, mapped);
    if (!this.legacy.onError) throw mapped;
    this.legacy.onError(mapped);
  }
}

/**
 * A request given to a closed dispatcher: as undici's own dispatchers do, the error goes to the
 * handler (so `request()` and `fetch()` reject with it) and `dispatch` returns false; a
 * handler with no error callback gets it thrown. The error is `ALREADY_CLOSED`.
 */
function refuseClosed(handler: Dispatcher.DispatchHandler): false {
  const err = new MtlsError("ALREADY_CLOSED", "request through a closed Thales dispatcher: it takes no new requests after close() or destroy()", {
    hint: "Create a new one (createThalesDispatcher) and close it only when no more requests go through it.",
  });
  const legacy = handler as unknown as LegacyHandler;
  if (!handler.onRequestStart && typeof legacy.onError === "function") {
    legacy.onError(err);
    return false;
  }
  if (typeof handler.onResponseError === "function") {
    const controller: Dispatcher.DispatchController = { aborted: true, paused: false, reason: err, abort: () => undefined, pause: () => undefined, resume: () => undefined };
    handler.onResponseError(controller, err);
    return false;
  }
  throw err;
}

/** `https://host:port` -> `host:port`, parsed once per origin. */
function targetParser(): (origin: string | URL | undefined) => string {
  const targets = new Map<string, string>();
  return (o) => {
    const key = String(o);
    let t = targets.get(key);
    if (t === undefined) {
      const u = new URL(key);
      t = `${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`;
      if (targets.size > 1000) targets.clear();
      targets.set(key, t);
    }
    return t;
  };
}

/**
 * The layers over `bottom`, innermost first, as `Dispatcher.compose` puts them but without
 * its per-request wrapping: `compose` hands each layer a handler converted to the newer
 * callback style, and every handler of these layers already is (the outermost layer takes
 * the caller's handler in either style). Also no `Proxy` lookup of `dispatch` per request.
 */
function chain(bottom: Dispatcher, layers: Dispatcher.DispatcherComposeInterceptor[]): Dispatcher["dispatch"] {
  let dispatch: Dispatcher["dispatch"] = (opts, handler) => bottom.dispatch(opts, handler);
  for (const layer of layers) dispatch = layer(dispatch);
  return dispatch;
}

function errorInterceptor(program: ProgramPolicy, memory: TlsErrorMemory, targetOf: (o: string | URL | undefined) => string): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) =>
    function mtlsErrors(opts, handler) {
      return dispatch(opts, new OutermostHandler(handler, opts.origin, targetOf, program, memory));
    };
}

/**
 * The undici `Dispatcher` for calls to Thales. Layers, outermost first: coded errors
 * (`MtlsError`, the code names the layer) -> `x-correlation-id` -> OAuth bearer token (D1)
 * -> retries (idempotent methods; 429/503; `Retry-After`) -> DNS with TTLs
 * ({@link ttlDnsInterceptor} over {@link TtlResolver}) -> the pool in force (an undici `Agent`
 * whose every connection uses {@link thalesTlsOptions}).
 *
 * A certificate swap (a successful `credentials.reload()`) builds a new pool for new
 * requests; the old one finishes the requests it has (undici's graceful `close()`), and is
 * destroyed if it has not drained within `drainTimeoutMs`.
 */
export class ThalesDispatcher extends Dispatcher {
  readonly program: ProgramPolicy;
  readonly credentials: ReloadableCredentials;
  readonly resolver: TtlResolver;
  /** D1: the OAuth client of this connection. */
  readonly oauth: OAuthClient | undefined;
  /** Requests through every layer but the OAuth one (what the OAuth client itself uses). */
  readonly base: Dispatcher;
  private readonly router: Router;
  /** Every layer but the outermost one (composed by hand: see {@link chain}). */
  private readonly inner: Dispatcher["dispatch"];
  private readonly targetOf = targetParser();
  private readonly retiring = new Set<Agent>();
  private readonly tlsErrors = new TlsErrorMemory();
  private readonly counters = { connections: 0, fullHandshakes: 0, resumedHandshakes: 0, dnsLookups: 0, retries: 0, swaps: 0 };
  private readonly unsubscribe: () => void;
  private readonly reloadTimer: NodeJS.Timeout | undefined;
  /** Replaces the pool every `maxConnectionAgeMs` (see {@link PoolOptions.maxConnectionAgeMs}). */
  private readonly ageTimer: NodeJS.Timeout | undefined;
  /** The TLS connector of the credentials in force: kept across pool replacements, so that TLS sessions are resumed. */
  private connector: buildConnector.connector;
  private closed = false;

  constructor(private readonly options: ThalesDispatcherOptions) {
    super();
    this.program = options.program;
    this.credentials = options.credentials;
    this.resolver = options.dns instanceof TtlResolver ? options.dns : new TtlResolver(options.dns ?? {});
    this.connector = this.newConnector(this.credentials.current());
    this.router = new Router(this.newAgent());

    const dns = ttlDnsInterceptor({
      resolver: this.resolver,
      maxTtlMs: (options.maxDnsTtlSeconds ?? 300) * 1000,
      onLookup: () => {
        this.counters.dnsLookups += 1;
      },
    });
    const retry =
      options.retry === false
        ? undefined
        : retryInterceptor({
            ...options.retry,
            explainError: (e) => this.tlsErrors.explain(e),
            onRetry: (info) => {
              this.counters.retries += 1;
              if (options.retry) options.retry.onRetry?.(info);
            },
          });
    const correlation = correlationIdInterceptor({ pattern: correlationIdPattern(options.program), ...(options.correlationId ? { generate: options.correlationId } : {}) });
    const errors = errorInterceptor(options.program, this.tlsErrors, this.targetOf);
    const below = [dns, retry].filter((i): i is Dispatcher.DispatcherComposeInterceptor => i !== undefined);
    this.base = this.router.compose([...below, correlation, errors]);
    if (options.oauth) {
      const { apiOrigin, ...oauthOptions } = options.oauth;
      this.oauth = new OAuthClient({ ...oauthOptions, dispatcher: this.base, program: options.program });
      this.inner = chain(this.router, [...below, oauthInterceptor(this.oauth, { origin: apiOrigin }), correlation]);
    } else {
      this.oauth = undefined;
      this.inner = chain(this.router, [...below, correlation]);
    }

    this.unsubscribe = this.credentials.onChange((set) => this.swap(set));
    if (options.reloadIntervalMs && options.reloadIntervalMs > 0) {
      this.reloadTimer = setInterval(() => {
        this.credentials.reload().catch(() => undefined);
      }, options.reloadIntervalMs);
      this.reloadTimer.unref();
    }
    const maxAge = options.pool?.maxConnectionAgeMs ?? 300_000;
    if (maxAge > 0) {
      this.ageTimer = setInterval(() => this.renewPool(), maxAge);
      this.ageTimer.unref();
    }
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.closed) return refuseClosed(handler);
    // The outermost layer is applied here, not by `compose`, so that it gets the caller's
    // handler as it is (see OutermostHandler).
    return this.inner(opts, new OutermostHandler(handler, opts.origin, this.targetOf, this.program, this.tlsErrors));
  }

  /** Reads the credential files again; a valid new set is swapped in for new requests. After close(): `ALREADY_CLOSED`. */
  reload(): Promise<ReloadResult> {
    if (this.closed) return Promise.reject(new MtlsError("ALREADY_CLOSED", "reload() of a closed Thales dispatcher", { hint: "Create a new one (createThalesDispatcher)." }));
    return this.credentials.reload();
  }

  /** Counters since creation. */
  get stats(): ThalesDispatcherStats {
    return { ...this.counters, draining: this.retiring.size, credentialVersion: this.credentials.current().version };
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const p = this.shutdown((a) => a.close());
    if (callback) {
      p.then(callback, callback);
      return;
    }
    return p;
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const err = typeof a === "function" ? null : (a ?? null);
    const callback = typeof a === "function" ? a : b;
    const p = this.shutdown((agent) => agent.destroy(err));
    if (callback) {
      p.then(callback, callback);
      return;
    }
    return p;
  }

  /**
   * Once: the first `close()` or `destroy()` stops new requests and the reload timer; a
   * `destroy()` after a `close()` still cuts the requests that are draining. Calling either
   * again is harmless (an agent already destroyed is not an error here).
   */
  private async shutdown(how: (a: Agent) => Promise<void>): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    if (this.reloadTimer) clearInterval(this.reloadTimer);
    if (this.ageTimer) clearInterval(this.ageTimer);
    const once = (a: Agent) => how(a).catch((e: unknown) => {
      if ((e as { code?: string }).code === "UND_ERR_DESTROYED") return;
      throw e;
    });
    await Promise.all([once(this.router.agent), ...[...this.retiring].map(once)]);
    this.retiring.clear();
  }

  private swap(set: CredentialSet): void {
    if (this.closed) return;
    this.connector = this.newConnector(set);
    this.counters.swaps += 1;
    this.replacePool(`requests on the previous client certificate did not finish within ${this.options.drainTimeoutMs ?? 30_000} ms of the swap`);
  }

  /**
   * The connection age limit: every `maxConnectionAgeMs` the pool is replaced by a new one
   * (same credentials, same TLS session cache), and the old one finishes its requests and
   * closes, as at a certificate swap. So no connection is given requests longer than that
   * after it was opened. undici's own per-connection limit (`clientTtl`) reads the clock for
   * every connection of the pool at every request (about 19 clock reads per request measured,
   * 16 connections): a few microseconds of the ~75 a request costs here (issue 11, item 7).
   */
  private renewPool(): void {
    if (this.closed) return;
    this.replacePool(`requests on a pool replaced for its connections' age did not finish within ${this.options.drainTimeoutMs ?? 30_000} ms`);
  }

  /** A new pool for new requests; the old one drains (destroyed with `why` after drainTimeoutMs). */
  private replacePool(why: string): void {
    const old = this.router.agent;
    this.router.agent = this.newAgent();
    this.retiring.add(old);
    const timer = setTimeout(() => {
      old.destroy(new MtlsError("HTTP_CONNECTION_CLOSED", why)).catch(() => undefined);
    }, this.options.drainTimeoutMs ?? 30_000);
    timer.unref();
    old
      .close()
      .catch(() => undefined)
      .finally(() => {
        clearTimeout(timer);
        this.retiring.delete(old);
      });
  }

  /** The TLS connector of a credential set (the session cache is the connector's). */
  private newConnector(set: CredentialSet): buildConnector.connector {
    const o = this.options;
    const tlsOptions = thalesTlsOptions({ program: o.program, credentials: set, ...(o.serverTrustPem !== undefined ? { serverTrustPem: o.serverTrustPem } : {}), ...(o.ciphers ? { ciphers: o.ciphers } : {}) });
    return buildConnector({ ...tlsOptions, timeout: o.timeouts?.connectMs ?? 10_000, maxCachedSessions: o.pool?.maxCachedSessions ?? 100 });
  }

  private newAgent(): Agent {
    const o = this.options;
    const connector = this.connector;
    const counters = this.counters;
    const memory = this.tlsErrors;
    const connect: buildConnector.connector = (connectOptions, callback) => {
      // undici's connector returns the socket it made (its type says void).
      const s: unknown = (connector as unknown as (o: typeof connectOptions, cb: (err: Error | null, socket: unknown) => void) => unknown)(connectOptions, (err, socket) => {
        if (!err && socket) {
          counters.connections += 1;
          memory.watch(socket as TLSSocket);
          if ((socket as TLSSocket).isSessionReused?.()) counters.resumedHandshakes += 1;
          else counters.fullHandshakes += 1;
        }
        (callback as (e: Error | null, s: unknown) => void)(err, socket);
      });
      // How far a failing handshake went tells a cipher mismatch from a refused certificate.
      if (s && typeof (s as TLSSocket).getProtocol === "function") watchHandshakeStage(s as TLSSocket);
    };
    return new Agent({
      connect,
      connections: o.pool?.connections ?? 16,
      pipelining: 1,
      keepAliveTimeout: o.pool?.keepAliveTimeoutMs ?? 10_000,
      keepAliveMaxTimeout: o.pool?.keepAliveMaxTimeoutMs ?? 30_000,
      headersTimeout: o.timeouts?.headersMs ?? 30_000,
      bodyTimeout: o.timeouts?.bodyMs ?? 30_000,
    });
  }
}

/**
 * Options of {@link createThalesDispatcher} with the credentials given as files (certificate,
 * key, optional chain, the server trust as `caFile`, optional `passphraseFile` of an encrypted
 * key or a `pkcs11:` key URI), as `createInboundServer` takes them. They are read and
 * checked once (a coded `MtlsError` naming the file at the first problem), and again at each
 * `reload()`.
 */
export type ThalesDispatcherFileOptions = Omit<ThalesDispatcherOptions, "credentials"> & { credentials: CredentialFiles };

/**
 * The undici `Dispatcher` for calls to Thales: mTLS with the program's rules, DNS with TTLs,
 * retries of idempotent requests, `x-correlation-id`, coded errors, and (D1) OAuth tokens.
 * Use it with undici's `fetch` and `request`.
 *
 * With credentials already loaded (`ReloadableCredentials`) it returns the dispatcher; with
 * credential files it reads them first and returns a promise of it.
 *
 * @example
 * const dispatcher = await createThalesDispatcher({
 *   program: mt,
 *   credentials: { certFile: "client.crt", keyFile: "client.key", caFile: "thales-server-trust.pem" },
 *   dns: { servers: ["127.0.0.1:40002"] },
 * });
 * const res = await fetch("https://tmg.dbp-stg.thalescloud.io/1/sandbox-v2/echo", { dispatcher });
 */
export function createThalesDispatcher(options: ThalesDispatcherOptions): ThalesDispatcher;
export function createThalesDispatcher(options: ThalesDispatcherFileOptions): Promise<ThalesDispatcher>;
export function createThalesDispatcher(options: ThalesDispatcherOptions | ThalesDispatcherFileOptions): ThalesDispatcher | Promise<ThalesDispatcher> {
  const { credentials } = options;
  if (credentials instanceof ReloadableCredentials) return new ThalesDispatcher({ ...options, credentials });
  return ReloadableCredentials.load(credentials).then((loaded) => new ThalesDispatcher({ ...options, credentials: loaded }));
}
