/**
 * Scenario 6: the customer's application (the upstream behind mtlskit's inbound server)
 * restarts in the middle of a burst of notifications from the emulator. While it is down, the
 * endpoint answers 503, which Thales retries; a notification the application received but
 * could not answer before going down is sent again. Expected: at-least-once delivery, every
 * notification reaches the application and is marked delivered; duplicates are counted and
 * reported, not asserted zero. Time to recover counts from the stop of the application to
 * the first notification it receives after it (so it includes the downtime).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/server-fixtures.js";
import { deliveryCounts, Recovery, report, sleep } from "./harness.js";
import { startNotificationWorld, type NotificationWorld } from "./notification-world.js";

const COUNT = 500;
const DOWNTIME_MS = 500;

let world: NotificationWorld;

beforeAll(async () => {
  world = await startNotificationWorld({ respond: () => ({ status: 204, body: "", delayMs: 10 }) });
});
afterAll(async () => {
  await world?.close();
});

describe("scenario 6: the upstream application restarts during a burst of notifications", () => {
  it("delivers every notification at least once", async () => {
    const started = Date.now();
    const sent = await world.notify(COUNT);
    await waitFor(() => world.arrivals.length >= 120, 30_000, "the burst to be under way");
    const recovery = new Recovery();
    recovery.fault();
    await world.app.stop();
    const receivedBeforeRestart = world.arrivals.length;
    await sleep(DOWNTIME_MS);
    await world.app.start();
    await waitFor(() => world.arrivals.length > receivedBeforeRestart, 30_000, "a notification after the restart");
    recovery.observe(world.arrivals[receivedBeforeRestart]!.at);
    await world.emulator.notifier.idle(60_000);
    const durationMs = Date.now() - started;

    const deliveries = world.deliveries();
    const notDelivered = deliveries.filter((d) => d.state !== "delivered");
    const attempts = deliveries.flatMap((d) => d.attempts);
    const counts = deliveryCounts(sent, world.arrivals.map((a) => a.correlationId));
    const retried = attempts.filter((a) => a.status === undefined || a.status < 200 || a.status >= 300);

    await report({
      scenario: "06-upstream-restart",
      sent: sent.length,
      failed: notDelivered.length,
      lost: counts.lost,
      duplicated: counts.duplicated,
      recoverMs: recovery.ms,
      durationMs,
      firstFailures: notDelivered.slice(0, 5).map((d) => `${d.id}: ${d.state} after ${d.attempts.length} attempts (${d.attempts.at(-1)?.error ?? d.attempts.at(-1)?.status ?? "?"})`),
      notes: {
        downtimeMs: DOWNTIME_MS,
        receivedBeforeRestart,
        attempts: attempts.length,
        attemptsAnswered503: retried.filter((a) => a.status === 503).length,
        attemptsOtherwiseFailed: retried.filter((a) => a.status !== 503).length,
        upstreamErrors: { unreachable: world.endpoint.metrics.upstreamErrors.get({ reason: "unreachable" }), reset: world.endpoint.metrics.upstreamErrors.get({ reason: "reset" }) },
        refusedHandshakes: world.refusedHandshakes(),
        abortedHandshakes: world.abortedHandshakes(),
      },
    });

    expect(notDelivered).toEqual([]);
    expect(counts.lostIds).toEqual([]);
    // The restart did happen during the burst: some notifications waited for the application.
    expect(retried.length).toBeGreaterThan(0);
    expect(world.arrivals.length - counts.duplicated).toBe(COUNT);
    expect(world.refusedHandshakes()).toEqual({});
    expect(recovery.ms).toBeDefined();
    expect(recovery.ms!).toBeLessThan(10_000);
  });
});
