/**
 * Scenario 3: the emulator (Thales) rotates its client certificate in the middle of a burst of
 * notifications to the customer's endpoint (mtlskit's inbound server). The endpoint trusts the
 * Thales Client CA, never the leaf, so the new certificate is accepted with no change on the
 * customer's side. Expected: no handshake refused, no attempt failed or retried, every
 * notification delivered and reaching the application exactly once, and notifications sent
 * after the rotation carry the new certificate. (100 more are queued once the rotation is
 * done, so that the new certificate is seen however fast the first 600 went.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { report } from "./harness.js";
import { burstOutcome, burstUnderWay, startNotificationWorld, type NotificationWorld } from "./notification-world.js";

/** Queued before the rotation, and after it. */
const COUNT = 600;
const AFTER = 100;

let world: NotificationWorld;

beforeAll(async () => {
  // The application takes a little time per notification, so that the burst lasts.
  world = await startNotificationWorld({ respond: () => ({ status: 204, body: "", delayMs: 15 }) });
});
afterAll(async () => {
  await world?.close();
});

describe("scenario 3: the emulator rotates its client certificate during a burst of notifications", () => {
  it("delivers every notification once, refusing none, with the new certificate after the rotation", async () => {
    const oldSerial = world.emulator.pki.clientCredential("mt", "sandbox").info.serialNumber;
    const burst = await burstUnderWay(world, COUNT, 150);
    const { sent, recovery } = burst;
    const newSerial = await world.rotate();
    const rotatedAt = Date.now();
    const arrivalsAtRotation = world.arrivals.length;
    const pendingAtRotation = world.deliveries().filter((d) => d.state === "pending").length;
    // More after the rotation, so that the new certificate is seen however fast the burst went.
    sent.push(...(await world.notify(AFTER)));
    const { durationMs, deliveries, notDelivered, attempts, failedAttempts: badAttempts, counts } = await burstOutcome(world, burst);
    const firstNew = world.arrivals.find((a) => a.clientSerial === newSerial);
    if (firstNew) recovery.observe(firstNew.at);
    // Sent (attempt started) after the rotation answer came back, yet with the old certificate.
    const startedAfter = new Set(deliveries.filter((d) => Date.parse(d.attempts[0]?.at ?? "") > rotatedAt + 5).map((d) => d.correlationId));
    const oldAfter = world.arrivals.filter((a) => startedAfter.has(a.correlationId ?? "") && a.clientSerial !== newSerial);
    const refused = world.refusedHandshakes();

    await report({
      scenario: "03-notifier-client-cert-rotated",
      sent: sent.length,
      failed: notDelivered.length + badAttempts.length,
      lost: counts.lost,
      duplicated: counts.duplicated,
      recoverMs: recovery.ms,
      durationMs,
      firstFailures: [...new Set(badAttempts.map((a) => a.error ?? `status ${a.status}`))].slice(0, 5),
      notes: {
        attempts: attempts.length,
        refusedHandshakes: refused,
        abortedHandshakes: world.abortedHandshakes(),
        arrivalsBeforeRotation: arrivalsAtRotation,
        pendingAtRotation,
        withOldCertificate: world.arrivals.filter((a) => a.clientSerial === oldSerial).length,
        withNewCertificate: world.arrivals.filter((a) => a.clientSerial === newSerial).length,
        oldCertificateAfterRotation: oldAfter.length,
      },
    });

    expect(refused).toEqual({});
    expect(notDelivered).toEqual([]);
    expect(badAttempts).toEqual([]);
    expect(attempts).toHaveLength(COUNT + AFTER);
    expect(counts).toMatchObject({ lost: 0, duplicated: 0 });
    // The rotation happened in the middle of the burst: both certificates were seen.
    expect(newSerial).not.toBe(oldSerial);
    expect(pendingAtRotation).toBeGreaterThan(0);
    expect(world.arrivals.filter((a) => a.clientSerial === oldSerial).length).toBeGreaterThanOrEqual(150);
    expect(world.arrivals.filter((a) => a.clientSerial === newSerial).length).toBeGreaterThanOrEqual(AFTER);
    expect(oldAfter).toEqual([]);
    expect(recovery.ms).toBeDefined();
    expect(recovery.ms!).toBeLessThan(10_000);
  });
});
