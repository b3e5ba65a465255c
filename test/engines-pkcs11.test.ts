/**
 * nginx with the endpoint's private key in a PKCS#11 token (SoftHSM2 here), as a user sets it up
 * with the CLI: the key made in the token, the server certificate issued for it, `server-cert set
 * --key pkcs11:...`, `assets import` of the Thales Client CA. Then:
 * - `serve --engine nginx` references the key as `ssl_certificate_key engine:pkcs11:<uri>`
 *   (OpenSSL's pkcs11 engine); a real mutual-TLS request through nginx succeeds, so the
 *   handshake was signed in the token; no key file and no PIN in the configuration or the
 *   logs; the PIN file and the OpenSSL configuration are 0600; a reload keeps serving.
 * - `export nginx` writes the same, and the folder started by the test as printed
 *   (`OPENSSL_CONF=... nginx -p DIR -c DIR/nginx.conf`) serves the request too.
 * - `nginx -t` does not load an engine key, so mtlskit opens the key once before: a wrong PIN is
 *   PKCS11_PIN_INCORRECT before nginx starts (nothing written), and a certificate that is not for
 *   the token's key is KEY_MISMATCH.
 * - HAProxy cannot load a key from an engine or a URI: `serve --engine haproxy` and
 *   `export haproxy` exit 2 with ENGINE_KEY_UNSUPPORTED and write nothing.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./support/net.js";
import { checkTokenKey } from "../src/engines/files.js";
import { findEngineBinary } from "../src/engines/index.js";
import { createCertificate, createTokenKey, OID, toPem } from "../src/pki/index.js";
import { MTLSKIT_BIN, mtlskit } from "./support/cli.js";
import { createInboundPki, curl, startUpstream, waitFor, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";
import { haveSoftHsm, softHsm, type SoftHsm } from "./support/softhsm.js";
import { requireTool } from "./support/tools.js";

const TOKEN = "mtlskit-nginx";
const KEY_URI = `pkcs11:token=${TOKEN};object=endpoint`;
const PIN = "735919";

let hsm: SoftHsm;
let pki: InboundPki;
let upstream: TestUpstream;
let ws: string;
const children: ChildProcess[] = [];


const listening = (port: number) => new Promise<boolean>((res) => net.connect(port, "127.0.0.1").once("connect", function (this: net.Socket) { this.destroy(); res(true); }).once("error", () => res(false)));

async function stop(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once("exit", r));
  c.kill("SIGTERM");
  await gone;
}

/** Thales's client certificate through the endpoint: 200, and the application got it with the verified identity. */
async function mtlsRequest(port: number): Promise<void> {
  const client = await pki.writeClient("thales", pki.client);
  const seen = upstream.received.length;
  const r = await curl(port, pki, ["-o", "/dev/null", "-w", "%{http_code}", "--cert", client.cert, "--key", client.key, "-d", "{}"], "/notify");
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toBe("200");
  expect(upstream.received.length).toBe(seen + 1);
  expect(upstream.received.at(-1)!.headers["x-client-cert-subject"]).toBe("CN=thales-notifier-1,O=Thales DIS,C=FR");
}

async function expectNoPinIn(dir: string): Promise<void> {
  for (const f of ["nginx.conf", "conf.d/thales-mt-sbx.conf"]) expect(await fs.readFile(path.join(dir, f), "utf8")).not.toContain(PIN);
  {
    const text = await fs.readFile(path.join(dir, "conf.d/thales-mt-sbx.conf"), "utf8");
    const line = text.split("\n").find((l) => l.trim().startsWith("ssl_certificate_key"))!.trim();
    expect(line.startsWith(`ssl_certificate_key "engine:pkcs11:pkcs11:token=${TOKEN};object=endpoint;`)).toBe(true);
    expect(line.endsWith(`type=private?pin-source=file:${dir}/certs/pkcs11-pin$mtlskit_mt_sbx_token_key";`)).toBe(true);
  }
  expect((await fs.stat(path.join(dir, "certs/pkcs11-pin"))).mode & 0o777).toBe(0o600);
  expect((await fs.stat(path.join(dir, "openssl-pkcs11.cnf"))).mode & 0o777).toBe(0o600);
  expect(await fs.readFile(path.join(dir, "openssl-pkcs11.cnf"), "utf8")).not.toContain(PIN);
  await expect(fs.access(path.join(dir, "certs/server.key"))).rejects.toThrow();
}

