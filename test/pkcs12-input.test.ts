/**
 * PKCS#12 as input where a certificate and key are taken, with the real `mtlskit` binary and
 * .p12 files made by the real tools (`openssl pkcs12 -export`, default and -legacy, and
 * `keytool -genkeypair -storetype PKCS12`): `server-cert set` (one .p12 as --cert alone, or as
 * both --cert and --key), `serve --cert/--key` (curl through it), `cert install`. A wrong
 * passphrase, a damaged file and a missing passphrase are coded
 * errors and leave the workspace byte for byte as it was; `serve --engine nginx` with a .p12
 * says how to go through a profile.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCertificates, readPrivateKeyFile, keysMatch } from "../src/pki/index.js";
import { createTestPki, type TestCertificate, type TestPki } from "../src/testing/index.js";
import { cliSession, startMtlskit, type CliRun } from "./support/cli.js";
import { runTool, waitFor } from "./support/server-fixtures.js";
import { makeThalesSide, signCsr, type ThalesSide } from "./support/store-fixtures.js";
import { requireTool } from "./support/tools.js";

const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
const HOST = "notify.example.test";
let tmp: string;
let home: string;
let serverPki: TestPki;
let thales: TestPki;
let server: TestCertificate;
let side: ThalesSide;
const children: ChildProcess[] = [];
const { runs, run, ok, json } = cliSession(() => ({ cwd: tmp, home }));
const TOOLS = requireTool("openssl") && requireTool("keytool") && requireTool("curl");

function openssl(args: string[]): void {
  execFileSync("openssl", args, { cwd: tmp, stdio: "pipe" });
}

/** Every file of the workspace with its SHA-256, to show a refused command wrote nothing. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out[path.relative(dir, p)] = createHash("sha256").update(await fs.readFile(p)).digest("hex");
    }
  };
  await walk(dir);
  return out;
}

function expectCode(r: CliRun, code: string): void {
  expect(r.code, r.stdout + r.stderr).toBe(2);
  expect(r.stderr).toMatch(new RegExp(`^error \\[${code}\\]`));
}

describe.skipIf(!TOOLS)("PKCS#12 given to server-cert set, serve and cert install", () => {
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-p12-input-"));
    home = path.join(tmp, "ws");
    serverPki = await createTestPki({ rootCn: "Customer Root CA", intermediateCn: "Customer Server CA" });
    thales = await createTestPki({ rootCn: "Thales Test Root CA", intermediateCn: "Thales Client CA" });
    server = await serverPki.issue({ cn: HOST, usage: "server", dns: [HOST, "localhost"], ip: ["127.0.0.1"] });
    side = await makeThalesSide("d1");
    await fs.writeFile(path.join(tmp, "server.key"), server.keyPem, { mode: 0o600 });
    await fs.writeFile(path.join(tmp, "server.crt"), server.certPem);
    // The CAs in reverse order: a PKCS#12 is a set, mtlskit puts the chain in order itself.
    await fs.writeFile(path.join(tmp, "cas.pem"), serverPki.root.certPem + serverPki.intermediate.certPem);
    await fs.writeFile(path.join(tmp, "chain.pem"), serverPki.intermediate.certPem + serverPki.root.certPem);
    await fs.writeFile(path.join(tmp, "server-root.pem"), serverPki.root.certPem);
    await fs.writeFile(path.join(tmp, "thales-client-ca.pem"), thales.caBundlePem);
    await fs.writeFile(path.join(tmp, "pw.txt"), "s3cret pass\n");
    await fs.writeFile(path.join(tmp, "bad.txt"), "wrong\n");
    const pem = ["-inkey", "server.key", "-in", "server.crt", "-certfile", "cas.pem", "-name", "notify", "-passout", "file:pw.txt"];
    openssl(["pkcs12", "-export", ...pem, "-out", "ossl.p12"]);
    openssl(["pkcs12", "-export", "-legacy", ...pem, "-out", "legacy.p12"]);
    openssl(["pkcs12", "-export", "-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1", ...pem, "-out", "3des.p12"]);
    const der = await fs.readFile(path.join(tmp, "ossl.p12"));
    await fs.writeFile(path.join(tmp, "cut.p12"), der.subarray(0, der.length - 40));
    const flipped = Buffer.from(der);
    flipped[Math.floor(flipped.length / 2)]! ^= 0xff;
    await fs.writeFile(path.join(tmp, "flipped.p12"), flipped);
    execFileSync(
      "keytool",
      ["-genkeypair", "-storetype", "PKCS12", "-keystore", "keytool.p12", "-storepass", "s3cret pass", "-alias", "notify", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", `CN=${HOST}`, "-ext", `san=dns:${HOST}`, "-ext", "eku=serverAuth", "-validity", "365"],
      { cwd: tmp, stdio: "pipe" },
    );
    await ok(["profile", "add", "d1-a", "--program", "d1", "--env", "preprod", "--id", "111111", "--subject", SUBJECT]);
    await ok(["profile", "add", "d1-b", "--program", "d1", "--env", "preprod", "--id", "222222", "--subject", SUBJECT]);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    for (const r of runs) expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY|s3cret/);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it("server-cert set: an openssl .p12 as --cert alone, then as --cert and --key; the chain is put in order", async () => {
    const r = await json<{ files: { cert: string; key: string; chain: string }; chain: Array<{ subject: string }> }>(["server-cert", "set", "--profile", "d1-a", "--cert", "ossl.p12", "--passphrase-file", "pw.txt", "--host", HOST]);
    expect(r.chain.map((c) => c.subject)).toEqual([`CN=${HOST}`, "CN=Customer Server CA", "CN=Customer Root CA"]);
    const stored = await readPrivateKeyFile(r.files.key);
    expect(keysMatch(stored, server.info.publicKey)).toBe(true);
    expect((await fs.stat(r.files.key)).mode & 0o777).toBe(0o600);
    expect((await readCertificates(r.files.cert))[0]!.sha256Fingerprint).toBe(server.info.sha256Fingerprint);
    // The same file as both --cert and --key (the 3DES/SHA-1 one: same key, so no --force needed).
    const both = await run(["server-cert", "set", "--profile", "d1-a", "--cert", "3des.p12", "--key", "3des.p12", "--passphrase-file", "pw.txt", "--host", HOST]);
    expect(both.code, both.stderr).toBe(0);
    expect(both.stdout).toContain(`chain: CN=${HOST} <- CN=Customer Server CA <- CN=Customer Root CA`);
    // A PEM certificate with its key in a .p12.
    const mixed = await run(["server-cert", "set", "--profile", "d1-a", "--cert", "server.crt", "--chain", "chain.pem", "--key", "ossl.p12", "--passphrase-file", "pw.txt", "--host", HOST]);
    expect(mixed.code, mixed.stderr).toBe(0);
  });

  it("server-cert set: a keytool -genkeypair -storetype PKCS12 keystore (self-signed server certificate)", async () => {
    const r = await json<{ files: { key: string }; chain: Array<{ subject: string }>; trustStoreFile: string | null }>(["server-cert", "set", "--profile", "d1-b", "--cert", "keytool.p12", "--passphrase-file", "pw.txt", "--host", HOST]);
    expect(r.chain.map((c) => c.subject)).toEqual([`CN=${HOST}`]);
    expect(r.trustStoreFile).toBeTruthy();
    expect((await readPrivateKeyFile(r.files.key)).asymmetricKeyType).toBe("ec");
  });

  it("server-cert set: an openssl -legacy .p12 (RC2-40 certificates, 3DES key) is read", async () => {
    const r = await json<{ chain: Array<{ subject: string }> }>(["server-cert", "set", "--profile", "d1-a", "--cert", "legacy.p12", "--passphrase-file", "pw.txt", "--host", HOST]);
    expect(r.chain.map((c) => c.subject)).toEqual([`CN=${HOST}`, "CN=Customer Server CA", "CN=Customer Root CA"]);
  });

  it("server-cert set: wrong passphrase, damaged file, no passphrase are coded errors and write nothing", async () => {
    const before = await snapshot(home);
    const set = (file: string, pass?: string) => run(["server-cert", "set", "--profile", "d1-a", "--cert", file, ...(pass ? ["--passphrase-file", pass] : []), "--host", HOST, "--force"]);
    expectCode(await set("ossl.p12", "bad.txt"), "PKCS12_BAD_PASSPHRASE");
    expectCode(await set("keytool.p12", "bad.txt"), "PKCS12_BAD_PASSPHRASE");
    expectCode(await set("cut.p12", "pw.txt"), "PKCS12_(INVALID|BAD_PASSPHRASE)");
    expectCode(await set("flipped.p12", "pw.txt"), "PKCS12_(INVALID|BAD_PASSPHRASE)");
    expectCode(await set("ossl.p12"), "PKCS12_PASSPHRASE_REQUIRED");
    expectCode(await set("legacy.p12", "bad.txt"), "PKCS12_BAD_PASSPHRASE");
    // --key as a .p12 with the wrong passphrase, after a valid PEM --cert.
    expectCode(await run(["server-cert", "set", "--profile", "d1-a", "--cert", "server.crt", "--chain", "chain.pem", "--key", "ossl.p12", "--passphrase-file", "bad.txt", "--host", HOST, "--force"]), "PKCS12_BAD_PASSPHRASE");
    // A PEM --cert without --key: the key is asked for.
    expectCode(await run(["server-cert", "set", "--profile", "d1-a", "--cert", "server.crt", "--host", HOST]), "USAGE");
    expect(await snapshot(home)).toEqual(before);
  });

  it("serve --cert x.p12 (key from the same file) with --passphrase-file: curl gets through; --engine nginx says what to do", async () => {
    const upstream = spawn(process.execPath, ["-e", "require('http').createServer((q,s)=>s.end('up '+q.headers['x-client-cert-subject'])).listen(0,'127.0.0.1',function(){console.log(this.address().port)})"], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(upstream);
    let upPort = "";
    upstream.stdout!.setEncoding("utf8").on("data", (d: string) => (upPort += d));
    await waitFor(() => /\d+\n/.test(upPort), 10_000, "the upstream to listen");
    const { child, doc } = await startMtlskit<{ port: number; server: { subject: string } }>(["--json", "serve", "--cert", "ossl.p12", "--passphrase-file", "pw.txt", "--client-ca", "thales-client-ca.pem", "--listen", "127.0.0.1:0", "--admin", "off", "--upstream", `http://127.0.0.1:${upPort.trim()}`], { cwd: tmp, timeoutMs: 20_000 });
    children.push(child);
    expect(doc.server.subject).toBe(`CN=${HOST}`);
    const client = await thales.issue({ subject: "/C=FR/O=Thales DIS/CN=thales-notifier-1", usage: "client" });
    await fs.writeFile(path.join(tmp, "thales.crt"), client.chainPem);
    await fs.writeFile(path.join(tmp, "thales.key"), client.keyPem, { mode: 0o600 });
    // curl verifies the chain the server sends from the .p12: leaf and intermediate, in order.
    const res = await runTool("curl", ["-sS", "-m", "10", "--cacert", path.join(tmp, "server-root.pem"), "--cert", path.join(tmp, "thales.crt"), "--key", path.join(tmp, "thales.key"), "--resolve", `${HOST}:${doc.port}:127.0.0.1`, "-w", "\n%{http_code}", `https://${HOST}:${doc.port}/hello`]);
    expect(res.stdout.trim().split("\n").pop(), res.stdout + res.stderr).toBe("200");
    expect(res.stdout).toContain("thales-notifier-1");
    child.kill("SIGTERM");
    upstream.kill("SIGTERM");

    const nginx = await run(["serve", "--engine", "nginx", "--cert", "ossl.p12", "--client-ca", "thales-client-ca.pem", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:9"]);
    expectCode(nginx, "PKCS12_NOT_USABLE_HERE");
    expect(nginx.stderr).toContain("mtlskit server-cert set --profile P --cert ossl.p12 --passphrase-file FILE");
    expectCode(await run(["serve", "--cert", "ossl.p12", "--passphrase-file", "bad.txt", "--client-ca", "thales-client-ca.pem", "--listen", "127.0.0.1:0", "--admin", "off", "--upstream", "http://127.0.0.1:9"]), "PKCS12_BAD_PASSPHRASE");
  });

  it("cert install: a .p12 holding the profile's key and Thales's certificate; bad passphrase and damage write nothing", async () => {
    await ok(["profile", "add", "d1-c", "--program", "d1", "--env", "preprod", "--id", "333333", "--subject", SUBJECT]);
    const c = await json<{ csrFile: string; keyFileInProfile: string }>(["csr", "create", "--profile", "d1-c"]);
    const signed = await signCsr(side, "PPR", c.csrFile, c.keyFileInProfile);
    await fs.writeFile(path.join(tmp, "signed.crt"), signed.certPem);
    await fs.writeFile(path.join(tmp, "signed-cas.pem"), signed.chainPem.slice(signed.certPem.length));
    openssl(["pkcs12", "-export", "-inkey", c.keyFileInProfile, "-in", "signed.crt", "-certfile", "signed-cas.pem", "-passout", "file:pw.txt", "-out", "signed.p12"]);
    const der = await fs.readFile(path.join(tmp, "signed.p12"));
    await fs.writeFile(path.join(tmp, "signed-cut.p12"), der.subarray(0, 200));

    const before = await snapshot(home);
    expectCode(await run(["cert", "install", "signed.p12", "--profile", "d1-c", "--passphrase-file", "bad.txt"]), "PKCS12_BAD_PASSPHRASE");
    expectCode(await run(["cert", "install", "signed-cut.p12", "--profile", "d1-c", "--passphrase-file", "pw.txt"]), "PKCS12_(INVALID|BAD_PASSPHRASE)");
    const none = await run(["cert", "install", "signed.p12", "--profile", "d1-c"]);
    expectCode(none, "PKCS12_PASSPHRASE_REQUIRED");
    expect(none.stderr).toMatch(/--passphrase-file/);
    // Another key's .p12 (the server's) is refused by the usual checks.
    expect((await run(["cert", "install", "ossl.p12", "--profile", "d1-c", "--passphrase-file", "pw.txt"])).code).not.toBe(0);
    expect(await snapshot(home)).toEqual(before);

    const inst = await run(["cert", "install", "signed.p12", "--profile", "d1-c", "--passphrase-file", "pw.txt"]);
    expect(inst.code, inst.stderr).toBe(0);
    expect(inst.stdout).toMatch(/installed .*client\.crt: CN=TLSMA-ECDSA\/333333\/D1\.PPR/);
    // The profile's key was not replaced by the .p12's copy.
    expect(createHash("sha256").update(await fs.readFile(c.keyFileInProfile)).digest("hex")).toBe(before[path.relative(home, c.keyFileInProfile)]);
  });
});
