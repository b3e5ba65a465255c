/**
 * After the trusted client CA is replaced, a client of the old CA is refused even when it
 * tries to resume a TLS session it got before (openssl s_client -sess_out / -sess_in): the
 * reload rotates the session ticket keys, so the old ticket no longer opens a session and the
 * full handshake checks the certificate against the new CA. Before the change, resumption works
 * (the test would prove nothing otherwise), and it still works after a reload that changed only
 * the server certificate: the ticket keys are kept then. A keep-alive connection opened by a
 * client of the old CA before the change gets no more requests through after it (403, closed);
 * one whose CA is still trusted goes on.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInboundServer, type InboundServer } from "../src/server/index.js";
import { call, captureLogger, clientAgent, createInboundPki, runTool, startUpstream, type CapturedLogger, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";
import { requireTool } from "./support/tools.js";

const HOST = "notify.customer.test";

describe.skipIf(!requireTool("openssl"))("session resumption after a client CA change", () => {
  let pki: InboundPki;
  let upstream: TestUpstream;
  let srv: InboundServer;
  let log: CapturedLogger;
  let oldClient: { cert: string; key: string };
  let newClient: { cert: string; key: string };

  beforeAll(async () => {
    pki = await createInboundPki();
    upstream = await startUpstream();
    log = captureLogger();
    srv = await createInboundServer({ credentials: pki.files, upstream: upstream.url, listen: { host: "127.0.0.1", port: 0 }, logger: log, reload: { watch: false } });
    oldClient = await pki.writeClient("old-ca-client", pki.client);
    newClient = await pki.writeClient("new-ca-client", await pki.other.issue({ subject: "/O=Thales DIS/CN=thales-notifier-new" }));
  });
  afterAll(async () => {
    await srv?.close({ graceMs: 100 });
    await upstream?.stop();
    if (pki) await fs.rm(pki.dir, { recursive: true, force: true });
  });

  const sClient = (version: string, client: { cert: string; key: string }, sess: string[]) =>
    runTool("openssl", ["s_client", "-connect", `127.0.0.1:${srv.address.port}`, "-servername", HOST, version, "-CAfile", pki.serverCaFile, "-cert", client.cert, "-key", client.key, "-ign_eof", ...sess], {
      input: `GET /resume HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
    });

  it.each(["-tls1_2", "-tls1_3"])("%s: resumes before the change, is refused after it even with its saved session", async (version) => {
    const sess = path.join(pki.dir, `session${version}.pem`);
    const first = await sClient(version, oldClient, ["-sess_out", sess]);
    expect(first.stdout).toMatch(/HTTP\/1\.1 200 OK/);
    expect(first.stdout).toMatch(/^New, /m);
    const again = await sClient(version, oldClient, ["-sess_in", sess]);
    expect(again.stdout).toMatch(/^Reused, /m);
    expect(again.stdout).toMatch(/HTTP\/1\.1 200 OK/);

    // A new server certificate alone: the session stays resumable.
    const renewed = await pki.serverPki.issue({ cn: HOST, usage: "server", dns: [HOST] });
    const originalCert = await fs.readFile(pki.files.certFile, "utf8");
    const originalKey = await fs.readFile(pki.files.keyFile, "utf8");
    await fs.writeFile(pki.files.keyFile, renewed.keyPem);
    await fs.writeFile(pki.files.certFile, renewed.certPem);
    expect(await srv.reload()).toMatchObject({ ok: true, changed: true, clientCaChanged: false });
    const afterServerChange = await sClient(version, oldClient, ["-sess_in", sess]);
    expect(afterServerChange.stdout).toMatch(/^Reused, /m);
    await fs.writeFile(pki.files.keyFile, originalKey);
    await fs.writeFile(pki.files.certFile, originalCert);
    expect(await srv.reload()).toMatchObject({ ok: true, changed: true });

    // Thales moves to a new Client CA: the old one is no longer trusted.
    const originalCa = await fs.readFile(pki.files.caFile, "utf8");
    await fs.writeFile(pki.files.caFile, pki.other.caBundlePem);
    try {
      const r = await srv.reload();
      expect(r).toMatchObject({ ok: true, changed: true, clientCaChanged: true });
      expect(log.lines.at(-1)).toMatchObject({ event: "reloaded", clientCaChanged: true, ticketsRotated: true });

      const before = srv.metrics.handshakes.get({ result: "unknown_ca" });
      const resumeAttempt = await sClient(version, oldClient, ["-sess_in", sess]);
      expect(resumeAttempt.stdout).not.toMatch(/^Reused, /m);
      expect(resumeAttempt.stdout).not.toMatch(/HTTP\/1\.1 \d{3}/);
      expect(srv.metrics.handshakes.get({ result: "unknown_ca" })).toBe(before + 1);

      const fresh = await sClient(version, newClient, []);
      expect(fresh.stdout).toMatch(/HTTP\/1\.1 200 OK/);
    } finally {
      await fs.writeFile(pki.files.caFile, originalCa);
      expect(await srv.reload()).toMatchObject({ ok: true, changed: true });
    }
  });

  it("closes a keep-alive connection of a CA that is no longer trusted at its next request, and leaves the others alone", async () => {
    const oldAgent = clientAgent(pki, pki.client);
    const originalCa = await fs.readFile(pki.files.caFile, "utf8");
    try {
      expect((await call(oldAgent, `${srv.url}/before`)).status).toBe(200);
      // A change that keeps the old CA trusted (both CAs): the open connection goes on.
      await fs.writeFile(pki.files.caFile, originalCa + pki.other.caBundlePem);
      expect(await srv.reload()).toMatchObject({ ok: true, changed: true, clientCaChanged: true });
      const still = await call(oldAgent, `${srv.url}/still-trusted`);
      expect(still.status).toBe(200);
      expect(still.headers["connection"]).not.toBe("close");
      // The old CA removed: the same open connection is refused and closed.
      await fs.writeFile(pki.files.caFile, pki.other.caBundlePem);
      expect(await srv.reload()).toMatchObject({ ok: true, changed: true, clientCaChanged: true });
      const refused = await call(oldAgent, `${srv.url}/after`);
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: "CLIENT_CA_NOT_TRUSTED" } });
      expect(refused.headers["connection"]).toBe("close");
      expect(upstream.received.some((r) => r.url === "/after")).toBe(false);
      expect(log.lines).toContainEqual(expect.objectContaining({ event: "trust_removed" }));
      // And a new connection of the old CA fails its handshake.
      await expect(call(oldAgent, `${srv.url}/again`)).rejects.toThrow();
    } finally {
      await oldAgent.close();
      await fs.writeFile(pki.files.caFile, originalCa);
      expect(await srv.reload()).toMatchObject({ ok: true, changed: true });
    }
  });
});
