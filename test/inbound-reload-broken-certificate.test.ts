/**
 * A broken certificate dropped into the watched folder keeps the old one serving: the change is
 * seen, the reload refuses the new set and says why, new connections still get the old
 * certificate. A good set dropped in afterwards is taken up for new connections.
 */
import { promises as fs } from "node:fs";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Agent } from "undici";
import { createInboundServer, type InboundServer } from "../src/server/index.js";
import { call, captureLogger, clientAgent, createInboundPki, startUpstream, waitFor, type CapturedLogger, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";

let pki: InboundPki;
let upstream: TestUpstream;
let srv: InboundServer;
let log: CapturedLogger;
let agent: Agent;

beforeAll(async () => {
  pki = await createInboundPki();
  upstream = await startUpstream();
  log = captureLogger();
  srv = await createInboundServer({ credentials: pki.files, upstream: upstream.url, listen: { host: "127.0.0.1", port: 0 }, logger: log, reload: { debounceMs: 50 }, profile: "mt-sbx" });
  agent = clientAgent(pki, pki.client, { maxCachedSessions: 0 });
});
afterAll(async () => {
  await agent?.close();
  await srv?.close({ graceMs: 100 });
  await upstream?.stop();
  if (pki) await fs.rm(pki.dir, { recursive: true, force: true });
});

/** The SHA-256 fingerprint of the certificate a new connection gets. */
async function presented(): Promise<string> {
  const socket = tls.connect({ host: "127.0.0.1", port: srv.address.port, servername: "notify.customer.test", ca: pki.serverPki.root.certPem, cert: pki.client.chainPem, key: pki.client.keyPem });
  await new Promise<void>((resolve, reject) => socket.once("secureConnect", () => resolve()).once("error", reject));
  const fp = socket.getPeerCertificate().fingerprint256;
  socket.destroy();
  return fp;
}

const failed = () => srv.metrics.reloads.get({ result: "failed", trigger: "watch" });

/** Puts the original server certificate back and waits for the reload that finds it unchanged. */
async function restore(): Promise<void> {
  const unchanged = () => srv.metrics.reloads.get({ result: "unchanged", trigger: "watch" });
  const before = unchanged();
  await fs.writeFile(pki.files.certFile, pki.server.certPem);
  await waitFor(() => unchanged() > before, 5000, "the original set back");
}

describe("reload with a broken certificate in the folder", () => {
  it("watches the folders of the files", () => {
    expect([...srv.watched].sort()).toEqual([`${pki.dir}/assets`, `${pki.dir}/server`]);
  });

  it("keeps serving the old certificate when the new file is not a certificate", async () => {
    const original = pki.server.info.sha256Fingerprint;
    expect(await presented()).toBe(original);
    await fs.writeFile(pki.files.certFile, "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n");
    await waitFor(() => failed() >= 1, 5000, "a failed reload");
    expect(await presented()).toBe(original);
    expect((await call(agent, `${srv.url}/still-up`)).status).toBe(200);
    const line = log.lines.find((l) => l.event === "reload_failed")!;
    expect(line).toMatchObject({ level: "warn", trigger: "watch", code: "PEM_MALFORMED" });
    expect(line.msg).toMatch(/still serving version 1/);
    await restore();
  });

  it("keeps serving when the certificate does not match the key (KEY_MISMATCH)", async () => {
    const stranger = await pki.serverPki.issue({ cn: "notify.customer.test", usage: "server", dns: ["notify.customer.test"] });
    const before = failed();
    await fs.writeFile(pki.files.certFile, stranger.certPem);
    await waitFor(() => failed() > before, 5000, "a failed reload");
    expect(log.lines.filter((l) => l.event === "reload_failed").at(-1)).toMatchObject({ code: "KEY_MISMATCH" });
    expect(await presented()).toBe(pki.server.info.sha256Fingerprint);
    expect((await call(agent, `${srv.url}/still-up`)).status).toBe(200);
    await restore();
  });

  it("refuses a Thales leaf dropped in as the client CA (never pin the leaf), keeping the CA", async () => {
    const original = await fs.readFile(pki.files.caFile, "utf8");
    const before = failed();
    await fs.writeFile(pki.files.caFile, pki.client.certPem);
    await waitFor(() => failed() > before, 5000, "a failed reload");
    expect(log.lines.filter((l) => l.event === "reload_failed").at(-1)).toMatchObject({ code: "LEAF_AS_CA" });
    expect((await call(agent, `${srv.url}/still-trusted`)).status).toBe(200);
    await fs.writeFile(pki.files.caFile, original);
    await restore();
  });

  it("takes up a good set dropped in afterwards (written atomically) for new connections", async () => {
    const renewed = await pki.serverPki.issue({ cn: "notify.customer.test", usage: "server", dns: ["notify.customer.test"] });
    await fs.writeFile(`${pki.files.keyFile}.tmp`, renewed.keyPem, { mode: 0o600 });
    await fs.writeFile(`${pki.files.certFile}.tmp`, renewed.certPem);
    await fs.rename(`${pki.files.keyFile}.tmp`, pki.files.keyFile);
    await fs.rename(`${pki.files.certFile}.tmp`, pki.files.certFile);
    await waitFor(async () => (await presented()) === renewed.info.sha256Fingerprint, 5000, "the renewed certificate");
    expect(srv.metrics.reloads.get({ result: "changed", trigger: "watch" })).toBeGreaterThanOrEqual(1);
    expect(srv.metricsText()).toContain(`mtlskit_certificate_not_after_seconds{profile="mt-sbx",role="server",serial="${renewed.info.serialNumber}"`);
    expect(srv.metricsText()).not.toContain(`serial="${pki.server.info.serialNumber}"`);
    expect((await call(agent, `${srv.url}/renewed`)).status).toBe(200);
    expect(log.text()).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
  });
});
