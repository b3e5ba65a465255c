import { randomUUID, type KeyObject } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import { inspect } from "node:util";
import { SignJWT } from "jose";
import type { Dispatcher } from "undici";
import { z } from "zod";
import { MtlsError } from "../errors/index.js";
import type { ProgramPolicy } from "../policy/index.js";
import { isSigner, type Signer } from "../pki/index.js";
import { extend, getHeader, withHeader } from "./headers.js";
import { StableController } from "./retry.js";

/** The grant type of RFC 7523 (JWT bearer). */
export const JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/** Lifetime of the assertions mtlskit signs, in seconds (the policy allows up to 15 minutes). */
export const DEFAULT_ASSERTION_LIFETIME_SECONDS = 5 * 60;
/** A cached token is refreshed this long before it expires (at most a fifth of its lifetime). */
export const DEFAULT_REFRESH_BEFORE_SECONDS = 60;
/** Clock difference with the token endpoint above which a refusal is put down to the clock. */
const CLOCK_SKEW_TOLERANCE_MS = 60_000;
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;

/**
 * An access token. The token itself is only reachable through `value`: it is left out of
 * `JSON.stringify`, `console.log` and error messages, so it never lands in a log by accident.
 */
export class AccessToken {
  readonly #value: string;
  readonly tokenType: string;
  readonly expiresAt: Date;
  readonly obtainedAt: Date;
  /** Lifetime in seconds, as the server gave it. */
  readonly expiresIn: number;
  readonly scope: string | undefined;

  constructor(value: string, fields: { tokenType: string; expiresIn: number; scope?: string; obtainedAt: Date }) {
    this.#value = value;
    this.tokenType = fields.tokenType;
    this.expiresIn = fields.expiresIn;
    this.scope = fields.scope;
    this.obtainedAt = fields.obtainedAt;
    this.expiresAt = new Date(fields.obtainedAt.getTime() + fields.expiresIn * 1000);
  }

  /** The access token (secret). */
  get value(): string {
    return this.#value;
  }

  /** Without the token. */
  toJSON(): { tokenType: string; expiresAt: string; expiresIn: number; scope?: string } {
    return { tokenType: this.tokenType, expiresAt: this.expiresAt.toISOString(), expiresIn: this.expiresIn, ...(this.scope !== undefined ? { scope: this.scope } : {}) };
  }

  [inspect.custom](): string {
    return `AccessToken { ${this.tokenType}, expires ${this.expiresAt.toISOString()}, [token hidden] }`;
  }
}

/** Options of {@link OAuthClient}. */
export interface OAuthClientOptions {
  /** The mTLS dispatcher to reach the token endpoint with (the client certificate goes along). */
  dispatcher: Dispatcher;
  /** `{authzUrl}/oauth2/token`. */
  tokenUrl: string;
  /** `iss` of the assertion: the merchantGatewayId. */
  issuer: string;
  /** `kid` of the key registered with Thales. */
  kid: string;
  /** The ES256 (ECDSA P-256) private key, or a {@link Signer} for a key in a PKCS#11 token. */
  privateKey: KeyObject | Signer;
  /** The program (limits of the assertion and token lifetimes). */
  program?: ProgramPolicy;
  /** `sub` of the assertion. Default: the issuer (RFC 7523 requires a subject). */
  subject?: string;
  /** `aud` of the assertion (optional at Thales). Default: none. */
  audience?: string;
  /** Body of the token request. Default `json` (D1 eCom); `form` for form-urlencoded. */
  bodyFormat?: "json" | "form";
  /** Assertion lifetime in seconds. Default 300; at most the program's limit (900). */
  assertionLifetimeSeconds?: number;
  /** Refresh a cached token this many seconds before it expires. Default 60. */
  refreshBeforeSeconds?: number;
  /** Headers added to the token request (e.g. a fixed x-correlation-id). */
  headers?: Record<string, string>;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

const TokenResponse = z.object({
  access_token: z.string().min(1),
  token_type: z.string().min(1),
  expires_in: z.coerce.number().positive().optional(),
  scope: z.string().optional(),
});

/** The error items of a refusal: the emulator's `{errors: [{code, message}]}` or OAuth's `{error, error_description}`. */
function refusalItems(text: string): Array<{ code: string; message: string }> {
  try {
    const data = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }>; error?: unknown; error_description?: unknown };
    if (Array.isArray(data.errors)) return data.errors.map((e) => ({ code: String(e.code ?? ""), message: String(e.message ?? "") }));
    if (typeof data.error === "string") return [{ code: data.error, message: typeof data.error_description === "string" ? data.error_description : "" }];
  } catch {
    // not JSON
  }
  return text.trim() ? [{ code: "", message: text.trim().slice(0, 300) }] : [];
}

