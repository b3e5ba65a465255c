/**
 * `mtlskit export client` with the real binary against the emulator: an MT and a D1 profile are
 * onboarded, exported, and what was written is read by the real tools: openssl pkcs12 -info
 * (OpenSSL 3; -legacy for --legacy), keytool -list on client.p12 and thales-truststore.p12,
 * python3's ssl.SSLContext.load_cert_chain on the PEM files, and curl with the exported files
 * calling the emulator's echo resource (200, with the D1 token and the x-correlation-id).
 */
import { execFile, execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/emulator/index.js";
import { readPkcs12 } from "../src/pki/pkcs12.js";
import { createTestPki } from "../src/testing/index.js";
import { MTLSKIT_BIN, cliSession } from "./support/cli.js";
import { portalBundle, portalCall } from "./support/emulator-fixtures.js";
import { requireTool } from "./support/tools.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
let emu: Emulator;
let tmp: string;
let home: string;
const { runs, run, ok, json } = cliSession(() => ({ cwd: tmp, home }));
const TOOLS = requireTool("openssl") && requireTool("keytool") && requireTool("curl") && requireTool("python3");

const portal = <T>(method: string, route: string, body?: unknown) => portalCall<T>(emu, method, route, body);
const bundle = (program: string, environment: string, customerId: string) => portalBundle(emu, program, environment, customerId);
function tool(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }));
  });
}
function envOf(program: string, environment: string) {
  const e = emu.environments.find((x) => x.program === program && x.environment === environment)!;
  return { ...e, port: Number(e.address.slice(e.address.lastIndexOf(":") + 1)) };
}

/** A fenced block of EXAMPLES.md: the `n`th block of `lang` in the section `## heading`, with the run command of the sentence before it. */
function snippet(md: string, heading: string, lang: string, n = 0): { code: string; runWith: string | undefined } {
  const start = md.indexOf(`\n## ${heading}\n`);
  expect(start, heading).toBeGreaterThan(0);
  const end = md.indexOf("\n## ", start + 4);
  const section = md.slice(start, end < 0 ? undefined : end);
  const blocks = [...section.matchAll(/(?:run with `([^`]+)`:\n)?```(\w+)\n([\s\S]*?)\n```/g)].filter((m) => m[2] === lang);
  expect(blocks.length, `${heading} ${lang}`).toBeGreaterThan(n);
  return { code: `${blocks[n]![3]!}\n`, runWith: blocks[n]![1] };
}

const PY_REQUESTS = requireTool("python3") && pythonModule("requests");
const JDK = requireTool("javac") && requireTool("java");

/** True when python3 imports `name` (as requireTool: an error under MTLSKIT_REQUIRE_TOOLS=1, else a printed skip). */
function pythonModule(name: string): boolean {
  try {
    execFileSync("python3", ["-c", `import ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    const reason = `python3 cannot import ${name}`;
    if (process.env.MTLSKIT_REQUIRE_TOOLS === "1") throw new Error(`${reason}, and MTLSKIT_REQUIRE_TOOLS=1 requires it: install python3-${name}`);
    console.warn(`skipping the examples that need it: ${reason}`);
    return false;
  }
}

/**
 * Runs the snippets of EXAMPLES.md as a user would, from a copy of the export folder, against
 * the emulator: curl, Python requests, Java (javac + java, and the system-properties line with a
 * stand-in app), Node undici. The API host name is pointed at 127.0.0.1 the way each runtime
 * allows without touching the snippet: curl's .curlrc `resolve`, a Python sitecustomize, the
 * JDK's jdk.net.hosts.file, a Node --require hook. D1's token comes from the snippet's own
 * `export TOKEN=$(mtlskit token ...)` line, with `mtlskit` on PATH. Go is not run (the Go
 * toolchain is not installed: 63 MB to download, 335 MB installed) nor .NET (not packaged for
 * this machine).
 */
