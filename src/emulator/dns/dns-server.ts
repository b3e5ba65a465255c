/**
 * The emulator's DNS stand-in (docs/architecture.md, "The emulator's face"): a small authoritative DNS
 * server on loopback that answers for the emulator's host names under `.test`
 * (`api.d1-stg.thalescloud.test`, `tmg.dbp-stg.thalescloud.test`, ...), so that profiles
 * made from the emulator's assets (`dns.servers: ["127.0.0.1:40002"]`) reach the emulator and
 * nothing else.
 *
 * Behaviour, per question:
 * - a configured name, type A (or ANY): one A record with the name's TTL, NOERROR;
 * - a configured name, any other type (AAAA, HTTPS, MX, ...): no answer, NOERROR ("NODATA");
 * - a name that only exists as a parent of configured names (`d1-stg.thalescloud.test`):
 *   no answer, NOERROR, as DNS requires of an empty non-terminal (RFC 8020);
 * - any other name: NXDOMAIN.
 * Names are matched case-insensitively (ASCII, RFC 4343), with or without the trailing dot.
 * Answers carry the AA bit and no SOA, so negative answers are not cached (RFC 2308 §5) and a
 * name added later is seen by the very next query. UDP and TCP listen on the same port.
 *
 * Safety: every record must point into 127.0.0.0/8 and the server binds an IPv4 loopback
 * address only; anything else is refused with an Error, so the emulator can never steer a
 * connection off this machine.
 *
 * @module
 */
import { isIPv4, type Socket as NetSocket } from "node:net";
import { Packet, TCPServer, UDPServer, type Resource } from "dns2";
import { isLoopbackAddress } from "../../policy/index.js";

/** One name the stand-in answers for. */
export interface DnsRecord {
  /** Fully qualified host name, e.g. `api.d1-stg.thalescloud.test` (case and a trailing dot do not matter). */
  name: string;
  /** IPv4 loopback address (127.0.0.0/8) the name resolves to, e.g. `127.0.0.1`. */
  address: string;
  /** TTL of the A record, in whole seconds (0 to 2147483647). */
  ttlSeconds: number;
}

/** One question the stand-in answered, as recorded by {@link DnsStandIn.queries}. */
export interface DnsQueryLogEntry {
  /** The name asked for, lower-cased, without a trailing dot. */
  name: string;
  /** The question type: `A`, `AAAA`, `HTTPS`, ... or `TYPE<n>` for types without a mnemonic here. */
  type: string;
  /** The address answered, or `null` when there was no answer (NXDOMAIN, NODATA, error). */
  answer: string | null;
  /** The response code: `NOERROR`, `NXDOMAIN`, `FORMERR`, `SERVFAIL`, `NOTIMP`, `REFUSED` or `BADVERS`. */
  rcode: DnsResponseCode;
  /** When the answer was sent, in milliseconds since the epoch (`Date.now()`). */
  at: number;
}

/** Response codes the stand-in can send. */
export type DnsResponseCode = "NOERROR" | "FORMERR" | "SERVFAIL" | "NXDOMAIN" | "NOTIMP" | "REFUSED" | "BADVERS";

/** A running DNS stand-in, made by {@link startDnsStandIn}. */
export interface DnsStandIn {
  /** The loopback address the server listens on (UDP and TCP), e.g. `127.0.0.1`. */
  readonly address: string;
  /** The port the server listens on (UDP and TCP). */
  readonly port: number;
  /** `"address:port"`, the form resolvers take (`dns.Resolver#setServers`, profile `dns.servers`). */
  readonly server: string;
  /**
   * Adds a name, or moves an existing one to another loopback address (e.g. `127.0.0.2`).
   * The next query sees the change. When `ttlSeconds` is omitted, a moved name keeps its TTL
   * and a new name gets the default TTL.
   *
   * @throws Error when the name is not a valid host name, the address is not IPv4 loopback
   *   (127.0.0.0/8) or the TTL is not a whole number of seconds in range.
   */
  set(name: string, address: string, ttlSeconds?: number): void;
  /** Removes a name; it answers NXDOMAIN from the next query on. Removing an unknown name does nothing. */
  remove(name: string): void;
  /** The configured records (names lower-cased), in the order they were first added. */
  records(): DnsRecord[];
  /**
   * Every question answered so far, oldest first, for tests: name, type, answered address
   * (or `null` for NXDOMAIN and empty answers), response code and time. Keeps the last
   * {@link MAX_QUERY_LOG} entries.
   */
  queries(): DnsQueryLogEntry[];
  /** Stops listening (UDP and TCP, dropping open TCP connections) and frees the port. Safe to call twice. */
  close(): Promise<void>;
}

