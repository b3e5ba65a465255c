/**
 * Scenario 7: the emulator (Thales) stops in the middle of a burst of notifications, with many
 * still pending, and starts again on the same state folder. The notifier persists its queue:
 * after the restart it resumes the pending notifications (and those whose attempt the stop
 * abandoned). Expected: every notification delivered and reaching the application; duplicates
 * (an abandoned attempt the application had already received) are counted and reported, and
 * bounded by the attempts in flight at the stop. Time to recover counts from the stop to the
 * first notification the restarted emulator delivers (so it includes the restart).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/server-fixtures.js";
import { report } from "./harness.js";
import { burstOutcome, burstUnderWay, startNotificationWorld, type NotificationWorld } from "./notification-world.js";

const COUNT = 500;
/** Attempts the notifier has in flight at most (src/emulator/notifier.ts). */
const MAX_IN_FLIGHT = 16;

let world: NotificationWorld;

beforeAll(async () => {
  world = await startNotificationWorld({ respond: () => ({ status: 204, body: "", delayMs: 10 }) });
});
afterAll(async () => {
  await world?.close();
});

describe("scenario 7: the emulator restarts with notifications pending", () => {
  it("delivers every notification after the restart", async () => {
    const burst = await burstUnderWay(world, COUNT, 120);
    const { sent, recovery } = burst;
    await world.emulator.close();
    const stoppedAt = Date.now();
    const pendingAtStop = world.deliveries().filter((d) => d.state === "pending").length;
    const receivedBeforeRestart = world.arrivals.length;
    await world.restartEmulator();
    const restartMs = Date.now() - recovery.faultAt!;
    // Arrivals during the stop are attempts of the old emulator still on their way.
    await waitFor(() => world.arrivals.some((a) => a.at > stoppedAt), 30_000, "a notification after the restart");
    recovery.observe(world.arrivals.find((a) => a.at > stoppedAt)!.at);
    const { durationMs, deliveries, notDelivered, attempts, counts, failedAttempts, firstFailures } = await burstOutcome(world, burst);

    await report({
      scenario: "07-emulator-restart",
      sent: sent.length,
      failed: notDelivered.length,
      lost: counts.lost,
      duplicated: counts.duplicated,
      recoverMs: recovery.ms,
      durationMs,
      firstFailures,
      notes: {
        pendingAtStop,
        receivedBeforeRestart,
        restartMs,
        attempts: attempts.length,
        abandonedOrFailedAttempts: failedAttempts.length,
        firstAttemptErrors: [...new Set(failedAttempts.map((a) => (a.error ?? `status ${a.status}`).slice(0, 120)))].slice(0, 3),
        refusedHandshakes: world.refusedHandshakes(),
        abortedHandshakes: world.abortedHandshakes(),
      },
    });

    expect(deliveries).toHaveLength(COUNT);
    expect(notDelivered).toEqual([]);
    expect(counts.lostIds).toEqual([]);
    expect(counts.duplicated).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    // The stop did leave work for the restarted emulator.
    expect(pendingAtStop).toBeGreaterThan(100);
    expect(world.refusedHandshakes()).toEqual({});
    expect(recovery.ms).toBeDefined();
    expect(recovery.ms!).toBeLessThan(10_000);
  });
});
