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
import { report, sleep } from "./harness.js";
import { burstOutcome, burstUnderWay, startNotificationWorld, type NotificationWorld } from "./notification-world.js";

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
    const burst = await burstUnderWay(world, COUNT, 120);
    const { sent, recovery } = burst;
    await world.app.stop();
    const receivedBeforeRestart = world.arrivals.length;
    await sleep(DOWNTIME_MS);
    await world.app.start();
    await waitFor(() => world.arrivals.length > receivedBeforeRestart, 30_000, "a notification after the restart");
    recovery.observe(world.arrivals[receivedBeforeRestart]!.at);
    const { durationMs, notDelivered, attempts, counts, failedAttempts: retried, firstFailures } = await burstOutcome(world, burst);

    await report({
      scenario: "06-upstream-restart",
      sent: sent.length,
      failed: notDelivered.length,
      lost: counts.lost,
      duplicated: counts.duplicated,
      recoverMs: recovery.ms,
      durationMs,
      firstFailures,
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
