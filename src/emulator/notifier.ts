/**
 * The emulator's notifier (docs/architecture.md, "The emulator"; issue 3, "Notifier"): Thales -> customer
 * calls, made the way the Thales backend makes them.
 *
 * - D1: `POST https://{ISSUER_HOST}/merchant-gateways/{merchantGatewayId}/merchants/{merchantId}/tokens/{tokenId}/notify-update`
 *   (the customer id is the merchantGatewayId; merchantId and tokenId are made up per notification).
 * - MT: `POST https://{ISSUER_HOST}/tsh-cof/notify-merchant-update` with `authorization: APIKEY <key>`.
 * - Both: a JSON body, `content-type: application/json`, and `x-correlation-id` (a UUID, so it
 *   matches `^[A-Za-z0-9_-]{1,64}$`), the same on every retry of one notification. The bodies
 *   are the emulator's own: the references do not document them.
 *
 * TLS: at least TLS 1.2; the emulator presents its current client certificate (leaf + chain,
 * read from `clientCredential()` at every attempt), and checks the customer's server the way
 * Thales does, by pinning the chain the customer registered:
 * 1. chain check: the presented chain must verify against the REGISTERED certificates only
 *    (no system roots). Every registered certificate is a trust anchor
 *    (`allowPartialTrustChain`), so a registration of leaf + intermediate without its root
 *    works, and so does a lone self-signed leaf; dates are checked as usual;
 * 2. host name: the certificate must match the name of ISSUER_HOST, which is also the SNI;
 * 3. pin: when the registration holds end-entity certificates (not CA:TRUE), the presented
 *    leaf must be one of them (SHA-256 of the DER). A registration holding only CA
 *    certificates (a trust store, as D1 allows for private CAs) is pinned at the CA: step 1
 *    then requires the chain to pass through one of them.
 * TLS session resumption is off, so every new connection goes through all three steps.
 *
 * Connections: one undici `Agent` per client-credential version (and per registered chain,
 * since the pin is a connection property). When `clientCredential()` returns another
 * credential for an environment, new connections use it and the old agents are closed
 * gracefully (requests in flight finish).
 *
 * Retries: connection, TLS and pinning errors, timeouts, 429 and 503 are retried with
 * exponential backoff and jitter (`Retry-After` is honoured on 429/503, capped at `maxMs`),
 * up to `maxAttempts` attempts, then the delivery is `failed`. Any 2xx is `delivered`. Any other
 * status (400, 401, 404, 500, 3xx...) fails at once with the status recorded. A configuration
 * problem found at an attempt (customer no longer registered, unusable registered chain or
 * host) fails at once too. Delivery is at least once: an attempt whose answer is lost is sent
 * again under the same correlation id.
 *
 * State: one JSON file (`stateFile`, format `mtlskit-notifier/1`), written atomically (write +
 * rename, 0600) after every change and on `close()`, loaded by `startNotifier()`: pending
 * notifications resume, the log is kept. The log keeps the newest {@link MAX_DELIVERY_LOG}
 * finished deliveries; at most {@link MAX_PENDING} may be pending and one `enqueue` makes 1 to
 * {@link MAX_ENQUEUE_COUNT}.
 *
 * @module
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import type { LookupFunction } from "node:net";
import * as path from "node:path";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { Agent, request } from "undici";
import { z } from "zod";
import { MtlsError } from "../errors/index.js";
import { decodePkiObjects, fingerprint, formatFingerprint, writeFileAtomic, type CertificateInfo } from "../pki/index.js";
import { assertCustomerId, getEnvironment, getProgram, parseHostPort, parseRetryAfter, type ProgramId } from "../policy/index.js";

/** Where and how the customer receives notifications, as registered at the portal. */
export interface NotificationTarget {
  /** ISSUER_HOST: a DNS name with an optional `:port`, never an IP address. */
  issuerHost: string;
  /** The server certificate chain the customer registered (PEM): Thales pins it. */
  serverChainPem: string;
  /** MT: the API key sent as `authorization: APIKEY <key>`. */
  apiKey?: string;
}

