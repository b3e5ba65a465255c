/**
 * What the upstream receives and what the caller gets back: the verified identity in headers
 * (spoofed ones stripped first), the correlation id, X-Forwarded-*; an optional CN/O allow-list
 * on top of CA verification; the upstream down or too slow answered quickly (503 by default,
 * which Thales retries; 502/504 in `gateway` mode), logged and counted; the admin endpoints.
 */
import { promises as fs } from "node:fs";
import * as net from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createInboundServer, type InboundServer, type InboundServerOptions } from "../src/server/index.js";
import { call, captureLogger, waitFor, clientAgent, createInboundPki, startUpstream, type CapturedLogger, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";
import type { Agent } from "undici";

let pki: InboundPki;
let upstream: TestUpstream;
const servers: InboundServer[] = [];
const agents: Agent[] = [];

beforeAll(async () => {
  pki = await createInboundPki();
  upstream = await startUpstream((r) => (r.url.startsWith("/slow") ? "hang" : r.url.startsWith("/delay") ? { delayMs: 400 } : r.url.startsWith("/big") ? { body: "x".repeat(300_000) } : r.url.startsWith("/echo") ? { body: r.body } : r.url.startsWith("/status/") ? { status: Number(r.url.slice(8)), headers: { "x-app": "yes", connection: "x-app-hop", "x-app-hop": "1" } } : {}));
});
afterEach(async () => {
  for (const a of agents.splice(0)) await a.close();
  for (const s of servers.splice(0)) await s.close({ graceMs: 100 });
});
afterAll(async () => {
  await upstream?.stop();
  if (pki) await fs.rm(pki.dir, { recursive: true, force: true });
});

async function start(extra: Partial<InboundServerOptions> = {}, log: CapturedLogger = captureLogger()): Promise<{ srv: InboundServer; log: CapturedLogger; agent: Agent }> {
  const srv = await createInboundServer({ credentials: pki.files, upstream: upstream.url, listen: { host: "127.0.0.1", port: 0 }, logger: log, reload: { watch: false }, ...extra });
  servers.push(srv);
  const agent = clientAgent(pki, pki.client);
  agents.push(agent);
  return { srv, log, agent };
}

describe("identity forwarding", () => {
  it("strips spoofed identity and forwarding headers and sets the verified ones", async () => {
    const { srv, agent } = await start();
    const res = await call(agent, `${srv.url}/notify?x=1`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: "APIKEY secret-api-key-123",
        "x-client-cert-subject": "CN=Evil",
        "x-client-cert-sha256": "00",
        "x-client-cert": "spoofed",
        "client-cert": ":c3Bvb2Y=:",
        "x-forwarded-client-cert": "Hash=00",
        "x-forwarded-for": "6.6.6.6",
        "x-forwarded-proto": "http",
        "x-correlation-id": "thales-corr_01",
      },
      body: '{"a":1}',
    });
    expect(res.status).toBe(200);
    expect(res.headers["x-correlation-id"]).toBe("thales-corr_01");
    const got = upstream.received.at(-1)!;
    expect(got.method).toBe("POST");
    expect(got.url).toBe("/notify?x=1");
    expect(got.body).toBe('{"a":1}');
    expect(got.headers["authorization"]).toBe("APIKEY secret-api-key-123");
    expect(got.headers["x-client-cert-subject"]).toBe("CN=thales-notifier-1,O=Thales DIS,C=FR");
    expect(got.headers["x-client-cert-issuer"]).toBe("CN=Thales Client CA");
    expect(got.headers["x-client-cert-sha256"]).toBe(pki.client.info.sha256Fingerprint);
    expect(got.headers["x-client-cert-serial"]).toBe(pki.client.info.serialNumber);
    expect(got.headers["x-client-cert-not-after"]).toBe(pki.client.info.notAfter.toISOString().replace(/\.\d{3}Z$/, "Z"));
    expect(decodeURIComponent(String(got.headers["x-client-cert"]))).toBe(pki.client.certPem);
    expect(got.headers["client-cert"]).toBe(`:${Buffer.from(pki.client.der).toString("base64")}:`);
    expect(got.headers["x-forwarded-client-cert"]).toBeUndefined();
    expect(got.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(got.headers["x-forwarded-proto"]).toBe("https");
    expect(got.headers["x-correlation-id"]).toBe("thales-corr_01");
  });

  it("generates a correlation id when there is none (or an invalid one) and returns it", async () => {
    const { srv, agent } = await start();
    const a = await call(agent, `${srv.url}/a`);
    const b = await call(agent, `${srv.url}/b`, { headers: { "x-correlation-id": "not valid; at all" } });
    for (const [res, path] of [[a, "/a"], [b, "/b"]] as const) {
      const id = res.headers["x-correlation-id"] as string;
      expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      expect(upstream.received.find((r) => r.url === path)!.headers["x-correlation-id"]).toBe(id);
    }
    expect(a.headers["x-correlation-id"]).not.toBe(b.headers["x-correlation-id"]);
  });

  it("passes statuses and headers back, without hop-by-hop ones, and prefixes the upstream path", async () => {
    const { srv, agent } = await start({ upstream: `${upstream.url}/status` });
    const res = await call(agent, `${srv.url}/204`);
    expect(res.status).toBe(204);
    expect(res.headers["x-app"]).toBe("yes");
    expect(res.headers["x-app-hop"]).toBeUndefined();
    expect(upstream.received.at(-1)!.url).toBe("/status/204");
    await waitFor(() => srv.metrics.requests.get({ status: "204" }) === 1, 2000, "the 204 to be counted");
  });

  it("streams large bodies both ways and keeps HEAD answers bodiless", async () => {
    const { srv, agent } = await start({ limits: { maxBodyBytes: 2_000_000 } });
    const big = await call(agent, `${srv.url}/big`);
    expect(big.status).toBe(200);
    expect(big.body.length).toBe(300_000);
    const payload = "y".repeat(500_000);
    const echoed = await call(agent, `${srv.url}/echo`, { method: "POST", body: payload });
    expect(echoed.body).toBe(payload);
    const head = await call(agent, `${srv.url}/big`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
  });

  it("refuses a verified certificate whose CN is not on the allow-list, and accepts one that is", async () => {
    const { srv, log } = await start({ allow: { commonNames: ["thales-notifier-2"] } });
    const denied = clientAgent(pki, pki.client);
    agents.push(denied);
    await expect(call(denied, `${srv.url}/x`)).rejects.toThrow();
    expect(srv.metrics.handshakes.get({ result: "identity_not_allowed" })).toBe(1);
    expect(log.lines.find((l) => l.reason === "identity_not_allowed")).toMatchObject({ subject: "CN=thales-notifier-1,O=Thales DIS,C=FR", issuer: "CN=Thales Client CA" });
    const allowed = clientAgent(pki, await pki.thales.issue({ subject: "/O=Thales DIS/CN=thales-notifier-2" }));
    agents.push(allowed);
    expect((await call(allowed, `${srv.url}/x`)).status).toBe(200);
    // The allow-list never replaces CA verification: the right CN from another CA is refused.
    const impostor = clientAgent(pki, await pki.other.issue({ subject: "/O=Thales DIS/CN=thales-notifier-2" }));
    agents.push(impostor);
    await expect(call(impostor, `${srv.url}/x`)).rejects.toThrow();
    expect(srv.metrics.handshakes.get({ result: "unknown_ca" })).toBe(1);
  });
});

describe("upstream failures", () => {
  it("answers 503 at once when the upstream is down (Thales retries 503), logs and counts it", async () => {
    const down = await startUpstream();
    await down.stop();
    const { srv, log, agent } = await start({ upstream: down.url });
    const t0 = Date.now();
    const res = await call(agent, `${srv.url}/n`, { method: "POST", body: "{}", headers: { "x-correlation-id": "c-down" } });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: "UPSTREAM_UNAVAILABLE", correlationId: "c-down" } });
    expect(srv.metrics.upstreamErrors.get({ reason: "unreachable" })).toBe(1);
    expect(log.lines.find((l) => l.event === "upstream_error")).toMatchObject({ level: "warn", failure: "unreachable", status: 503, correlationId: "c-down", path: "/n" });
  });

  it("answers 503 when the upstream is slow, within the upstream timeout", async () => {
    const { srv, agent } = await start({ limits: { upstreamTimeoutMs: 300 } });
    const t0 = Date.now();
    const res = await call(agent, `${srv.url}/slow`);
    const ms = Date.now() - t0;
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body).error.code).toBe("UPSTREAM_TIMEOUT");
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(2000);
    expect(srv.metrics.upstreamErrors.get({ reason: "timeout" })).toBe(1);
  });

  it("answers 502 and 504 in gateway mode", async () => {
    const down = await startUpstream();
    await down.stop();
    const a = await start({ upstream: down.url, upstreamFailureStatus: "gateway" });
    expect((await call(a.agent, `${a.srv.url}/n`)).status).toBe(502);
    const b = await start({ upstreamFailureStatus: "gateway", limits: { upstreamTimeoutMs: 200 } });
    expect((await call(b.agent, `${b.srv.url}/slow`)).status).toBe(504);
    await waitFor(() => b.srv.metrics.requests.get({ status: "504" }) === 1, 2000, "the 504 to be counted");
  });
});

