import { describe, expect, it } from "vitest";
import { backoffDelay, checkOptions, DeliveryLoop, dueAt, resolveBackoff, settleAttempt, type AttemptOutcome, type Backoff } from "./notifier-schedule.js";
import type { DeliveryRecord } from "./notifier-state.js";

const T0 = Date.parse("2026-12-06T08:00:00.000Z");
const iso = (t: number) => new Date(t).toISOString();

function record(over: Partial<DeliveryRecord> = {}): DeliveryRecord {
  return {
    id: "ntf-1",
    program: "d1",
    environment: "preprod",
    customerId: "gw1",
    method: "POST",
    url: "https://notify.customer.test/x",
    correlationId: "c1",
    state: "pending",
    attempts: [],
    createdAt: iso(T0),
    nextAttemptAt: iso(T0),
    path: "/x",
    body: {},
    ...over,
  };
}

const noJitter: Backoff = { ...resolveBackoff(undefined), jitter: 0 };
const outcome = (o: Partial<AttemptOutcome>): AttemptOutcome => ({ status: undefined, error: undefined, retry: true, retryAfterMs: undefined, ...o });
const clock = (c: { closed?: boolean; backoff?: Backoff } = {}) => ({ startedAt: T0, durationMs: 12, t: T0 + 12, closed: c.closed ?? false, backoff: c.backoff ?? noJitter });

describe("notifier backoff", () => {
  it("has the documented defaults", () => {
    expect(resolveBackoff(undefined)).toEqual({ initialMs: 200, factor: 2, maxMs: 30_000, jitter: 0.2, maxAttempts: 8 });
    expect(resolveBackoff({ maxAttempts: 3 }).maxAttempts).toBe(3);
  });

  it("grows by the factor from the initial delay, up to maxMs", () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(noJitter, n))).toEqual([200, 400, 800, 1600]);
    expect(backoffDelay(noJitter, 20)).toBe(30_000);
    expect(backoffDelay(noJitter, 0)).toBe(200);
  });

  it("jitters by at most ±jitter, never above maxMs", () => {
    const b = { initialMs: 1000, factor: 2, maxMs: 1500, jitter: 0.2 };
    expect(backoffDelay(b, 1, () => 0)).toBe(800);
    expect(backoffDelay(b, 1, () => 0.5)).toBe(1000);
    expect(backoffDelay(b, 1, () => 0.999999)).toBe(1200);
    expect(backoffDelay(b, 2, () => 0.999999)).toBe(1500);
  });

  it("refuses options out of range, naming the option", () => {
    const ok = resolveBackoff(undefined);
    expect(() => checkOptions(ok, 10_000)).not.toThrow();
    const bad = (b: Partial<Backoff>, timeout = 10_000) => () => checkOptions({ ...ok, ...b }, timeout);
    expect(bad({ initialMs: -1 })).toThrow(/backoff\.initialMs/);
    expect(bad({ factor: 0.5 })).toThrow(/backoff\.factor/);
    expect(bad({ maxMs: 100 })).toThrow(/backoff\.maxMs/);
    expect(bad({ jitter: 2 })).toThrow(/backoff\.jitter/);
    expect(bad({ maxAttempts: 0 })).toThrow(/backoff\.maxAttempts/);
    expect(bad({ maxAttempts: 1.5 })).toThrow(/backoff\.maxAttempts/);
    expect(bad({}, 0)).toThrow(/requestTimeoutMs/);
    expect(bad({}, Number.NaN)).toThrow(expect.objectContaining({ code: "USAGE" }));
  });
});