/** Options of {@link startDnsStandIn}. */
export interface DnsStandInOptions {
  /** IPv4 loopback address to bind (127.0.0.0/8). Default `127.0.0.1`. */
  host?: string;
  /** Port for both UDP and TCP; 0 (the default) picks a port free for both. */
  port?: number;
  /** Names to answer for from the start. */
  records?: DnsRecord[];
  /** TTL used by {@link DnsStandIn.set} for new names when none is given. Default 30 seconds. */
  defaultTtlSeconds?: number;
}

/** How many answered questions {@link DnsStandIn.queries} keeps (the oldest are dropped first). */
export const MAX_QUERY_LOG = 10_000;

const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_TTL_SECONDS = 30;
const MAX_TTL_SECONDS = 0x7fffffff;
/** Attempts at finding a port free for both UDP and TCP when the caller asks for port 0. */
const FREE_PORT_ATTEMPTS = 20;
/** EDNS UDP payload size we advertise (the DNS flag day 2020 value). */
const EDNS_UDP_PAYLOAD_SIZE = 1232;

const RCODE: Record<DnsResponseCode, number> = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
};

const TYPE_A = 1;
const TYPE_OPT = 41;
const TYPE_ANY = 255;
const CLASS_IN = 1;
const CLASS_ANY = 255;

const TYPE_NAMES: Readonly<Record<number, string>> = {
  1: "A",
  2: "NS",
  5: "CNAME",
  6: "SOA",
  12: "PTR",
  15: "MX",
  16: "TXT",
  28: "AAAA",
  33: "SRV",
  41: "OPT",
  64: "SVCB",
  65: "HTTPS",
  252: "AXFR",
  255: "ANY",
  257: "CAA",
};

function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `TYPE${type}`;
}

/** ASCII-only lower-casing (RFC 4343): DNS compares letters A-Z case-insensitively and nothing else. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Canonical form of a configured host name; throws on anything that is not a host name. */
function canonicalHostName(name: string): string {
  if (typeof name !== "string") throw new Error(`DNS stand-in: a record name must be a string, got ${typeof name}`);
  const lowered = asciiLower(name.endsWith(".") ? name.slice(0, -1) : name);
  const labels = lowered.split(".");
  if (lowered.length === 0 || lowered.length > 253 || !labels.every((l) => LABEL.test(l))) {
    throw new Error(
      `DNS stand-in: "${name}" is not a host name (letters, digits, "-" and "_" in dot-separated labels of 1 to 63 characters, e.g. api.d1-stg.thalescloud.test)`,
    );
  }
  if (isIPv4(lowered)) throw new Error(`DNS stand-in: "${name}" is an IP address, not a host name`);
  return lowered;
}

/** Canonical form of a name from the wire, for lookups only (never throws). */
function canonicalQueryName(name: string): string {
  return asciiLower(name.endsWith(".") ? name.slice(0, -1) : name);
}

function isLoopbackIPv4(address: string): boolean {
  return typeof address === "string" && isIPv4(address) && isLoopbackAddress(address);
}

function checkAddress(name: string, address: string): void {
  if (!isLoopbackIPv4(address)) {
    throw new Error(
      `DNS stand-in: refusing ${JSON.stringify(name)} -> ${JSON.stringify(address)}: the address must be an IPv4 loopback address (127.0.0.0/8, e.g. 127.0.0.1 or 127.0.0.2); the emulator never steers a connection off this machine`,
    );
  }
}

function checkTtl(what: string, ttl: number): void {
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL_SECONDS) {
    throw new Error(`DNS stand-in: ${what} must be a whole number of seconds from 0 to ${MAX_TTL_SECONDS}, got ${String(ttl)}`);
  }
}

interface StoredRecord {
  address: string;
  ttlSeconds: number;
}

