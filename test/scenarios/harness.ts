/**
 * The harness of the fault scenarios (test/scenarios/*.test.ts): a bounded load loop, a
 * time-to-recover clock, delivery accounting for notifications, one-shot HTTPS requests over a
 * fresh TLS connection (to see the server certificate and session resumption of each one), and
 * `report()`, which appends one JSON line per scenario to the file named by
 * MTLSKIT_SCENARIO_REPORT (`npm run scenarios` sets it and prints the table).
 *
 * Counting, everywhere:
 * - sent: requests started (or notifications queued);
 * - failed: answered, but not as the scenario expects (a 503, a refusal that should not be);
 * - lost: never answered (reset, timeout), or for notifications never reaching the application;
 * - duplicated: reached the application more than once (at-least-once delivery allows it).
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import * as tls from "node:tls";
import { request, type Agent } from "undici";

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One text line for an error: its code and message. */
export function reasonOf(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  const cause = e.cause instanceof Error ? ` <- ${reasonOf(e.cause)}` : "";
  return `${typeof code === "string" && !e.message.includes(code) ? `${code}: ` : ""}${e.message}${cause}`.slice(0, 300);
}

// ---------------------------------------------------------------------------------------------
// Time to recover
// ---------------------------------------------------------------------------------------------

/**
 * Time from a fault to recovery: to the first success that started after the fault (the load
 * loop calls `success`), or to the moment the new state is observed (`observe`). Only the
 * first recovery after the fault counts.
 */
export class Recovery {
  faultAt: number | undefined;
  recoveredAt: number | undefined;

  /** The fault happens now (or at `at`). */
  fault(at = Date.now()): void {
    this.faultAt ??= at;
  }

  /** A success that started at `startedAt` ended now. */
  success(startedAt: number, endedAt = Date.now()): void {
    if (this.faultAt !== undefined && this.recoveredAt === undefined && startedAt >= this.faultAt) this.recoveredAt = endedAt;
  }

  /** The new state is observed now (or at `at`). */
  observe(at = Date.now()): void {
    if (this.faultAt !== undefined && this.recoveredAt === undefined && at >= this.faultAt) this.recoveredAt = at;
  }

