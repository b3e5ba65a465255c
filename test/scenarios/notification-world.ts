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
import { captureLogger, createInboundPki, startUpstream, tempDir, type InboundPki, type TestUpstream, type UpstreamResponder } from "../support/server-fixtures.js";

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

async function portal<T>(emu: Emulator, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${emu.portalUrl}${route}`, { method, ...(body !== undefined ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`portal ${method} ${route}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
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
    await portal(emu, "PUT", `/v1/mt/sandbox/customers/${CUSTOMER}`, { issuerHost: `${HOST}:${endpoint.address.port}`, serverChain: pki.server.certPem + pki.serverPki.intermediate.certPem, apiKey: API_KEY });
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
        const r = await portal<{ ids: string[] }>(emulator, "POST", "/v1/mt/sandbox/notifications", { customerId: CUSTOMER, count: Math.min(100, left) });
        ids.push(...r.ids);
      }
      const byId = new Map(emulator.notifier.deliveries().map((d) => [d.id, d.correlationId]));
      return ids.map((id) => byId.get(id)!);
    },
    async rotate() {
      const r = await portal<{ serialNumber: string }>(emulator, "POST", "/v1/mt/sandbox/rotate-client-certificate", {});
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
