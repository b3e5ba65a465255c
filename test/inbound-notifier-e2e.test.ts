/**
 * End to end with the emulator's notifier as Thales: MT notifications sent with the Thales
 * client certificate to the endpoint, while the application behind it is stopped. The endpoint
 * answers 503 (Thales retries 429 and 503 only), the notifier backs off and retries; meanwhile
 * Thales rotates its client certificate (same CA: accepted with no change here); once the
 * application is back, every notification reaches it exactly once.
 */
import { promises as fs } from "node:fs";
import type { LookupFunction } from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNotifier, type ClientCredential, type Notifier } from "../src/emulator/notifier.js";
import { createInboundServer, type InboundServer } from "../src/server/index.js";
import { captureLogger, createInboundPki, startUpstream, waitFor, type CapturedLogger, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";
import type { TestCertificate } from "../src/testing/index.js";

const HOST = "notify.customer.test";
const CUSTOMER = "CUST-0001";
const API_KEY = "k3y-for-mt-notifications";
const COUNT = 12;

/** ISSUER_HOST is a DNS name: resolve it to the loopback address. */
const lookup: LookupFunction = (_hostname, options, callback) => {
  if (options.all) callback(null, [{ address: "127.0.0.1", family: 4 }]);
  else callback(null, "127.0.0.1", 4);
};

let pki: InboundPki;
let app: TestUpstream;
let srv: InboundServer;
let log: CapturedLogger;
let notifier: Notifier;
let thalesClient: TestCertificate;

beforeAll(async () => {
  pki = await createInboundPki();
  thalesClient = pki.client;
  app = await startUpstream(() => ({ status: 204, body: "" }));
  await app.stop();
  log = captureLogger();
  srv = await createInboundServer({ credentials: pki.files, upstream: app.url, listen: { host: "127.0.0.1", port: 0 }, logger: log, reload: { watch: false }, profile: "mt-sbx" });
  const credential = (): ClientCredential => ({ certPem: thalesClient.certPem, keyPem: thalesClient.keyPem, chainPem: thalesClient.chainPem });
  notifier = await startNotifier({
    stateFile: path.join(pki.dir, "notifier", "state.json"),
    clientCredential: credential,
    target: (program, _env, customerId) =>
      program === "mt" && customerId === CUSTOMER ? { issuerHost: `${HOST}:${srv.address.port}`, serverChainPem: pki.server.certPem + pki.serverPki.intermediate.certPem, apiKey: API_KEY } : undefined,
    lookup,
    backoff: { initialMs: 100, factor: 1.5, maxMs: 600, jitter: 0.1, maxAttempts: 40 },
    requestTimeoutMs: 5000,
  });
});
afterAll(async () => {
  await notifier?.close();
  await srv?.close({ graceMs: 100 });
  await app?.stop();
  if (pki) await fs.rm(pki.dir, { recursive: true, force: true });
});

describe("notifications from the emulator's notifier through the endpoint", () => {
  it("are all delivered exactly once after the application comes back, across a Thales certificate rotation", async () => {
    const ids = notifier.enqueue("mt", "sandbox", CUSTOMER, COUNT);
    expect(ids).toHaveLength(COUNT);
    // Every notification tried at least once against the stopped application, and answered 503.
    await waitFor(() => notifier.deliveries().every((d) => d.attempts.length >= 1), 10_000, "a first attempt of each notification");
    expect(notifier.deliveries().every((d) => d.state === "pending" && d.attempts[0]!.status === 503)).toBe(true);
    expect(srv.metrics.upstreamErrors.get({ reason: "unreachable" })).toBeGreaterThanOrEqual(COUNT);

    // Thales rotates its client certificate (new key, same Thales Client CA).
    thalesClient = await pki.thales.issue({ subject: "/C=FR/O=Thales DIS/CN=thales-notifier-2" });
    await new Promise((r) => setTimeout(r, 300));

    await app.start();
    await notifier.idle(30_000);

    const deliveries = notifier.deliveries();
    expect(deliveries.map((d) => d.state)).toEqual(Array(COUNT).fill("delivered"));
    const received = app.received.map((r) => r.headers["x-correlation-id"]);
    expect(received).toHaveLength(COUNT);
    expect(new Set(received).size).toBe(COUNT);
    expect(new Set(received)).toEqual(new Set(deliveries.map((d) => d.correlationId)));
    for (const r of app.received) {
      expect(r.method).toBe("POST");
      expect(r.url).toBe("/tsh-cof/notify-merchant-update");
      expect(r.headers["authorization"]).toBe(`APIKEY ${API_KEY}`);
      expect(r.headers["x-client-cert-issuer"]).toBe("CN=Thales Client CA");
      expect(r.headers["x-client-cert-subject"]).toBe("CN=thales-notifier-2,O=Thales DIS,C=FR");
    }
    expect(srv.metrics.handshakes.get({ result: "ok" })).toBeGreaterThan(0);
    expect(srv.metrics.handshakes.get({ result: "unknown_ca" })).toBe(0);
    // The API key never reaches a log line.
    expect(log.text()).not.toContain(API_KEY);
  });
});
