/**
 * Scenario 8: broken certificate files are dropped into the inbound server's watched folder
 * while a stream of requests runs: text that is not a certificate, a certificate cut in the
 * middle (written in place, as a slow copy would leave it), and a certificate that does not
 * match the key. Each reload is refused and the server goes on with the set it has. Expected:
 * no request fails or is lost, and every new connection still gets the original certificate.
 */
import { promises as fs } from "node:fs";
import type { Agent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InboundServer } from "../../src/server/index.js";
import { clientAgent, startInboundWorld, waitFor, type CapturedLogger, type InboundPki, type InboundWorld, type TestUpstream } from "../support/server-fixtures.js";
import { deliveredOnce, expect2xx, inboundRequest, Recovery, replaceFile, reportLoad, startLoad } from "./harness.js";

const HOST = "notify.customer.test";
const REQUESTS = 400;

let world: InboundWorld | undefined;
let pki: InboundPki;
let upstream: TestUpstream;
let srv: InboundServer;
let log: CapturedLogger;
let keepAlive: Agent;

beforeAll(async () => {
  world = await startInboundWorld({ reload: { debounceMs: 50 } });
  ({ pki, upstream, srv, log } = world);
  keepAlive = clientAgent(pki, pki.client);
});
afterAll(async () => {
  await keepAlive?.close();
  await world?.close();
});

interface Answer {
  status: number | undefined;
  serverFingerprint?: string | undefined;
}

const failedReloads = () => srv.metrics.reloads.get({ result: "failed", trigger: "watch" });

describe("scenario 8: a broken certificate file dropped in the watched folder", () => {
  it("keeps serving on the current certificate with no request failing", async () => {
    const original = pki.server.info.sha256Fingerprint;
    const stranger = await pki.serverPki.issue({ cn: HOST, usage: "server", dns: [HOST] });
    const id = (i: number) => `scn8-${i}`;
    const recovery = new Recovery();
    const load = startLoad<Answer>({
      requests: REQUESTS,
      concurrency: 6,
      timeLimitMs: 30_000,
      paceMs: 2,
      send: (i) => inboundRequest({ url: srv.url, port: srv.address.port, servername: HOST, ca: pki.serverPki.root.certPem, client: pki.client, keepAlive }, i, `{"n":${i}}`, { "x-correlation-id": id(i) }),
      check: (a) => expect2xx(a) ?? (a.serverFingerprint !== undefined && a.serverFingerprint !== original ? `new connection got ${a.serverFingerprint}` : undefined),
      recovery,
    });

    const faults: Array<[string, () => Promise<void>]> = [
      ["not a certificate", () => replaceFile(pki.files.certFile, "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")],
      ["cut in the middle", () => fs.writeFile(pki.files.certFile, stranger.certPem.slice(0, Math.floor(stranger.certPem.length / 2)))],
      ["another key's certificate", () => replaceFile(pki.files.certFile, stranger.certPem)],
    ];
    const seen: Record<string, string | undefined> = {};
    for (const [k, [what, drop]] of faults.entries()) {
      await load.reached(100 * (k + 1));
      const before = failedReloads();
      if (k === 0) recovery.fault();
      await drop();
      await waitFor(() => failedReloads() > before, 10_000, `the refused reload (${what})`);
      seen[what] = log.lines.filter((l) => l.event === "reload_failed").at(-1)?.code as string | undefined;
    }
    const result = await load.done;
    const delivered = deliveredOnce(result, id, upstream.received);
    const fresh = result.records.filter((r) => r.answer?.serverFingerprint !== undefined);

    await reportLoad("08-inbound-broken-cert-dropped", result, recovery, { refusedReloads: failedReloads(), codes: seen, freshConnections: fresh.length, changedReloads: srv.metrics.reloads.get({ result: "changed", trigger: "watch" }) }, delivered);

    expect(result.firstFailures).toEqual([]);
    expect(result.sent).toBe(REQUESTS);
    expect(result.failed + result.lost).toBe(0);
    expect(delivered).toMatchObject({ lost: 0, duplicated: 0 });
    expect(seen).toEqual({ "not a certificate": "PEM_MALFORMED", "cut in the middle": expect.any(String), "another key's certificate": "KEY_MISMATCH" });
    expect(srv.metrics.reloads.get({ result: "changed", trigger: "watch" })).toBe(0);
    expect(srv.credentials.current().leaf.sha256Fingerprint).toBe(original);
    expect(fresh.length).toBeGreaterThan(100);
    expect(recovery.ms).toBeDefined();
    expect(recovery.ms!).toBeLessThan(10_000);
  });
});
