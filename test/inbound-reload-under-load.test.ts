/**
 * Reloads under a stream of requests lose none: while keep-alive and new-connection requests
 * run, SIGHUP reloads alternate the server certificate, each swap after the previous reload has
 * ended (test/inbound-reload-broken-certificate.test.ts covers a half-written set). A connection
 * opened before the reloads goes on with the certificate it began with.
 */
import { promises as fs } from "node:fs";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request, type Agent } from "undici";
import { createInboundServer, type InboundServer } from "../src/server/index.js";
import { captureLogger, clientAgent, createInboundPki, startUpstream, waitFor, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";
import type { TestCertificate } from "../src/testing/index.js";

let pki: InboundPki;
let upstream: TestUpstream;
let srv: InboundServer;
let second: TestCertificate;

beforeAll(async () => {
  pki = await createInboundPki();
  second = await pki.serverPki.issue({ cn: "notify.customer.test", usage: "server", dns: ["notify.customer.test"] });
  upstream = await startUpstream();
  srv = await createInboundServer({ credentials: pki.files, upstream: upstream.url, listen: { host: "127.0.0.1", port: 0 }, logger: captureLogger(), reload: { watch: false, signal: "SIGHUP" } });
});
afterAll(async () => {
  await srv?.close({ graceMs: 100 });
  await upstream?.stop();
  if (pki) await fs.rm(pki.dir, { recursive: true, force: true });
});

async function install(c: TestCertificate): Promise<void> {
  await fs.writeFile(`${pki.files.keyFile}.new`, c.keyPem, { mode: 0o600 });
  await fs.writeFile(`${pki.files.certFile}.new`, c.certPem);
  await fs.rename(`${pki.files.keyFile}.new`, pki.files.keyFile);
  await fs.rename(`${pki.files.certFile}.new`, pki.files.certFile);
}

describe("reload under load", () => {
  it("answers every request while SIGHUP reloads swap the certificate, and leaves open connections alone", async () => {
    // A connection made before any reload, used for the whole test.
    const early = tls.connect({ host: "127.0.0.1", port: srv.address.port, servername: "notify.customer.test", ca: pki.serverPki.root.certPem, cert: pki.client.chainPem, key: pki.client.keyPem });
    await new Promise<void>((resolve, reject) => early.once("secureConnect", () => resolve()).once("error", reject));
    const earlyFingerprint = early.getPeerCertificate().fingerprint256;
    let earlyText = "";
    early.setEncoding("utf8").on("data", (d: string) => (earlyText += d));
    let earlyAnswers = 0;
    const countEarly = () => (earlyText.match(/HTTP\/1\.1 200 OK/g) ?? []).length;

    const keepAlive: Agent = clientAgent(pki, pki.client);
    const fresh: Agent = clientAgent(pki, pki.client, { maxCachedSessions: 0 });
    const results: number[] = [];
    const errors: string[] = [];
    let running = true;
    const loop = async (agent: Agent, reset: boolean) => {
      while (running) {
        try {
          const res = await request(`${srv.url}/load`, { dispatcher: agent, method: "POST", body: '{"n":1}', headers: { "content-type": "application/json" }, reset });
          await res.body.dump();
          results.push(res.statusCode);
        } catch (e) {
          errors.push(String((e as Error).message));
        }
      }
    };
    const loops = [loop(keepAlive, false), loop(keepAlive, false), loop(fresh, true), loop(fresh, true)];

    const signalReloads = () => ["changed", "unchanged", "failed"].reduce((n, result) => n + srv.metrics.reloads.get({ result, trigger: "signal" }), 0);
    const certs = [second, pki.server];
    for (let i = 0; i < 10; i++) {
      await install(certs[i % 2]!);
      process.kill(process.pid, "SIGHUP");
      early.write("GET /early HTTP/1.1\r\nHost: notify.customer.test\r\n\r\n");
      earlyAnswers++;
      // The next swap waits for this reload to end (on a loaded machine a reload can take longer
      // than any fixed pause, and a swap in the middle of it is a half-written set, refused).
      await waitFor(() => signalReloads() > i, 10_000, `reload ${i + 1} after SIGHUP`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => countEarly() === earlyAnswers, 5000, "the early connection's answers");
    running = false;
    await Promise.all(loops);
    await keepAlive.close();
    await fresh.close();

    expect(errors).toEqual([]);
    expect(results.length).toBeGreaterThan(50);
    expect(results.every((s) => s === 200)).toBe(true);
    expect(srv.metrics.reloads.get({ result: "changed", trigger: "signal" })).toBe(10);
    expect(countEarly()).toBe(10);
    expect(early.getPeerCertificate().fingerprint256).toBe(earlyFingerprint);
    expect(early.destroyed).toBe(false);
    early.destroy();
    // New connections get whichever set is current.
    expect([second.info.sha256Fingerprint, pki.server.info.sha256Fingerprint]).toContain(srv.credentials.current().leaf.sha256Fingerprint);
  });
});