async function runExamples(out: string, hostname: string, port: number): Promise<void> {
  const md = await fs.readFile(path.join(out, "EXAMPLES.md"), "utf8");
  const dir = `${out}-run`;
  await fs.cp(out, dir, { recursive: true });
  const aux = `${out}-aux`;
  await fs.mkdir(path.join(aux, "bin"), { recursive: true });
  await fs.writeFile(path.join(aux, "bin", "mtlskit"), `#!/bin/sh\nexec "${process.execPath}" "${MTLSKIT_BIN}" "$@"\n`, { mode: 0o755 });
  await fs.writeFile(path.join(aux, ".curlrc"), `resolve = "${hostname}:${port}:127.0.0.1"\n`);
  await fs.writeFile(path.join(aux, "sitecustomize.py"), `import socket\n_g = socket.getaddrinfo\nsocket.getaddrinfo = lambda h, *a, **k: _g("127.0.0.1" if h == "${hostname}" else h, *a, **k)\n`);
  await fs.writeFile(path.join(aux, "hosts"), `127.0.0.1 ${hostname}\n`);
  await fs.writeFile(path.join(aux, "hosts.cjs"), `const dns = require("node:dns"); const l = dns.lookup; dns.lookup = (h, ...a) => l(h === "${hostname}" ? "127.0.0.1" : h, ...a);\n`);
  await fs.mkdir(path.join(dir, "node_modules"), { recursive: true });
  await fs.symlink(path.join(ROOT, "node_modules", "undici"), path.join(dir, "node_modules", "undici"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.join(aux, "bin")}${path.delimiter}${process.env.PATH ?? ""}`,
    MTLSKIT_HOME: home,
    CURL_HOME: aux,
    PYTHONPATH: aux,
    JAVA_TOOL_OPTIONS: `-Djdk.net.hosts.file=${path.join(aux, "hosts")}`,
    NODE_OPTIONS: `--require ${path.join(aux, "hosts.cjs")}`,
  };
  const sh = (script: string) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      execFile("bash", ["-euo", "pipefail", "-c", script], { cwd: dir, env, timeout: 120_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}\n${stderr}` }));
    });
  const token = /```sh\n(export TOKEN=[^\n]+)\n```/.exec(md)?.[1] ?? "";
  if (md.includes("TOKEN")) expect(token).toMatch(/^export TOKEN=\$\(mtlskit token --profile \S+ --show --quiet\)$/);
  const expectEcho = (r: { code: number; out: string }, what: string) => {
    expect(r.code, `${what}: ${r.out}`).toBe(0);
    expect(r.out, what).toMatch(/(^|\s)200(\s|$)/);
    expect(r.out, what).toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/);
  };
  expectEcho(await sh(`${token}\n${snippet(md, "curl", "sh").code}`), "curl");
  if (PY_REQUESTS) {
    const py = snippet(md, "Python (requests)", "python");
    await fs.writeFile(path.join(dir, "echo.py"), py.code);
    expectEcho(await sh(`${token}\n${py.runWith!}`), "python requests");
  }
  if (JDK) {
    const java = snippet(md, "Java (javax.net.ssl)", "java");
    await fs.writeFile(path.join(dir, "Echo.java"), java.code);
    expectEcho(await sh(`${token}\n${java.runWith!}`), "java SSLContext");
    // The system-properties line, with a stand-in application on the default SSLContext.
    await fs.writeFile(
      path.join(dir, "DefaultEcho.java"),
      `import java.net.URI; import java.net.http.*; import java.util.UUID;\npublic class DefaultEcho { public static void main(String[] a) throws Exception {\n` +
        `  var b = HttpRequest.newBuilder(URI.create(a[0])).header("x-correlation-id", UUID.randomUUID().toString()); if (System.getenv("TOKEN") != null) b.header("Authorization", "Bearer " + System.getenv("TOKEN"));\n` +
        `  var r = HttpClient.newHttpClient().send(b.build(), HttpResponse.BodyHandlers.ofString()); System.out.println(r.statusCode() + " " + r.body()); } }\n`,
    );
    const url = /URI\.create\("([^"]+)"\)/.exec(java.code)![1]!;
    const props = snippet(md, "Java (javax.net.ssl)", "sh").code.replace("-jar app.jar", `DefaultEcho.java ${url}`);
    expectEcho(await sh(`${token}\n${props}`), "java system properties");
  }
  const node = snippet(md, "Node (undici)", "js");
  await fs.writeFile(path.join(dir, "echo.mjs"), node.code);
  expectEcho(await sh(`${token}\n${node.runWith!}`), "node undici");
}

/** The real tools read an export folder. */
async function readWithTools(out: string, legacy: boolean): Promise<void> {
  const pass = `file:${path.join(out, "client.p12.pass")}`;
  const info = await tool("openssl", ["pkcs12", ...(legacy ? ["-legacy"] : []), "-info", "-noout", "-in", path.join(out, "client.p12"), "-passin", pass]);
  expect(info.code, info.out).toBe(0);
  expect(info.out).toMatch(legacy ? /MAC: sha1/ : /MAC: sha256/);
  expect(info.out).toMatch(legacy ? /pbeWithSHA1And3-KeyTripleDES-CBC/ : /PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/);
  const pw = (await fs.readFile(path.join(out, "client.p12.pass"), "utf8")).trim();
  const ks = await tool("keytool", ["-list", "-storetype", "PKCS12", "-keystore", path.join(out, "client.p12"), "-storepass", pw]);
  expect(ks.code, ks.out).toBe(0);
  expect(ks.out).toMatch(/PrivateKeyEntry/);
  const ts = await tool("keytool", ["-list", "-storetype", "PKCS12", "-keystore", path.join(out, "thales-truststore.p12"), "-storepass", pw]);
  expect(ts.code, ts.out).toBe(0);
  const cas = (await fs.readFile(path.join(out, "thales-trust.pem"), "utf8")).match(/BEGIN CERTIFICATE/g)!.length;
  expect(ts.out.match(/trustedCertEntry/g)).toHaveLength(cas);
  const py = await tool("python3", ["-c", `import ssl; c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.load_cert_chain("${path.join(out, "client-fullchain.pem")}", "${path.join(out, "client.key")}"); c.load_verify_locations("${path.join(out, "thales-trust.pem")}"); print("ok")`]);
  expect(py.out.trim()).toBe("ok");
  expect((await fs.stat(path.join(out, "client.key"))).mode & 0o777).toBe(0o600);
  expect((await fs.stat(path.join(out, "client.p12.pass"))).mode & 0o777).toBe(0o600);
}