const ready = haveSoftHsm() && requireTool("nginx");

beforeAll(async () => {
  if (!ready) return;
  hsm = softHsm(TOKEN, PIN);
  process.env.MTLSKIT_PKCS11_MODULE = hsm.module;
  process.env.MTLSKIT_PKCS11_PIN = PIN;
  pki = await createInboundPki();
  upstream = await startUpstream();
  ws = path.join(pki.dir, "ws");
  // The endpoint's key made in the token; its certificate issued by the customer's server CA.
  const key = createTokenKey(KEY_URI, "ecdsa-p256", { module: hsm.module, pinFile: hsm.pinFile });
  const ca = pki.serverPki.intermediate;
  const leaf = toPem(
    "CERTIFICATE",
    createCertificate({
      subject: [[{ type: "CN", oid: "2.5.4.3", value: "notify.customer.test" }]],
      publicKey: key.publicKey,
      signingKey: ca.privateKey,
      issuer: { subjectDer: ca.info.subjectDer },
      notAfter: new Date(Date.now() + 30 * 86_400_000),
      extensions: { basicConstraints: { ca: false }, keyUsage: ["digitalSignature"], extKeyUsage: [OID.serverAuth], subjectAltNames: { dns: ["notify.customer.test"] } },
    }),
  );
  key.close();
  const certFile = path.join(pki.dir, "token-server.crt");
  const chainFile = path.join(pki.dir, "token-server-chain.pem");
  await fs.writeFile(certFile, leaf);
  await fs.writeFile(chainFile, ca.certPem + pki.serverPki.root.certPem);
  const steps = [
    ["profile", "add", "mt-sbx", "--program", "mt", "--env", "sandbox", "--id", "654321", "--cn", "MT-654321-SBX"],
    ["server-cert", "set", "--profile", "mt-sbx", "--cert", certFile, "--chain", chainFile, "--key", KEY_URI, "--host", "notify.customer.test:8443"],
    ["assets", "import", pki.files.caFile, "--profile", "mt-sbx"],
  ];
  for (const args of steps) {
    const r = await mtlskit(["--dir", ws, ...args]);
    expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
  }
});
afterAll(async () => {
  for (const c of children) await stop(c);
  await upstream?.stop();
  for (const d of [pki?.dir, hsm?.dir]) if (d) await fs.rm(d, { recursive: true, force: true });
});

