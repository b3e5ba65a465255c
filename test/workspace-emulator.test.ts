/**
 * End to end against the emulator: onboarding with the real `mtlskit` binary, the emulator's
 * portal signing (D1) or endorsing (MT), its asset bundles imported, `status` green, the
 * refusals, and a renewal that keeps the old certificate working (checked by real mTLS
 * handshakes against the emulator's API) until the new one is active.
 */
import { existsSync, promises as fs } from "node:fs";
import { request } from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki } from "../src/testing/index.js";
import { cliSession, type CliRun } from "./support/cli.js";
import { portalBundle, portalCall } from "./support/emulator-fixtures.js";

const EMULATOR = fileURLToPath(new URL("../src/emulator/emulator.ts", import.meta.url));
const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";

/** What `startEmulator` gives (docs/architecture.md, "The emulator's face"). */
interface Emulator {
  portalUrl: string;
  dnsServer: string;
  environments: Array<{ program: string; environment: string; apiUrl: string; authzUrl?: string; address: string; host: string; assetsDir: string }>;
  close(): Promise<void>;
}

let emu: Emulator;
let tmp: string;
let home: string;
const { runs, run, ok, json } = cliSession(() => ({ cwd: tmp, home }));

function refused(r: CliRun, code: string): string {
  expect(r.code, r.stdout + r.stderr).toBe(2);
  expect(r.stderr).toMatch(new RegExp(`^error \\[${code}\\]`));
  return r.stderr;
}

const portal = <T>(method: string, route: string, body?: unknown) => portalCall<T>(emu, method, route, body);

function env(program: string, environment: string): Emulator["environments"][number] {
  const e = emu.environments.find((x) => x.program === program && x.environment === environment);
  if (!e) throw new Error(`the emulator serves no ${program} ${environment}`);
  return e;
}

const bundle = (program: string, environment: string, customerId: string) => portalBundle(emu, program, environment, customerId);

/** Paths of a profile's files, as `profile show --json` lists them. */
async function files(profile: string): Promise<Record<string, string>> {
  const r = await json<{ files: Array<{ role: string; path: string }> }>(["profile", "show", profile]);
  return Object.fromEntries(r.files.map((f) => [f.role, f.path]));
}

/**
 * One mTLS request to the emulator's API with the profile's active credentials, resolving the
 * emulator's host to its address (as the profile's resolver would) and trusting the imported
 * Thales server CAs. Resolves with the HTTP status and body, or the TLS/socket error's text.
 */
async function call(profile: string, program: string, environment: string): Promise<{ status?: number; body?: string; error?: string }> {
  const e = env(program, environment);
  const f = await files(profile);
  const read = (p: string | undefined) => (p ? fs.readFile(p, "utf8").catch(() => "") : Promise.resolve(""));
  const [cert, chain, key, ca] = await Promise.all([read(f["client.cert"]), read(f["client.chain"]), read(f["client.key"]), read(f["assets.serverTrust"])]);
  const url = new URL(e.apiUrl);
  const [address, port] = [e.address.slice(0, e.address.lastIndexOf(":")), Number(e.address.slice(e.address.lastIndexOf(":") + 1))];
  return new Promise((resolve) => {
    const req = request(
      // D1 resources live under the emulator's default resource path (the API URL is the bare host).
      { host: address, port, servername: url.hostname, path: program === "d1" ? "/d1/v1/echo" : url.pathname, method: "GET", headers: { host: url.host, "x-correlation-id": "mtlskit-e2e" }, cert: cert + chain, key, ca, agent: false, minVersion: "TLSv1.2" },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
        res.on("error", (err) => resolve({ error: err.message }));
      },
    );
    req.on("error", (err) => resolve({ error: err.message }));
    req.end();
  });
}

/** `AB:CD:..` -> `abcd..`. */
const hex = (fp: string) => fp.replace(/:/g, "").toLowerCase();
/** The fingerprint of the client certificate the emulator's echo saw. */
const echoed = (body: string | undefined) => hex((JSON.parse(body ?? "{}") as { identity?: { fingerprint?: string } }).identity?.fingerprint ?? "");

