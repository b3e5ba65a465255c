/**
 * TLS with keys in a SoftHSM2 token, end to end on loopback: the outbound dispatcher calls the
 * emulator's D1 API with its client key in the token and an OAuth assertion signed in the
 * token; the inbound server (`serve`) answers curl with its server key in the token. The keys
 * are generated in the token and no key file exists anywhere.
 */
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { promisify } from "node:util";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createThalesDispatcher } from "../src/client/index.js";
import { ReloadableCredentials } from "../src/credentials/index.js";
import { startApiServer } from "../src/emulator/api-server.js";
import { startDnsStandIn } from "../src/emulator/dns/dns-server.js";
import { emulatorHost } from "../src/emulator/hosts.js";
import { createCertificate, createTokenKey, OID, toPem, type TokenKey } from "../src/pki/index.js";
import { d1, getEnvironment } from "../src/policy/index.js";
import { createInboundServer } from "../src/server/index.js";
import { createTestPki } from "../src/testing/index.js";
import { tempDir, thalesServerPki } from "./outbound-fixtures.js";
import { haveSoftHsm, softHsm, type SoftHsm } from "./support/softhsm.js";
import { requireTool } from "./support/tools.js";

const run = promisify(execFile);

describe.skipIf(!haveSoftHsm())("TLS with keys in a SoftHSM2 token", () => {
  let hsm: SoftHsm;
  let dir: string;
  const opts = () => ({ module: hsm.module, pinFile: hsm.pinFile });
  const issue = (key: TokenKey, issuer: { privateKey: import("node:crypto").KeyObject; info: { subjectDer: Uint8Array } }, cn: string, usage: "client" | "server", dns?: string[]) =>
    toPem(
      "CERTIFICATE",
      createCertificate({
        subject: [[{ type: "CN", oid: "2.5.4.3", value: cn }]],
        publicKey: key.publicKey,
        signingKey: issuer.privateKey,
        issuer: { subjectDer: issuer.info.subjectDer },
        notAfter: new Date(Date.now() + 86_400_000),
        extensions: { basicConstraints: { ca: false }, keyUsage: ["digitalSignature"], extKeyUsage: [usage === "client" ? OID.clientAuth : OID.serverAuth], ...(dns ? { subjectAltNames: { dns } } : {}) },
      }),
    );

  beforeAll(async () => {
    hsm = softHsm("mtlskit-tls");
    dir = await tempDir("pkcs11-tls");
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("D1: calls the echo resource with the client key and the OAuth key in the token", async () => {
    const environment = getEnvironment(d1, "preprod");
    const host = emulatorHost(environment);
    const serverPki = await thalesServerPki(d1);
    const serverLeaf = await serverPki.issue({ cn: host, usage: "server", dns: [host], ip: [] });
    const business = await createTestPki({ rootCn: "Thales Business PKI Root", intermediateCn: "Thales Business PKI CA PPR" });
    const clientKey = createTokenKey("pkcs11:token=mtlskit-tls;object=d1-client", "ecdsa-p256", opts());
    const oauthKey = createTokenKey("pkcs11:token=mtlskit-tls;object=d1-oauth", "ecdsa-p256", opts());
    const certFile = path.join(dir, "client.crt");
    await fs.writeFile(certFile, issue(clientKey, business.intermediate, "TLSMA-ECDSA/123456/D1.PPR", "client") + business.intermediate.certPem);
    const caFile = path.join(dir, "thales-server-trust.pem");
    await fs.writeFile(caFile, serverPki.caBundlePem);
    clientKey.close();

    const api = await startApiServer({
      program: d1,
      environment,
      host: "127.0.0.1",
      port: 0,
      credential: { chainPem: serverLeaf.chainPem, keyPem: serverLeaf.keyPem },
      clientTrust: { kind: "ca", caPem: business.caBundlePem },
      oauthKey: (gw: string, kid: string) => (gw === "123456" && kid === "hsm-1" ? oauthKey.publicKey : undefined),
    });
    const dns = await startDnsStandIn({ records: [{ name: host, address: "127.0.0.1", ttlSeconds: 30 }] });
    const origin = `https://${host}:${api.port}`;
    const credentials = await ReloadableCredentials.load({ certFile, keyFile: clientKey.info.uri, caFile, pkcs11: opts() });
    expect(credentials.current().keyLocation).toMatch(/^key in token mtlskit-tls, object d1-client, ECDSA P-256, non-extractable$/);
    expect(credentials.current().keyPem).toBe("");
    const dispatcher = createThalesDispatcher({
      program: d1,
      credentials,
      dns: { servers: [dns.server] },
      oauth: { apiOrigin: origin, tokenUrl: `${origin}${new URL(environment.authzUrl!).pathname}/oauth2/token`, issuer: "123456", kid: "hsm-1", privateKey: oauthKey },
    });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await request(`${origin}/d1/v1/echo`, { dispatcher, headers: { "x-correlation-id": `hsm-${i}` } });
        const body = (await res.body.json()) as { identity: { subject: string }; correlationId: string; token?: { sub: string } };
        expect(res.statusCode).toBe(200);
        expect(body.identity.subject).toBe("CN=TLSMA-ECDSA/123456/D1.PPR");
        expect(body.token?.sub).toBe("123456");
        expect(body.correlationId).toBe(`hsm-${i}`);
      }
      expect(dispatcher.oauth?.requests).toBe(1);
    } finally {
      oauthKey.close();
      await dispatcher.destroy();
      await api.close();
      await dns.close();
    }
  });

  it("serve: answers curl with the server key in the token, requiring the Thales Client CA", async () => {
    if (!requireTool("curl")) return;
    const clientPki = await createTestPki({ rootCn: "Thales Client CA (test)", intermediateCn: "Thales Client Issuing CA (test)" });
    const serverKey = createTokenKey("pkcs11:token=mtlskit-tls;object=endpoint", "ecdsa-p256", opts());
    const serverCa = await createTestPki({ rootCn: "Customer Root", intermediateCn: "Customer Issuing CA" });
    const certFile = path.join(dir, "server.crt");
    await fs.writeFile(certFile, issue(serverKey, serverCa.intermediate, "notify.example.test", "server", ["notify.example.test"]) + serverCa.intermediate.certPem);
    serverKey.close();
    const caFile = path.join(dir, "thales-client-ca.pem");
    await fs.writeFile(caFile, clientPki.caBundlePem);
    const thales = await clientPki.issue({ cn: "thales-notifier" });
    await fs.writeFile(path.join(dir, "thales.crt"), thales.chainPem);
    await fs.writeFile(path.join(dir, "thales.key"), thales.keyPem, { mode: 0o600 });
    await fs.writeFile(path.join(dir, "server-ca.pem"), serverCa.caBundlePem);

    const seen: string[] = [];
    const upstream: Server = createServer((req, res) => {
      seen.push(String(req.headers["x-client-cert-subject"] ?? req.headers["x-client-cert-cn"] ?? ""));
      res.end("ok");
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const srv = await createInboundServer({
      credentials: { certFile, keyFile: "pkcs11:token=mtlskit-tls;object=endpoint", caFile, pkcs11: opts() },
      upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      listen: { host: "127.0.0.1", port: 0 },
      reload: { watch: false },
    });
    try {
      const port = srv.address.port;
      const base = ["-s", "--resolve", `notify.example.test:${port}:127.0.0.1`, "--cacert", path.join(dir, "server-ca.pem")];
      const ok = await run("curl", [...base, "--cert", path.join(dir, "thales.crt"), "--key", path.join(dir, "thales.key"), "-w", " %{http_code}", `https://notify.example.test:${port}/notify`]);
      expect(ok.stdout).toBe("ok 200");
      expect(seen.length).toBe(1);
      const refused = await run("curl", [...base, "-o", "/dev/null", "-w", "%{http_code}", `https://notify.example.test:${port}/notify`]).catch((e: { stdout: string }) => e);
      expect(refused.stdout).not.toBe("200");
      expect(seen.length).toBe(1);
      // A reload with the key still in the token keeps serving.
      const r = await srv.reload();
      expect(r.ok).toBe(true);
    } finally {
      await srv.close();
      upstream.close();
    }
    const files = await fs.readdir(dir);
    expect(files.filter((f) => /server.*\.key$/.test(f))).toEqual([]);
  });
});
