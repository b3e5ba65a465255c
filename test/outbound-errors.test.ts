/**
 * Each failure of a call to Thales ends in an MtlsError whose code names the layer, produced
 * here by a real misconfiguration against real sockets.
 */
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReloadableCredentials } from "../src/credentials/index.js";
import { isMtlsError, type ErrorCode } from "../src/errors/index.js";
import { createTestPki } from "../src/testing/index.js";
import { requireTool } from "./support/tools.js";
import { startOpensslServer, startPlainServer, startWorld, type World } from "./outbound-fixtures.js";
import { freePort } from "./support/net.js";

async function codeOf(p: Promise<unknown>): Promise<ErrorCode | string> {
  try {
    const r = (await p) as { statusCode?: number; body?: { dump(): Promise<void> } };
    await r.body?.dump();
    return `status ${r.statusCode ?? "?"}`;
  } catch (e) {
    if (isMtlsError(e)) return e.code;
    return `not an MtlsError: ${(e as Error).message}`;
  }
}

describe("MT: server side misconfigurations", () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld("mt");
  });
  afterAll(() => world.close());

  it("DNS: an unknown host is DNS_NOT_FOUND", async () => {
    const d = world.dispatcher({ retry: false });
    expect(await codeOf(request(`https://nowhere.thalescloud.test:${world.api.port}/`, { dispatcher: d }))).toBe("DNS_NOT_FOUND");
  });

  it("TCP: a port nothing listens on is TCP_CONNECTION_REFUSED (after the retries of a GET)", async () => {
    const port = await freePort();
    const retries: string[] = [];
    const d = world.dispatcher({ retry: { minDelayMs: 5, onRetry: (r) => retries.push(r.reason) } });
    expect(await codeOf(request(`https://${world.host}:${port}/`, { dispatcher: d }))).toBe("TCP_CONNECTION_REFUSED");
    expect(retries).toEqual(["ECONNREFUSED", "ECONNREFUSED"]);
  });

  it("TLS: a chain that does not verify against the Thales trust is TLS_SERVER_NOT_TRUSTED", async () => {
    const other = await createTestPki();
    const d = world.dispatcher({ serverTrustPem: other.caBundlePem });
    expect(await codeOf(request(`${world.origin}${world.basePath}echo`, { dispatcher: d }))).toBe("TLS_SERVER_NOT_TRUSTED");
  });

  it("TLS: a trusted chain without the DigiCert CA the MT rule requires is TLS_SERVER_WRONG_CA", async () => {
    const proxyPki = await createTestPki({ rootCn: "Corporate Proxy Root", intermediateCn: "Corporate Proxy Issuing CA" });
    const leaf = await proxyPki.issue({ usage: "server", dns: [world.host], ip: [] });
    const server = await startPlainServer({ server: leaf, clientCaPem: world.client.certPem });
    try {
      const d = world.dispatcher({ serverTrustPem: proxyPki.caBundlePem + world.serverPki.caBundlePem });
      expect(await codeOf(request(`https://${world.host}:${server.port}/`, { dispatcher: d }))).toBe("TLS_SERVER_WRONG_CA");
      expect(server.requests).toHaveLength(0);
    } finally {
      await server.close();
    }
  });

  it("TLS: a certificate for another name is TLS_HOSTNAME_MISMATCH", async () => {
    const leaf = await world.serverPki.issue({ usage: "server", dns: ["other.thalescloud.test"], ip: [] });
    const server = await startPlainServer({ server: leaf, clientCaPem: world.client.certPem });
    try {
      const d = world.dispatcher();
      expect(await codeOf(request(`https://${world.host}:${server.port}/`, { dispatcher: d }))).toBe("TLS_HOSTNAME_MISMATCH");
    } finally {
      await server.close();
    }
  });

  it.skipIf(!requireTool("openssl"))("TLS: a TLS 1.1-only server (openssl s_server -tls1_1) is TLS_PROTOCOL_VERSION", async () => {
    const leaf = await world.serverPki.issue({ usage: "server", dns: [world.host], ip: [] });
    const server = await startOpensslServer(world.dir, leaf, ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    try {
      const d = world.dispatcher();
      expect(await codeOf(request(`https://${world.host}:${server.port}/`, { dispatcher: d }))).toBe("TLS_PROTOCOL_VERSION");
    } finally {
      await server.close();
    }
  });

  it.skipIf(!requireTool("openssl"))("TLS: a TLS 1.2 server offering only CBC suites (openssl s_server -cipher) is TLS_NO_SHARED_CIPHER, not a refused client certificate", async () => {
    const leaf = await world.serverPki.issue({ usage: "server", dns: [world.host], ip: [] });
    // A server that asks for a client certificate, as Thales's do, but offers CBC suites only.
    const server = await startOpensslServer(world.dir, leaf, ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA256:AES128-SHA", "-Verify", "1", "-CAfile", world.files.caFile!]);
    try {
      const d = world.dispatcher({ retry: false });
      expect(await codeOf(request(`https://${world.host}:${server.port}/`, { dispatcher: d }))).toBe("TLS_NO_SHARED_CIPHER");
    } finally {
      await server.close();
    }
  });

  it("TLS: a self-signed certificate Thales has not endorsed is TLS_CLIENT_CERT_NOT_ENDORSED", async () => {
    const stranger = await world.serverPki.selfSigned({ cn: "MT-123456-SBX" });
    const dir = world.dir;
    const { promises: fs } = await import("node:fs");
    await fs.writeFile(`${dir}/stranger.crt`, stranger.certPem);
    await fs.writeFile(`${dir}/stranger.key`, stranger.keyPem);
    const credentials = await ReloadableCredentials.load({ certFile: `${dir}/stranger.crt`, keyFile: `${dir}/stranger.key`, caFile: world.files.caFile! });
    const d = world.dispatcher({ credentials });
    // POST: never retried, the refusal comes through at once.
    expect(await codeOf(request(`${world.origin}${world.basePath}echo`, { dispatcher: d, method: "POST", body: "{}" }))).toBe("TLS_CLIENT_CERT_NOT_ENDORSED");
    expect(world.handshakes.at(-1)).toMatchObject({ result: "refused", code: "NOT_ENDORSED" });
  });
});