  /** Milliseconds from the fault to recovery; undefined until both happened. */
  get ms(): number | undefined {
    return this.faultAt !== undefined && this.recoveredAt !== undefined ? this.recoveredAt - this.faultAt : undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Bounded load loop
// ---------------------------------------------------------------------------------------------

/** One request of a load, as it went. */
export interface LoadRecord<T> {
  i: number;
  start: number;
  end: number;
  /** The answer, when one came. */
  answer?: T;
  /** Why there was no answer (lost), or why the answer was wrong (failed). */
  reason?: string;
  outcome: "ok" | "failed" | "lost";
}

/** Options of {@link startLoad}. */
export interface LoadOptions<T> {
  /** Requests in all (the bound on count). */
  requests: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** No request starts after this long (the bound on time). */
  timeLimitMs: number;
  /** Pause of each worker between two requests, ms. Default 0. */
  paceMs?: number;
  /** Sends request number `i` (0-based) and resolves with its answer; throwing means no answer came. */
  send: (i: number) => Promise<T>;
  /** Why the answer is wrong, or undefined when it is right. Default: anything is right. */
  check?: (answer: T, record: { i: number; start: number; end: number }) => string | undefined;
  /** Told of every success (for time to recover). */
  recovery?: Recovery;
  /** A success counts as recovery only when this holds (e.g. the new certificate was seen). Default: any success. */
  recoveredWhen?: (answer: T) => boolean;
}

/** What a load gave. */
export interface LoadResult<T> {
  sent: number;
  ok: number;
  failed: number;
  lost: number;
  /** Distinct reasons of the first failures and losses (at most 5). */
  firstFailures: string[];
  durationMs: number;
  records: Array<LoadRecord<T>>;
}

/** A running load. */
export interface Load<T> {
  /** Requests started so far. */
  readonly sent: number;
  /** Requests ended so far. */
  readonly ended: number;
  /** Resolves once `n` requests have ended (or the load is over). */
  reached(n: number): Promise<void>;
  /** Stops starting requests (those in flight finish). */
  stop(): void;
  readonly done: Promise<LoadResult<T>>;
}

/** An HTTP status in 200-299, or the reason it is not. */
export function expect2xx(answer: { status?: number | undefined }): string | undefined {
  return answer.status !== undefined && answer.status >= 200 && answer.status < 300 ? undefined : `status ${answer.status ?? "none"}`;
}

/**
 * Starts `concurrency` workers sending requests 0..requests-1, bounded in count and in time.
 * A thrown error is a lost request; an answer `check` refuses is a failed one.
 */
export function startLoad<T>(options: LoadOptions<T>): Load<T> {
  const records: Array<LoadRecord<T>> = [];
  const firstFailures: string[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const t0 = Date.now();
  let next = 0;
  let ended = 0;
  let stopped = false;
  let over = false;

  const wake = () => {
    for (const w of [...waiters]) {
      if (over || ended >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const note = (reason: string) => {
    if (firstFailures.length < 5 && !firstFailures.includes(reason)) firstFailures.push(reason);
  };
  const worker = async () => {
    while (!stopped && next < options.requests && Date.now() - t0 < options.timeLimitMs) {
      const i = next++;
      const start = Date.now();
      let record: LoadRecord<T>;
      try {
        const answer = await options.send(i);
        const end = Date.now();
        const wrong = options.check?.(answer, { i, start, end });
        record = wrong === undefined ? { i, start, end, answer, outcome: "ok" } : { i, start, end, answer, reason: wrong, outcome: "failed" };
        if (wrong === undefined && (options.recoveredWhen?.(answer) ?? true)) options.recovery?.success(start, end);
      } catch (e) {
        record = { i, start, end: Date.now(), reason: reasonOf(e), outcome: "lost" };
      }
      if (record.reason !== undefined) note(`#${record.i} ${record.outcome}: ${record.reason}`);
      records.push(record);
      ended++;
      wake();
      if (options.paceMs) await sleep(options.paceMs);
    }
  };
  const done = Promise.all(Array.from({ length: options.concurrency }, worker)).then(() => {
    over = true;
    wake();
    records.sort((a, b) => a.i - b.i);
    return {
      sent: records.length,
      ok: records.filter((r) => r.outcome === "ok").length,
      failed: records.filter((r) => r.outcome === "failed").length,
      lost: records.filter((r) => r.outcome === "lost").length,
      firstFailures,
      durationMs: Date.now() - t0,
      records,
    };
  });
  return {
    get sent() {
      return next;
    },
    get ended() {
      return ended;
    },
    reached: (n) =>
      new Promise<void>((resolve) => {
        waiters.push({ n, resolve });
        wake();
      }),
    stop: () => {
      stopped = true;
    },
    done,
  };
}

/**
 * Lets a load run until `recovery` has recovered, then for `more` requests, then stops it and
 * resolves with its result. Gives up waiting for recovery after `timeoutMs` (the scenario's
 * assertions then say so). This keeps the stream long enough after the fault on a slow
 * machine, and no longer than needed on a fast one.
 */
export async function stopAfterRecovery<T>(load: Load<T>, recovery: Recovery, more: number, timeoutMs = 15_000): Promise<LoadResult<T>> {
  let over = false;
  void load.done.then(() => (over = true));
  const deadline = Date.now() + timeoutMs;
  while (recovery.recoveredAt === undefined && !over && Date.now() < deadline) await sleep(10);
  if (recovery.recoveredAt !== undefined) await load.reached(load.ended + more);
  load.stop();
  return load.done;
}

// ---------------------------------------------------------------------------------------------
// Delivery accounting
// ---------------------------------------------------------------------------------------------

/** Ids sent against ids received: how many never arrived, and how many arrived more than once. */
export function deliveryCounts(sentIds: Iterable<string>, receivedIds: Iterable<string | undefined>): { lost: number; duplicated: number; lostIds: string[] } {
  const seen = new Map<string, number>();
  for (const id of receivedIds) if (id !== undefined) seen.set(id, (seen.get(id) ?? 0) + 1);
  const lostIds: string[] = [];
  let duplicated = 0;
  for (const id of new Set(sentIds)) {
    const n = seen.get(id) ?? 0;
    if (n === 0) lostIds.push(id);
    else duplicated += n - 1;
  }
  return { lost: lostIds.length, duplicated, lostIds };
}

// ---------------------------------------------------------------------------------------------
// One request on a fresh TLS connection
// ---------------------------------------------------------------------------------------------

/** Options of {@link tlsRequest}. */
export interface TlsRequestOptions {
  host?: string;
  port: number;
  servername: string;
  /** Trust for the server certificate. */
  ca: string;
  /** Client certificate chain and key. */
  cert?: string;
  key?: string;
  /** A TLS session to resume (from an earlier answer's `session`). */
  session?: Buffer | undefined;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

/** What one request on a fresh connection gave. */
export interface TlsAnswer {
  /** HTTP status, when an answer came. */
  status: number | undefined;
  body: string;
  /** The TLS handshake completed (on the client's side). */
  handshake: boolean;
  /** The session was resumed. */
  reused: boolean;
  /** SHA-256 fingerprint of the server certificate (`AB:CD:...`). */
  serverFingerprint: string | undefined;
  /** The last session the server gave (for a later resumption). */
  session: Buffer | undefined;
  /** Why no answer came. */
  error: string | undefined;
}

/**
 * One HTTP/1.1 request (`Connection: close`) on a new TLS connection, never throwing: what the
 * handshake and the answer were. Used where each request must make its own handshake.
 */
export function tlsRequest(o: TlsRequestOptions): Promise<TlsAnswer> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: o.host ?? "127.0.0.1",
      port: o.port,
      servername: o.servername,
      ca: o.ca,
      ...(o.cert !== undefined ? { cert: o.cert } : {}),
      ...(o.key !== undefined ? { key: o.key } : {}),
      ...(o.session ? { session: o.session } : {}),
      minVersion: "TLSv1.2",
    });
    let text = "";
    let handshake = false;
    let reused = false;
    let serverFingerprint: string | undefined;
    let session: Buffer | undefined;
    let error: string | undefined;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      const body = text.includes("\r\n\r\n") ? text.slice(text.indexOf("\r\n\r\n") + 4) : "";
      resolve({ status: m ? Number(m[1]) : undefined, body, handshake, reused, serverFingerprint, session, error: m ? undefined : (error ?? (handshake ? "closed without an answer" : "closed during the handshake")) });
    };
    const timer = setTimeout(() => {
      error = `no answer within ${o.timeoutMs ?? 10_000} ms`;
      finish();
    }, o.timeoutMs ?? 10_000);
    socket.on("session", (s: Buffer) => (session = s));
    socket.once("secureConnect", () => {
      handshake = true;
      reused = socket.isSessionReused();
      serverFingerprint = socket.getPeerCertificate().fingerprint256;
      const body = o.body ?? "";
      const headers = { host: o.servername, connection: "close", ...(o.body !== undefined ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) } : {}), ...o.headers };
      socket.write(`${o.method ?? "GET"} ${o.path ?? "/"} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n${body}`);
    });
    socket.setEncoding("utf8").on("data", (d: string) => (text += d));
    socket.on("error", (e: Error & { code?: string }) => (error ??= e.code ? `${e.code}: ${e.message}` : e.message));
    socket.on("close", finish);
  });
}

