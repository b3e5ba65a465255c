/**
 * The notification scenarios' world, all on loopback: the emulator (Thales: portal, notifier,
 * DNS stand-in), the customer's endpoint (mtlskit's inbound server, trusting the emulator's
 * Thales Client CA) and the customer's application behind it (recording every arrival with its
 * time and the Thales certificate the endpoint verified). An MT sandbox customer is
 * registered at the portal with the endpoint's host name (answered by the emulator's DNS
 * stand-in), its server chain and an API key.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { startEmulator, type Delivery, type Emulator, type StartEmulatorOptions } from "../../src/emulator/index.js";
import { mt } from "../../src/policy/index.js";
import { createInboundServer, type InboundServer } from "../../src/server/index.js";
import { portalOk } from "../support/emulator-fixtures.js";
import { captureLogger, createInboundPki, startUpstream, tempDir, waitFor, type InboundPki, type TestUpstream, type UpstreamResponder } from "../support/server-fixtures.js";
import { deliveryCounts, Recovery } from "./harness.js";

export const HOST = "notify.customer.test";
export const CUSTOMER = "654321";
const API_KEY = "scenario-api-key-0123456789";

/** One notification as the application received it. */
export interface Arrival {
  correlationId: string | undefined;
  at: number;
  /** Serial of the Thales client certificate the endpoint verified. */
  clientSerial: string | undefined;
}

export interface NotificationWorld {
  readonly dir: string;
  emulator: Emulator;
  readonly pki: InboundPki;
  readonly endpoint: InboundServer;
  readonly app: TestUpstream;
  readonly arrivals: Arrival[];
  /** Queues `count` MT notifications through the portal (100 per call, as the portal allows); their correlation ids. */
  notify(count: number): Promise<string[]>;
  /** The emulator rotates its client certificate (portal); the new certificate's serial. */
  rotate(): Promise<string>;
  /** The emulator's delivery log. */
  deliveries(): Delivery[];
  /** Closes the emulator (pending notifications stay in its state folder) and starts it again on the same folder. */
  restartEmulator(): Promise<void>;
  /** Handshakes the endpoint refused, by reason (not those the client gave up: `aborted`). */
  refusedHandshakes(): Record<string, number>;
  /** Handshakes the client gave up (closed the connection during the handshake). */
  abortedHandshakes(): number;
  close(): Promise<void>;
}

export interface NotificationWorldOptions {
  /** How the application answers (default 204 at once). */
  respond?: UpstreamResponder;
  emulator?: Pick<StartEmulatorOptions, "notifierBackoff" | "notifierTimeoutMs">;
}