/** The pure part: builds the response to one request from the current records. */
function answer(request: Packet, records: ReadonlyMap<string, StoredRecord>): { response: Packet; log: Omit<DnsQueryLogEntry, "at"> } {
  const response = Packet.createResponseFromRequest(request);
  response.header.aa = 1;
  response.header.ra = 0;

  // EDNS (RFC 6891): answer an OPT with an OPT of our own, version 0.
  const opt = request.additionals.find((r) => r?.type === TYPE_OPT) as (Resource & { version?: number }) | undefined;
  if (opt) {
    const ours = Packet.Resource.EDNS([]);
    ours.class = EDNS_UDP_PAYLOAD_SIZE;
    response.additionals.push(ours);
  }

  const question = request.questions[0];
  const logName = question ? canonicalQueryName(question.name) : "";
  const logType = question ? typeName(question.type) : "NONE";
  const finish = (a: { rcode: DnsResponseCode; address: string | null }) => {
    response.header.rcode = RCODE[a.rcode];
    return { response, log: { name: logName, type: logType, answer: a.address, rcode: a.rcode } };
  };

  if (request.header.opcode !== 0) return finish({ rcode: "NOTIMP", address: null });
  if (!question || request.questions.length !== 1) return finish({ rcode: "FORMERR", address: null });
  if ((opt?.version ?? 0) !== 0) return finish({ rcode: "BADVERS", address: null });
  if (question.class !== CLASS_IN && question.class !== CLASS_ANY) return finish({ rcode: "REFUSED", address: null });

  const record = records.get(logName);
  if (record) {
    if (question.type === TYPE_A || question.type === TYPE_ANY) {
      response.answers.push(
        Packet.createResourceFromQuestion(question, {
          name: question.name,
          type: TYPE_A,
          class: CLASS_IN,
          ttl: record.ttlSeconds,
          address: record.address,
        }),
      );
      return finish({ rcode: "NOERROR", address: record.address });
    }
    return finish({ rcode: "NOERROR", address: null });
  }
  const suffix = `.${logName}`;
  for (const name of records.keys()) {
    if (name.endsWith(suffix)) return finish({ rcode: "NOERROR", address: null });
  }
  return finish({ rcode: "NXDOMAIN", address: null });
}

type Send = (response: Packet) => unknown;

/**
 * Starts the DNS stand-in on loopback, UDP and TCP on the same port, and resolves once both
 * listen.
 *
 * @example
 * const dns = await startDnsStandIn({ records: [{ name: "api.d1-stg.thalescloud.test", address: "127.0.0.1", ttlSeconds: 30 }] });
 * resolver.setServers([dns.server]); // "127.0.0.1:PORT"
 * dns.set("api.d1-stg.thalescloud.test", "127.0.0.2"); // move it
 * await dns.close();
 *
 * @throws Error when a record is invalid (not a host name, not a loopback IPv4 address, bad
 *   TTL, the same name twice), `host` is not an IPv4 loopback address, or the port is taken.
 */