describe("admin listener", () => {
  it("serves /healthz, /readyz and /metrics on loopback, and is not ready once closing", async () => {
    const { srv, agent } = await start({ admin: { port: 0 }, profile: "d1-pp" });
    expect(srv.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await call(agent, `${srv.url}/m`);
    await waitFor(() => srv.metrics.requests.get({ status: "200" }) === 1, 2000, "the 200 to be counted");
    expect(await (await fetch(`${srv.adminUrl}/healthz`)).text()).toBe("ok\n");
    expect((await fetch(`${srv.adminUrl}/readyz`)).status).toBe(200);
    const metrics = await fetch(`${srv.adminUrl}/metrics`);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    expect(text).toContain('mtlskit_inbound_handshakes_total{result="ok"} 1');
    expect(text).toContain('mtlskit_inbound_requests_total{status="200"} 1');
    expect(text).toMatch(/mtlskit_inbound_upstream_duration_seconds_count 1/);
    expect(text).toContain(`mtlskit_certificate_not_after_seconds{profile="d1-pp",role="server",serial="${pki.server.info.serialNumber}",subject="CN=notify.customer.test"} ${Math.floor(pki.server.info.notAfter.getTime() / 1000)}`);
    expect(text).toMatch(/mtlskit_certificate_not_after_seconds\{profile="d1-pp",role="inbound-client-ca",[^}]*subject="CN=Thales Client CA"\}/);
    expect(text).toMatch(/mtlskit_certificate_not_after_seconds\{profile="d1-pp",role="server-chain",[^}]*subject="CN=Customer Server CA"\}/);
    expect((await fetch(`${srv.adminUrl}/nope`)).status).toBe(404);
    const closing = srv.close({ graceMs: 100 });
    expect(srv.notReady()).toContain("shutting down");
    await closing;
  });
});

