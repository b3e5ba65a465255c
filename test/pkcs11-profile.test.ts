/**
 * Profiles with their keys in a SoftHSM2 token, through the real bin against the emulator: D1
 * onboarding (CSR signed in the token, installed, check all green, a token obtained with an
 * assertion signed in the token, an echo call), MT self-signed in the token, endorsed, echo;
 * status and profile show naming the key in the token; serve with its server key in the token
 * receiving the emulator's notifications; --pin-file and --pkcs11-module on every command that
 * may open a key in the token; the token's failures coded and changing nothing; and renewals (D1
 * installed, MT activated) that make the new key in the same token under a new label.
 */
import { createHash } from "node:crypto";
import { execFileSync, spawn } from "node:child_process";
import { createServer as createHttpServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/emulator/index.js";
import { createTestPki } from "../src/testing/index.js";
import { cliSession, expectCodedError, mtlskit, MTLSKIT_BIN } from "./support/cli.js";
import { portalBundle, portalCall, registerD1Customer } from "./support/emulator-fixtures.js";
import { haveSoftHsm, softHsm, type SoftHsm } from "./support/softhsm.js";

const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
const TOKEN = "mtlskit-prof";
let emu: Emulator;
let hsm: SoftHsm;
let tmp: string;
let home: string;
let oauth: { kid: string; publicKeyPem: string };
const today = new Date().toISOString().slice(0, 10).replaceAll("-", "");
/** The PIN and the module from --pin-file and --pkcs11-module, with a wrong PIN and a missing module in the environment. */
const tokenFlags = (): string[] => ["--pin-file", hsm.pinFile, "--pkcs11-module", hsm.module];
const wrongEnv = (): Record<string, string> => ({ MTLSKIT_HOME: home, MTLSKIT_PKCS11_PIN: "000000", MTLSKIT_PKCS11_MODULE: path.join(tmp, "no-such-module.so") });
const { runs, run, ok, json } = cliSession(() => ({ cwd: tmp, home }));

const portal = <T>(method: string, route: string, body?: unknown) => portalCall<T>(emu, method, route, body);

const bundle = (program: string, environment: string, customerId: string) => portalBundle(emu, program, environment, customerId);

/** Every file of the workspace (path, mode, content), hashed: what a refused command must not change. */
async function treeHash(dir: string): Promise<string> {
  const h = createHash("sha256");
  const entries = (await fs.readdir(dir, { recursive: true })).map(String).sort();
  for (const e of entries) {
    const st = await fs.stat(path.join(dir, e));
    h.update(`${e}\0${st.mode}\0`);
    if (st.isFile()) h.update(await fs.readFile(path.join(dir, e)));
  }
  return h.digest("hex");
}

const listObjects = (): string =>
  execFileSync("pkcs11-tool", ["--module", hsm.module, "--token-label", TOKEN, "--login", "--pin", hsm.pin, "--list-objects", "--type", "privkey"], { env: { ...process.env, ...hsm.env }, encoding: "utf8" });

describe.skipIf(!haveSoftHsm())("profiles with keys in a token, against the emulator", { timeout: 300_000 }, () => {
  beforeAll(async () => {
    hsm = softHsm(TOKEN);
    // The PIN from the environment; the module from --pkcs11-module once, then the profile.
    process.env.MTLSKIT_PKCS11_PIN = hsm.pin;
    delete process.env.MTLSKIT_PKCS11_MODULE;
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-pkcs11-profile-"));
    home = path.join(tmp, "ws");
    emu = await startEmulator({ dir: path.join(tmp, "emulator") });
  });
  afterAll(async () => {
    for (const r of runs) expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY|pin-value/);
    await emu?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it("D1: key and CSR in the token, installed, check all green, token and echo with the assertion signed in the token", async () => {
    await ok(["profile", "add", "d1-pp", "--program", "d1", "--env", "preprod", "--id", "123456", "--subject", SUBJECT]);
    await ok(["key", "create", "--type", "ecdsa-p256", "--out", `pkcs11:token=${TOKEN};object=d1-client`, "--pkcs11-module", hsm.module]);
    const csr = await json<{ csrFile: string; keyUri: string; keyFile?: string }>(["csr", "create", "--profile", "d1-pp", "--key", `pkcs11:token=${TOKEN};object=d1-client`, "--pkcs11-module", hsm.module]);
    expect(csr.keyUri).toMatch(new RegExp(`^pkcs11:token=${TOKEN};object=d1-client;id=`));
    expect(csr.keyFile).toBeUndefined();
    const yaml = await fs.readFile(path.join(home, "mtlskit.yaml"), "utf8");
    expect(yaml).toContain(`clientKey: pkcs11:token=${TOKEN};object=d1-client`);
    expect(yaml).toContain(`module: ${hsm.module}`);
    expect(yaml).not.toMatch(/pin-value|pin-source|\bpin:/);

    const signed = await portal<{ chain: string }>("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: await fs.readFile(csr.csrFile, "utf8") });
    expect(signed.status).toBe(201);
    await fs.writeFile(path.join(tmp, "d1.pem"), signed.body.chain);
    await ok(["cert", "install", "d1.pem", "--profile", "d1-pp"]);
    await ok(["assets", "import", (await bundle("d1", "preprod", "123456")).directory, "--profile", "d1-pp"]);

    const key = await json<{ kid: string; publicKeyPem: string; keyFile: string }>(["oauth", "key", "create", "--profile", "d1-pp", "--out", `pkcs11:token=${TOKEN};object=d1-oauth`]);
    oauth = key;
    expect(key.keyFile).toMatch(/^pkcs11:.*object=d1-oauth/);
    const exported = await run(["--json", "assets", "export", "--profile", "d1-pp", "--out", path.join(tmp, "to-thales")]);
    expect(exported.stdout).toContain("D1_OAUTH_PUBLIC_KEY");
    expect(await fs.readFile(path.join(tmp, "to-thales", "D1_OAUTH_PUBLIC_KEY.pem"), "utf8")).toBe(key.publicKeyPem);
    const reg = await registerD1Customer(emu, key);
    expect(reg.status, JSON.stringify(reg.body)).toBeLessThan(300);

    const check = await run(["check", "--profile", "d1-pp"]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/PASS\s+TLS handshake/);
    expect(check.stdout).toMatch(/PASS\s+OAuth 2.0 token obtained/);
    expect(check.stdout).toContain("all green");
    expect(check.stdout).toContain(`key in token ${TOKEN}, object d1-client, ECDSA P-256, non-extractable`);
    expect((await ok(["token", "--profile", "d1-pp"])).stdout).toContain("expires at");
    const echo = await json<{ status: number; body: { token: { sub: string }; identity: { subject: string } } }>(["call", "--profile", "d1-pp", "/d1/v1/echo"]);
    expect(echo.status).toBe(200);
    expect(echo.body.token.sub).toBe("123456");
    expect(echo.body.identity.subject).toContain("TLSMA-ECDSA/123456/D1.PPR");

    const st = await run(["status", "--profile", "d1-pp"]);
    expect(st.stdout).toContain(`client key: key in token ${TOKEN}, object d1-client, ECDSA P-256, non-extractable`);
    expect(st.stdout).toContain("ready: outbound yes");

    // profile show names the keys in the token, never a key file path.
    const folder = (await fs.readdir(home)).find((f) => f.startsWith("d1-"))!;
    const shown = await ok(["profile", "show", "d1-pp"]);
    expect(shown.stdout).toMatch(new RegExp(`client\\.key\\s+key in token ${TOKEN}, object d1-client, ECDSA P-256, non-extractable \\(pkcs11:token=${TOKEN};object=d1-client;id=`));
    expect(shown.stdout).toMatch(new RegExp(`oauth\\.key\\s+key in token ${TOKEN}, object d1-oauth, ECDSA P-256, non-extractable`));
    expect(shown.stdout).not.toContain(path.join(folder, "client", "client.key"));
    expect(shown.stdout).not.toMatch(/(client|oauth)\.key\s+\//);
    const report = await json<{ files: Array<{ role: string; path: string; exists: boolean; keyInToken?: string }> }>(["profile", "show", "d1-pp"]);
    const clientKey = report.files.find((f) => f.role === "client.key")!;
    expect(clientKey).toMatchObject({ exists: true, keyInToken: `key in token ${TOKEN}, object d1-client, ECDSA P-256, non-extractable` });
    expect(clientKey.path).toMatch(/^pkcs11:/);
    expect(report.files.find((f) => f.role === "oauth.key")!.path).toMatch(/^pkcs11:.*object=d1-oauth/);
  });

  it("MT: self-signed in the token, endorsed, echo", async () => {
    const pre = await bundle("mt", "sandbox", "654321");
    await ok(["profile", "add", "mt-sbx", "--program", "mt", "--env", "sandbox", "--id", "654321", "--cn", pre.assets["TSH_CLIENT_CN"]!]);
    await ok(["key", "create", "--type", "ecdsa-p256", "--out", `pkcs11:token=${TOKEN};object=mt-client`, "--pkcs11-module", hsm.module]);
    const cert = await json<{ certificateFile: string; keyUri: string }>(["cert", "self-signed", "--profile", "mt-sbx", "--key", `pkcs11:token=${TOKEN};object=mt-client`, "--pkcs11-module", hsm.module]);
    expect(cert.keyUri).toMatch(/object=mt-client/);
    const end = await portal("POST", "/v1/mt/sandbox/endorsements", { customerId: "654321", certificate: await fs.readFile(cert.certificateFile, "utf8") });
    expect(end.status).toBe(201);
    await ok(["assets", "import", (await bundle("mt", "sandbox", "654321")).directory, "--profile", "mt-sbx"]);
    const green = await json<{ ok: boolean }>(["check", "--profile", "mt-sbx"]);
    expect(green.ok).toBe(true);
    const call = await json<{ status: number; body: { path: string } }>(["call", "--profile", "mt-sbx", "echo"]);
    expect(call.status).toBe(200);
  });

  it("MT renewal: a new key in the same token, the old one serving until cert activate (--pin-file, --pkcs11-module), then the echo with the new key", async () => {
    const fp = (s: string): string => s.replace(/:/g, "").toLowerCase();
    const before = await json<{ status: number; body: { identity: { fingerprint: string } } }>(["call", "--profile", "mt-sbx", "echo"]);
    const rn = await json<{ keyFile: string; certificateFile: string; sha256Fingerprint: string }>(["renew", "--profile", "mt-sbx", ...tokenFlags()]);
    expect(rn.keyFile).toBe(`pkcs11:token=${TOKEN};object=mt-client-${today};type=private`);
    expect(await fs.readFile(path.join(home, "mtlskit.yaml"), "utf8")).toContain(`pendingClientKey: ${rn.keyFile}`);
    // Both keys are in the token; the old one still serves, the new one is not endorsed yet.
    // (pkcs11-tool lists the objects in the token's own order, not in the order they were made.)
    const objects = listObjects();
    expect(objects).toMatch(/label:\s+mt-client\n/);
    expect(objects).toMatch(new RegExp(`label:\\s+mt-client-${today}\\n`));
    const still = await json<{ status: number; body: { identity: { fingerprint: string } } }>(["call", "--profile", "mt-sbx", "echo"]);
    expect(fp(still.body.identity.fingerprint)).toBe(fp(before.body.identity.fingerprint));
    const end = await portal("POST", "/v1/mt/sandbox/endorsements", { customerId: "654321", certificate: await fs.readFile(rn.certificateFile, "utf8") });
    expect(end.status).toBe(201);

    // Without the flags, the wrong PIN of the environment is refused, coded, and nothing changes.
    const untouched = await treeHash(home);
    expectCodedError(await mtlskit(["cert", "activate", "--profile", "mt-sbx"], { cwd: tmp, env: { ...wrongEnv(), MTLSKIT_PKCS11_MODULE: hsm.module } }), "PKCS11_PIN_INCORRECT");
    expect(await treeHash(home)).toBe(untouched);
    const act = await mtlskit(["--json", "cert", "activate", "--profile", "mt-sbx", ...tokenFlags()], { cwd: tmp, env: wrongEnv() });
    expect(act.code, act.stderr).toBe(0);
    expect(JSON.parse(act.stdout)).toMatchObject({ promoted: true, slot: "active" });
    const yaml = await fs.readFile(path.join(home, "mtlskit.yaml"), "utf8");
    expect(yaml).toContain(`clientKey: ${rn.keyFile}`);
    expect(yaml).not.toContain("pendingClientKey");

    const after = await json<{ status: number; body: { identity: { fingerprint: string } } }>(["call", "--profile", "mt-sbx", "echo"]);
    expect(after.status).toBe(200);
    expect(fp(after.body.identity.fingerprint)).toBe(fp(rn.sha256Fingerprint));
    expect((await ok(["status", "--profile", "mt-sbx"])).stdout).toContain(`client key: key in token ${TOKEN}, object mt-client-${today}, ECDSA P-256, non-extractable`);
    // The old key is kept in the token; no key file appeared in the workspace.
    expect(listObjects()).toContain("label:      mt-client\n");
    expect((await fs.readdir(home, { recursive: true })).map(String).filter((f) => f.endsWith(".key"))).toEqual([]);
  });

  it("server-cert set with its key in the token; serve --profile (--pin-file, --pkcs11-module) receives the emulator's notifications, its handshakes signed in the token", async () => {
    await ok(["key", "create", "--type", "ecdsa-p256", "--out", `pkcs11:token=${TOKEN};object=d1-server`, "--pkcs11-module", hsm.module]);
    await ok(["csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "123456", "--subject", SUBJECT, "--key", `pkcs11:token=${TOKEN};object=d1-server`, "--pkcs11-module", hsm.module, "--out", "server.csr"]);
    const ca = await createTestPki({ rootCn: "Customer Server Root" });
    await fs.writeFile(path.join(tmp, "ca.crt"), ca.root.certPem);
    await fs.writeFile(path.join(tmp, "ca.key"), ca.root.keyPem, { mode: 0o600 });
    await fs.writeFile(path.join(tmp, "ext.cnf"), "subjectAltName=DNS:notify.example.test\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n");
    execFileSync("openssl", ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "90", "-extfile", "ext.cnf", "-out", "server.crt"], { cwd: tmp, stdio: "pipe" });
    await fs.rm(path.join(tmp, "ca.key"));
    await ok(["server-cert", "set", "--profile", "d1-pp", "--cert", "server.crt", "--chain", "ca.crt", "--key", `pkcs11:token=${TOKEN};object=d1-server`, "--host", "notify.example.test"]);
    expect(await fs.readFile(path.join(home, "mtlskit.yaml"), "utf8")).toContain(`serverKey: pkcs11:token=${TOKEN};object=d1-server`);
    const folder = (await fs.readdir(home)).find((f) => f.startsWith("d1-"))!;
    expect((await fs.readdir(path.join(home, folder, "server"))).sort()).not.toContain("server.key");

    // The application behind the endpoint: records what reaches it.
    const received: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
    const app = createHttpServer((req, res) => {
      req.resume();
      req.on("end", () => {
        received.push({ url: req.url ?? "", headers: req.headers });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    // The PIN and the module from the flags: the environment's are wrong.
    const child = spawn(process.execPath, [MTLSKIT_BIN, "--json", "serve", "--profile", "d1-pp", "--listen", "127.0.0.1:0", "--admin", "off", "--upstream", appUrl, ...tokenFlags()], { env: { ...process.env, ...wrongEnv(), NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let serveLog = "";
    try {
      const doc = await new Promise<{ port: number }>((resolve, reject) => {
        let out = "";
        child.stderr!.setEncoding("utf8").on("data", (d: string) => (serveLog += d));
        child.stdout!.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          try {
            resolve(JSON.parse(out) as { port: number });
          } catch {
            /* not complete yet */
          }
        });
        child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${serveLog}`)));
      });
      // The handshake's CertificateVerify is signed with the key in the token.
      const peer = await new Promise<string>((resolve, reject) => {
        const s = tlsConnect({ host: "127.0.0.1", port: doc.port, servername: "notify.example.test", ca: ca.root.certPem }, () => {
          resolve(String(s.getPeerCertificate().subject.CN ?? ""));
          s.destroy();
        });
        s.on("error", reject);
      });
      expect(peer).toBe("TLSMA-ECDSA/123456/D1.PPR");

      // Thales (the emulator's notifier) calls ISSUER_HOST with its client certificate, pinning this server chain.
      emu.dns.set("notify.example.test", "127.0.0.1", 5);
      const serverChain = (await fs.readFile(path.join(tmp, "server.crt"), "utf8")) + ca.root.certPem;
      const reg = await portal("PUT", "/v1/d1/preprod/customers/123456", { issuerHost: `notify.example.test:${doc.port}`, serverChain, oauthPublicKey: oauth.publicKeyPem, kid: oauth.kid });
      expect(reg.status, JSON.stringify(reg.body)).toBeLessThan(300);
      const sent = await portal<{ ids: string[] }>("POST", "/v1/d1/preprod/notifications", { customerId: "123456", count: 3 });
      expect(sent.status, JSON.stringify(sent.body)).toBe(202);
      type Delivery = { id: string; state: string; correlationId: string };
      let deliveries: Delivery[] = [];
      for (let i = 0; i < 300; i++) {
        deliveries = (await portal<{ deliveries: Delivery[] }>("GET", "/v1/d1/preprod/deliveries")).body.deliveries.filter((d) => sent.body.ids.includes(d.id));
        if (deliveries.length === 3 && deliveries.every((d) => d.state !== "pending")) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(deliveries.map((d) => d.state), serveLog).toEqual(["delivered", "delivered", "delivered"]);
      expect(new Set(received.map((r) => r.headers["x-correlation-id"]))).toEqual(new Set(deliveries.map((d) => d.correlationId)));
      for (const r of received) expect(String(r.headers["x-client-cert-issuer"] ?? "")).toMatch(/Thales/);
      expect(serveLog).not.toMatch(/PKCS11_|PRIVATE KEY/);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => app.close(r));
    }
  });

  it("--pin-file and --pkcs11-module reach the token for check, token, call, status, assets export and profile show", async () => {
    const env = wrongEnv();
    const runs: Array<[string[], number[]]> = [
      [["check", "--profile", "d1-pp"], [0]],
      [["token", "--profile", "d1-pp"], [0]],
      [["call", "--profile", "d1-pp", "/d1/v1/echo"], [0]],
      [["status", "--profile", "d1-pp"], [0, 1]], // 1 only for the short-lived test server root
      [["assets", "export", "--profile", "d1-pp", "--out", path.join(tmp, "to-thales-2")], [0]],
      [["profile", "show", "d1-pp"], [0]],
    ];
    for (const [args, codes] of runs) {
      const r = await mtlskit([...args, ...tokenFlags()], { cwd: tmp, env });
      expect(codes, `${args.join(" ")}: ${r.stdout}${r.stderr}`).toContain(r.code);
      expect(r.stdout + r.stderr, args.join(" ")).not.toMatch(/PKCS11_|PRIVATE KEY/);
    }
    // Without them, the environment's wrong PIN is what the token sees.
    expectCodedError(await mtlskit(["token", "--profile", "d1-pp"], { cwd: tmp, env: { ...env, MTLSKIT_PKCS11_MODULE: hsm.module } }), "PKCS11_PIN_INCORRECT");
  });

  it("the private keys are sensitive and never extractable, and no key file is in the workspace", async () => {
    const objects = listObjects();
    for (const label of ["d1-client", "d1-oauth", "mt-client", `mt-client-${today}`, "d1-server"]) expect(objects).toContain(`label:      ${label}\n`);
    const blocks = objects.split(/(?=Private Key Object)/).filter((b) => b.startsWith("Private Key Object"));
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    for (const b of blocks) {
      expect(b).toMatch(/sensitive/);
      expect(b).toMatch(/never extractable/);
    }
    const files = (await fs.readdir(home, { recursive: true })).map(String);
    expect(files.filter((f) => f.endsWith(".key"))).toEqual([]);
    for (const f of files) {
      const full = path.join(home, f);
      if ((await fs.stat(full)).isFile()) expect(await fs.readFile(full, "utf8")).not.toContain("PRIVATE KEY");
    }
  });

  it("export client and export server refuse a key kept in the token (EXPORT_KEY_IN_TOKEN): nothing written, the workspace unchanged", async () => {
    const before = await treeHash(home);
    const cases: Array<[string, string, "client" | "server", string]> = [
      ["client", "d1-pp", "client", "d1-client"],
      ["client", "mt-sbx", "client", "mt-client"],
      ["server", "d1-pp", "server", "d1-server"],
    ];
    for (const [what, profile, role, object] of cases) {
      const out = path.join(tmp, `export-${what}-${profile}`);
      const r = await run(["export", what, "--profile", profile, "--out", out]);
      const line = expectCodedError(r, "EXPORT_KEY_IN_TOKEN");
      expect(line).toContain(`keeps its ${role} key in a PKCS#11 token (pkcs11:token=${TOKEN};object=${object}`);
      await expect(fs.stat(out), `${what} ${profile} wrote ${out}`).rejects.toThrow();
    }
    expect(await treeHash(home)).toBe(before);
  });

  it("wrong PIN, missing module, missing token, missing key: each coded, the workspace unchanged", async () => {
    const before = await treeHash(home);
    const env = { MTLSKIT_HOME: home };
    const cases: Array<[string[], Record<string, string>, string]> = [
      [["renew", "--profile", "d1-pp"], { MTLSKIT_PKCS11_PIN: "000000" }, "PKCS11_PIN_INCORRECT"],
      [["renew", "--profile", "d1-pp"], { MTLSKIT_PKCS11_MODULE: path.join(tmp, "no-such-module.so") }, "PKCS11_MODULE_NOT_FOUND"],
      [["csr", "create", "--profile", "d1-pp", "--force", "--key", "pkcs11:token=no-such-token;object=d1-client"], {}, "PKCS11_TOKEN_NOT_FOUND"],
      [["csr", "create", "--profile", "d1-pp", "--force", "--key", `pkcs11:token=${TOKEN};object=no-such-key`], {}, "PKCS11_KEY_NOT_FOUND"],
    ];
    for (const [args, extra, code] of cases) {
      const r = await mtlskit(args, { cwd: tmp, env: { ...env, ...extra } });
      expectCodedError(r, code);
      expect(await treeHash(home), `${args.join(" ")} changed the workspace`).toBe(before);
    }
    // status names the unreachable token with its code, exit 1.
    const st = await mtlskit(["status", "--profile", "d1-pp"], { cwd: tmp, env: { ...env, MTLSKIT_PKCS11_PIN: "000000" } });
    expect(st.code).toBe(1);
    expect(st.stdout).toContain("[PKCS11_PIN_INCORRECT]");
    expect(await treeHash(home)).toBe(before);
  });

  it("renewal makes a new key in the same token under a dated label; the old one is used until the new certificate is installed", async () => {
    const rn = await json<{ csrFile: string; keyFile: string }>(["renew", "--profile", "d1-pp"]);
    expect(rn.keyFile).toBe(`pkcs11:token=${TOKEN};object=d1-client-${today};type=private`);
    const yaml = await fs.readFile(path.join(home, "mtlskit.yaml"), "utf8");
    expect(yaml).toContain(`pendingClientKey: ${rn.keyFile}`);
    // The old key still serves.
    expect((await json<{ status: number }>(["call", "--profile", "d1-pp", "/d1/v1/echo"])).status).toBe(200);
    const signed = await portal<{ chain: string }>("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: await fs.readFile(rn.csrFile, "utf8") });
    await fs.writeFile(path.join(tmp, "renewed.pem"), signed.body.chain);
    // cert install reads the new key's public half in the token with --pin-file and --pkcs11-module.
    const untouched = await treeHash(home);
    expectCodedError(await mtlskit(["cert", "install", "renewed.pem", "--profile", "d1-pp"], { cwd: tmp, env: { ...wrongEnv(), MTLSKIT_PKCS11_MODULE: hsm.module } }), "PKCS11_PIN_INCORRECT");
    expect(await treeHash(home)).toBe(untouched);
    const inst = await mtlskit(["--json", "cert", "install", "renewed.pem", "--profile", "d1-pp", ...tokenFlags()], { cwd: tmp, env: wrongEnv() });
    expect(inst.code, inst.stderr).toBe(0);
    expect(JSON.parse(inst.stdout)).toMatchObject({ promoted: true });
    const after = await fs.readFile(path.join(home, "mtlskit.yaml"), "utf8");
    expect(after).toContain(`clientKey: ${rn.keyFile}`);
    expect(after).not.toContain("pendingClientKey");
    expect((await json<{ status: number }>(["call", "--profile", "d1-pp", "/d1/v1/echo"])).status).toBe(200);
    const st = await run(["status", "--profile", "d1-pp"]); // exit 1 only for the short-lived test server root
    expect(st.stdout).toContain(`object d1-client-${today}`);
    // The old key is kept in the token; a second renewal the same day takes the next label.
    expect(listObjects()).toContain("label:      d1-client\n");
    const again = await json<{ keyFile: string }>(["renew", "--profile", "d1-pp"]);
    expect(again.keyFile).toBe(`pkcs11:token=${TOKEN};object=d1-client-${today}-2;type=private`);
  });
});