export async function startDnsStandIn(options: DnsStandInOptions = {}): Promise<DnsStandIn> {
  const host = options.host ?? DEFAULT_HOST;
  if (!isLoopbackIPv4(host)) {
    throw new Error(`DNS stand-in: refusing to listen on ${JSON.stringify(host)}: host must be an IPv4 loopback address (127.0.0.0/8)`);
  }
  const requestedPort = options.port ?? 0;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
    throw new Error(`DNS stand-in: port must be a whole number from 0 to 65535, got ${String(requestedPort)}`);
  }
  const defaultTtl = options.defaultTtlSeconds ?? DEFAULT_TTL_SECONDS;
  checkTtl("defaultTtlSeconds", defaultTtl);

  const records = new Map<string, StoredRecord>();
  for (const r of options.records ?? []) {
    const name = canonicalHostName(r.name);
    checkAddress(r.name, r.address);
    checkTtl(`the TTL of ${JSON.stringify(r.name)}`, r.ttlSeconds);
    if (records.has(name)) throw new Error(`DNS stand-in: ${JSON.stringify(r.name)} is listed twice in records`);
    records.set(name, { address: r.address, ttlSeconds: r.ttlSeconds });
  }

  const log: DnsQueryLogEntry[] = [];
  const handle = (request: Packet, send: Send): void => {
    if (request.header.qr !== 0) return; // a response, not a question: never answer those
    let result: ReturnType<typeof answer>;
    try {
      result = answer(request, records);
    } catch {
      const response = Packet.createResponseFromRequest(request);
      response.header.rcode = RCODE.SERVFAIL;
      result = { response, log: { name: "", type: "NONE", answer: null, rcode: "SERVFAIL" } };
    }
    log.push({ ...result.log, at: Date.now() });
    if (log.length > MAX_QUERY_LOG) log.splice(0, log.length - MAX_QUERY_LOG);
    try {
      // UDP returns a promise that rejects when the socket is gone; TCP returns nothing.
      Promise.resolve(send(result.response)).catch(() => undefined);
    } catch {
      // The client went away; nothing to tell anyone.
    }
  };

  const { udp, tcp, port, connections } = await listenBoth(host, requestedPort, handle);

  let closing: Promise<void> | undefined;
  const standIn: DnsStandIn = {
    address: host,
    port,
    server: `${host}:${port}`,
    set(name, address, ttlSeconds) {
      const key = canonicalHostName(name);
      checkAddress(name, address);
      const ttl = ttlSeconds ?? records.get(key)?.ttlSeconds ?? defaultTtl;
      checkTtl(`the TTL of ${JSON.stringify(name)}`, ttl);
      records.set(key, { address, ttlSeconds: ttl });
    },
    remove(name) {
      records.delete(canonicalQueryName(name));
    },
    records() {
      return [...records].map(([name, r]) => ({ name, address: r.address, ttlSeconds: r.ttlSeconds }));
    },
    queries() {
      return log.map((q) => ({ ...q }));
    },
    close() {
      closing ??= Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => {
          tcp.close(() => resolve());
          for (const socket of connections) socket.destroy();
        }),
      ]).then(() => undefined);
      return closing;
    },
  };
  return standIn;
}

/** Binds UDP then TCP on the same port; with port 0, retries until a port is free for both. */
async function listenBoth(
  host: string,
  requestedPort: number,
  handle: (request: Packet, send: Send) => void,
): Promise<{ udp: UDPServer; tcp: TCPServer; port: number; connections: Set<NetSocket> }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < (requestedPort === 0 ? FREE_PORT_ATTEMPTS : 1); attempt++) {
    const udp = new UDPServer({ type: "udp4" });
    // Errors after start-up (a bad datagram, a send to a vanished client) are not ours to report.
    udp.on("error", () => undefined);
    udp.on("requestError", () => undefined);
    udp.on("request", (request, send) => handle(request, send));
    let port: number;
    try {
      port = await bindUdp(udp, host, requestedPort);
    } catch (e) {
      closeQuietly(udp);
      throw listenError("UDP", host, requestedPort, e);
    }
    const tcp = new TCPServer();
    const connections = new Set<NetSocket>();
    tcp.on("connection", (socket: NetSocket) => {
      connections.add(socket);
      socket.once("close", () => connections.delete(socket));
    });
    tcp.on("requestError", () => undefined);
    tcp.on("request", (request, send) => handle(request, send));
    try {
      await listenTcp(tcp, host, port);
      tcp.on("error", () => undefined);
      return { udp, tcp, port, connections };
    } catch (e) {
      lastError = e;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      if (requestedPort !== 0 || (e as NodeJS.ErrnoException).code !== "EADDRINUSE") {
        throw listenError("TCP", host, port, e);
      }
    }
  }
  throw listenError("TCP", host, requestedPort, lastError);
}

function closeQuietly(udp: UDPServer): void {
  try {
    udp.close();
  } catch {
    // never bound: nothing to close
  }
}

function bindUdp(udp: UDPServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    udp.once("error", onError);
    udp.bind({ address: host, port, exclusive: true }, () => {
      udp.off("error", onError);
      resolve(udp.address().port);
    });
  });
}

function listenTcp(tcp: TCPServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    tcp.once("error", onError);
    tcp.listen({ host, port, exclusive: true }, () => {
      tcp.off("error", onError);
      resolve();
    });
  });
}

function listenError(transport: string, host: string, port: number, cause: unknown): Error {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new Error(`DNS stand-in: cannot listen on ${transport} ${host}:${port}${code ? ` (${code})` : ""}`, { cause });
}
