import { lookup as systemLookup } from "node:dns";
import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import { MtlsError } from "../errors/index.js";

/** One address of a host, with the TTL of its record. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
  /** TTL of the DNS record, in seconds, as the resolver gave it. */
  readonly ttlSeconds: number;
}

/** Options of {@link TtlResolver}. */
export interface TtlResolverOptions {
  /**
   * Resolvers to ask (`127.0.0.1:40002`, `[::1]:53`): the profile's `dns.servers`. Default:
   * the system's resolvers (from /etc/resolv.conf).
   */
  servers?: readonly string[];
  /** Time limit of one query, in milliseconds. Default 2000. */
  timeoutMs?: number;
  /** Attempts per server. Default 2. */
  tries?: number;
  /** Which address families to ask for: 4 (A), 6 (AAAA) or 0 (both). Default 0. */
  family?: 0 | 4 | 6;
  /**
   * With the system's resolvers only: when DNS knows no address for a name, ask the system's
   * `getaddrinfo` (which reads /etc/hosts) and treat its answer as valid for this many
   * seconds, since it carries no TTL. Default 1. 0 disables the fallback.
   */
  hostsFallbackTtlSeconds?: number;
}

/** Resolver error codes that mean "no such name / no address", as opposed to a failure. */
const NOT_FOUND_CODES = new Set(["ENOTFOUND", "ENODATA", "NOTFOUND", "NODATA"]);

/**
 * A resolver that returns record TTLs (node's `Resolver.resolve4/6` with `{ ttl: true }`),
 * asking the profile's resolvers. It keeps no cache of its own: undici's `interceptors.dns`
 * caches each answer for its TTL and asks again once it has passed. Concurrent questions for
 * the same name share one query.
 *
 * @example
 * const r = new TtlResolver({ servers: ["127.0.0.1:40002"] });
 * await r.resolve("api.d1-stg.thalescloud.test"); // [{ address: "127.0.0.1", family: 4, ttlSeconds: 30 }]
 */
export class TtlResolver {
  private readonly resolver: Resolver;
  private readonly inFlight = new Map<string, Promise<ResolvedAddress[]>>();
  private readonly family: 0 | 4 | 6;
  private readonly hostsFallbackTtlSeconds: number;
  /** The servers asked, as given (empty: the system's). */
  readonly servers: readonly string[];

  constructor(options: TtlResolverOptions = {}) {
    this.resolver = new Resolver({ timeout: options.timeoutMs ?? 2000, tries: options.tries ?? 2 });
    this.servers = options.servers ?? [];
    if (this.servers.length > 0) this.resolver.setServers([...this.servers]);
    this.family = options.family ?? 0;
    this.hostsFallbackTtlSeconds = this.servers.length > 0 ? 0 : (options.hostsFallbackTtlSeconds ?? 1);
  }

  /** Every address of `hostname` with its TTL; `DNS_NOT_FOUND` or `DNS_FAILED` otherwise. */
  resolve(hostname: string): Promise<ResolvedAddress[]> {
    const name = hostname.toLowerCase().replace(/\.$/, "");
    const family = isIP(name);
    if (family !== 0) return Promise.resolve([{ address: name, family: family as 4 | 6, ttlSeconds: 0 }]);
    let p = this.inFlight.get(name);
    if (!p) {
      p = this.query(name).finally(() => this.inFlight.delete(name));
      this.inFlight.set(name, p);
    }
    return p;
  }

  /**
   * The `lookup` of undici's `interceptors.dns`: addresses with their TTL in milliseconds.
   * Errors are coded `MtlsError`s (DNS layer).
   */
  readonly lookup = (origin: URL, _options: unknown, callback: (err: NodeJS.ErrnoException | null, addresses: Array<{ address: string; family: 4 | 6; ttl: number }>) => void): void => {
    this.resolve(origin.hostname).then(
      (records) => callback(null, records.map((r) => ({ address: r.address, family: r.family, ttl: r.ttlSeconds * 1000 }))),
      (e: unknown) => callback(e as NodeJS.ErrnoException, []),
    );
  };

  private async query(name: string): Promise<ResolvedAddress[]> {
    const asks: Array<Promise<ResolvedAddress[]>> = [];
    if (this.family !== 6) asks.push(this.resolver.resolve4(name, { ttl: true }).then((rs) => rs.map((r) => ({ address: r.address, family: 4 as const, ttlSeconds: r.ttl }))));
    if (this.family !== 4) asks.push(this.resolver.resolve6(name, { ttl: true }).then((rs) => rs.map((r) => ({ address: r.address, family: 6 as const, ttlSeconds: r.ttl }))));
    const results = await Promise.allSettled(asks);
    const found = results.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
    if (found.length > 0) return found;
    const errors = results.flatMap((r) => (r.status === "rejected" ? [r.reason as NodeJS.ErrnoException] : []));
    const notFound = errors.every((e) => NOT_FOUND_CODES.has(e.code ?? ""));
    if (notFound && this.hostsFallbackTtlSeconds > 0) {
      const fromHosts = await this.hostsLookup(name);
      if (fromHosts.length > 0) return fromHosts;
    }
    const where = this.servers.length > 0 ? `the resolvers ${this.servers.join(", ")}` : "the system's resolvers";
    if (notFound) {
      return Promise.reject(new MtlsError("DNS_NOT_FOUND", `${name}: no address record at ${where} (${errors.map((e) => e.code).join(", ") || "empty answer"})`, { subject: name, cause: errors[0] }));
    }
    const first = errors.find((e) => !NOT_FOUND_CODES.has(e.code ?? "")) ?? errors[0];
    return Promise.reject(new MtlsError("DNS_FAILED", `${name}: ${where} did not answer (${first?.code ?? "error"})`, { subject: name, cause: first }));
  }

  private hostsLookup(name: string): Promise<ResolvedAddress[]> {
    return new Promise((resolve) => {
      systemLookup(name, { all: true, family: this.family }, (err, addresses) => {
        if (err || !addresses) return resolve([]);
        resolve(addresses.map((a) => ({ address: a.address, family: (a.family === 6 ? 6 : 4) as 4 | 6, ttlSeconds: this.hostsFallbackTtlSeconds })));
      });
    });
  }
}
