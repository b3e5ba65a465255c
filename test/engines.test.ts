/**
 * The nginx and HAProxy engines, real binaries: the exported folders started by the test itself
 * and the supervisor of `serve --engine`, each checked for the same policy as the node engine
 * (client certificate required and verified against the Thales Client CA, TLS 1.2/1.3 only,
 * identity headers never spoofable), plus graceful reloads and determinism of the generation.
 */
import { createHash } from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import * as tls from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import { engineFolderFiles, engineModel, readMaterial, superviseEngine, validateEngineFolder, writeEngineFolder, findEngineBinary, type EngineName } from "../src/engines/index.js";
import { MtlsError } from "../src/errors/index.js";
import { call, captureLogger, clientAgent, createInboundPki, runTool, startUpstream, tempDir, waitFor, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";
import { requireTool } from "./support/tools.js";
import { freePort } from "./support/net.js";

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

const SPOOFED: Record<string, string> = {
  "x-client-cert-subject": "CN=evil",
  "X-Client-Cert-Sha256": "AA:BB",
  "x-client-cert": "evil",
  "client-cert": ":ZXZpbA==:",
  "x-forwarded-for": "6.6.6.6",
  "x-correlation-id": "evil id; not the Thales rule",
  "x-ssl-client-verify": "SUCCESS",
  "x_client_cert_subject": "CN=evil-underscore",
  "x-client-cert-anything": "evil-prefix",
};

/** Every header the application received: none carries a client-supplied value. */
function expectNoSpoof(engine: EngineName, headers: Record<string, unknown>): void {
  // nginx cannot remove header names it does not know in advance: an x-client-cert-<other> name
  // outside the contract passes (documented in the README's header table); every header of the
  // contract and every underscore spelling is removed.
  const { ["x-client-cert-anything"]: other, ...rest } = headers;
  if (engine === "haproxy") expect(other).toBeUndefined();
  const text = JSON.stringify(rest);
  expect(text).not.toMatch(/evil|6\.6\.6\.6|AA:BB/);
  expect(Object.keys(headers).some((k) => k.includes("_"))).toBe(false);
}

/** The server certificate's subject CN seen by a new TLS connection. */
function serverCn(port: number, pki: InboundPki, client = pki.client): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, servername: "notify.customer.test", ca: pki.serverPki.root.certPem, cert: client.chainPem, key: client.keyPem, rejectUnauthorized: false }, () => {
      const cn = String(s.getPeerCertificate().subject?.CN ?? "");
      s.end();
      resolve(cn);
    });
    s.on("error", reject);
  });
}

/** Refused: the TLS handshake fails, or the engine answers 400/403 itself; the application sees nothing. */
async function expectRefused(port: number, pki: InboundPki, client: Parameters<typeof clientAgent>[1], upstream: TestUpstream): Promise<void> {
  const before = upstream.received.length;
  const agent = clientAgent(pki, client);
  try {
    const r = await call(agent, `https://127.0.0.1:${port}/notify`, { method: "POST", body: "{}" }).catch((e: Error) => ({ status: 0, body: e.message, headers: {} }));
    expect([0, 400, 403, 495, 496]).toContain(r.status);
  } finally {
    await agent.close();
  }
  expect(upstream.received.length).toBe(before);
}