/** The emulator's client certificate for an environment. */
export interface ClientCredential {
  certPem: string;
  keyPem: string;
  /** Leaf followed by its CA chain: what is presented in the handshake. */
  chainPem: string;
}

/** Options of {@link startNotifier}. */
export interface NotifierOptions {
  /** Pending notifications and the delivery log (atomic JSON writes); loaded at start. */
  stateFile: string;
  /** The emulator's current client credential; read at each attempt (it may be rotated). */
  clientCredential: (program: ProgramId, environment: string) => ClientCredential;
  /** The customer's registration, or undefined when the customer is not registered. */
  target: (program: ProgramId, environment: string, customerId: string) => NotificationTarget | undefined;
  /** DNS lookup used to connect (node's `dns.lookup` signature). Default `dns.lookup`. */
  lookup?: LookupFunction;
  backoff?: {
    /** First retry delay, ms. Default 200. */
    initialMs?: number;
    /** Growth per attempt. Default 2. */
    factor?: number;
    /** Largest delay (and largest Retry-After honoured), ms. Default 30 000. */
    maxMs?: number;
    /** Relative jitter, 0 to 1: the delay is multiplied by 1 ± jitter. Default 0.2. */
    jitter?: number;
    /** Attempts before a delivery is `failed`, 1 to 100. Default 8. */
    maxAttempts?: number;
  };
  /** Time limit of one attempt (connect + answer), ms. Default 10 000. */
  requestTimeoutMs?: number;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** One attempt to deliver a notification. */
export interface DeliveryAttempt {
  /** When the attempt started (ISO 8601). */
  at: string;
  /** HTTP status, when an answer came. */
  status?: number;
  /** What went wrong, when no answer came (or the attempt could not be made). */
  error?: string;
  durationMs: number;
}

/** One notification and its delivery log. */
export interface Delivery {
  id: string;
  program: ProgramId;
  environment: string;
  customerId: string;
  method: "POST";
  url: string;
  correlationId: string;
  state: "pending" | "delivered" | "failed";
  attempts: DeliveryAttempt[];
  createdAt: string;
  deliveredAt?: string;
  nextAttemptAt?: string;
}

/** A running notifier, made by {@link startNotifier}. */
export interface Notifier {
  /**
   * Queues `count` (1 to {@link MAX_ENQUEUE_COUNT}) notifications for a registered customer and
   * returns their ids. Throws `USAGE` (bad count, customer not registered, too many pending),
   * `UNKNOWN_PROGRAM`, `UNKNOWN_ENVIRONMENT` or `GATEWAY_ID_INVALID`.
   */
  enqueue(program: ProgramId, environment: string, customerId: string, count: number): string[];
  /** The delivery log, oldest first (copies). */
  deliveries(filter?: { program?: ProgramId; environment?: string }): Delivery[];
  /**
   * Resolves when nothing is pending (and the state file is written); rejects with
   * `TLS_CONNECT_FAILED` when deliveries are still pending after `timeoutMs` (default 30 000),
   * or when the notifier is closed with deliveries pending.
   */
  idle(timeoutMs?: number): Promise<void>;
  /** Stops sending (an attempt in flight is abandoned and stays pending), writes the state, closes connections. */
  close(): Promise<void>;
}

/** Most notifications one `enqueue` call makes. */
export const MAX_ENQUEUE_COUNT = 1000;
/** Most notifications pending at once. */
export const MAX_PENDING = 10_000;
/** Most finished deliveries kept in the log (the oldest go first). */
export const MAX_DELIVERY_LOG = 10_000;
/** Attempts in flight at once. */
const MAX_IN_FLIGHT = 16;
/** Agents kept per client credential (one per registered chain). */
const MAX_AGENTS_PER_CREDENTIAL = 64;
/** Longest error text kept in the log. */
const MAX_ERROR_LENGTH = 500;
/** Most bytes of a customer's answer read (and thrown away). */
const MAX_ANSWER_BYTES = 64 * 1024;
const STATE_FORMAT = "mtlskit-notifier/1";

const attemptSchema = z.object({
  at: z.string(),
  status: z.number().int().optional(),
  error: z.string().optional(),
  durationMs: z.number(),
});
const recordSchema = z.object({
  id: z.string().min(1),
  program: z.enum(["d1", "mt"]),
  environment: z.string().min(1),
  customerId: z.string().min(1),
  method: z.literal("POST"),
  url: z.string(),
  correlationId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  state: z.enum(["pending", "delivered", "failed"]),
  attempts: z.array(attemptSchema),
  createdAt: z.string(),
  deliveredAt: z.string().optional(),
  nextAttemptAt: z.string().optional(),
  path: z.string().startsWith("/"),
  body: z.record(z.string(), z.unknown()),
});
const stateSchema = z.object({ format: z.literal(STATE_FORMAT), deliveries: z.array(recordSchema) });

/** A delivery with what is needed to send it again after a restart. */
type DeliveryRecord = z.infer<typeof recordSchema>;

/** A problem with the customer's registration: retrying will not help. */
class ConfigurationError extends Error {}

/** What the customer registered, ready for the TLS options. */
interface PinnedTrust {
  /** Identifies the registration (for the agent map). */
  readonly key: string;
  readonly caPem: string[];
  /** SHA-256 (hex) of the registered end-entity certificates; empty = pinned at the CA. */
  readonly leafFingerprints: ReadonlySet<string>;
}

interface CredentialAgents {
  readonly agents: Map<string, Agent>;
}

/**
 * Starts the notifier: loads `stateFile` (a missing file is an empty state) and resumes the
 * pending notifications. Throws `USAGE` for out-of-range options and `FILE_UNREADABLE` for a
 * state file that cannot be read or is not a notifier state.
 */
export async function startNotifier(options: NotifierOptions): Promise<Notifier> {
  const now = options.now ?? Date.now;
  const backoff = {
    initialMs: options.backoff?.initialMs ?? 200,
    factor: options.backoff?.factor ?? 2,
    maxMs: options.backoff?.maxMs ?? 30_000,
    jitter: options.backoff?.jitter ?? 0.2,
    maxAttempts: options.backoff?.maxAttempts ?? 8,
  };
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  checkOptions(backoff, requestTimeoutMs);
  const stateFile = path.resolve(options.stateFile);
  await fs.mkdir(path.dirname(stateFile), { recursive: true });
  const records: DeliveryRecord[] = await loadState(stateFile);

  const inFlight = new Map<string, Promise<void>>();
  const closeController = new AbortController();
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const idleWaiters = new Set<() => void>();

  // --- persistence: one write at a time; changes made meanwhile are written right after.
  let writing: Promise<void> | undefined;
  let dirty = false;
  let writeError: unknown;
  function persist(): Promise<void> {
    dirty = true;
    writing ??= (async () => {
      try {
        while (dirty) {
          dirty = false;
          const doc = { format: STATE_FORMAT, deliveries: records };
          try {
            await writeFileAtomic(stateFile, JSON.stringify(doc) + "\n", { overwrite: true, mode: 0o600 });
            writeError = undefined;
          } catch (e) {
            writeError = e; // kept for close(); the next change tries again
          }
        }
      } finally {
        writing = undefined;
      }
    })();
    return writing;
  }
  async function flush(): Promise<void> {
    while (writing) await writing;
  }

  // --- connections: agents per client-credential version, then per registered chain.
  const credentialAgents = new Map<string, CredentialAgents>();
  const credentialOfEnv = new Map<string, string>();
  const closing = new Set<Promise<void>>();
  const trustCache = new Map<string, PinnedTrust>();

  function retireAgent(agent: Agent): void {
    const p = agent.close().catch(() => undefined);
    closing.add(p);
    void p.finally(() => closing.delete(p));
  }

  function agentFor(envKey: string, credential: ClientCredential, trust: PinnedTrust): Agent {
    const presented = presentedChain(credential);
    const credKey = cacheKey(`${credential.keyPem}\0${presented}`);
    const previous = credentialOfEnv.get(envKey);
    if (previous !== credKey) {
      credentialOfEnv.set(envKey, credKey);
      if (previous !== undefined && ![...credentialOfEnv.values()].includes(previous)) {
        const old = credentialAgents.get(previous);
        credentialAgents.delete(previous);
        old?.agents.forEach(retireAgent);
      }
    }
    let entry = credentialAgents.get(credKey);
    if (!entry) {
      entry = { agents: new Map() };
      credentialAgents.set(credKey, entry);
    }
    let agent = entry.agents.get(trust.key);
    if (agent) {
      entry.agents.delete(trust.key); // re-inserted below: the map stays in least-recently-used order
    } else {
      if (entry.agents.size >= MAX_AGENTS_PER_CREDENTIAL) {
        const [oldestKey, oldest] = entry.agents.entries().next().value as [string, Agent];
        entry.agents.delete(oldestKey);
        retireAgent(oldest);
      }
      agent = new Agent({
        connect: {
          cert: presented,
          key: credential.keyPem,
          ca: trust.caPem,
          allowPartialTrustChain: true,
          rejectUnauthorized: true,
          minVersion: "TLSv1.2",
          checkServerIdentity: (host: string, peer: PeerCertificate) => checkServerIdentity(host, peer) ?? checkPin(host, peer, trust),
          maxCachedSessions: 0,
          timeout: requestTimeoutMs,
          ...(options.lookup ? { lookup: options.lookup } : {}),
        },
        keepAliveTimeout: 4_000,
        headersTimeout: requestTimeoutMs,
        bodyTimeout: requestTimeoutMs,
      });
    }
    entry.agents.set(trust.key, agent);
    return agent;
  }

  function trustOf(serverChainPem: string): PinnedTrust {
    const key = cacheKey(serverChainPem);
    let trust = trustCache.get(key);
    if (!trust) {
      trust = pinnedTrust(key, serverChainPem);
      if (trustCache.size >= 256) trustCache.clear();
      trustCache.set(key, trust);
    }
    return trust;
  }

  // --- delivery
  async function attempt(rec: DeliveryRecord): Promise<void> {
    const startedAt = now();
    const t0 = performance.now();
    let status: number | undefined;
    let error: string | undefined;
    let retry = true;
    let retryAfterMs: number | undefined;
    const timeout = AbortSignal.timeout(requestTimeoutMs);
    try {
      const target = options.target(rec.program, rec.environment, rec.customerId);
      if (!target) throw new ConfigurationError(`customer '${rec.customerId}' is no longer registered for ${rec.program} ${rec.environment}`);
      const host = checkIssuerHost(target.issuerHost, ConfigurationError);
      const trust = trustOf(target.serverChainPem);
      const headers: Record<string, string> = { "content-type": "application/json", "x-correlation-id": rec.correlationId };
      if (rec.program === "mt") headers.authorization = `APIKEY ${checkApiKey(target.apiKey, ConfigurationError)}`;
      const agent = agentFor(`${rec.program}/${rec.environment}`, options.clientCredential(rec.program, rec.environment), trust);
      rec.url = `https://${host}${rec.path}`;
      const res = await request(rec.url, {
        dispatcher: agent,
        method: "POST",
        headers,
        body: JSON.stringify(rec.body),
        signal: AbortSignal.any([closeController.signal, timeout]),
      });
      status = res.statusCode;
      await res.body.dump({ limit: MAX_ANSWER_BYTES }).catch(() => undefined);
      if (status === 429 || status === 503) retryAfterMs = parseRetryAfter(res.headers["retry-after"], now());
      else retry = false;
    } catch (e) {
      if (e instanceof ConfigurationError) {
        retry = false;
        error = `not sent: ${e.message}`;
      } else if (closeController.signal.aborted) {
        error = "abandoned: the notifier closed during the attempt";
      } else if (timeout.aborted) {
        error = `timeout: no answer within ${requestTimeoutMs} ms`;
      } else {
        error = describeError(e);
      }
    }
    const a: DeliveryAttempt = { at: new Date(startedAt).toISOString(), durationMs: Math.round(performance.now() - t0) };
    if (status !== undefined) a.status = status;
    if (error !== undefined) a.error = error.length > MAX_ERROR_LENGTH ? `${error.slice(0, MAX_ERROR_LENGTH - 1)}…` : error;
    rec.attempts.push(a);
    const t = now();
    if (status !== undefined && status >= 200 && status < 300) {
      rec.state = "delivered";
      rec.deliveredAt = new Date(t).toISOString();
      delete rec.nextAttemptAt;
    } else if (!retry) {
      rec.state = "failed";
      delete rec.nextAttemptAt;
    } else if (closed) {
      rec.nextAttemptAt = new Date(t).toISOString(); // resumed at the next start
    } else if (rec.attempts.length >= backoff.maxAttempts) {
      rec.state = "failed";
      delete rec.nextAttemptAt;
    } else {
      const delay = retryAfterMs !== undefined ? Math.min(retryAfterMs, backoff.maxMs) : backoffDelay(backoff, rec.attempts.length);
      rec.nextAttemptAt = new Date(t + delay).toISOString();
    }
  }

  function start(rec: DeliveryRecord): void {
    const p = attempt(rec)
      .catch(() => undefined) // attempt() records its own failures; this is only a safety net
      .finally(() => {
        inFlight.delete(rec.id);
        trimLog();
        void persist();
        pump();
        wakeIdle();
      });
    inFlight.set(rec.id, p);
  }

  function pump(): void {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = undefined;
    const t = now();
    let next = Infinity;
    for (const rec of records) {
      if (rec.state !== "pending" || inFlight.has(rec.id)) continue;
      const due = Date.parse(rec.nextAttemptAt ?? rec.createdAt);
      if (!(due > t)) {
        if (inFlight.size < MAX_IN_FLIGHT) start(rec);
        // else: started when an attempt in flight ends (pump runs again then)
      } else {
        next = Math.min(next, due);
      }
    }
    if (next !== Infinity) {
      timer = setTimeout(pump, Math.min(Math.max(0, next - t), 2_147_483_647));
      timer.unref();
    }
  }

  function pendingCount(): number {
    let n = 0;
    for (const r of records) if (r.state === "pending") n++;
    return n;
  }

  function wakeIdle(): void {
    for (const w of [...idleWaiters]) w();
  }

  /** Keeps the newest MAX_DELIVERY_LOG finished deliveries; pending ones are never dropped. */
  function trimLog(): void {
    let excess = records.length - pendingCount() - MAX_DELIVERY_LOG;
    if (excess <= 0) return;
    for (let i = 0; i < records.length && excess > 0; ) {
      const r = records[i]!;
      if (r.state !== "pending" && !inFlight.has(r.id)) {
        records.splice(i, 1);
        excess--;
      } else {
        i++;
      }
    }
  }

  const notifier: Notifier = {
    enqueue(program, environment, customerId, count) {
      if (closed) throw new MtlsError("USAGE", "the notifier is closed");
      if (!Number.isInteger(count) || count < 1 || count > MAX_ENQUEUE_COUNT) {
        throw new MtlsError("USAGE", `the number of notifications must be a whole number from 1 to ${MAX_ENQUEUE_COUNT}, not ${String(count)}`, {
          hint: `Ask for 1 to ${MAX_ENQUEUE_COUNT} notifications at a time.`,
        });
      }
      const policy = getProgram(program);
      const env = getEnvironment(policy, environment);
      assertCustomerId(policy, customerId);
      if (/^\.+$/.test(customerId)) throw new MtlsError("GATEWAY_ID_INVALID", `${policy.customerIdLabel} '${customerId}' is not valid`);
      const target = options.target(policy.id, env.id, customerId);
      if (!target) {
        throw new MtlsError("USAGE", `${policy.customerIdLabel} '${customerId}' has no notification endpoint registered for ${policy.name} ${env.id}`, {
          hint: "Register the customer's ISSUER_HOST and server certificate chain first (PUT /v1/{program}/{env}/customers/{customerId}).",
        });
      }
      const host = checkIssuerHost(target.issuerHost, undefined);
      if (policy.id === "mt") checkApiKey(target.apiKey, undefined);
      const pending = pendingCount();
      if (pending + count > MAX_PENDING) {
        throw new MtlsError("USAGE", `${pending} notifications are pending; at most ${MAX_PENDING} may be`, {
          hint: "Wait for the pending notifications to be delivered or to fail (see the delivery log).",
        });
      }
      const ids: string[] = [];
      const createdAt = new Date(now()).toISOString();
      for (let i = 0; i < count; i++) {
        const id = `ntf-${randomUUID()}`;
        const { path: urlPath, body } = notification(policy.id, customerId, id, createdAt);
        const rec: DeliveryRecord = {
          id,
          program: policy.id,
          environment: env.id,
          customerId,
          method: "POST",
          url: `https://${host}${urlPath}`,
          correlationId: randomUUID(),
          state: "pending",
          attempts: [],
          createdAt,
          nextAttemptAt: createdAt,
          path: urlPath,
          body,
        };
        records.push(rec);
        ids.push(id);
      }
      trimLog();
      void persist();
      pump();
      return ids;
    },

    deliveries(filter = {}) {
      return records
        .filter((r) => (filter.program === undefined || r.program === filter.program) && (filter.environment === undefined || r.environment === filter.environment))
        .map(toDelivery);
    },

    async idle(timeoutMs = 30_000) {
      await new Promise<void>((resolve, reject) => {
        const timeout = setTimeout(() => {
          done(
            new MtlsError("TLS_CONNECT_FAILED", `${pendingCount()} notification(s) still pending after ${timeoutMs} ms`, {
              hint: "Check that the customer's endpoint is up, uses the registered server certificate and trusts the Thales Client CA; the delivery log shows every attempt.",
            }),
          );
        }, timeoutMs);
        const check = (): void => {
          const pending = pendingCount();
          if (pending === 0) done(undefined);
          else if (closed) done(new MtlsError("TLS_CONNECT_FAILED", `the notifier closed with ${pending} notification(s) pending`));
        };
        const done = (err: Error | undefined): void => {
          idleWaiters.delete(check);
          clearTimeout(timeout);
          if (err) reject(err);
          else resolve();
        };
        idleWaiters.add(check);
        check();
      });
      await flush();
    },

    async close() {
      if (closed) {
        await flush();
        return;
      }
      closed = true;
      if (timer) clearTimeout(timer);
      closeController.abort();
      await Promise.all(inFlight.values());
      wakeIdle();
      for (const entry of credentialAgents.values()) entry.agents.forEach(retireAgent);
      credentialAgents.clear();
      await Promise.all(closing);
      await persist();
      await flush();
      if (writeError !== undefined) {
        if (writeError instanceof MtlsError) throw writeError;
        throw new MtlsError("WRITE_FAILED", `${stateFile}: the notifier state could not be written`, { subject: stateFile, cause: writeError });
      }
    },
  };

  pump();
  return notifier;
}

/** The path and body of one notification (bodies are the emulator's own: not documented). */
function notification(program: ProgramId, customerId: string, id: string, createdAt: string): { path: string; body: Record<string, unknown> } {
  if (program === "d1") {
    const merchantId = `merchant-${randomBytes(6).toString("hex")}`;
    const tokenId = `token-${randomBytes(12).toString("hex")}`;
    return {
      path: `/merchant-gateways/${encodeURIComponent(customerId)}/merchants/${merchantId}/tokens/${tokenId}/notify-update`,
      body: { notificationId: id, merchantGatewayId: customerId, merchantId, tokenId, eventType: "TOKEN_UPDATED", timestamp: createdAt },
    };
  }
  return {
    path: "/tsh-cof/notify-merchant-update",
    body: { notificationId: id, customerId, merchantId: `merchant-${randomBytes(6).toString("hex")}`, eventType: "MERCHANT_UPDATED", timestamp: createdAt },
  };
}

function toDelivery(r: DeliveryRecord): Delivery {
  const d: Delivery = {
    id: r.id,
    program: r.program,
    environment: r.environment,
    customerId: r.customerId,
    method: r.method,
    url: r.url,
    correlationId: r.correlationId,
    state: r.state,
    attempts: r.attempts.map((a) => ({ ...a })),
    createdAt: r.createdAt,
  };
  if (r.deliveredAt !== undefined) d.deliveredAt = r.deliveredAt;
  if (r.nextAttemptAt !== undefined && r.state === "pending") d.nextAttemptAt = r.nextAttemptAt;
  return d;
}

async function loadState(file: string): Promise<DeliveryRecord[]> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return [];
    throw new MtlsError("FILE_UNREADABLE", `${file}: the notifier state cannot be read (${code ?? String(e)})`, { subject: file, cause: e });
  }
  let parsed: z.infer<typeof stateSchema>;
  try {
    parsed = stateSchema.parse(JSON.parse(text));
  } catch (e) {
    throw new MtlsError("FILE_UNREADABLE", `${file}: is not a notifier state file (${STATE_FORMAT})`, {
      subject: file,
      cause: e,
      hint: "Move the file aside to start with an empty delivery log (pending notifications in it would be lost).",
    });
  }
  const seen = new Set<string>();
  return parsed.deliveries.filter((r) => !seen.has(r.id) && seen.add(r.id));
}

