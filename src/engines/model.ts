/**
 * One data model for every external engine (nginx, HAProxy): built from a profile's files and
 * the `serve`/`export` options, turned into configuration text by pure, deterministic generators.
 */
import { MtlsError } from "../errors/index.js";
import { DEFAULT_LIMITS, type InboundLimits, type ListenAddress } from "../server/options.js";

/** The engines mtlskit can write a configuration for. */
export type EngineName = "nginx" | "haproxy";

/** Where the engine's files live, relative to the run or export folder (every path in the config is absolute: DIR + these). */
export const ENGINE_FILES = {
  /** Server certificate followed by its chain (leaf first). */
  serverChain: "certs/server-fullchain.pem",
  /** The private key, 0600. */
  serverKey: "certs/server.key",
  /** HAProxy: certificate, chain and key in one file, 0600. */
  serverBundle: "certs/server-bundle.pem",
  /** The Thales Client CA (the CA certificates, never Thales's leaf). */
  clientCa: "certs/thales-client-ca.pem",
  /** nginx with a key in a PKCS#11 token: the token's PIN, 0600 (read by libp11 through the URI's pin-source). */
  tokenPin: "certs/pkcs11-pin",
  /** nginx with a key in a PKCS#11 token: the OpenSSL configuration loading the pkcs11 engine (OPENSSL_CONF), 0600. */
  opensslConf: "openssl-pkcs11.cnf",
} as const;

/**
 * A server key held in a PKCS#11 token (nginx only): referenced as `engine:pkcs11:<uri>`, the URI
 * without any PIN; the PIN sits in {@link ENGINE_FILES.tokenPin} (0600), named by the URI's
 * `pin-source`.
 */
export interface EngineTokenKey {
  /** The key's URI, without PIN, pin-source or module path. */
  readonly uri: string;
  /** Environment variables the PKCS#11 module needs in nginx's worker processes (e.g. SOFTHSM2_CONF). */
  readonly passEnv: readonly string[];
  /** `user` of nginx's workers: they open the token themselves; set when mtlskit runs as root (nginx would switch to nobody). */
  readonly user?: string;
}

/** Everything an engine configuration depends on. Same model, same bytes. */
export interface EngineModel {
  /** Profile name (used in file names, comments and logs). */
  readonly profile: string;
  /** The absolute folder the configuration lives in (pid, logs, temp paths, certificates). */
  readonly dir: string;
  readonly listen: ListenAddress;
  /** The application, `http://HOST:PORT[/prefix]`. */
  readonly upstream: { readonly host: string; readonly port: number; readonly prefix: string };
  readonly allow: { readonly commonNames: readonly string[]; readonly organizations: readonly string[] };
  readonly limits: InboundLimits;
  /** 503 (retryable, Thales retries) or 502/504 for an application down or slow. */
  readonly upstreamErrors: "retryable" | "gateway";
  /** Chain depth verified: client leaf + Thales Client CA + root. */
  readonly verifyDepth: number;
  /** nginx `stub_status` / HAProxy stats: loopback port for the admin listener to read counters, or undefined. */
  readonly statusPort?: number;
  /** The server key is in a PKCS#11 token (nginx only). */
  readonly tokenKey?: EngineTokenKey;
}

/** The upstream URL checked and split; `UPSTREAM_INVALID`-like usage error otherwise. */
export function parseUpstream(url: string): EngineModel["upstream"] {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MtlsError("USAGE", `--upstream '${url}' is not a URL`, { hint: "Give your application's plain HTTP address: http://127.0.0.1:8080" });
  }
  if (u.protocol !== "http:") throw new MtlsError("USAGE", `--upstream must be plain http://, not '${u.protocol}'`, { hint: "The engine terminates TLS; the application listens on plain HTTP on a private address." });
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const port = u.port ? Number(u.port) : 80;
  const prefix = u.pathname === "/" ? "" : u.pathname.replace(/\/$/, "");
  return { host, port, prefix };
}

/** The model with the defaults of the node engine. */
export function engineModel(input: {
  profile: string;
  dir: string;
  listen: ListenAddress;
  upstream: string;
  allow?: { commonNames?: readonly string[]; organizations?: readonly string[] };
  limits?: Partial<InboundLimits>;
  upstreamErrors?: "retryable" | "gateway";
  statusPort?: number;
  tokenKey?: EngineTokenKey;
}): EngineModel {
  if (!/^[A-Za-z0-9._-]+$/.test(input.profile)) throw new MtlsError("USAGE", `profile name '${input.profile}' cannot be used in a file name`);
  const allow = { commonNames: [...(input.allow?.commonNames ?? [])].sort(), organizations: [...(input.allow?.organizations ?? [])].sort() };
  for (const v of [...allow.commonNames, ...allow.organizations]) {
    if (/["\\\n\r;{}]/.test(v)) throw new MtlsError("USAGE", `--allow-cn/--allow-o value '${v}' contains a character that cannot be written into an engine configuration`);
  }
  return {
    profile: input.profile,
    dir: input.dir,
    listen: input.listen,
    upstream: parseUpstream(input.upstream),
    allow,
    limits: { ...DEFAULT_LIMITS, ...Object.fromEntries(Object.entries(input.limits ?? {}).filter(([, v]) => v !== undefined)) },
    upstreamErrors: input.upstreamErrors ?? "retryable",
    verifyDepth: 3,
    ...(input.statusPort !== undefined ? { statusPort: input.statusPort } : {}),
    ...(input.tokenKey !== undefined ? { tokenKey: { uri: input.tokenKey.uri.replace(/\$/g, "%24"), passEnv: [...input.tokenKey.passEnv].sort(), ...(input.tokenKey.user !== undefined ? { user: input.tokenKey.user } : {}) } } : {}),
  };
}

/** `host:port` as engines write it (IPv6 in brackets, every interface as `*` for nginx / empty for HAProxy). */
export function listenText(l: ListenAddress, anyHost: string): string {
  const h = l.host === undefined || l.host === "" ? anyHost : l.host.includes(":") ? `[${l.host}]` : l.host;
  return `${h}:${l.port}`;
}

/** Absolute path of a file of the folder. */
export function at(m: EngineModel, rel: string): string {
  return `${m.dir.replace(/\/$/, "")}/${rel}`;
}

/** Milliseconds as whole seconds (engines' unit), at least 1. */
export function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