describe("D1: client certificate refusals", () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld("d1");
  });
  afterAll(() => world.close());

  async function withClient(make: () => Promise<import("../src/testing/index.js").TestCertificate>): Promise<ErrorCode | string> {
    const c = await make();
    const { promises: fs } = await import("node:fs");
    const stamp = Math.random().toString(36).slice(2);
    await fs.writeFile(`${world.dir}/${stamp}.crt`, c.chainPem);
    await fs.writeFile(`${world.dir}/${stamp}.key`, c.keyPem);
    const credentials = await ReloadableCredentials.load({ certFile: `${world.dir}/${stamp}.crt`, keyFile: `${world.dir}/${stamp}.key`, caFile: world.files.caFile! }, { requireCurrentLeaf: false });
    const d = world.dispatcher({ credentials, retry: false });
    return codeOf(request(`${world.origin}${world.basePath}echo`, { dispatcher: d, headers: { authorization: "Bearer x" } }));
  }

  it("a certificate from another CA is TLS_CLIENT_CERT_UNKNOWN_CA", async () => {
    const other = await createTestPki({ rootCn: "Thales Business PKI Root", intermediateCn: "Thales Business PKI CA PPR" });
    expect(await withClient(() => other.issue({ cn: "TLSMA-ECDSA/123456/D1.PPR" }))).toBe("TLS_CLIENT_CERT_UNKNOWN_CA");
  });

  it("an expired certificate is TLS_CLIENT_CERT_EXPIRED", async () => {
    expect(await withClient(() => world.businessPki!.expired({ cn: "TLSMA-ECDSA/123456/D1.PPR" }))).toBe("TLS_CLIENT_CERT_EXPIRED");
  });

  it("a certificate of the production environment is TLS_CLIENT_CERT_WRONG_ENVIRONMENT", async () => {
    expect(await withClient(() => world.businessPki!.issue({ cn: "TLSMA-ECDSA/123456/D1.PRD" }))).toBe("TLS_CLIENT_CERT_WRONG_ENVIRONMENT");
  });
});