describe.skipIf(!existsSync(EMULATOR))("workspace against the emulator", () => {
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-ws-emu-"));
    home = path.join(tmp, "ws");
    const mod = (await import(/* @vite-ignore */ EMULATOR)) as { startEmulator(o: { dir: string; host?: string }): Promise<Emulator> };
    emu = await mod.startEmulator({ dir: path.join(tmp, "emulator") });
  });
  afterAll(async () => {
    for (const r of runs) expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
    await emu?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it("D1: profile add -> csr create -> the portal signs -> cert install -> assets import -> status green", async () => {
    await ok(["profile", "add", "d1-pp", "--program", "d1", "--env", "preprod", "--id", "123456", "--subject", SUBJECT]);
    const csr = await json<{ csrFile: string }>(["csr", "create", "--profile", "d1-pp"]);
    const signed = await portal<{ certificate: string; chain: string }>("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: await fs.readFile(csr.csrFile, "utf8") });
    expect(signed.status, JSON.stringify(signed.body)).toBe(201);
    await fs.writeFile(path.join(tmp, "d1-signed.pem"), signed.body.chain);
    const inst = await json<{ commonName: string; daysLeft: number }>(["cert", "install", "d1-signed.pem", "--profile", "d1-pp"]);
    expect(inst.commonName).toBe("TLSMA-ECDSA/123456/D1.PPR");
    expect(inst.daysLeft).toBeGreaterThan(1800);

    const b = await bundle("d1", "preprod", "123456");
    const imp = await json<{ imported: Array<{ name: string }>; inboundTrust: { certificates: Array<{ ca: boolean }> }; dnsServers: string[] }>(["assets", "import", b.directory, "--profile", "d1-pp"]);
    expect(imp.imported.map((a) => a.name)).toEqual(expect.arrayContaining(["D1_TLS_SERVER_CA_CHAIN", "D1_TLS_CLIENT_CA", "D1_API_HOST", "D1_AUTHZ_URL"]));
    expect(imp.inboundTrust.certificates.every((c) => c.ca)).toBe(true);
    expect(imp.dnsServers).toEqual([emu.dnsServer]);
    const shown = await json<{ apiHost: string; dnsServers: string[] }>(["profile", "show", "d1-pp"]);
    expect(shown.apiHost).toBe(new URL(env("d1", "preprod").apiUrl).host);

    const st = await run(["--json", "status"]);
    expect(st.code, st.stdout).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ ok: true, profiles: [{ name: "d1-pp", ready: { outbound: true } }] });
    expect((await run(["assets", "status", "--profile", "d1-pp"])).code).toBe(0);

    // The emulator's API accepts the client certificate (the 401 is the missing OAuth token, above TLS).
    const r = await call("d1-pp", "d1", "preprod");
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(401);
  });

  it("D1 refusals: wrong key, wrong environment, expired certificate, asset of the wrong environment, a leaf where a CA is needed", async () => {
    // A certificate the portal signed for another key.
    await ok(["csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "123456", "--subject", SUBJECT, "--type", "ecdsa-p256", "--out", "stray.csr"]);
    const stray = await portal<{ chain: string }>("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: await fs.readFile(path.join(tmp, "stray.csr"), "utf8") });
    await fs.writeFile(path.join(tmp, "stray.pem"), stray.body.chain);
    expect(refused(await run(["cert", "install", "stray.pem", "--profile", "d1-pp"]), "CERTIFICATE_REFUSED")).toContain("[KEY_MISMATCH]");

    // A production certificate for the profile's own key.
    const f = await files("d1-pp");
    await ok(["csr", "create", "--program", "d1", "--env", "production", "--gateway-id", "123456", "--subject", SUBJECT, "--key", f["client.key"]!, "--out", "prd.csr"]);
    const prd = await portal<{ chain: string }>("POST", "/v1/d1/production/csr", { customerId: "123456", csr: await fs.readFile(path.join(tmp, "prd.csr"), "utf8") });
    expect(prd.status).toBe(201);
    await fs.writeFile(path.join(tmp, "prd.pem"), prd.body.chain);
    refused(await run(["cert", "install", "prd.pem", "--profile", "d1-pp"]), "ENVIRONMENT_MISMATCH");

    // An expired certificate for the profile's key.
    const { readPrivateKeyFile } = await import("../src/pki/index.js");
    const pki = await createTestPki({ intermediateCn: "Thales Business PKI CA PPR" });
    const expired = await pki.expired({ subject: `${SUBJECT}/CN=TLSMA-ECDSA\\/123456\\/D1.PPR`, privateKey: await readPrivateKeyFile(f["client.key"]!) });
    await fs.writeFile(path.join(tmp, "expired.pem"), expired.chainPem);
    expect(refused(await run(["cert", "install", "expired.pem", "--profile", "d1-pp"]), "CERTIFICATE_REFUSED")).toContain("[EXPIRED]");

    // The production bundle, and its host alone.
    const prodBundle = await bundle("d1", "production", "123456");
    refused(await run(["assets", "import", prodBundle.directory, "--profile", "d1-pp"]), "ENVIRONMENT_MISMATCH");
    const mixed = path.join(tmp, "mixed");
    await fs.cp((await bundle("d1", "preprod", "123456")).directory, mixed, { recursive: true });
    const manifest = JSON.parse(await fs.readFile(path.join(mixed, "manifest.json"), "utf8")) as { assets: Record<string, string> };
    manifest.assets["D1_API_HOST"] = prodBundle.assets["D1_API_HOST"]!;
    await fs.writeFile(path.join(mixed, "manifest.json"), JSON.stringify(manifest));
    expect(refused(await run(["assets", "import", "mixed", "--profile", "d1-pp"]), "ENVIRONMENT_MISMATCH")).toContain("D1_API_HOST");

    // Thales's client certificate without its CA.
    const leaf = (await bundle("d1", "preprod", "123456")).files["D1_TLS_CLIENT_CA"]!.split(/(?<=-----END CERTIFICATE-----\n?)/)[0]!;
    await fs.writeFile(path.join(tmp, "leaf.pem"), leaf);
    expect(refused(await run(["assets", "import", "leaf.pem", "--profile", "d1-pp"]), "CA_CERTIFICATE_REQUIRED")).toContain("Thales Client CA");

    // None of that changed the profile: still green, still connecting.
    expect((await run(["status"])).code).toBe(0);
    expect((await call("d1-pp", "d1", "preprod")).status).toBe(401);
  });

  it("D1 renewal keeps the old certificate working until the new one is installed", async () => {
    const f = await files("d1-pp");
    const oldCert = await fs.readFile(f["client.cert"]!, "utf8");
    const rn = await json<{ csrFile: string }>(["renew", "--profile", "d1-pp"]);
    expect(await fs.readFile(f["client.cert"]!, "utf8")).toBe(oldCert);
    expect((await call("d1-pp", "d1", "preprod")).status).toBe(401);
    expect((await run(["status"])).code).toBe(0);
    const signed = await portal<{ chain: string }>("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: await fs.readFile(rn.csrFile, "utf8") });
    await fs.writeFile(path.join(tmp, "renewed.pem"), signed.body.chain);
    expect(await json<{ promoted: boolean }>(["cert", "install", "renewed.pem", "--profile", "d1-pp"])).toMatchObject({ promoted: true });
    expect(await fs.readFile(f["client.cert"]!, "utf8")).not.toBe(oldCert);
    expect((await call("d1-pp", "d1", "preprod")).status).toBe(401);
  });

  it("MT: cert self-signed --profile -> the portal endorses -> assets import -> status green -> mTLS works", async () => {
    const pre = await bundle("mt", "sandbox", "654321");
    const cn = pre.assets["TSH_CLIENT_CN"]!;
    expect(cn).toBeTruthy();
    await ok(["profile", "add", "mt-sbx", "--program", "mt", "--env", "sandbox", "--id", "654321", "--cn", cn]);
    const cert = await json<{ certificateFile: string; sha256Fingerprint: string }>(["cert", "self-signed", "--profile", "mt-sbx"]);
    // Not endorsed yet: the emulator refuses the handshake.
    await ok(["assets", "import", pre.directory, "--profile", "mt-sbx"]);
    expect((await call("mt-sbx", "mt", "sandbox")).status).toBeUndefined();

    const end = await portal<{ fingerprint: string }>("POST", "/v1/mt/sandbox/endorsements", { customerId: "654321", certificate: await fs.readFile(cert.certificateFile, "utf8") });
    expect(end.status, JSON.stringify(end.body)).toBe(201);
    const imp = await json<{ notes: string[]; warnings: string[] }>(["assets", "import", (await bundle("mt", "sandbox", "654321")).directory, "--profile", "mt-sbx"]);
    expect(imp.notes.join("\n")).toContain("Thales has endorsed the current client certificate");
    const st = await run(["--json", "status", "--profile", "mt-sbx"]);
    expect(st.code, st.stdout).toBe(0);
    expect(JSON.parse(st.stdout).profiles[0].ready.outbound).toBe(true);
    const r = await call("mt-sbx", "mt", "sandbox");
    expect(r.status, r.error).toBe(200);
    expect(echoed(r.body)).toBe(hex(cert.sha256Fingerprint));
  });

  it("MT renewal keeps the old certificate working until cert activate", async () => {
    const rn = await json<{ certificateFile: string; sha256Fingerprint: string }>(["renew", "--profile", "mt-sbx"]);
    expect((await call("mt-sbx", "mt", "sandbox")).status).toBe(200);
    refused(await run(["renew", "--profile", "mt-sbx"]), "RENEWAL_PENDING");
    const end = await portal("POST", "/v1/mt/sandbox/endorsements", { customerId: "654321", certificate: await fs.readFile(rn.certificateFile, "utf8") });
    expect(end.status).toBe(201);
    expect((await call("mt-sbx", "mt", "sandbox")).status).toBe(200);
    const before = await call("mt-sbx", "mt", "sandbox");
    expect(echoed(before.body)).not.toBe(hex(rn.sha256Fingerprint));
    const act = await json<{ sha256Fingerprint: string }>(["cert", "activate", "--profile", "mt-sbx"]);
    expect(act.sha256Fingerprint).toBe(rn.sha256Fingerprint);
    const r = await call("mt-sbx", "mt", "sandbox");
    expect(r.status, r.error).toBe(200);
    expect(echoed(r.body)).toBe(hex(rn.sha256Fingerprint));
  });

  it("MT refusals: the production bundle, and a corrupt mtlskit.yaml", async () => {
    refused(await run(["assets", "import", (await bundle("mt", "production", "654321")).directory, "--profile", "mt-sbx"]), "ENVIRONMENT_MISMATCH");
    const file = path.join(home, "mtlskit.yaml");
    const good = await fs.readFile(file, "utf8");
    await fs.writeFile(file, good.replace("environment: sandbox", "environment: preprod"));
    expect(refused(await run(["status"]), "CONFIG_INVALID")).toContain("profiles.mt-sbx.environment: expected one of sandbox, production");
    await fs.writeFile(file, good);
    expect((await run(["status"])).code).toBe(0);
  });
});
