/**
 * The doctor (`mtlskit check`): all green on a good profile; each known failure, produced by a
 * real misconfiguration against real sockets, ends in its named diagnosis at the right step.
 */
import { promises as fs } from "node:fs";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { doctorSteps, runDoctor, type DoctorReport, type DoctorStepEvent, type DoctorStepId } from "../src/client/index.js";
import { openProfile } from "../src/store/index.js";
import { createTestPki, type TestCertificate } from "../src/testing/index.js";
import { requireTool } from "./support/tools.js";
import { startOpensslServer, startPlainServer, startWorld, worldWorkspace, type World } from "./outbound-fixtures.js";
import { freePort } from "./support/net.js";

/** Test certificates live for hours: judge them with no renewal window. */
const opts = { renewalWindow: { days: 0 }, timeoutMs: 3000 };

function step(r: DoctorReport, id: DoctorStepId) {
  const s = r.steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id} in ${r.steps.map((x) => x.id).join(", ")}`);
  return s;
}

/** The events onStep must have heard for a report: running then the end of each step that ran, one skip for a skipped one. */
type Heard = Pick<DoctorStepEvent, "id" | "status" | "detail" | "code">;
function expectedEvents(r: DoctorReport): Heard[] {
  return r.steps.flatMap((s): Heard[] =>
    s.status === "skip"
      ? [{ id: s.id, status: "skip" as const, detail: s.summary }]
      : [
          { id: s.id, status: "running" as const },
          { id: s.id, status: s.status === "pass" ? ("ok" as const) : ("fail" as const), detail: s.summary, ...(s.diagnosis ? { code: s.diagnosis.code } : {}) },
        ],
  );
}

function failedAt(r: DoctorReport): Array<[DoctorStepId, string]> {
  return r.steps.filter((s) => s.status === "fail").map((s) => [s.id, s.diagnosis!.code]);
}

describe("MT profile", () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld("mt");
  });
  afterAll(() => world.close());

  it("all green: every step passes with its timing and what it saw", async () => {
    const { profile } = await worldWorkspace(world);
    const r = await runDoctor(profile, opts);
    expect(failedAt(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.steps.map((s) => s.id)).toEqual(["config", "certificate", "dns", "tcp", "tls", "client-certificate", "http"]);
    for (const s of r.steps) expect(s.ms).toBeGreaterThanOrEqual(0);
    expect(step(r, "dns").details).toMatchObject({ addresses: [{ address: "127.0.0.1", family: 4, ttlSeconds: 30 }] });
    expect(step(r, "tls").details).toMatchObject({
      protocol: "TLSv1.3",
      rule: { satisfied: true },
      hostname: { name: world.host, matches: true },
      trust: { verified: true },
    });
    const chain = step(r, "tls").details.chain as Array<{ subject: string }>;
    expect(chain.map((c) => c.subject)).toEqual([`CN=${world.host}`, "CN=DigiCert SHA2 High Assurance Server CA", "CN=DigiCert High Assurance EV Root CA (test)"]);
    expect(step(r, "client-certificate").summary).toContain("CN=MT-123456-SBX");
    expect(step(r, "http").details).toMatchObject({ status: 200 });
  });

  it("onStep hears every step in order as it starts and ends, and the report is the same", async () => {
    const { profile } = await worldWorkspace(world);
    const green: DoctorStepEvent[] = [];
    const r = await runDoctor(profile, { ...opts, onStep: (e) => green.push(e) });
    expect(r.ok).toBe(true);
    expect(green.map(({ id, status, detail, code }) => ({ id, status, ...(detail !== undefined ? { detail } : {}), ...(code ? { code } : {}) }))).toEqual(expectedEvents(r));
    expect(green.filter((e) => e.status === "running").map((e) => e.id)).toEqual(doctorSteps(profile).map((s) => s.id));
    expect(green.map((e) => e.title)).toEqual(r.steps.flatMap((s) => [s.title, s.title]));
    for (const e of green.filter((x) => x.status === "ok")) expect(e.ms).toBeGreaterThanOrEqual(0);

    // A failure and the skips after it; a listener that throws changes nothing.
    await fs.writeFile(profile.paths.assets.serverTrust, (await createTestPki()).caBundlePem);
    const red: DoctorStepEvent[] = [];
    const r2 = await runDoctor(profile, {
      ...opts,
      onStep: (e) => {
        red.push(e);
        throw new Error("a broken listener");
      },
    });
    expect(failedAt(r2)).toEqual([["tls", "TLS_SERVER_NOT_TRUSTED"]]);
    expect(red.map(({ id, status, detail, code }) => ({ id, status, ...(detail !== undefined ? { detail } : {}), ...(code ? { code } : {}) }))).toEqual(expectedEvents(r2));
    expect(red.slice(-4).map((e) => [e.id, e.status])).toEqual([["tls", "running"], ["tls", "fail"], ["client-certificate", "skip"], ["http", "skip"]]);
  });

  it("server chain not trusted (the trust of another PKI)", async () => {
    const { profile } = await worldWorkspace(world);
    await fs.writeFile(profile.paths.assets.serverTrust, (await createTestPki()).caBundlePem);
    const r = await runDoctor(profile, opts);
    expect(failedAt(r)).toEqual([["tls", "TLS_SERVER_NOT_TRUSTED"]]);
    expect(step(r, "tls").diagnosis).toMatchObject({ name: "server chain not trusted" });
    expect(step(r, "tls").summary).toContain("DigiCert SHA2 High Assurance Server CA");
    expect(step(r, "client-certificate").status).toBe("skip");
    expect(step(r, "http").status).toBe("skip");
  });

  it("wrong CA: a trusted chain without the DigiCert CA the MT rule names (a TLS-inspecting proxy)", async () => {
    const proxy = await createTestPki({ rootCn: "Corporate Proxy Root", intermediateCn: "Corporate Proxy Issuing CA" });
    const server = await startPlainServer({ server: await proxy.issue({ usage: "server", dns: [world.host], ip: [] }), clientCaPem: world.client.certPem });
    try {
      const { profile } = await worldWorkspace(world, { apiHost: `${world.host}:${server.port}` });
      await fs.appendFile(profile.paths.assets.serverTrust, proxy.caBundlePem);
      const r = await runDoctor(profile, opts);
      expect(failedAt(r)).toEqual([["tls", "TLS_SERVER_WRONG_CA"]]);
      expect(step(r, "tls").diagnosis!.message).toContain('"DigiCert SHA2 High Assurance Server CA"');
      expect(server.requests).toHaveLength(0);
    } finally {
      await server.close();
    }
  });

  it("host name mismatch", async () => {
    const server = await startPlainServer({ server: await world.serverPki.issue({ usage: "server", dns: ["other.thalescloud.test"], ip: [] }), clientCaPem: world.client.certPem });
    try {
      const { profile } = await worldWorkspace(world, { apiHost: `${world.host}:${server.port}` });
      const r = await runDoctor(profile, opts);
      expect(failedAt(r)).toEqual([["tls", "TLS_HOSTNAME_MISMATCH"]]);
      expect(step(r, "tls").summary).toContain("DNS:other.thalescloud.test");
    } finally {
      await server.close();
    }
  });

  it.skipIf(!requireTool("openssl"))("TLS version too low (openssl s_server -tls1_1)", async () => {
    const server = await startOpensslServer(world.dir, world.serverLeaf, ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    try {
      const { profile } = await worldWorkspace(world, { apiHost: `${world.host}:${server.port}` });
      const r = await runDoctor(profile, opts);
      expect(failedAt(r)).toEqual([["tls", "TLS_PROTOCOL_VERSION"]]);
      expect(step(r, "tls").summary).toContain("the server offers at most TLSv1.1");
      expect(step(r, "tls").diagnosis).toMatchObject({ name: "TLS version too low" });
    } finally {
      await server.close();
    }
  });

  it("client certificate refused: not endorsed", async () => {
    const { profile } = await worldWorkspace(world);
    const stranger = await world.serverPki.selfSigned({ cn: "MT-123456-SBX" });
    await fs.writeFile(profile.paths.client.cert, stranger.certPem);
    await fs.writeFile(profile.paths.client.key, stranger.keyPem);
    const r = await runDoctor(profile, opts);
    expect(failedAt(r)).toEqual([["client-certificate", "TLS_CLIENT_CERT_NOT_ENDORSED"]]);
    expect(step(r, "client-certificate").diagnosis!.fix).toContain(stranger.info.sha256Fingerprint);
  });

  it.skipIf(!requireTool("openssl"))("client certificate refused during a TLS 1.2 handshake (openssl s_server -tls1_2 -Verify 1 -verify_return_error)", async () => {
    const other = await createTestPki();
    const caFile = `${world.dir}/other-ca.pem`;
    await fs.writeFile(caFile, other.caBundlePem);
    const server = await startOpensslServer(world.dir, world.serverLeaf, ["-tls1_2", "-Verify", "1", "-verify_return_error", "-CAfile", caFile]);
    try {
      const { profile } = await worldWorkspace(world, { apiHost: `${world.host}:${server.port}` });
      const r = await runDoctor(profile, opts);
      expect(failedAt(r)).toEqual([["client-certificate", "TLS_CLIENT_CERT_NOT_ENDORSED"]]);
      expect(step(r, "tls").status).toBe("pass");
      expect(step(r, "client-certificate").details).toMatchObject({ during: "handshake" });
    } finally {
      await server.close();
    }
  });

  it("key does not match the certificate", async () => {
    const { profile } = await worldWorkspace(world);
    await fs.writeFile(profile.paths.client.key, (await world.serverPki.selfSigned({ cn: "x" })).keyPem);
    const r = await runDoctor(profile, opts);
    expect(failedAt(r)[0]).toEqual(["certificate", "KEY_MISMATCH"]);
    expect(step(r, "certificate").diagnosis).toMatchObject({ name: "key does not match certificate" });
    expect(step(r, "client-certificate").status).toBe("skip");
  });

  it("DNS failure: a host the resolver does not know, and a resolver that does not answer", async () => {
    const a = await worldWorkspace(world, { apiHost: `missing.thalescloud.test:${world.api.port}` });
    const r1 = await runDoctor(a.profile, opts);
    expect(failedAt(r1)).toEqual([["dns", "DNS_NOT_FOUND"]]);
    expect(r1.steps.filter((s) => s.status === "skip").map((s) => s.id)).toEqual(["tcp", "tls", "client-certificate", "http"]);
    const deadPort = await freePort();
    const b = await worldWorkspace(world, { dnsServers: [`127.0.0.1:${deadPort}`] });
    const r2 = await runDoctor(b.profile, { ...opts, timeoutMs: 1000 });
    expect(failedAt(r2)).toEqual([["dns", "DNS_FAILED"]]);
  });

  it("connection refused, and connection timed out", async () => {
    const a = await worldWorkspace(world, { apiHost: `${world.host}:${await freePort()}` });
    expect(failedAt(await runDoctor(a.profile, opts))).toEqual([["tcp", "TCP_CONNECTION_REFUSED"]]);
    // A listener that accepts TCP and never speaks.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    try {
      const b = await worldWorkspace(world, { apiHost: `${world.host}:${(silent.address() as net.AddressInfo).port}` });
      const r = await runDoctor(b.profile, { ...opts, timeoutMs: 500 });
      expect(failedAt(r)).toEqual([["tls", "TCP_CONNECT_TIMEOUT"]]);
      expect(step(r, "tls").diagnosis).toMatchObject({ name: "connection timed out" });
    } finally {
      silent.close();
    }
  });
});

describe("D1 profile", () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld("d1");
  });
  afterAll(() => world.close());

  async function withClient(c: TestCertificate) {
    const ws = await worldWorkspace(world);
    await fs.writeFile(ws.profile.paths.client.cert, c.certPem);
    await fs.writeFile(ws.profile.paths.client.chain, c.chainPem.slice(c.certPem.length));
    await fs.writeFile(ws.profile.paths.client.key, c.keyPem);
    return runDoctor(ws.profile, opts);
  }

  it("all green, a token included", async () => {
    const { profile } = await worldWorkspace(world);
    const r = await runDoctor(profile, opts);
    expect(failedAt(r)).toEqual([]);
    expect(r.steps.map((s) => s.id)).toEqual(["config", "certificate", "dns", "tcp", "tls", "client-certificate", "http", "token"]);
    expect(doctorSteps(profile).map((s) => s.id)).toEqual(r.steps.map((s) => s.id));
    expect(step(r, "tls").details).toMatchObject({ rule: { satisfied: true } });
    expect(step(r, "token").details).toMatchObject({ tokenType: "Bearer", expiresIn: 900, kid: "key-1" });
    expect(JSON.stringify(r)).not.toMatch(/access_token|"value"/);
  });

  it("client certificate refused: wrong CA", async () => {
    const other = await createTestPki({ rootCn: "Thales Business PKI Root", intermediateCn: "Thales Business PKI CA PPR" });
    const r = await withClient(await other.issue({ cn: "TLSMA-ECDSA/123456/D1.PPR" }));
    expect(failedAt(r)).toEqual([["client-certificate", "TLS_CLIENT_CERT_UNKNOWN_CA"]]);
    expect(step(r, "client-certificate").diagnosis).toMatchObject({ name: "client certificate refused: wrong CA" });
  });

  it("client certificate refused: expired (seen locally and by the server)", async () => {
    const r = await withClient(await world.businessPki!.expired({ cn: "TLSMA-ECDSA/123456/D1.PPR" }));
    expect(failedAt(r)).toEqual([
      ["certificate", "CERTIFICATE_NOT_CURRENT"],
      ["client-certificate", "TLS_CLIENT_CERT_EXPIRED"],
    ]);
  });

  it("client certificate refused: wrong environment (a D1.PRD certificate on preprod)", async () => {
    const r = await withClient(await world.businessPki!.issue({ cn: "TLSMA-ECDSA/123456/D1.PRD" }));
    expect(failedAt(r)).toEqual([
      ["certificate", "ENVIRONMENT_MISMATCH"],
      ["client-certificate", "TLS_CLIENT_CERT_WRONG_ENVIRONMENT"],
    ]);
  });

  it("token refused: unknown kid", async () => {
    const { profile } = await worldWorkspace(world, { kid: "not-registered" });
    const r = await runDoctor(profile, opts);
    expect(failedAt(r)).toEqual([["token", "OAUTH_UNKNOWN_KID"]]);
    expect(step(r, "token").diagnosis).toMatchObject({ name: "token refused: unknown kid" });
  });

  it("token refused: clock skew (this machine's clock 20 minutes late)", async () => {
    const { profile } = await worldWorkspace(world);
    const r = await runDoctor(profile, { ...opts, clock: () => Date.now() - 20 * 60_000 });
    expect(failedAt(r)).toEqual([["token", "OAUTH_CLOCK_SKEW"]]);
  });

  it("no OAuth key yet: config names it, the token step is skipped", async () => {
    const ws = await worldWorkspace(world, { withOAuthKey: false });
    const r = await runDoctor(await openProfile(ws.dir, ws.name), opts);
    expect(failedAt(r)).toEqual([["config", "OAUTH_KEY_MISSING"]]);
    expect(step(r, "token").status).toBe("skip");
  });
});