describe("what an attempt makes of a delivery", () => {
  it("delivers on any 2xx", () => {
    const rec = record();
    settleAttempt(rec, outcome({ status: 204, retry: false }), clock());
    expect(rec).toMatchObject({ state: "delivered", deliveredAt: iso(T0 + 12), attempts: [{ at: iso(T0), status: 204, durationMs: 12 }] });
    expect(rec.nextAttemptAt).toBeUndefined();
  });

  it("fails at once on a final answer or a configuration problem", () => {
    const answered = record();
    settleAttempt(answered, outcome({ status: 400, retry: false }), clock());
    expect(answered.state).toBe("failed");
    const unregistered = record();
    settleAttempt(unregistered, outcome({ error: "not sent: customer 'gw1' is no longer registered", retry: false }), clock());
    expect(unregistered).toMatchObject({ state: "failed", attempts: [{ error: "not sent: customer 'gw1' is no longer registered" }] });
    expect(unregistered.nextAttemptAt).toBeUndefined();
  });

  it("retries after the backoff, or after Retry-After capped at maxMs", () => {
    const rec = record();
    settleAttempt(rec, outcome({ status: 503 }), clock());
    expect(rec).toMatchObject({ state: "pending", nextAttemptAt: iso(T0 + 12 + 200) });
    settleAttempt(rec, outcome({ error: "ECONNREFUSED" }), clock());
    expect(rec.nextAttemptAt).toBe(iso(T0 + 12 + 400));
    settleAttempt(rec, outcome({ status: 429, retryAfterMs: 0 }), clock());
    expect(rec.nextAttemptAt).toBe(iso(T0 + 12));
    settleAttempt(rec, outcome({ status: 503, retryAfterMs: 3_600_000 }), clock());
    expect(rec.nextAttemptAt).toBe(iso(T0 + 12 + 30_000));
    expect(rec.attempts).toHaveLength(4);
  });

  it("fails after maxAttempts", () => {
    const rec = record();
    const backoff = { ...noJitter, maxAttempts: 2 };
    settleAttempt(rec, outcome({ status: 503 }), clock({ backoff }));
    expect(rec.state).toBe("pending");
    settleAttempt(rec, outcome({ status: 503 }), clock({ backoff }));
    expect(rec.state).toBe("failed");
    expect(rec.nextAttemptAt).toBeUndefined();
  });

  it("leaves an attempt abandoned by close() pending, due at the next start", () => {
    const rec = record();
    settleAttempt(rec, outcome({ error: "abandoned: the notifier closed during the attempt" }), clock({ closed: true, backoff: { ...noJitter, maxAttempts: 1 } }));
    expect(rec).toMatchObject({ state: "pending", nextAttemptAt: iso(T0 + 12) });
  });

  it("cuts a long error text", () => {
    const rec = record();
    settleAttempt(rec, outcome({ error: "x".repeat(2000) }), clock());
    expect(rec.attempts[0]!.error).toHaveLength(500);
    expect(rec.attempts[0]!.error!.endsWith("…")).toBe(true);
  });
});

describe("which deliveries are due", () => {
  it("lists the pending ones due and not in flight, in order, and when the next one is", () => {
    const records = [
      record({ id: "a", nextAttemptAt: iso(T0 - 1) }),
      record({ id: "b", state: "delivered" }),
      record({ id: "c", nextAttemptAt: iso(T0 + 500) }),
      record({ id: "d", nextAttemptAt: undefined, createdAt: iso(T0) }),
      record({ id: "e", nextAttemptAt: iso(T0 - 5) }),
      record({ id: "f", nextAttemptAt: iso(T0 + 100) }),
    ];
    const r = dueAt(records, (id) => id === "e", T0);
    expect(r.due.map((x) => x.id)).toEqual(["a", "d"]);
    expect(r.next).toBe(T0 + 100);
    expect(dueAt([record({ state: "failed" })], () => false, T0)).toEqual({ due: [], next: Infinity });
  });
});

describe("the loop of attempts", () => {
  it("keeps at most 16 attempts in flight, starts the rest as they end, and leaves abandoned ones pending on close", async () => {
    const records = Array.from({ length: 20 }, (_, i) => record({ id: `r${i}`, nextAttemptAt: iso(T0 - 1) }));
    const waiting: { rec: DeliveryRecord; answer: (o: AttemptOutcome) => void; signal: AbortSignal }[] = [];
    let settled = 0;
    const loop: DeliveryLoop = new DeliveryLoop({
      records,
      now: () => T0,
      backoff: noJitter,
      send: (rec, signal) =>
        new Promise((resolve) => {
          waiting.push({ rec, answer: resolve, signal });
          signal.addEventListener("abort", () => resolve(outcome({ error: "abandoned" })));
        }),
      settled: () => {
        settled++;
        loop.pump();
      },
    });
    loop.pump();
    expect(waiting.map((w) => w.rec.id)).toEqual(records.slice(0, 16).map((r) => r.id));
    expect(loop.busy("r0")).toBe(true);
    expect(loop.busy("r16")).toBe(false);
    waiting[0]!.answer(outcome({ status: 200, retry: false }));
    await new Promise((r) => setTimeout(r, 0));
    expect(settled).toBe(1);
    expect(records[0]!.state).toBe("delivered");
    expect(waiting).toHaveLength(17);
    expect(waiting[16]!.rec.id).toBe("r16");
    await loop.close();
    expect(loop.closed).toBe(true);
    expect(waiting.every((w) => w.signal.aborted)).toBe(true);
    expect(records.slice(1, 17).every((r) => r.state === "pending" && r.nextAttemptAt === iso(T0) && r.attempts[0]?.error === "abandoned")).toBe(true);
    expect(records.slice(17).every((r) => r.attempts.length === 0)).toBe(true);
    // After close, nothing new starts.
    loop.pump();
    expect(waiting).toHaveLength(17);
  });
});