/**
 * The D1 OAuth 2.0 client: the JWT bearer grant (RFC 7523) with an ES256 assertion (`iss` =
 * merchantGatewayId, `kid`, `exp` within the program's limit, a fresh `jti`), sent over the
 * mTLS connection. The token is cached and refreshed shortly before it expires; concurrent
 * callers share one refresh.
 *
 * @example
 * const oauth = new OAuthClient({ dispatcher, tokenUrl: "https://api.d1-stg.thalescloud.io/authz/v1/oauth2/token", issuer: "123456", kid: "key-1", privateKey });
 * const token = await oauth.getToken(); // token.value, token.expiresAt
 */
export class OAuthClient {
  private current: AccessToken | undefined;
  private pending: Promise<AccessToken> | undefined;
  private readonly now: () => number;
  private readonly assertionLifetime: number;
  private readonly url: URL;
  /** Token requests sent so far. */
  requests = 0;

  constructor(private readonly options: OAuthClientOptions) {
    const key = isSigner(options.privateKey) ? options.privateKey.publicKey : options.privateKey;
    if ((!isSigner(options.privateKey) && key.type !== "private") || key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
      throw new MtlsError("OAUTH_KEY_INVALID", `the OAuth signing key is ${key.asymmetricKeyType ?? "unknown"}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ""}, not an ECDSA P-256 private key (ES256)`);
    }
    const max = options.program?.auth.assertionMaxLifetimeSeconds ?? 15 * 60;
    this.assertionLifetime = Math.min(options.assertionLifetimeSeconds ?? DEFAULT_ASSERTION_LIFETIME_SECONDS, max);
    this.now = options.now ?? Date.now;
    this.url = new URL(options.tokenUrl);
  }

  /** The token endpoint. */
  get tokenUrl(): string {
    return this.url.href;
  }

  /** The cached token when it is not due for refresh; no I/O. */
  cachedToken(): AccessToken | undefined {
    const t = this.current;
    return t && this.now() < t.expiresAt.getTime() - this.refreshMargin(t) ? t : undefined;
  }

  /**
   * A valid token: the cached one, or a new one. Within the refresh margin the cached token
   * is still returned while one refresh runs in the background.
   */
  getToken(): Promise<AccessToken> {
    const t = this.current;
    if (t) {
      const left = t.expiresAt.getTime() - this.now();
      if (left > this.refreshMargin(t)) return Promise.resolve(t);
      if (left > 5_000) {
        this.refresh().catch(() => undefined);
        return Promise.resolve(t);
      }
    }
    return this.refresh();
  }

  /** Fetches a new token now (concurrent calls share one request). */
  refresh(): Promise<AccessToken> {
    this.pending ??= this.fetchToken()
      .then((t) => {
        this.current = t;
        return t;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** Forgets `token` if it is the cached one (after the server refused it). */
  invalidate(token: AccessToken | string): void {
    const value = typeof token === "string" ? token : token.value;
    if (this.current?.value === value) this.current = undefined;
  }

  /** A signed assertion (compact JWS). */
  async assertion(): Promise<string> {
    const iat = Math.floor(this.now() / 1000);
    const key = this.options.privateKey;
    if (isSigner(key)) {
      // A key in a token: the same JWS, signed there (ES256 is raw r||s, RFC 7518 §3.4).
      const claims = { iss: this.options.issuer, sub: this.options.subject ?? this.options.issuer, iat, exp: iat + this.assertionLifetime, jti: randomUUID(), ...(this.options.audience ? { aud: this.options.audience } : {}) };
      const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");
      const input = `${b64({ alg: "ES256", kid: this.options.kid, typ: "JWT" })}.${b64(claims)}`;
      return `${input}.${Buffer.from(key.sign("sha256", Buffer.from(input), "ieee-p1363")).toString("base64url")}`;
    }
    let jwt = new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: this.options.kid, typ: "JWT" })
      .setIssuer(this.options.issuer)
      .setSubject(this.options.subject ?? this.options.issuer)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.assertionLifetime)
      .setJti(randomUUID());
    if (this.options.audience) jwt = jwt.setAudience(this.options.audience);
    return jwt.sign(key);
  }

