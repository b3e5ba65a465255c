/**
 * Scenario 2: Thales moves to a new Client CA; the trusted CA file in the watched folder is
 * replaced while clients of both CAs keep connecting, each request on a new TLS connection.
 * Clients of the old CA try to resume a TLS session they got before the change, or make a full
 * handshake. Expected, for requests started once the new trust is in force: every client of
 * the old CA is refused (a saved session no longer resumes: the ticket keys were rotated), and
 * no client of the new CA is refused. Before the change, the opposite. Requests in flight
 * during the change are not judged.
 *
 * Also: a keep-alive connection a client of the old CA opened before the change gets no more
 * requests through after it (src/server/README.md, "Reload without downtime").
 */
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InboundServer } from "../../src/server/index.js";
import { clientAgent, startInboundWorld, waitFor, type CapturedLogger, type InboundPki, type InboundWorld } from "../support/server-fixtures.js";
import { createTestPki, type TestCertificate, type TestPki } from "../../src/testing/index.js";
import { Recovery, replaceFile, report, startLoad, tlsRequest, type TlsAnswer } from "./harness.js";

const HOST = "notify.customer.test";
/** Upper bound; the stream stops 240 requests after the new trust is in force. */
const MAX_REQUESTS = 3000;

let world: InboundWorld | undefined;
let pki: InboundPki;
let newCa: TestPki;
let newClient: TestCertificate;
let srv: InboundServer;
let log: CapturedLogger;
let swappedAt = Number.POSITIVE_INFINITY;

beforeAll(async () => {
  newCa = await createTestPki({ rootCn: "Thales Test Root CA G2", intermediateCn: "Thales Client CA G2" });
  newClient = await newCa.issue({ subject: "/C=FR/O=Thales DIS/CN=thales-notifier-g2", usage: "client" });
  world = await startInboundWorld({ reload: { debounceMs: 50 } });
  ({ pki, srv, log } = world);
  srv.credentials.onChange((set, previous) => {
    if (set.caPem !== previous.caPem) swappedAt = Date.now();
  });
});
afterAll(async () => {
  await world?.close();
});

type Kind = "old-resume" | "old-full" | "new";
interface Answer extends TlsAnswer {
  kind: Kind;
}

const call = (client: TestCertificate, session?: Buffer) =>
  tlsRequest({ port: srv.address.port, servername: HOST, ca: pki.serverPki.root.certPem, cert: client.chainPem, key: client.keyPem, session, path: "/ca-change" });

describe("scenario 2: the trusted Thales Client CA replaced during load", () => {
  it("refuses every client of the old CA after the change, resumed sessions included, and none of the new CA's", async () => {
    // A session of a client of the old CA, and proof that it resumes before the change.
    const first = await call(pki.client);
    expect(first.status).toBe(200);
    const session = first.session!;
    expect(session).toBeDefined();
    const resumed = await call(pki.client, session);
    expect(resumed).toMatchObject({ status: 200, reused: true });
    // A keep-alive connection of the old CA, opened before the change.
    const keepAlive = clientAgent(pki, pki.client);
    const ka1 = await request(`${srv.url}/keep-alive`, { dispatcher: keepAlive });
    await ka1.body.dump();

    const recovery = new Recovery();
    const kinds: Kind[] = ["old-resume", "old-full", "new"];
    const load = startLoad<Answer>({
      requests: MAX_REQUESTS,
      concurrency: 6,
      timeLimitMs: 60_000,
      paceMs: 2,
      send: async (i) => {
        const kind = kinds[i % 3]!;
        const a = await call(kind === "new" ? newClient : pki.client, kind === "old-resume" ? session : undefined);
        return { ...a, kind };
      },
      // Judged after the load, against the moment of the change.
      recovery,
      recoveredWhen: (a) => a.kind === "new" && a.status === 200,
    });

    await load.reached(150);
    recovery.fault();
    await replaceFile(pki.files.caFile, newCa.caBundlePem);
    await waitFor(() => swappedAt !== Number.POSITIVE_INFINITY, 15_000, "the new client CA in force");
    await load.reached(load.ended + 240);
    load.stop();
    const result = await load.done;

    const ka2 = await request(`${srv.url}/keep-alive`, { dispatcher: keepAlive }).then(
      async (r) => {
        await r.body.dump();
        return r.statusCode;
      },
      () => undefined,
    );
    await keepAlive.close();

    const accepted = (a: Answer | undefined) => a?.status === 200;
    const before = result.records.filter((r) => r.end < swappedAt);
    const after = result.records.filter((r) => r.start > swappedAt);
    const wrongBefore = before.filter((r) => accepted(r.answer) !== (r.answer?.kind !== "new"));
    const oldAcceptedAfter = after.filter((r) => r.answer?.kind !== "new" && accepted(r.answer));
    const newRefusedAfter = after.filter((r) => r.answer?.kind === "new" && !accepted(r.answer));
    const resumedBefore = before.filter((r) => r.answer?.kind === "old-resume" && r.answer.reused).length;
    const resumedAfter = after.filter((r) => r.answer?.kind === "old-resume" && r.answer.reused).length;
    const failures = [...wrongBefore, ...oldAcceptedAfter, ...newRefusedAfter];

    await report({
      scenario: "02-inbound-client-ca-replaced",
      sent: result.sent,
      failed: failures.length,
      lost: 0,
      duplicated: 0,
      recoverMs: recovery.ms,
      durationMs: result.durationMs,
      firstFailures: failures.slice(0, 5).map((r) => `#${r.i} ${r.answer?.kind}: status ${r.answer?.status ?? "none"} (${r.answer?.error ?? "answered"})`),
      notes: {
        judgedBefore: before.length,
        judgedAfter: after.length,
        inTransition: result.sent - before.length - after.length,
        oldCaAcceptedAfter: oldAcceptedAfter.length,
        newCaRefusedAfter: newRefusedAfter.length,
        resumedBefore,
        resumedAfter,
        oldCaKeepAliveServedAfterChange: ka2 === 200,
        unknownCaRefusals: srv.metrics.handshakes.get({ result: "unknown_ca" }),
      },
    });

    expect(result.sent).toBeLessThan(MAX_REQUESTS);
    expect(oldAcceptedAfter.map((r) => r.i)).toEqual([]);
    expect(ka2).not.toBe(200);
    expect(newRefusedAfter.map((r) => r.i)).toEqual([]);
    expect(wrongBefore.map((r) => r.i)).toEqual([]);
    // The stream ran on both sides of the change, and sessions did resume before it.
    expect(before.length).toBeGreaterThan(60);
    expect(after.length).toBeGreaterThan(60);
    expect(resumedBefore).toBeGreaterThan(10);
    expect(resumedAfter).toBe(0);
    expect(srv.metrics.handshakes.get({ result: "unknown_ca" })).toBeGreaterThan(0);
    // A refused handshake is logged once, as such (not also as a TLS error after a handshake).
    expect(log.lines.filter((l) => l.event === "handshake_refused").length).toBe(srv.metrics.handshakes.get({ result: "unknown_ca" }));
    expect(log.lines.filter((l) => l.event === "tls_error")).toEqual([]);
    expect(recovery.ms).toBeDefined();
    expect(recovery.ms!).toBeLessThan(10_000);
  });
});
