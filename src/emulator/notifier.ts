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
 * Modules: `notifier-state.ts` (the state file, the records, the log's size),
 * `notifier-schedule.ts` (backoff, what an attempt makes of a delivery, the loop of attempts),
 * `notifier-transport.ts` (the agents and one attempt on the wire), `notifier-pinning.ts` (the
 * checks of a registration: ISSUER_HOST, API key, trust anchors and pins). This file holds the
 * public types and the control surface: `enqueue`, `deliveries`, `idle`, `close`.
 *
 * @module
 */
import { promises as fs } from "node:fs";
import type { LookupFunction } from "node:net";
import * as path from "node:path";
import { MtlsError } from "../errors/index.js";
import { assertCustomerId, getEnvironment, getProgram, type ProgramId } from "../policy/index.js";
import { checkApiKey, checkIssuerHost } from "./notifier-pinning.js";
import { checkOptions, DeliveryLoop, resolveBackoff } from "./notifier-schedule.js";
import { loadState, newRecord, pendingCount, StateWriter, trimLog, type DeliveryRecord } from "./notifier-state.js";
import { NotifierTransport } from "./notifier-transport.js";

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

/**
 * Starts the notifier: loads `stateFile` (a missing file is an empty state) and resumes the
 * pending notifications. Throws `USAGE` for out-of-range options and `FILE_UNREADABLE` for a
 * state file that cannot be read or is not a notifier state.
 */
export async function startNotifier(options: NotifierOptions): Promise<Notifier> {
  const now = options.now ?? Date.now;
  const backoff = resolveBackoff(options.backoff);
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  checkOptions(backoff, requestTimeoutMs);
  const stateFile = path.resolve(options.stateFile);
  await fs.mkdir(path.dirname(stateFile), { recursive: true });
  const records: DeliveryRecord[] = await loadState(stateFile);
  const state = new StateWriter(stateFile, records);
  const transport = new NotifierTransport({ clientCredential: options.clientCredential, target: options.target, lookup: options.lookup, requestTimeoutMs, now });
  const idleWaiters = new Set<() => void>();
  const wakeIdle = (): void => {
    for (const w of [...idleWaiters]) w();
  };
  const loop: DeliveryLoop = new DeliveryLoop({
    records,
    now,
    backoff,
    send: (rec, closeSignal) => transport.send(rec, closeSignal),
    settled: () => {
      trimLog(records, (id) => loop.busy(id), MAX_DELIVERY_LOG);
      void state.persist();
      loop.pump();
      wakeIdle();
    },
  });

  const notifier: Notifier = {
    enqueue(program, environment, customerId, count) {
      if (loop.closed) throw new MtlsError("USAGE", "the notifier is closed");
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
      const pending = pendingCount(records);
      if (pending + count > MAX_PENDING) {
        throw new MtlsError("USAGE", `${pending} notifications are pending; at most ${MAX_PENDING} may be`, {
          hint: "Wait for the pending notifications to be delivered or to fail (see the delivery log).",
        });
      }
      const ids: string[] = [];
      const createdAt = new Date(now()).toISOString();
      for (let i = 0; i < count; i++) {
        const rec = newRecord(policy.id, env.id, customerId, host, createdAt);
        records.push(rec);
        ids.push(rec.id);
      }
      trimLog(records, (id) => loop.busy(id), MAX_DELIVERY_LOG);
      void state.persist();
      loop.pump();
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
            new MtlsError("TLS_CONNECT_FAILED", `${pendingCount(records)} notification(s) still pending after ${timeoutMs} ms`, {
              hint: "Check that the customer's endpoint is up, uses the registered server certificate and trusts the Thales Client CA; the delivery log shows every attempt.",
            }),
          );
        }, timeoutMs);
        const check = (): void => {
          const pending = pendingCount(records);
          if (pending === 0) done(undefined);
          else if (loop.closed) done(new MtlsError("TLS_CONNECT_FAILED", `the notifier closed with ${pending} notification(s) pending`));
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
      await state.flush();
    },

    async close() {
      if (loop.closed) {
        await state.flush();
        return;
      }
      await loop.close();
      wakeIdle();
      await transport.close();
      await state.persist();
      await state.flush();
      if (state.error !== undefined) {
        if (state.error instanceof MtlsError) throw state.error;
        throw new MtlsError("WRITE_FAILED", `${stateFile}: the notifier state could not be written`, { subject: stateFile, cause: state.error });
      }
    },
  };

  loop.pump();
  return notifier;
}

/** A delivery as the log shows it: a copy, without what only a resend needs. */
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