async function checkPolicy(engine: EngineName, port: number, pki: InboundPki, upstream: TestUpstream): Promise<void> {
  // A Thales client certificate: forwarded, with the identity from the verified connection.
  const agent = clientAgent(pki, pki.client);
  const r = await call(agent, `https://127.0.0.1:${port}/notify?x=1`, { method: "POST", headers: { "content-type": "application/json", ...SPOOFED }, body: '{"event":"x"}' });
  await agent.close();
  expect(r.status).toBe(200);
  const got = upstream.received.at(-1)!;
  expect(got.url).toBe("/notify?x=1");
  expect(got.body).toBe('{"event":"x"}');
  expect(got.headers["x-client-cert-subject"]).toBe("CN=thales-notifier-1,O=Thales DIS,C=FR");
  expect(got.headers["x-client-cert-serial"]).toMatch(/^[0-9A-F]+$/);
  expect(got.headers["x-forwarded-proto"]).toBe("https");
  expect(got.headers["x-forwarded-for"]).toBe("127.0.0.1");
  expect(String(got.headers["x-correlation-id"] ?? "")).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  // A correlation id that follows the Thales rule (Thales's own) reaches the application as sent.
  const agent2 = clientAgent(pki, pki.client);
  const kept = await call(agent2, `https://127.0.0.1:${port}/notify`, { method: "POST", headers: { "content-type": "application/json", "x-correlation-id": "thales-Cid_0042" }, body: "{}" });
  await agent2.close();
  expect(kept.status).toBe(200);
  expect(upstream.received.at(-1)!.headers["x-correlation-id"]).toBe("thales-Cid_0042");
  if (engine === "haproxy") {
    const sha = createHash("sha256").update(pki.client.der).digest("hex").toUpperCase().match(/../g)!.join(":");
    expect(got.headers["x-client-cert-sha256"]).toBe(sha);
    expect(got.headers["client-cert"]).toBe(`:${Buffer.from(pki.client.der).toString("base64")}:`);
  } else {
    expect(decodeURIComponent(String(got.headers["x-client-cert"]))).toContain("-----BEGIN CERTIFICATE-----");
  }
  expectNoSpoof(engine, got.headers);
  // No certificate, another CA's, an expired one: refused.
  await expectRefused(port, pki, undefined, upstream);
  await expectRefused(port, pki, await pki.other.issue({ cn: "intruder", usage: "client" }), upstream);
  await expectRefused(port, pki, await pki.thales.expired({ cn: "old-notifier", usage: "client" }), upstream);
  // TLS 1.1: no handshake.
  const old = await runTool("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], { timeoutMs: 10_000 });
  expect(old.stdout).toMatch(/no peer certificate available/);
  expect(old.stdout).not.toMatch(/Cipher is (?!\(NONE\))/);
}

async function sslscanOnly12and13(port: number, pki: InboundPki): Promise<void> {
  const client = await pki.writeClient("scan", pki.client);
  const scan = await runTool("sslscan", ["--no-colour", `--certs=${client.cert}`, `--pk=${client.key}`, `127.0.0.1:${port}`], { timeoutMs: 60_000 });
  expect(scan.code).toBe(0);
  for (const old of ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"]) expect(scan.stdout).toMatch(new RegExp(`^${old.replace(".", "\\.")}\\s+disabled`, "m"));
  expect(scan.stdout).toMatch(/^TLSv1\.3\s+enabled/m);
  expect(scan.stdout).not.toMatch(/Compression enabled/);
  for (const line of scan.stdout.split("\n").filter((l) => /^(Preferred|Accepted)\s/.test(l))) {
    const [, protocol, , , name] = line.trim().split(/\s+/);
    if (protocol === "TLSv1.3") continue;
    expect(protocol).toBe("TLSv1.2");
    expect(name).toMatch(/^ECDHE-(ECDSA|RSA)-.*(GCM|CHACHA20-POLY1305)/);
  }
}

async function setup(): Promise<{ pki: InboundPki; upstream: TestUpstream }> {
  const pki = await createInboundPki();
  const upstream = await startUpstream();
  cleanup.push(() => upstream.stop(), () => fs.rm(pki.dir, { recursive: true, force: true }));
  return { pki, upstream };
}

describe("generation", () => {
  it("is deterministic: same input, same bytes; keys 0600", async () => {
    const pki = await createInboundPki();
    cleanup.push(() => fs.rm(pki.dir, { recursive: true, force: true }));
    const mat = await readMaterial(pki.files);
    for (const engine of ["nginx", "haproxy"] as const) {
      const m = () => engineModel({ profile: "d1-pp", dir: "/srv/x", listen: { port: 8443 }, upstream: "http://127.0.0.1:8080", allow: { commonNames: ["b", "a"] } });
      const a = engineFolderFiles(engine, m(), mat);
      const b = engineFolderFiles(engine, m(), mat);
      expect(JSON.stringify(a)).toBe(JSON.stringify(b));
      const keyFiles = Object.entries(a).filter(([, f]) => f.data.includes("PRIVATE KEY"));
      expect(keyFiles.length).toBe(1);
      for (const [, f] of keyFiles) expect(f.mode).toBe(0o600);
    }
    const conf = engineFolderFiles("nginx", engineModel({ profile: "d1-pp", dir: "/srv/x", listen: { port: 8443 }, upstream: "http://127.0.0.1:8080" }), mat);
    expect(Object.keys(conf)).toContain("conf.d/thales-d1-pp.conf");
    expect(conf["conf.d/thales-d1-pp.conf"]!.data).toContain("ssl_protocols TLSv1.2 TLSv1.3;");
    expect(conf["conf.d/thales-d1-pp.conf"]!.data).toMatch(/ssl_verify_client on;[\s\S]*# /);
  });

  it("refuses to overwrite an export without --force", async () => {
    const dir = await tempDir("mtlskit-engine-");
    cleanup.push(() => fs.rm(dir, { recursive: true, force: true }));
    const files = { "haproxy.cfg": { data: "x\n", mode: 0o644 } };
    await writeEngineFolder(dir, "haproxy", files);
    await expect(writeEngineFolder(dir, "haproxy", files)).rejects.toMatchObject({ code: "EXPORT_TARGET_EXISTS" });
    await writeEngineFolder(dir, "haproxy", files, { force: true });
  });

  it("ENGINE_NOT_FOUND names the Debian package", async () => {
    const e = await findEngineBinary("nginx", "/nonexistent/nginx").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MtlsError);
    expect((e as MtlsError).code).toBe("ENGINE_NOT_FOUND");
    expect(JSON.stringify(e) + (e as MtlsError).hint).toMatch(/nginx-light/);
  });
});

for (const engine of ["nginx", "haproxy"] as const) {
  describe.skipIf(!requireTool(engine))(`${engine}: exported folder started by the test`, () => {
    it("enforces the policy and the identity contract", async () => {
      const { pki, upstream } = await setup();
      const dir = await tempDir(`mtlskit-export-${engine}-`);
      cleanup.push(() => fs.rm(dir, { recursive: true, force: true }));
      const port = await freePort();
      const m = engineModel({ profile: "d1-pp", dir, listen: { host: "127.0.0.1", port }, upstream: upstream.url });
      await writeEngineFolder(dir, engine, engineFolderFiles(engine, m, await readMaterial(pki.files)));
      expect((await fs.stat(path.join(dir, engine === "nginx" ? "certs/server.key" : "certs/server-bundle.pem"))).mode & 0o777).toBe(0o600);
      const bin = await findEngineBinary(engine);
      await validateEngineFolder(engine, bin, dir);
      const args = engine === "nginx" ? ["-p", dir, "-c", path.join(dir, "nginx.conf"), "-g", "daemon off;"] : ["-db", "-f", path.join(dir, "haproxy.cfg")];
      const child: ChildProcess = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      child.stderr?.on("data", (c: Buffer) => (err += c.toString()));
      cleanup.push(async () => {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      });
      await waitFor(() => new Promise<boolean>((r) => net.connect(port, "127.0.0.1").once("connect", function (this: net.Socket) { this.destroy(); r(true); }).once("error", () => r(false))), 10_000, `${engine} listening (${err})`);
      await checkPolicy(engine, port, pki, upstream);
      if (requireTool("sslscan")) await sslscanOnly12and13(port, pki);
    });
  });

  describe.skipIf(!requireTool(engine))(`${engine}: supervised (serve --engine ${engine})`, () => {
    it("serves, reloads a new server certificate gracefully, keeps the old set when the new one is broken", async () => {
      const { pki, upstream } = await setup();
      const runDir = await tempDir(`mtlskit-run-${engine}-`);
      cleanup.push(() => fs.rm(runDir, { recursive: true, force: true }));
      const port = await freePort();
      const logger = captureLogger();
      const sup = await superviseEngine({
        engine,
        profile: "d1-pp",
        runDir,
        credentials: pki.files,
        model: { listen: { host: "127.0.0.1", port }, upstream: upstream.url },
        admin: { host: "127.0.0.1", port: 0 },
        reload: { watch: false },
        logger,
      });
      cleanup.push(() => sup.stop(2000));
      await checkPolicy(engine, port, pki, upstream);

      // Admin endpoints.
      const health = await fetch(`${sup.adminUrl}/healthz`);
      expect(health.status).toBe(200);
      expect((await fetch(`${sup.adminUrl}/readyz`)).status).toBe(200);
      const metrics = await (await fetch(`${sup.adminUrl}/metrics`)).text();
      expect(metrics).toContain(`mtlskit_engine_up{engine="${engine}"} 1`);
      expect(metrics).toMatch(new RegExp(`engine="${engine}"`));

      // A stream of notifications while the server certificate is replaced: none lost.
      expect(await serverCn(port, pki)).toBe("notify.customer.test");
      const agent = clientAgent(pki, pki.client);
      let stop = false;
      const statuses: number[] = [];
      // A graceful nginx reload closes the connections that are idle in keep-alive at that moment
      // (nginx has no "answer one more request" option like HAProxy's idle-close-on-response): a
      // POST written on such a connection as it closes meets "other side closed" before any answer.
      // That is legitimate HTTP/1.1 (RFC 9112 section 9.3.1); Thales's notifier retries connection
      // errors, and so does this client, once, on a new connection. Nothing is lost or doubled:
      // every request reaches the application exactly once.
      let retried = 0;
      const post = async (i: number): Promise<number> => {
        try {
          return (await call(agent, `https://127.0.0.1:${port}/n/${i}`, { method: "POST", body: "{}" })).status;
        } catch (e) {
          if ((e as { code?: string }).code !== "UND_ERR_SOCKET") throw e;
          retried++;
          return (await call(agent, `https://127.0.0.1:${port}/n/${i}`, { method: "POST", body: "{}" })).status;
        }
      };
      const stream = (async () => {
        for (let i = 0; i < 400 && !stop; i++) statuses.push(await post(i));
      })();
      const next = await pki.serverPki.issue({ cn: "notify2.customer.test", usage: "server", keyType: "ecdsa-p256", dns: ["notify.customer.test"], ip: ["127.0.0.1"] });
      await fs.writeFile(pki.files.certFile, next.certPem);
      await fs.writeFile(pki.files.keyFile, next.keyPem);
      expect(await sup.reload("signal")).toBe(true);
      await waitFor(async () => (await serverCn(port, pki)) === "notify2.customer.test", 10_000, "new certificate served");
      stop = true;
      await stream;
      await agent.close();
      expect(statuses.length).toBeGreaterThan(0);
      expect(statuses.every((s) => s === 200)).toBe(true);
      const arrived = upstream.received.map((r) => r.url).filter((u) => u.startsWith("/n/"));
      expect(arrived).toEqual(statuses.map((_, i) => `/n/${i}`));
      expect(retried).toBeLessThanOrEqual(engine === "nginx" ? 2 : 0);

      // A broken new certificate: refused with the engine's reason, the current set keeps serving.
      await fs.writeFile(pki.files.certFile, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
      expect(await sup.reload("signal")).toBe(false);
      expect(logger.lines.some((l) => l["event"] === "reload_refused" && l["code"] === "ENGINE_CONFIG_INVALID")).toBe(true);
      expect(await serverCn(port, pki)).toBe("notify2.customer.test");
      const a2 = clientAgent(pki, pki.client);
      expect((await call(a2, `https://127.0.0.1:${port}/after`)).status).toBe(200);
      await a2.close();
      expect(logger.text()).not.toContain("PRIVATE KEY");
    });
  });
}