export async function startNotificationWorld(options: NotificationWorldOptions = {}): Promise<NotificationWorld> {
  const dir = await tempDir("mtlskit-scenario-");
  const emulatorOptions: StartEmulatorOptions = {
    dir: path.join(dir, "emulator"),
    programs: ["mt"],
    notifierBackoff: { initialMs: 100, factor: 1.5, maxMs: 600, jitter: 0.2, maxAttempts: 60 },
    notifierTimeoutMs: 5000,
    // The customer's host name, answered by the DNS stand-in from the start (also after a restart).
    dnsRecords: [{ name: HOST, address: "127.0.0.1", ttlSeconds: 30 }],
    ...options.emulator,
  };
  let emulator = await startEmulator(emulatorOptions);
  const pki = await createInboundPki(path.join(dir, "endpoint"));
  // The endpoint trusts the Thales Client CA (never the emulator's leaf, which it rotates).
  await fs.writeFile(pki.files.caFile, emulator.pki.clientCaPem());
  const arrivals: Arrival[] = [];
  const respond = options.respond ?? (() => ({ status: 204, body: "" }));
  const app = await startUpstream((r) => {
    const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
    arrivals.push({ correlationId: one(r.headers["x-correlation-id"]), at: Date.now(), clientSerial: one(r.headers["x-client-cert-serial"]) });
    return respond(r);
  });
  const endpoint = await createInboundServer({ credentials: pki.files, upstream: app.url, listen: { host: "127.0.0.1", port: 0 }, logger: captureLogger(), reload: { watch: false }, profile: "mt-sbx", program: mt });

  const register = async (emu: Emulator) => {
    await portalOk(emu, "PUT", `/v1/mt/sandbox/customers/${CUSTOMER}`, { issuerHost: `${HOST}:${endpoint.address.port}`, serverChain: pki.server.certPem + pki.serverPki.intermediate.certPem, apiKey: API_KEY });
  };
  await register(emulator);

  const world: NotificationWorld = {
    dir,
    get emulator() {
      return emulator;
    },
    set emulator(e) {
      emulator = e;
    },
    pki,
    endpoint,
    app,
    arrivals,
    async notify(count) {
      const ids: string[] = [];
      for (let left = count; left > 0; left -= 100) {
        const r = await portalOk<{ ids: string[] }>(emulator, "POST", "/v1/mt/sandbox/notifications", { customerId: CUSTOMER, count: Math.min(100, left) });
        ids.push(...r.ids);
      }
      const byId = new Map(emulator.notifier.deliveries().map((d) => [d.id, d.correlationId]));
      return ids.map((id) => byId.get(id)!);
    },
    async rotate() {
      const r = await portalOk<{ serialNumber: string }>(emulator, "POST", "/v1/mt/sandbox/rotate-client-certificate", {});
      return r.serialNumber;
    },
    deliveries: () => emulator.notifier.deliveries({ program: "mt", environment: "sandbox" }),
    async restartEmulator() {
      await emulator.close();
      // The registration is in the emulator's state folder; the host name in emulatorOptions.dnsRecords.
      emulator = await startEmulator(emulatorOptions);
    },
    refusedHandshakes() {
      const out: Record<string, number> = {};
      for (const m of endpoint.metricsText().matchAll(/^mtlskit_inbound_handshakes_total\{result="([^"]+)"\} (\d+)/gm)) {
        if (m[1] !== "ok" && m[1] !== "aborted") out[m[1]!] = Number(m[2]);
      }
      return out;
    },
    abortedHandshakes: () => endpoint.metrics.handshakes.get({ result: "aborted" }),
    async close() {
      await emulator.close().catch(() => undefined);
      await endpoint.close({ graceMs: 100 });
      await app.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}

/** A burst of notifications under way, the moment the scenario's fault hits. */
export interface Burst {
  /** When the first notification was queued. */
  readonly started: number;
  /** Correlation ids queued (push more to have them counted). */
  readonly sent: string[];
  /** Its fault is now. */
  readonly recovery: Recovery;
}

/** Queues `count` notifications, waits until `underWay` of them reached the application, then starts the recovery clock. */
export async function burstUnderWay(world: NotificationWorld, count: number, underWay: number): Promise<Burst> {
  const started = Date.now();
  const sent = await world.notify(count);
  await waitFor(() => world.arrivals.length >= underWay, 30_000, "the burst to be under way");
  const recovery = new Recovery();
  recovery.fault();
  return { started, sent, recovery };
}

/** What a burst came to, once the notifier is idle. */
export interface BurstOutcome {
  durationMs: number;
  deliveries: Delivery[];
  notDelivered: Delivery[];
  attempts: Array<Delivery["attempts"][number]>;
  /** Attempts with no answer or an answer other than 2xx. */
  failedAttempts: Array<Delivery["attempts"][number]>;
  /** Sent against what reached the application. */
  counts: ReturnType<typeof deliveryCounts>;
  /** The first five deliveries that did not succeed, one line each (for the report). */
  firstFailures: string[];
}

/** Waits for the notifier to be idle, then counts the burst's deliveries, attempts and arrivals. */
export async function burstOutcome(world: NotificationWorld, burst: Burst): Promise<BurstOutcome> {
  await world.emulator.notifier.idle(60_000);
  const durationMs = Date.now() - burst.started;
  const deliveries = world.deliveries();
  const notDelivered = deliveries.filter((d) => d.state !== "delivered");
  const attempts = deliveries.flatMap((d) => d.attempts);
  return {
    durationMs,
    deliveries,
    notDelivered,
    attempts,
    failedAttempts: attempts.filter((a) => a.status === undefined || a.status < 200 || a.status >= 300),
    counts: deliveryCounts(burst.sent, world.arrivals.map((a) => a.correlationId)),
    firstFailures: notDelivered.slice(0, 5).map((d) => `${d.id}: ${d.state} after ${d.attempts.length} attempts (${d.attempts.at(-1)?.error ?? d.attempts.at(-1)?.status ?? "?"})`),
  };
}