function checkOptions(b: { initialMs: number; factor: number; maxMs: number; jitter: number; maxAttempts: number }, requestTimeoutMs: number): void {
  const bad = (what: string): never => {
    throw new MtlsError("USAGE", `notifier option ${what}`);
  };
  if (!Number.isFinite(b.initialMs) || b.initialMs < 0) bad(`backoff.initialMs must be a number of ms >= 0, not ${b.initialMs}`);
  if (!Number.isFinite(b.factor) || b.factor < 1) bad(`backoff.factor must be >= 1, not ${b.factor}`);
  if (!Number.isFinite(b.maxMs) || b.maxMs < b.initialMs) bad(`backoff.maxMs must be >= backoff.initialMs, not ${b.maxMs}`);
  if (!Number.isFinite(b.jitter) || b.jitter < 0 || b.jitter > 1) bad(`backoff.jitter must be from 0 to 1, not ${b.jitter}`);
  if (!Number.isInteger(b.maxAttempts) || b.maxAttempts < 1 || b.maxAttempts > 100) bad(`backoff.maxAttempts must be a whole number from 1 to 100, not ${b.maxAttempts}`);
  if (!Number.isFinite(requestTimeoutMs) || requestTimeoutMs <= 0) bad(`requestTimeoutMs must be a number of ms > 0, not ${requestTimeoutMs}`);
}

