/**
 * When the notifier sends (see `notifier.ts`, "Retries"): the backoff options and their checks,
 * the delay before a retry ({@link backoffDelay}), what an attempt's outcome makes of its
 * delivery ({@link settleAttempt}: delivered, failed, or pending until a time), and the loop
 * that starts the attempts due, at most {@link MAX_IN_FLIGHT} at once ({@link DeliveryLoop}).
 */
import { MtlsError } from "../errors/index.js";
import type { DeliveryRecord } from "./notifier-state.js";

/** Attempts in flight at once. */
export const MAX_IN_FLIGHT = 16;
/** Longest error text kept in the log. */
const MAX_ERROR_LENGTH = 500;

/** The retry schedule, options resolved (see `NotifierOptions.backoff`). */
export interface Backoff {
  initialMs: number;
  factor: number;
  maxMs: number;
  jitter: number;
  maxAttempts: number;
}

/** The backoff options with their defaults. */
export function resolveBackoff(b: Partial<Backoff> | undefined): Backoff {
  return {
    initialMs: b?.initialMs ?? 200,
    factor: b?.factor ?? 2,
    maxMs: b?.maxMs ?? 30_000,
    jitter: b?.jitter ?? 0.2,
    maxAttempts: b?.maxAttempts ?? 8,
  };
}

/** `USAGE` naming the first option out of range. */
export function checkOptions(b: Backoff, requestTimeoutMs: number): void {
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

/** Delay before the attempt that follows attempt number `attempts` (1-based), with jitter (`random` in [0, 1)). */
export function backoffDelay(b: Omit<Backoff, "maxAttempts">, attempts: number, random: () => number = Math.random): number {
  const base = Math.min(b.maxMs, b.initialMs * Math.pow(b.factor, Math.max(0, attempts - 1)));
  const jittered = base * (1 + b.jitter * (2 * random() - 1));
  return Math.round(Math.min(b.maxMs, Math.max(0, jittered)));
}

/** What one attempt came to. */
export interface AttemptOutcome {
  /** HTTP status, when an answer came. */
  status: number | undefined;
  /** What went wrong, when no answer came (or the attempt could not be made). */
  error: string | undefined;
  /** False for a final answer or a problem retrying will not solve. */
  retry: boolean;
  /** The answer's `Retry-After` (429, 503), ms. */
  retryAfterMs: number | undefined;
}

/** When an attempt happened, and what the delivery's next step depends on. */
export interface AttemptClock {
  /** When the attempt started, ms since the epoch. */
  startedAt: number;
  durationMs: number;
  /** Now, after the attempt. */
  t: number;
  /** The notifier closed meanwhile: a delivery left pending resumes at the next start. */
  closed: boolean;
  backoff: Backoff;
  random?: () => number;
}

/**
 * Logs the attempt in `rec` and moves the delivery on: any 2xx delivers it; a final answer or
 * a configuration problem fails it; otherwise it stays pending until the next attempt (now, if
 * the notifier closed; after `Retry-After` capped at `maxMs`, or the backoff), or fails after
 * `maxAttempts`.
 */
export function settleAttempt(rec: DeliveryRecord, outcome: AttemptOutcome, c: AttemptClock): void {
  const { status, error, retry, retryAfterMs } = outcome;
  const a: DeliveryRecord["attempts"][number] = { at: new Date(c.startedAt).toISOString(), durationMs: c.durationMs };
  if (status !== undefined) a.status = status;
  if (error !== undefined) a.error = error.length > MAX_ERROR_LENGTH ? `${error.slice(0, MAX_ERROR_LENGTH - 1)}…` : error;
  rec.attempts.push(a);
  const t = c.t;
  if (status !== undefined && status >= 200 && status < 300) {
    rec.state = "delivered";
    rec.deliveredAt = new Date(t).toISOString();
    delete rec.nextAttemptAt;
  } else if (!retry) {
    rec.state = "failed";
    delete rec.nextAttemptAt;
  } else if (c.closed) {
    rec.nextAttemptAt = new Date(t).toISOString(); // resumed at the next start
  } else if (rec.attempts.length >= c.backoff.maxAttempts) {
    rec.state = "failed";
    delete rec.nextAttemptAt;
  } else {
    const delay = retryAfterMs !== undefined ? Math.min(retryAfterMs, c.backoff.maxMs) : backoffDelay(c.backoff, rec.attempts.length, c.random);
    rec.nextAttemptAt = new Date(t + delay).toISOString();
  }
}

/** The pending records due at `t` and not in flight, in order, and the time the next one is due (Infinity: none). */
export function dueAt(records: readonly DeliveryRecord[], busy: (id: string) => boolean, t: number): { due: DeliveryRecord[]; next: number } {
  const due: DeliveryRecord[] = [];
  let next = Infinity;
  for (const rec of records) {
    if (rec.state !== "pending" || busy(rec.id)) continue;
    const at = Date.parse(rec.nextAttemptAt ?? rec.createdAt);
    if (!(at > t)) due.push(rec);
    else next = Math.min(next, at);
  }
  return { due, next };
}

/** What {@link DeliveryLoop} runs. */
export interface DeliveryLoopOptions {
  records: readonly DeliveryRecord[];
  now: () => number;
  backoff: Backoff;
  /** One attempt; never throws (its failures are in the outcome). */
  send: (rec: DeliveryRecord, closeSignal: AbortSignal) => Promise<AttemptOutcome>;
  /** After each attempt, once it is no longer in flight. */
  settled: () => void;
}

/** Starts the attempts that are due, and sleeps until the next one is. */
export class DeliveryLoop {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly o: DeliveryLoopOptions) {}

  /** `close()` was called. */
  get closed(): boolean {
    return this.stopped;
  }

  /** True while an attempt of delivery `id` is in flight. */
  busy(id: string): boolean {
    return this.inFlight.has(id);
  }

  /** Starts what is due (up to {@link MAX_IN_FLIGHT} in flight) and sets the timer for what is not yet. */
  pump(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const t = this.o.now();
    const { due, next } = dueAt(this.o.records, (id) => this.inFlight.has(id), t);
    // The rest is started when an attempt in flight ends (pump runs again then).
    for (const rec of due) if (this.inFlight.size < MAX_IN_FLIGHT) this.start(rec);
    if (next !== Infinity) {
      this.timer = setTimeout(() => this.pump(), Math.min(Math.max(0, next - t), 2_147_483_647));
      this.timer.unref();
    }
  }

  /** Stops: no new attempt; an attempt in flight is abandoned (stays pending); settles when none is in flight. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await Promise.all(this.inFlight.values());
  }

  private start(rec: DeliveryRecord): void {
    const p = this.attempt(rec)
      .catch(() => undefined) // attempt() records its own failures; this is only a safety net
      .finally(() => {
        this.inFlight.delete(rec.id);
        this.o.settled();
      });
    this.inFlight.set(rec.id, p);
  }

  private async attempt(rec: DeliveryRecord): Promise<void> {
    const startedAt = this.o.now();
    const t0 = performance.now();
    const outcome = await this.o.send(rec, this.abort.signal);
    const durationMs = Math.round(performance.now() - t0);
    settleAttempt(rec, outcome, { startedAt, durationMs, t: this.o.now(), closed: this.stopped, backoff: this.o.backoff });
  }
}