  private refreshMargin(t: AccessToken): number {
    const wanted = (this.options.refreshBeforeSeconds ?? DEFAULT_REFRESH_BEFORE_SECONDS) * 1000;
    return Math.min(wanted, (t.expiresIn * 1000) / 5);
  }

  private async fetchToken(): Promise<AccessToken> {
    const assertion = await this.assertion();
    const form = this.options.bodyFormat === "form";
    const body = form ? new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString() : JSON.stringify({ grant_type: JWT_BEARER_GRANT, assertion });
    const where = this.url.host;
    this.requests += 1;
    const sentAt = this.now();
    const res = await this.options.dispatcher.request({
      origin: this.url.origin,
      path: `${this.url.pathname}${this.url.search}`,
      method: "POST",
      headers: { ...this.options.headers, "content-type": form ? "application/x-www-form-urlencoded" : "application/json", accept: "application/json" },
      body,
    });
    let text = "";
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_TOKEN_RESPONSE_BYTES) {
        res.body.destroy();
        throw new MtlsError("OAUTH_TOKEN_RESPONSE_INVALID", `${where}: the token endpoint's answer exceeds ${MAX_TOKEN_RESPONSE_BYTES} bytes`);
      }
      text += chunk.toString("utf8");
    }
    if (res.statusCode >= 200 && res.statusCode < 300) {
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        throw new MtlsError("OAUTH_TOKEN_RESPONSE_INVALID", `${where}: the token endpoint answered ${res.statusCode} with a body that is not JSON`);
      }
      const parsed = TokenResponse.safeParse(data);
      if (!parsed.success) {
        const fields = parsed.error.issues.map((i) => i.path.join(".")).join(", ");
        throw new MtlsError("OAUTH_TOKEN_RESPONSE_INVALID", `${where}: the token endpoint's answer lacks or mistypes ${fields}`);
      }
      const p = parsed.data;
      if (p.token_type.toLowerCase() !== "bearer") throw new MtlsError("OAUTH_TOKEN_RESPONSE_INVALID", `${where}: token_type is '${p.token_type}', not Bearer`);
      const expiresIn = p.expires_in ?? this.options.program?.auth.tokenLifetimeSeconds ?? 900;
      return new AccessToken(p.access_token, { tokenType: "Bearer", expiresIn, ...(p.scope !== undefined ? { scope: p.scope } : {}), obtainedAt: new Date(sentAt) });
    }
    throw this.refusal(res.statusCode, res.headers, text, sentAt);
  }

  private refusal(status: number, headers: IncomingHttpHeaders, text: string, sentAt: number): MtlsError {
    const items = refusalItems(text);
    const said = items.map((i) => [i.code, i.message].filter(Boolean).join(": ")).join("; ") || "no details";
    const where = this.url.host;
    if (status >= 500) return new MtlsError("HTTP_SERVER_ERROR", `${where}: the token endpoint answered ${status} (${said})`);
    const date = typeof headers.date === "string" ? Date.parse(headers.date) : NaN;
    const skewMs = Number.isNaN(date) ? undefined : sentAt - date;
    const codes = items.map((i) => i.code.toUpperCase());
    if (codes.includes("UNKNOWN_KID") || /\bkid\b.*(unknown|not (found|registered))|no .*key .*kid/i.test(said)) {
      return new MtlsError("OAUTH_UNKNOWN_KID", `${where}: the token endpoint knows no key '${this.options.kid}' for ${this.options.issuer} (${status}: ${said})`);
    }
    const timeWords = codes.some((c) => /EXPIRED|IAT|NBF|CLOCK/.test(c)) || /\b(exp|iat|nbf)\b|expired|ahead|clock/i.test(said);
    const skewed = skewMs !== undefined && Math.abs(skewMs) > CLOCK_SKEW_TOLERANCE_MS;
    if (timeWords || skewed) {
      const measured = skewMs !== undefined && Math.abs(skewMs) > 2000 ? `; this machine's clock is ${Math.round(Math.abs(skewMs) / 1000)} s ${skewMs > 0 ? "ahead of" : "behind"} the server's` : "";
      return new MtlsError("OAUTH_CLOCK_SKEW", `${where}: the assertion was refused${timeWords ? " for its times" : ""} (${status}: ${said})${measured}`);
    }
    return new MtlsError("OAUTH_TOKEN_REFUSED", `${where}: the token endpoint refused the assertion (${status}: ${said})`);
  }
}