/** Delay before the attempt that follows attempt number `attempts` (1-based), with jitter. */
function backoffDelay(b: { initialMs: number; factor: number; maxMs: number; jitter: number }, attempts: number): number {
  const base = Math.min(b.maxMs, b.initialMs * Math.pow(b.factor, Math.max(0, attempts - 1)));
  const jittered = base * (1 + b.jitter * (2 * Math.random() - 1));
  return Math.round(Math.min(b.maxMs, Math.max(0, jittered)));
}

/**
 * Checks ISSUER_HOST with policy's one rule (`parseHostPort`: a DNS name with an optional port,
 * never an IP address) and returns it normalised (lower case, no trailing dot, no `:443`).
 * Throws `ErrorClass` when given (attempt time), else an `MtlsError` `USAGE`.
 */
function checkIssuerHost(issuerHost: string, ErrorClass: (new (message: string) => Error) | undefined): string {
  const r = parseHostPort(issuerHost);
  if (!r.ok) {
    const message = `ISSUER_HOST ${r.message}`;
    throw ErrorClass ? new ErrorClass(message) : new MtlsError("USAGE", message, { hint: "Register ISSUER_HOST as a DNS name with an optional port, e.g. notify.example.com:8443." });
  }
  return r.port === undefined || r.port === 443 ? r.host : `${r.host}:${r.port}`;
}