/** Writes `text` to `file` atomically (a temporary file in the same folder, then rename), as deployment tools do. */
export async function replaceFile(file: string, text: string, mode = 0o644): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  await fs.writeFile(tmp, text, { mode });
  await fs.rename(tmp, file);
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

/** One scenario's numbers: one JSON line in the report. */
export interface ScenarioResult {
  /** File name without `.test.ts`. */
  scenario: string;
  sent: number;
  failed: number;
  lost: number;
  duplicated: number;
  /** Time to recover, ms (null: not measured). */
  recoverMs: number | null | undefined;
  /** How long the load ran, ms. */
  durationMs?: number;
  /** Distinct reasons of the first failures. */
  firstFailures?: string[];
  /** Anything else worth reading (counts of refusals, retries...). */
  notes?: Record<string, unknown>;
}

/**
 * Appends the result as one JSON line to the file named by MTLSKIT_SCENARIO_REPORT (nothing
 * when it is not set). Call it before the assertions, so that a failing scenario is reported too.
 */
export async function report(result: ScenarioResult): Promise<void> {
  const file = process.env.MTLSKIT_SCENARIO_REPORT;
  if (!file) return;
  const line = { ...result, recoverMs: result.recoverMs ?? null, at: new Date().toISOString(), node: process.version };
  await fs.appendFile(file, `${JSON.stringify(line)}\n`);
}

