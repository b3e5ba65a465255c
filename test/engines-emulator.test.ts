/**
 * The emulator as Thales, the real CLI `mtlskit serve --engine nginx|haproxy` as the customer's
 * endpoint, a loopback application behind it. MT notifications from the emulator's notifier
 * reach the application before and after the emulator rotates its client certificate (portal
 * `rotate-client-certificate`): the endpoint trusts the Thales Client CA, never the leaf, so the
 * new certificate is accepted with no change here. Every notification is delivered once, none is
 * refused, and those sent after the rotation carry the new certificate's serial.
 */
import type { ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "./support/net.js";
import { startEmulator } from "../src/emulator/index.js";
import { portalOk } from "./support/emulator-fixtures.js";
import { createInboundPki, startUpstream, tempDir, type TestUpstream } from "./support/server-fixtures.js";
import { startMtlskit } from "./support/cli.js";
import { requireTool } from "./support/tools.js";

const HOST = "notify.customer.test";
const CUSTOMER = "654321";
const API_KEY = "engine-emulator-api-key-0123456789";
const BEFORE = 20;
const AFTER = 20;

const cleanup: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});


/** Serial numbers compared as numbers: engines print them in upper case, some without leading zeros. */
function serialKey(s: string | string[] | undefined): string {
  return String(Array.isArray(s) ? s[0] : (s ?? ""))
    .replace(/[^0-9a-f]/gi, "")
    .toLowerCase()
    .replace(/^0+/, "");
}

/** Starts `mtlskit --json serve --engine E` and waits for its document. */
async function serveEngine(engine: string, args: string[], cwd: string): Promise<{ child: ChildProcess; exited: Promise<number>; stderr: () => string }> {
  const r = await startMtlskit(["--json", "serve", "--engine", engine, ...args], { cwd, timeoutMs: 20_000 });
  cleanup.push(() => {
    if (r.child.exitCode === null) r.child.kill("SIGKILL");
  });
  return r;
}

describe("emulator notifications through serve --engine", () => {
  for (const engine of ["nginx", "haproxy"] as const) {
    it.skipIf(!requireTool(engine))(`${engine}: delivered before and after the emulator rotates its client certificate`, async () => {
      const dir = await tempDir(`mtlskit-engine-emu-${engine}-`);
      cleanup.push(() => fs.rm(dir, { recursive: true, force: true }));
      const emulator = await startEmulator({
        dir: path.join(dir, "emulator"),
        programs: ["mt"],
        notifierBackoff: { initialMs: 100, factor: 1.5, maxMs: 600, jitter: 0.2, maxAttempts: 40 },
        notifierTimeoutMs: 5000,
        dnsRecords: [{ name: HOST, address: "127.0.0.1", ttlSeconds: 30 }],
      });
      cleanup.push(() => emulator.close());
      // The endpoint's server certificate; it trusts the emulator's Thales Client CA.
      const pki = await createInboundPki(path.join(dir, "endpoint"));
      await fs.writeFile(pki.files.caFile, emulator.pki.clientCaPem());
      const app: TestUpstream = await startUpstream(() => ({ status: 204, body: "" }));
      cleanup.push(() => app.stop());

      const port = await freePort();
      const runDir = path.join(dir, "run");
      const f = pki.files;
      const serve = await serveEngine(engine, ["--run-dir", runDir, "--listen", `127.0.0.1:${port}`, "--admin", "off", "--cert", f.certFile, "--key", f.keyFile, "--chain", f.chainFile, "--client-ca", f.caFile, "--upstream", app.url], dir);
      await portalOk(emulator, "PUT", `/v1/mt/sandbox/customers/${CUSTOMER}`, { issuerHost: `${HOST}:${port}`, serverChain: pki.server.certPem + pki.serverPki.intermediate.certPem, apiKey: API_KEY });

      const notify = async (count: number): Promise<string[]> => (await portalOk<{ ids: string[] }>(emulator, "POST", "/v1/mt/sandbox/notifications", { customerId: CUSTOMER, count })).ids;
      const deliveries = () => emulator.notifier.deliveries({ program: "mt", environment: "sandbox" });

      const oldSerial = emulator.pki.clientCredential("mt", "sandbox").info.serialNumber;
      const first = await notify(BEFORE);
      await emulator.notifier.idle(30_000);
      const rotated = await portalOk<{ serialNumber: string }>(emulator, "POST", "/v1/mt/sandbox/rotate-client-certificate", {});
      expect(serialKey(rotated.serialNumber)).not.toBe(serialKey(oldSerial));
      const second = await notify(AFTER);
      await emulator.notifier.idle(30_000);

      // Every notification delivered at its first attempt (no refusal, no retry), each once.
      const all = deliveries();
      expect(all.map((d) => d.state)).toEqual(Array(BEFORE + AFTER).fill("delivered"));
      expect(all.every((d) => d.attempts.length === 1 && d.attempts[0]!.status === 204)).toBe(true);
      // Notifications are matched by their body's id (the correlation id is Thales's, kept by the engines).
      const idOf = (body: string) => String((JSON.parse(body) as { notificationId?: string }).notificationId);
      const got = app.received.map((r) => idOf(r.body));
      expect(got).toHaveLength(BEFORE + AFTER);
      expect(new Set(got)).toEqual(new Set([...first, ...second]));

      // Identity from the verified connection: the old certificate before, the new one after.
      const serialOf = new Map(app.received.map((r) => [idOf(r.body), serialKey(r.headers["x-client-cert-serial"])]));
      for (const id of first) expect(serialOf.get(id)).toBe(serialKey(oldSerial));
      for (const id of second) expect(serialOf.get(id)).toBe(serialKey(rotated.serialNumber));
      for (const r of app.received) {
        expect(r.method).toBe("POST");
        expect(r.url).toBe("/tsh-cof/notify-merchant-update");
        expect(r.headers["authorization"]).toBe(`APIKEY ${API_KEY}`);
        expect(String(r.headers["x-client-cert-issuer"])).toContain("Thales");
      }

      serve.child.kill("SIGTERM");
      expect(await serve.exited).toBe(0);
      expect(serve.stderr()).not.toContain(API_KEY);
      expect(serve.stderr()).not.toContain("PRIVATE KEY");
    });
  }
});