function checkApiKey(apiKey: string | undefined, ErrorClass: (new (message: string) => Error) | undefined): string {
  let why: string | undefined;
  if (apiKey === undefined || apiKey === "") why = "no API key is registered: MT notifications carry 'authorization: APIKEY <key>'";
  else if (!/^[\x21-\x7e]{1,1024}$/.test(apiKey)) why = "the registered API key has characters that cannot go in a header";
  if (why === undefined) return apiKey!;
  throw ErrorClass ? new ErrorClass(why) : new MtlsError("USAGE", why, { hint: "Register the customer's API key (apiKey) first." });
}

/** Parses the registered server chain into CA list and leaf pins. */
function pinnedTrust(key: string, serverChainPem: string): PinnedTrust {
  let certs: CertificateInfo[];
  try {
    certs = decodePkiObjects(Buffer.from(serverChainPem, "utf8"), "registered server chain").filter((i): i is CertificateInfo & { source: string; index: number } => i.kind === "certificate");
  } catch (e) {
    throw new ConfigurationError(`the registered server chain cannot be read: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (certs.length === 0) throw new ConfigurationError("the registered server chain holds no certificate");
  const leaves = certs.filter((c) => !c.basicConstraints?.ca);
  return {
    key,
    caPem: certs.map((c) => c.x509.toString()),
    leafFingerprints: new Set(leaves.map((c) => fingerprint(c.der, "hex"))),
  };
}

/** The pin check, after the chain and host name checks passed. */
function checkPin(host: string, peer: PeerCertificate, trust: PinnedTrust): Error | undefined {
  if (trust.leafFingerprints.size === 0) return undefined; // pinned at the CA: the chain check did it
  const fp = fingerprint(peer.raw, "hex");
  if (trust.leafFingerprints.has(fp)) return undefined;
  const err = new Error(
    `pinning: the server certificate of ${host} (subject ${peer.subject?.CN ?? "?"}, SHA-256 ${formatFingerprint(fp, "colon-hex")}) is not one the customer registered`,
  ) as Error & { code: string };
  err.code = "ERR_SERVER_CERT_NOT_PINNED";
  return err;
}

/** What the emulator presents: the chain, starting with the leaf. */
function presentedChain(c: ClientCredential): string {
  const leaf = c.certPem.trim();
  const chain = c.chainPem.trim();
  if (chain === "") return `${leaf}\n`;
  if (chain.startsWith(leaf)) return `${chain}\n`;
  return `${leaf}\n${chain}\n`;
}

/** A short key for a cache of agents or trust, from the PEM texts it is made of (not a fingerprint). */
function cacheKey(data: string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** One line for the log: the error code (of the error or its causes) and message. */
function describeError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    if (cur instanceof AggregateError && cur.errors.length > 0) {
      const inner = cur.errors.map((x) => describeOne(x)).join("; ");
      parts.push(inner);
      break;
    }
    parts.push(describeOne(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return [...new Set(parts.filter((p) => p !== ""))].join(" <- ") || "unknown error";
}

function describeOne(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" && code !== "" && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
}