describe("shutdown", () => {
  it("lets a request in progress finish, refuses new ones, and waits no longer than the grace time for a connection stuck before its handshake", async () => {
    const log = captureLogger();
    const srv = await createInboundServer({ credentials: pki.files, upstream: upstream.url, listen: { host: "127.0.0.1", port: 0 }, logger: log, reload: { watch: false } });
    const agent = clientAgent(pki, pki.client);
    agents.push(agent);
    const stuck = net.connect(srv.address.port, "127.0.0.1");
    stuck.on("error", () => undefined);
    await new Promise<void>((resolve) => stuck.once("connect", () => resolve()));
    const inFlight = call(agent, `${srv.url}/delay`);
    await waitFor(() => upstream.received.some((r) => r.url === "/delay"), 2000, "the request to reach the upstream");
    const t0 = Date.now();
    await srv.close({ graceMs: 1500 });
    expect(Date.now() - t0).toBeLessThan(4500);
    expect((await inFlight).status).toBe(200);
    expect(srv.notReady()).toContain("shutting down");
    stuck.destroy();
    await expect(call(clientAgent(pki, pki.client), `${srv.url}/after`)).rejects.toThrow();
    expect(log.lines.at(-1)).toMatchObject({ event: "closed" });
  });
});

describe("library misuse", () => {
  it("refuses to start without a client CA, and with a leaf where the CA should be (never pin the leaf)", async () => {
    const { caFile: _ca, ...noCa } = pki.files;
    await expect(createInboundServer({ credentials: noCa, upstream: upstream.url, listen: { port: 0 } })).rejects.toMatchObject({ code: "INBOUND_NOT_READY" });
    const leafFile = `${pki.dir}/assets/thales-leaf.pem`;
    await fs.writeFile(leafFile, pki.client.certPem);
    await expect(createInboundServer({ credentials: { ...pki.files, caFile: leafFile }, upstream: upstream.url, listen: { port: 0 } })).rejects.toMatchObject({
      code: "LEAF_AS_CA",
      message: expect.stringMatching(/pin a leaf/),
    });
  });

  it("says so when the port is taken", async () => {
    const { srv } = await start();
    await expect(createInboundServer({ credentials: pki.files, upstream: upstream.url, listen: { host: "127.0.0.1", port: srv.address.port }, logger: captureLogger(), reload: { watch: false } })).rejects.toMatchObject({
      code: "LISTEN_FAILED",
      message: expect.stringMatching(/in use/),
    });
  });
});
