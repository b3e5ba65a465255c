/**
 * Scenario 1: the inbound server's certificate is replaced twice while a stream of requests
 * runs (keep-alive and new connections). The new key and certificate are written into the
 * watched folder the way deployment tools do (temporary file + rename); the server sees the
 * change and reloads. Expected: no request fails or is lost, every request reaches the
 * application exactly once, and every new connection made after a reload gets the new
 * certificate.
 */
import type { Agent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InboundServer } from "../../src/server/index.js";
import { clientAgent, startInboundWorld, waitFor, type InboundPki, type InboundWorld, type TestUpstream } from "../support/server-fixtures.js";
import type { TestCertificate } from "../../src/testing/index.js";
import { deliveredOnce, expect2xx, inboundRequest, Recovery, replaceFile, reportLoad, startLoad } from "./harness.js";

const HOST = "notify.customer.test";
/** Upper bound; the stream stops 100 requests after the second certificate is first seen. */
const MAX_REQUESTS = 3000;

let world: InboundWorld | undefined;
let pki: InboundPki;
let upstream: TestUpstream;
let srv: InboundServer;
let keepAlive: Agent;
/** When each credential version came into force (version -> ms). */
const changes = new Map<number, number>();

beforeAll(async () => {
  world = await startInboundWorld({ reload: { debounceMs: 50 } });
  ({ pki, upstream, srv } = world);
  srv.credentials.onChange((set) => changes.set(set.version, Date.now()));
  keepAlive = clientAgent(pki, pki.client);
});
afterAll(async () => {
  await keepAlive?.close();
  await world?.close();
});

/** Installs a server certificate the way a deployment tool does: key, then certificate, each written atomically. */
async function install(c: TestCertificate): Promise<void> {
  await replaceFile(pki.files.keyFile, c.keyPem, 0o600);
  await replaceFile(pki.files.certFile, c.certPem);
}

interface Answer {
  status: number | undefined;
  /** Server certificate of a request on a new connection. */
  serverFingerprint?: string | undefined;
}

describe("scenario 1: inbound server certificate replaced during load", () => {
  it("loses no request, and new connections get each new certificate once reloaded", async () => {
    const renewed = [await pki.serverPki.issue({ cn: HOST, usage: "server", dns: [HOST] }), await pki.serverPki.issue({ cn: HOST, usage: "server", dns: [HOST] })];
    const recovery = new Recovery();
    let expected = pki.server.info.sha256Fingerprint;
    /** Server certificates new connections got. */
    const seen = new Set<string>();
    const id = (i: number) => `scn1-${i}`;
    const load = startLoad<Answer>({
      requests: MAX_REQUESTS,
      concurrency: 6,
      timeLimitMs: 60_000,
      paceMs: 2,
      send: async (i) => {
        const a = await inboundRequest({ url: srv.url, port: srv.address.port, servername: HOST, ca: pki.serverPki.root.certPem, client: pki.client, keepAlive }, i, `{"n":${i}}`, { "x-correlation-id": id(i) });
        if (a.serverFingerprint) seen.add(a.serverFingerprint);
        return a;
      },
      check: expect2xx,
      recovery,
      recoveredWhen: (a) => a.serverFingerprint === expected,
    });

    await load.reached(100);
    expected = renewed[0]!.info.sha256Fingerprint;
    recovery.fault();
    await install(renewed[0]!);
    await waitFor(() => seen.has(renewed[0]!.info.sha256Fingerprint), 15_000, "a new connection with the first renewal");
    await load.reached(load.ended + 100);
    const second = Date.now();
    await install(renewed[1]!);
    await waitFor(() => seen.has(renewed[1]!.info.sha256Fingerprint), 15_000, "a new connection with the second renewal");
    const secondSeenMs = Date.now() - second;
    await load.reached(load.ended + 100);
    load.stop();
    const result = await load.done;

    // New connections started after a change came into force got that change's certificate (or a newer one).
    const versions = [...changes.entries()].sort((a, b) => a[0] - b[0]);
    const certOfVersion = new Map<number, string>([[1, pki.server.info.sha256Fingerprint]]);
    // Reloads that find the key and certificate of different pairs are refused, so the versions
    // in force are exactly the two renewals, in order.
    versions.forEach(([v], k) => certOfVersion.set(v, renewed[k]!.info.sha256Fingerprint));
    const inForce = (t: number): string | undefined => {
      let fp = certOfVersion.get(1);
      for (const [v, at] of versions) if (at <= t) fp = certOfVersion.get(v);
      return fp;
    };
    const fresh = result.records.filter((r) => r.answer?.serverFingerprint !== undefined);
    // Stale: older than the certificate in force when the request started. (A request that
    // started just before a change may get the newer one: the server takes up the connection later.)
    const order = [pki.server, ...renewed].map((c) => c.info.sha256Fingerprint);
    const stale = fresh.filter((r) => order.indexOf(r.answer!.serverFingerprint!) < order.indexOf(inForce(r.start)!));
    const delivered = deliveredOnce(result, id, upstream.received);

    await reportLoad("01-inbound-server-cert-replaced", result, recovery, { reloads: versions.length, secondRecoverMs: secondSeenMs, freshConnections: fresh.length, staleCertificateAfterReload: stale.length }, delivered);

    expect(result.firstFailures).toEqual([]);
    expect(result.sent).toBeLessThan(MAX_REQUESTS);
    expect(result.failed + result.lost).toBe(0);
    expect(delivered).toMatchObject({ lost: 0, duplicated: 0 });
    expect(versions).toHaveLength(2);
    const names = new Map(order.map((fp, k) => [fp, `cert${k}`]));
    expect(stale.map((r) => `#${r.i} started ${r.start - versions[0]![1]} ms after the first change, got ${names.get(r.answer!.serverFingerprint!)}, expected ${names.get(inForce(r.start)!)}`), `changes at ${versions.map(([v, at]) => `v${v}:+${at - versions[0]![1]}`).join(" ")}`).toEqual([]);
    // The stream ran across both changes, on both kinds of connection.
    for (const fp of [pki.server, ...renewed].map((c) => c.info.sha256Fingerprint)) expect(fresh.some((r) => r.answer!.serverFingerprint === fp)).toBe(true);
    expect(recovery.ms).toBeDefined();
    expect(recovery.ms!).toBeLessThan(10_000);
    expect(srv.metrics.reloads.get({ result: "changed", trigger: "watch" })).toBe(2);
  });
});