describe.skipIf(!ready)("nginx with the endpoint's key in a PKCS#11 token", () => {
  it("serve --engine nginx: engine:pkcs11 key, a real mutual-TLS request, no PIN in files or logs, reload", async () => {
    const port = await freePort();
    const runDir = path.join(pki.dir, "run-nginx");
    const child = spawn(process.execPath, [MTLSKIT_BIN, "--dir", ws, "serve", "--profile", "mt-sbx", "--engine", "nginx", "--run-dir", runDir, "--listen", `127.0.0.1:${port}`, "--admin", "off", "--upstream", upstream.url], {
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
    await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${out}`);
      return /serving/.test(out);
    }, 20_000, "serve --engine nginx to listen");
    await mtlsRequest(port);
    await mtlsRequest(port);
    await expectNoPinIn(runDir);
    // SIGHUP: regenerated, validated, reloaded; new handshakes still signed in the token.
    child.kill("SIGHUP");
    await waitFor(() => /"event":"reloaded"/.test(out), 10_000, "the reload");
    await mtlsRequest(port);
    await stop(child);
    expect(out).not.toContain(PIN);
    expect(out).not.toContain("PRIVATE KEY");
  });

  it("export nginx: the folder, started as printed, serves with the key in the token", async () => {
    const port = await freePort();
    const dir = path.join(pki.dir, "export-nginx");
    const r = await mtlskit(["--dir", ws, "export", "nginx", "--profile", "mt-sbx", "--out", dir, "--listen", `127.0.0.1:${port}`, "--upstream", upstream.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`run: OPENSSL_CONF=${dir}/openssl-pkcs11.cnf nginx -p ${dir} -c ${dir}/nginx.conf`);
    expect(r.stdout + r.stderr).not.toContain(PIN);
    await expectNoPinIn(dir);
    const bin = await findEngineBinary("nginx");
    const child = spawn(bin, ["-p", dir, "-c", path.join(dir, "nginx.conf"), "-g", "daemon off;"], { env: { ...process.env, OPENSSL_CONF: path.join(dir, "openssl-pkcs11.cnf") }, stdio: ["ignore", "ignore", "pipe"] });
    children.push(child);
    let err = "";
    child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${err}`);
      return listening(port);
    }, 10_000, "nginx listening");
    await mtlsRequest(port);
    await stop(child);
    expect(await fs.readFile(path.join(dir, "logs", "error.log"), "utf8")).not.toContain(PIN);
  });

  it("a wrong PIN is PKCS11_PIN_INCORRECT before nginx starts, writing nothing; a certificate of another key is KEY_MISMATCH", async () => {
    const bad = path.join(pki.dir, "wrong-pin.txt");
    await fs.writeFile(bad, "000000\n", { mode: 0o600 });
    const runDir = path.join(pki.dir, "run-wrong-pin");
    const s = await mtlskit(["--dir", ws, "serve", "--profile", "mt-sbx", "--engine", "nginx", "--run-dir", runDir, "--listen", "127.0.0.1:0", "--admin", "off", "--upstream", upstream.url, "--pin-file", bad]);
    expect(s.code, s.stderr).toBe(2);
    expect(s.stderr).toMatch(/^error \[PKCS11_PIN_INCORRECT\]/m);
    const out = path.join(pki.dir, "export-wrong-pin");
    const e = await mtlskit(["--dir", ws, "export", "nginx", "--profile", "mt-sbx", "--out", out, "--pin-file", bad]);
    expect(e.code, e.stderr).toBe(2);
    expect(e.stderr).toMatch(/^error \[PKCS11_PIN_INCORRECT\]/m);
    for (const d of [runDir, out]) await expect(fs.access(d)).rejects.toThrow();
    // The token's key against a certificate issued for another key.
    expect(() => checkTokenKey(KEY_URI, { module: hsm.module, pinFile: hsm.pinFile }, pki.server.certPem, "other.crt")).toThrow(expect.objectContaining({ code: "KEY_MISMATCH" }));
    expect(() => checkTokenKey(KEY_URI, { module: hsm.module, pinFile: hsm.pinFile }, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "bad.crt")).toThrow(expect.objectContaining({ code: "SERVER_CERT_INVALID" }));
  });

  it.skipIf(!requireTool("haproxy"))("HAProxy: serve and export refuse a key in a token with ENGINE_KEY_UNSUPPORTED, writing nothing", async () => {
    const runDir = path.join(pki.dir, "run-haproxy");
    const s = await mtlskit(["--dir", ws, "serve", "--profile", "mt-sbx", "--engine", "haproxy", "--run-dir", runDir, "--listen", "127.0.0.1:0", "--admin", "off", "--upstream", upstream.url]);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain("ENGINE_KEY_UNSUPPORTED");
    expect(s.stderr).toContain("PEM files only");
    const out = path.join(pki.dir, "export-haproxy");
    const e = await mtlskit(["--dir", ws, "export", "haproxy", "--profile", "mt-sbx", "--out", out]);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain("ENGINE_KEY_UNSUPPORTED");
    for (const d of [runDir, out]) await expect(fs.access(d)).rejects.toThrow();
  });
});