/** Which requests get a token: by default every request to `origin` except the token endpoint itself. */
export interface OAuthInterceptorOptions {
  /** Origin of the API (`https://api.d1-stg.thalescloud.io`); other origins get no token. */
  origin: string;
}

function replayable(body: unknown): boolean {
  return body == null || typeof body === "string" || body instanceof Uint8Array;
}

class BearerHandler implements Dispatcher.DispatchHandler {
  private readonly controller = new StableController();
  private started = false;
  private retried = false;
  private swallowing = false;
  private done = false;

  constructor(
    private readonly client: OAuthClient,
    private readonly opts: Dispatcher.DispatchOptions,
    private readonly handler: Dispatcher.DispatchHandler,
    private readonly dispatch: Dispatcher["dispatch"],
    private token: AccessToken,
  ) {}

  send(): boolean {
    return this.dispatch(extend(this.opts, { headers: withHeader(this.opts.headers, "authorization", `Bearer ${this.token.value}`) }), this);
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.controller.setTarget(controller);
    if (!this.started) {
      this.started = true;
      this.handler.onRequestStart?.(this.controller, context);
    }
  }

  onRequestUpgrade(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.handler.onRequestUpgrade?.(this.controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (statusCode === 401 && !this.retried && !this.controller.aborted && replayable(this.opts.body)) {
      this.swallowing = true;
      controller.resume();
      return;
    }
    this.handler.onResponseStart?.(this.controller, statusCode, headers, statusMessage);
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.swallowing) this.handler.onResponseData?.(this.controller, chunk);
  }

  onResponseEnd(_c: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    if (this.swallowing) return this.again();
    this.done = true;
    this.handler.onResponseEnd?.(this.controller, trailers);
  }

  onResponseError(_c: Dispatcher.DispatchController | null, err: Error): void {
    if (this.done) return;
    if (this.swallowing) return this.again();
    this.done = true;
    this.handler.onResponseError?.(this.controller, err);
  }

  /** One more time with a new token (the server refused the old one: expired or revoked). */
  private again(): void {
    this.swallowing = false;
    this.retried = true;
    this.client.invalidate(this.token);
    this.controller.onAbortBetweenAttempts = (why) => {
      this.controller.onAbortBetweenAttempts = undefined;
      this.done = true;
      this.handler.onResponseError?.(this.controller, why);
    };
    this.client.getToken().then(
      (t) => {
        if (this.done) return;
        this.controller.onAbortBetweenAttempts = undefined;
        this.token = t;
        this.send();
      },
      (e: unknown) => {
        if (this.done) return;
        this.done = true;
        this.controller.onAbortBetweenAttempts = undefined;
        this.handler.onResponseError?.(this.controller, e as Error);
      },
    );
  }
}

/**
 * An undici interceptor that puts `Authorization: Bearer <token>` on requests to the API
 * origin (not on the token endpoint, not when the caller set one), and on a 401 gets a new
 * token and sends the request once more (only when its body can be sent again).
 */
export function oauthInterceptor(client: OAuthClient, options: OAuthInterceptorOptions): Dispatcher.DispatcherComposeInterceptor {
  const origin = new URL(options.origin).origin;
  const tokenPath = new URL(client.tokenUrl).pathname;
  return (dispatch) =>
    function bearer(opts, handler) {
      const o = typeof opts.origin === "string" ? opts.origin : opts.origin?.toString();
      const sameOrigin = o !== undefined && (o === origin || new URL(o).origin === origin);
      if (!sameOrigin || opts.path.split("?")[0] === tokenPath || getHeader(opts.headers, "authorization") !== undefined) return dispatch(opts, handler);
      const cached = client.cachedToken();
      if (cached) return new BearerHandler(client, opts, handler, dispatch, cached).send();
      client.getToken().then(
        (t) => new BearerHandler(client, opts, handler, dispatch, t).send(),
        (e: unknown) => handler.onResponseError?.(null as unknown as Dispatcher.DispatchController, e as Error),
      );
      return true;
    };
}