describe.skipIf(!TOOLS)("export client against the emulator", () => {
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-export-client-"));
    home = path.join(tmp, "ws");
    emu = await startEmulator({ dir: path.join(tmp, "emulator") });
  });
  afterAll(async () => {
    for (const r of runs) expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
    await emu?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it("MT: the exported files work with openssl, keytool, python and curl (200 from the echo)", async () => {
    const pre = await bundle("mt", "sandbox", "654321");
    await ok(["profile", "add", "mt-sbx", "--program", "mt", "--env", "sandbox", "--id", "654321", "--cn", pre.assets["TSH_CLIENT_CN"]!]);
    const cert = await json<{ certificateFile: string }>(["cert", "self-signed", "--profile", "mt-sbx"]);
    const end = await portal("POST", "/v1/mt/sandbox/endorsements", { customerId: "654321", certificate: await fs.readFile(cert.certificateFile, "utf8") });
    expect(end.status).toBe(201);
    await ok(["assets", "import", (await bundle("mt", "sandbox", "654321")).directory, "--profile", "mt-sbx"]);

    const out = path.join(tmp, "mt-out");
    const r = await ok(["export", "client", "--profile", "mt-sbx", "--out", out]);
    const pw = (await fs.readFile(path.join(out, "client.p12.pass"), "utf8")).trim();
    expect(r.stdout).not.toContain(pw);
    await readWithTools(out, false);
    // MT's certificate is self-signed: the full chain is the leaf alone.
    expect((await fs.readFile(path.join(out, "client-fullchain.pem"), "utf8")).match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    const p12 = readPkcs12(await fs.readFile(path.join(out, "client.p12")), pw);
    expect(p12.keys[0]!.friendlyName).toBe("mt-sbx-client");
    expect(p12.keys[0]!.localKeyId).toBe(p12.certificates[0]!.localKeyId);
    const examples = await fs.readFile(path.join(out, "EXAMPLES.md"), "utf8");
    const sb = envOf("mt", "sandbox");
    expect(examples).toContain(`${new URL(sb.apiUrl).origin}${new URL(sb.apiUrl).pathname.replace(/\/?$/, "/")}echo`);
    for (const s of ["## curl", "## Python (requests)", "## Java", "## Go", "## .NET", "## Node (undici)", "x-correlation-id"]) expect(examples).toContain(s);
    await runExamples(out, new URL(sb.apiUrl).hostname, sb.port);

    const url = new URL(sb.apiUrl);
    const curl = await tool("curl", ["-sS", "-w", "\n%{http_code}", "--cert", path.join(out, "client-fullchain.pem"), "--key", path.join(out, "client.key"), "--cacert", path.join(out, "thales-trust.pem"), "--resolve", `${url.hostname}:${sb.port}:127.0.0.1`, "-H", "x-correlation-id: export-mt-1", `${url.origin}${url.pathname.replace(/\/?$/, "/")}echo`]);
    expect(curl.out.trim().split("\n").pop(), curl.out).toBe("200");
    expect(curl.out).toContain("export-mt-1");

    // Again without --force: refused, nothing changed; --legacy --force with a password file.
    const again = await run(["export", "client", "--profile", "mt-sbx", "--out", out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^error \[EXPORT_EXISTS\]/);
    await fs.writeFile(path.join(out, "client.p12.pass"), `${pw}\n`);
    const pf = path.join(tmp, "pw.txt");
    await fs.writeFile(pf, `${pw}\n`);
    await ok(["export", "client", "--profile", "mt-sbx", "--out", out, "--legacy", "--force", "--password-file", pf]);
    await readWithTools(out, true);
    const plain = await tool("openssl", ["pkcs12", "-info", "-noout", "-in", path.join(out, "client.p12"), "-passin", `file:${pf}`]);
    expect(plain.out).toMatch(/pbeWithSHA1And3-KeyTripleDES-CBC/);

    // A key in a PKCS#11 token is refused: test/pkcs11-profile.test.ts, with a real token profile.
  }, 300_000);

  it("D1: the full chain, the truststore, and curl with the token and the correlation id (200)", async () => {
    await ok(["profile", "add", "d1-pp", "--program", "d1", "--env", "preprod", "--id", "123456", "--subject", SUBJECT]);
    const csr = await json<{ csrFile: string }>(["csr", "create", "--profile", "d1-pp"]);
    const signed = await portal<{ chain: string }>("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: await fs.readFile(csr.csrFile, "utf8") });
    expect(signed.status).toBe(201);
    await fs.writeFile(path.join(tmp, "d1.pem"), signed.body.chain);
    await ok(["cert", "install", "d1.pem", "--profile", "d1-pp"]);
    await ok(["assets", "import", (await bundle("d1", "preprod", "123456")).directory, "--profile", "d1-pp"]);
    const key = await json<{ kid: string; publicKeyPem: string }>(["oauth", "key", "create", "--profile", "d1-pp"]);
    const pki = await createTestPki({ rootCn: "Customer Root" });
    const server = await pki.issue({ usage: "server", dns: ["notify.example.test"], ip: [] });
    const reg = await portal("PUT", "/v1/d1/preprod/customers/123456", { issuerHost: "notify.example.test", serverChain: server.chainPem + pki.root.certPem, oauthPublicKey: key.publicKeyPem, kid: key.kid });
    expect(reg.status).toBeLessThan(300);

    const out = path.join(tmp, "d1-out");
    await ok(["export", "client", "--profile", "d1-pp", "--out", out]);
    await readWithTools(out, false);
    const full = await fs.readFile(path.join(out, "client-fullchain.pem"), "utf8");
    expect(full.match(/BEGIN CERTIFICATE/g)!.length).toBeGreaterThanOrEqual(2);
    const examples = await fs.readFile(path.join(out, "EXAMPLES.md"), "utf8");
    expect(examples).toContain("mtlskit token --profile d1-pp --show --quiet");
    expect(examples).toContain("Authorization: Bearer $TOKEN");
    await runExamples(out, new URL(envOf("d1", "preprod").apiUrl).hostname, envOf("d1", "preprod").port);

    const token = (await ok(["token", "--profile", "d1-pp", "--show", "--quiet"])).stdout.trim();
    const pp = envOf("d1", "preprod");
    const url = new URL(pp.apiUrl);
    const curl = await tool("curl", ["-sS", "-w", "\n%{http_code}", "--cert", path.join(out, "client-fullchain.pem"), "--key", path.join(out, "client.key"), "--cacert", path.join(out, "thales-trust.pem"), "--resolve", `${url.hostname}:${pp.port}:127.0.0.1`, "-H", `Authorization: Bearer ${token}`, "-H", "x-correlation-id: export-d1-1", `${url.origin}/d1/v1/echo`]);
    expect(curl.out.trim().split("\n").pop(), curl.out).toBe("200");
    expect(curl.out).toContain("export-d1-1");

    // export server: the endpoint's key and full chain, and the Thales Client CA bundle.
    await fs.writeFile(path.join(tmp, "server.pem"), server.chainPem + pki.root.certPem);
    await fs.writeFile(path.join(tmp, "server.key"), server.keyPem);
    await ok(["server-cert", "set", "--profile", "d1-pp", "--cert", "server.pem", "--key", "server.key", "--host", "notify.example.test"]);
    const sout = path.join(tmp, "d1-server");
    const sr = await json<{ files: Array<{ file: string }> }>(["export", "server", "--profile", "d1-pp", "--out", sout]);
    expect(sr.files.map((f) => path.basename(f.file))).toEqual(["server.key", "server-fullchain.pem", "server.p12", "thales-client-ca.pem", "thales-client-ca.p12", "server.p12.pass"]);
    const spw = (await fs.readFile(path.join(sout, "server.p12.pass"), "utf8")).trim();
    const sinfo = await tool("openssl", ["pkcs12", "-info", "-noout", "-in", path.join(sout, "server.p12"), "-passin", `pass:${spw}`]);
    expect(sinfo.code, sinfo.out).toBe(0);
    const cal = await tool("keytool", ["-list", "-storetype", "PKCS12", "-keystore", path.join(sout, "thales-client-ca.p12"), "-storepass", spw]);
    expect(cal.out).toMatch(/trustedCertEntry/);
    const pyS = await tool("python3", ["-c", `import ssl; c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain("${path.join(sout, "server-fullchain.pem")}", "${path.join(sout, "server.key")}"); c.load_verify_locations("${path.join(sout, "thales-client-ca.pem")}"); print("ok")`]);
    expect(pyS.out.trim()).toBe("ok");
  }, 300_000);
});
