import type { IncomingHttpHeaders } from "node:http";
import { performance } from "node:perf_hooks";
import { request } from "undici";
import { MtlsError } from "../errors/index.js";
import type { Pkcs11Options } from "../pki/index.js";
import { openProfile, withTokenAccess, type Profile } from "../store/index.js";
import { assertCorrelationId, correlationIdPattern, CORRELATION_ID_HEADER, newCorrelationId } from "./correlation-id.js";
import { getHeader, withHeader } from "./headers.js";
import { createProfileDispatcher, loadOAuthKey, profileEndpoints, type ProfileEndpoints } from "./profile-client.js";
import type { AccessToken } from "./oauth-client.js";

/** Options of {@link callThales}. */
export interface CallOptions {
  /** Default GET, or POST when there is a body. */
  method?: string;
  /**
   * `/absolute/path`, a path relative to the program's base path (`echo` -> MT
   * `/1/sandbox-v2/echo`), or a full URL on the profile's host.
   */
  path: string;
  body?: string | Uint8Array;
  /** Request headers (`x-correlation-id` is checked, or generated when absent). */
  headers?: Record<string, string>;
  /** Headers and body time limit, ms. Default 30000. */
  timeoutMs?: number;
  /** Where the profile's keys in a token are reached (`--pkcs11-module`, `--pin-file`). Default: the environment and the profile. */
  pkcs11?: Pkcs11Options;
}

/** What {@link callThales} got back. */
export interface CallResult {
  url: string;
  method: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The x-correlation-id sent. */
  correlationId: string;
  /** D1: whether a bearer token went with the call. */
  authenticated: boolean;
  ms: number;
}

/** The URL of `path` for a profile; `HTTP_PATH_INVALID` for a URL on another host. */
export function resolveCallUrl(endpoints: ProfileEndpoints, path: string): URL {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    const url = new URL(path);
    if (url.origin !== endpoints.origin) {
      throw new MtlsError("HTTP_PATH_INVALID", `${url.origin} is not the profile's Thales endpoint ${endpoints.origin}`);
    }
    return url;
  }
  if (/[\s#]/.test(path)) throw new MtlsError("HTTP_PATH_INVALID", `'${path}' is not a path (spaces and '#' are not allowed)`);
  const p = path.startsWith("/") ? path : `${endpoints.basePath}${path}`;
  return new URL(p, endpoints.origin);
}

/**
 * `mtlskit call`: one request over the profile's connection to Thales (mTLS with its client
 * certificate, DNS through its resolvers, `x-correlation-id`, and on D1 a bearer token),
 * returning status, headers and body. Never retries a POST.
 *
 * @example
 * const r = await callThales(await openProfile(".mtlskit", "mt-sbx"), { path: "echo" });
 * console.log(r.status, r.body.toString());
 */
export async function callThales(profile: Profile, options: CallOptions): Promise<CallResult> {
  const endpoints = profileEndpoints(profile);
  const url = resolveCallUrl(endpoints, options.path);
  const method = (options.method ?? (options.body !== undefined ? "POST" : "GET")).toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw new MtlsError("USAGE", `'${method}' is not an HTTP method`);
  let headers: Record<string, string> = { ...options.headers };
  const given = getHeader(headers, CORRELATION_ID_HEADER);
  const correlationId = given !== undefined ? assertCorrelationId(given, correlationIdPattern(profile.program)) : newCorrelationId();
  headers = withHeader(headers, CORRELATION_ID_HEADER, correlationId) as Record<string, string>;
  const isD1 = profile.program.auth.kind === "oauth2-jwt-bearer";
  const timeoutMs = options.timeoutMs ?? 30_000;
  // D1 calls need a token: a missing OAuth key is an error here, not a silent anonymous call.
  if (isD1 && url.pathname !== new URL(endpoints.tokenUrl ?? endpoints.origin).pathname && getHeader(headers, "authorization") === undefined) await loadOAuthKey(profile);
  const dispatcher = await createProfileDispatcher(profile, { timeouts: { connectMs: Math.min(timeoutMs, 10_000), headersMs: timeoutMs, bodyMs: timeoutMs } });
  const t0 = performance.now();
  try {
    const res = await request(url, { dispatcher, method: method as "GET", headers, ...(options.body !== undefined ? { body: options.body } : {}) });
    const chunks: Buffer[] = [];
    for await (const c of res.body as AsyncIterable<Buffer>) chunks.push(c);
    return {
      url: url.href,
      method,
      status: res.statusCode,
      headers: res.headers,
      body: Buffer.concat(chunks),
      correlationId,
      authenticated: isD1 && dispatcher.oauth !== undefined && dispatcher.oauth.requests > 0,
      ms: Math.round((performance.now() - t0) * 10) / 10,
    };
  } finally {
    await dispatcher.destroy().catch(() => undefined);
  }
}

/** What {@link obtainToken} got: the token (secret: `token.value`), its key id and endpoint. */
export interface TokenResult {
  profile: string;
  tokenUrl: string;
  kid: string;
  token: AccessToken;
}

/**
 * `mtlskit token`: a D1 access token for the profile (JWT bearer grant over mTLS). The token
 * itself is in `token.value` only; `token.toJSON()` leaves it out.
 */
export async function obtainToken(profile: Profile, options: { timeoutMs?: number; pkcs11?: Pkcs11Options } = {}): Promise<TokenResult> {
  profile = withTokenAccess(profile, options.pkcs11);
  const key = await loadOAuthKey(profile);
  const endpoints = profileEndpoints(profile);
  if (!endpoints.tokenUrl) throw new MtlsError("PROFILE_INCOMPLETE", `profile '${profile.name}' has no authz URL (D1_AUTHZ_URL)`, { hint: "Import the assets of the environment: mtlskit assets import." });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const dispatcher = await createProfileDispatcher(profile, { timeouts: { connectMs: Math.min(timeoutMs, 10_000), headersMs: timeoutMs, bodyMs: timeoutMs } });
  try {
    const token = await dispatcher.oauth!.getToken();
    return { profile: profile.name, tokenUrl: endpoints.tokenUrl, kid: key.kid, token };
  } finally {
    await dispatcher.destroy().catch(() => undefined);
  }
}

/** {@link callThales} on the profile `name` of the workspace `dir`. */
export async function callProfile(dir: string, name: string, options: CallOptions): Promise<CallResult> {
  return callThales(withTokenAccess(await openProfile(dir, name), options.pkcs11), options);
}

/** {@link obtainToken} on the profile `name` of the workspace `dir`. */
export async function obtainProfileToken(dir: string, name: string, options: { timeoutMs?: number; pkcs11?: Pkcs11Options } = {}): Promise<TokenResult> {
  return obtainToken(await openProfile(dir, name), options);
}