/**
 * Reports a load ({@link report}): its counts and first failures, plus the losses and
 * duplicates counted at the application (`delivered`) when the scenario counts them.
 */
export function reportLoad(scenario: string, result: LoadResult<unknown>, recovery: Recovery, notes: Record<string, unknown>, delivered: { lost: number; duplicated: number } = { lost: 0, duplicated: 0 }): Promise<void> {
  return report({ scenario, sent: result.sent, failed: result.failed, lost: result.lost + delivered.lost, duplicated: delivered.duplicated, recoverMs: recovery.ms, durationMs: result.durationMs, firstFailures: result.firstFailures, notes });
}

/** The answered requests of a load (request `i` carried the correlation id `id(i)`) against what the application received. */
export function deliveredOnce(result: LoadResult<unknown>, id: (i: number) => string, received: ReadonlyArray<{ headers: Record<string, string | string[] | undefined> }>): ReturnType<typeof deliveryCounts> {
  const sentOk = result.records.filter((r) => r.outcome === "ok").map((r) => id(r.i));
  return deliveryCounts(sentOk, received.map((r) => r.headers["x-correlation-id"] as string | undefined));
}

/** Where {@link inboundRequest} sends: the inbound server, its trust, a Thales-side client. */
export interface InboundTarget {
  url: string;
  port: number;
  servername: string;
  /** Trust for the server certificate. */
  ca: string;
  client: { chainPem: string; keyPem: string };
  /** The kept-alive connections of the even requests. */
  keepAlive: Agent;
}

/**
 * Request `i` of an inbound stream, POST /notify: even ones on kept-alive connections, odd ones
 * on a new TLS connection each (whose answer carries the server certificate it was shown).
 * Throws when no answer came (counted as lost).
 */
export async function inboundRequest(t: InboundTarget, i: number, body: string, headers: Record<string, string> = {}): Promise<{ status: number; serverFingerprint?: string | undefined }> {
  if (i % 2 === 0) {
    const res = await request(`${t.url}/notify`, { dispatcher: t.keepAlive, method: "POST", body, headers: { "content-type": "application/json", ...headers } });
    await res.body.dump();
    return { status: res.statusCode };
  }
  const a = await tlsRequest({ port: t.port, servername: t.servername, ca: t.ca, cert: t.client.chainPem, key: t.client.keyPem, method: "POST", path: "/notify", body, headers });
  if (a.status === undefined) throw new Error(`no answer: ${a.error ?? "?"}`);
  return { status: a.status, serverFingerprint: a.serverFingerprint };
}
