import { createHash, randomBytes, type KeyObject } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { MtlsError } from "../errors/index.js";
import { exists, keysMatch, readCertificates, readPrivateKeyFile, readPassphraseFile, toPem, writeFileAtomic, type CertificateInfo } from "../pki/index.js";
import { writePkcs12 } from "../pki/pkcs12.js";
import { openProfile, profileClientKeyUri, type Profile } from "../store/index.js";
import { profileEndpoints, type ProfileEndpoints } from "./profile-client.js";

/** Options of {@link exportClientCredentials}. */
export interface ExportClientOptions {
  /** Folder to write into (created 0700 when missing). */
  out: string;
  /** First line is the PKCS#12 password. Absent: one is generated and written to `client.p12.pass` (0600). */
  passwordFile?: string;
  /** PBE-SHA1-3DES and a SHA-1 MAC instead of PBES2 AES-256 + HMAC-SHA-256. */
  legacy?: boolean;
  /** Replace files already in `out`. */
  force?: boolean;
}

/** One file written by an export. */
export interface ExportedFile {
  file: string;
  role: string;
  mode: string;
}

/** What {@link exportClientCredentials} wrote. */
export interface ExportClientResult {
  profile: string;
  out: string;
  files: ExportedFile[];
  /** True when the password was generated (it is in client.p12.pass, never printed). */
  generatedPassword: boolean;
  encryption: string;
}

/** The names of what `export client` writes. */
export const CLIENT_EXPORT_FILES = {
  key: "client.key",
  cert: "client.crt",
  fullchain: "client-fullchain.pem",
  p12: "client.p12",
  pass: "client.p12.pass",
  trustPem: "thales-trust.pem",
  truststore: "thales-truststore.p12",
  examples: "EXAMPLES.md",
} as const;

/**
 * A key in a PKCS#11 token never leaves it. Profiles record such a key as a URI in mtlskit.yaml
 * (`pkcs11.clientKey`, `pkcs11.serverKey`, written by csr create / cert self-signed / server-cert
 * set with a `pkcs11:` key), with no key file in the profile folder.
 */
function refuseTokenKey(profile: Profile, role: "client" | "server", uri: string): MtlsError {
  return new MtlsError("EXPORT_KEY_IN_TOKEN", `profile '${profile.name}' keeps its ${role} key in a PKCS#11 token (${uri}): the key stays in the token and cannot be exported to a file or a PKCS#12`, {
    hint: `Point the application at the token (Java SunPKCS11, OpenSSL's pkcs11 provider, the token's .NET CSP) with the profile's certificate (mtlskit profile show ${profile.name} lists its files), or create a software key for a separate credential.`,
  });
}

function label(c: CertificateInfo): string {
  return c.commonName ?? c.subjectText;
}

/**
 * `mtlskit export client`: the profile's client credentials for every client stack: PEM key,
 * leaf and full chain, a PKCS#12 with key and chain, the Thales server trust as PEM and as a
 * Java truststore (PKCS#12), and EXAMPLES.md for curl, Python, Java, Go, .NET and Node.
 * Nothing is written until everything has been read and checked.
 */
export async function exportClientCredentials(dir: string, name: string, options: ExportClientOptions): Promise<ExportClientResult> {
  const profile = await openProfile(dir, name);
  const p = profile.paths;
  const tokenKey = profileClientKeyUri(profile);
  if (tokenKey) throw refuseTokenKey(profile, "client", tokenKey);
  if (!(await exists(p.client.key)) || !(await exists(p.client.cert))) {
    const how = profile.program.clientCertificate.issuance === "thales-signed-csr" ? `mtlskit csr create --profile ${name}, then mtlskit cert install` : `mtlskit cert self-signed --profile ${name}`;
    throw new MtlsError("PROFILE_INCOMPLETE", `profile '${name}' has no active client key and certificate to export`, { hint: `Create them first: ${how}.` });
  }
  const key: KeyObject = await readPrivateKeyFile(p.client.key);
  const [leaf] = await readCertificates(p.client.cert);
  if (!leaf) throw new MtlsError("PROFILE_INCOMPLETE", `${p.client.cert} holds no certificate`);
  if (!keysMatch(key, leaf.publicKey)) throw new MtlsError("KEY_MISMATCH", `the profile's client key does not go with ${p.client.cert}`);
  const chain = (await exists(p.client.chain)) ? (await readCertificates(p.client.chain)).filter((c) => !c.selfIssued || c.subjectText !== leaf.subjectText || !Buffer.from(c.der).equals(Buffer.from(leaf.der))) : [];
  const trust = (await exists(p.assets.serverTrust)) ? await readCertificates(p.assets.serverTrust) : [];

  const password = options.passwordFile ? await readPassphraseFile(options.passwordFile) : randomBytes(18).toString("base64url");
  if (options.passwordFile && password.length === 0) throw new MtlsError("USAGE", `${options.passwordFile} is empty: the PKCS#12 needs a password`);
  const legacy = options.legacy === true;
  const localKeyId = createHash("sha1").update(Buffer.from(leaf.der)).digest();
  const friendly = `${name}-client`;
  const p12 = writePkcs12({
    password,
    legacy,
    key: { key, friendlyName: friendly, localKeyId },
    certificates: [{ der: leaf.der, friendlyName: friendly, localKeyId }, ...chain.map((c) => ({ der: c.der, friendlyName: label(c) }))],
  });
  const truststore = trust.length
    ? writePkcs12({ password, legacy, certificates: trust.map((c, i) => ({ der: c.der, friendlyName: `thales-ca-${i + 1}`, javaTrusted: true })) })
    : undefined;
  const endpoints = profileEndpoints(profile);

  const F = CLIENT_EXPORT_FILES;
  const writes: ExportWrite[] = [
    { name: F.key, data: key.export({ type: "pkcs8", format: "pem" }) as string, mode: 0o600, role: "private key (PKCS#8 PEM)" },
    { name: F.cert, data: toPem("CERTIFICATE", leaf.der), mode: 0o644, role: "client certificate (leaf)" },
    { name: F.fullchain, data: [leaf, ...chain].map((c) => toPem("CERTIFICATE", c.der)).join(""), mode: 0o644, role: "leaf then issuing CAs" },
    { name: F.p12, data: p12, mode: 0o600, role: `PKCS#12 key + chain (${legacy ? "3DES, SHA-1 MAC" : "AES-256-CBC, HMAC-SHA-256 MAC"})` },
  ];
  if (!options.passwordFile) writes.push({ name: F.pass, data: `${password}\n`, mode: 0o600, role: "PKCS#12 password (generated)" });
  if (truststore) {
    writes.push({ name: F.trustPem, data: trust.map((c) => toPem("CERTIFICATE", c.der)).join(""), mode: 0o644, role: "CAs of Thales's API server certificate" });
    writes.push({ name: F.truststore, data: truststore, mode: 0o644, role: "Java truststore (PKCS#12, trustedCertEntry)" });
  }
  writes.push({ name: F.examples, data: examplesMarkdown(profile, endpoints, { truststore: !!truststore, passwordFile: options.passwordFile }), mode: 0o644, role: "how to call Thales from each stack" });

  const files = await writeExportSet(options.out, writes, !!options.force);
  return { profile: name, out: path.resolve(options.out), files, generatedPassword: !options.passwordFile, encryption: encryptionName(legacy) };
}

/**
 * EXAMPLES.md for a profile: one ready call of the echo resource per client stack, each a whole
 * program (imports included) run from the export folder. test/export-client.test.ts extracts
 * and runs the curl, Python, Java and Node ones against the emulator.
 */
export function examplesMarkdown(profile: Profile, e: ProfileEndpoints, o: { truststore: boolean; passwordFile?: string | undefined }): string {
  const d1 = profile.program.auth.kind === "oauth2-jwt-bearer";
  // D1's resource paths are per API; the echo resource is where the emulator serves it.
  const url = d1 ? `${e.origin}/d1/v1/echo` : `${e.origin}${e.basePath}echo`;
  const pass = o.passwordFile ?? "client.p12.pass";
  const tokenCmd = `mtlskit token --profile ${profile.name} --show --quiet`;
  const authCurl = d1 ? `  -H "Authorization: Bearer $TOKEN" \\\n` : "";
  const authPy = d1 ? `"Authorization": "Bearer " + os.environ["TOKEN"], ` : "";
  const authJava = d1 ? `.header("Authorization", "Bearer " + System.getenv("TOKEN"))\n            ` : "";
  const authGo = d1 ? `\treq.Header.Set("Authorization", "Bearer "+os.Getenv("TOKEN"))\n` : "";
  const authNet = d1 ? `req.Headers.Add("Authorization", "Bearer " + Environment.GetEnvironmentVariable("TOKEN"));\n` : "";
  const authNode = d1 ? `authorization: \`Bearer \${process.env.TOKEN}\`, ` : "";
  const trustCurl = o.truststore ? "  --cacert thales-trust.pem \\\n" : "";
  const lines = [
    `# Calling Thales (${profile.program.name}, ${profile.config.environment}) from your application`,
    "",
    `Profile \`${profile.name}\`: host \`${e.hostname}\`, port ${e.port}, base path \`${e.basePath}\`. Generated by \`mtlskit export client\`.`,
    "Every request carries an `x-correlation-id` header (a UUID per call is fine)" + (d1 ? "; D1 calls also carry a bearer token, which `mtlskit token` obtains over mTLS." : "."),
    "Each example is a whole program, run from this folder, that calls the echo resource and prints the status and the body.",
    "",
    "Files: `client.key` (0600), `client.crt`, `client-fullchain.pem`, `client.p12` (password in " + `\`${pass}\`)` + (o.truststore ? ", `thales-trust.pem`, `thales-truststore.p12` (same password)." : "."),
    ...(d1 ? ["", "The token, for every example below (valid for a few minutes; fetch a new one when it expires):", "```sh", `export TOKEN=$(${tokenCmd})`, "```"] : []),
    "",
    "## curl",
    "```sh",
    `curl --cert client-fullchain.pem --key client.key \\\n${trustCurl}${authCurl}  -H "x-correlation-id: $(cat /proc/sys/kernel/random/uuid 2>/dev/null || uuidgen)" \\\n  -w '\\n%{http_code}\\n' ${url}`,
    "```",
    "",
    "## Python (requests)",
    "`echo.py`, run with `python3 echo.py`:",
    "```python",
    "import os, uuid, requests",
    "",
    `r = requests.get("${url}",`,
    `    cert=("client-fullchain.pem", "client.key"),${o.truststore ? ` verify="thales-trust.pem",` : ""}`,
    `    headers={${authPy}"x-correlation-id": str(uuid.uuid4())})`,
    "print(r.status_code, r.text)",
    "```",
    "",
    "## Java (javax.net.ssl)",
    "System properties, for an application whose HTTP client uses the default `SSLContext` (`HttpClient.newHttpClient()`, Apache HttpClient, OkHttp...):",
    "```sh",
    `java -Djavax.net.ssl.keyStore=client.p12 -Djavax.net.ssl.keyStoreType=PKCS12 -Djavax.net.ssl.keyStorePassword="$(cat ${pass})" \\`,
    ...(o.truststore ? [`     -Djavax.net.ssl.trustStore=thales-truststore.p12 -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword="$(cat ${pass})" \\`] : []),
    "     -jar app.jar",
    "```",
    "Or an explicit `SSLContext`: `Echo.java` (JDK 11+), run with `javac Echo.java && java Echo`:",
    "```java",
    "import java.net.URI;",
    "import java.net.http.HttpClient;",
    "import java.net.http.HttpRequest;",
    "import java.net.http.HttpResponse;",
    "import java.nio.file.Files;",
    "import java.nio.file.Path;",
    "import java.security.KeyStore;",
    "import java.util.UUID;",
    "import javax.net.ssl.KeyManagerFactory;",
    "import javax.net.ssl.SSLContext;",
    "import javax.net.ssl.TrustManagerFactory;",
    "",
    "public class Echo {",
    "    public static void main(String[] args) throws Exception {",
    `        char[] pw = Files.readString(Path.of("${pass}")).strip().toCharArray();`,
    `        KeyStore ks = KeyStore.getInstance("PKCS12");`,
    `        try (var in = Files.newInputStream(Path.of("client.p12"))) { ks.load(in, pw); }`,
    `        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());`,
    `        kmf.init(ks, pw);`,
    ...(o.truststore
      ? [`        KeyStore ts = KeyStore.getInstance("PKCS12");`, `        try (var in = Files.newInputStream(Path.of("thales-truststore.p12"))) { ts.load(in, pw); }`]
      : [`        KeyStore ts = null; // the JDK's default trust`]),
    `        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());`,
    `        tmf.init(ts);`,
    `        SSLContext ctx = SSLContext.getInstance("TLS");`,
    `        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);`,
    `        HttpClient client = HttpClient.newBuilder().sslContext(ctx).build();`,
    `        HttpRequest req = HttpRequest.newBuilder(URI.create("${url}"))`,
    `            ${authJava}.header("x-correlation-id", UUID.randomUUID().toString()).build();`,
    `        HttpResponse<String> r = client.send(req, HttpResponse.BodyHandlers.ofString());`,
    `        System.out.println(r.statusCode() + " " + r.body());`,
    "    }",
    "}",
    "```",
    "",
    "## Go",
    "`main.go`, run with `go run main.go`:",
    "```go",
    "package main",
    "",
    "import (",
    '\t"crypto/rand"',
    '\t"crypto/tls"',
    '\t"crypto/x509"',
    '\t"fmt"',
    '\t"io"',
    '\t"net/http"',
    ...(o.truststore || d1 ? ['\t"os"'] : []),
    ")",
    "",
    "func main() {",
    `\tcert, err := tls.LoadX509KeyPair("client-fullchain.pem", "client.key")`,
    "\tif err != nil {",
    "\t\tpanic(err)",
    "\t}",
    ...(o.truststore
      ? ["\tpool := x509.NewCertPool()", `\tpem, err := os.ReadFile("thales-trust.pem")`, "\tif err != nil || !pool.AppendCertsFromPEM(pem) {", `\t\tpanic("thales-trust.pem holds no certificate")`, "\t}"]
      : ["\tvar pool *x509.CertPool // the system's trust"]),
    "\tclient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}}}",
    `\treq, err := http.NewRequest("GET", "${url}", nil)`,
    "\tif err != nil {",
    "\t\tpanic(err)",
    "\t}",
    "\tid := make([]byte, 16)",
    "\trand.Read(id)",
    "\tid[6], id[8] = id[6]&0x0f|0x40, id[8]&0x3f|0x80",
    `${authGo}\treq.Header.Set("x-correlation-id", fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:]))`,
    "\tresp, err := client.Do(req)",
    "\tif err != nil {",
    "\t\tpanic(err)",
    "\t}",
    "\tdefer resp.Body.Close()",
    "\tbody, _ := io.ReadAll(resp.Body)",
    "\tfmt.Println(resp.StatusCode, string(body))",
    "}",
    "```",
    "",
    "## .NET (HttpClient)",
    "`Program.cs` of a console project (.NET 6+, top-level statements), run with `dotnet run`:",
    "```csharp",
    "using System;",
    "using System.IO;",
    "using System.Net.Http;",
    "using System.Net.Security;",
    "using System.Security.Cryptography.X509Certificates;",
    "",
    `var pw = File.ReadAllText("${pass}").Trim();`,
    `var handler = new HttpClientHandler();`,
    `handler.ClientCertificates.Add(new X509Certificate2("client.p12", pw));`,
    o.truststore
      ? `var trust = new X509Certificate2Collection(); trust.ImportFromPemFile("thales-trust.pem");\nhandler.ServerCertificateCustomValidationCallback = (msg, cert, chain, errors) => {\n    chain!.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust; chain.ChainPolicy.CustomTrustStore.AddRange(trust);\n    return chain.Build(cert!) && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == 0; };`
      : "",
    `using var http = new HttpClient(handler);`,
    `var req = new HttpRequestMessage(HttpMethod.Get, "${url}");`,
    `${authNet}req.Headers.Add("x-correlation-id", Guid.NewGuid().ToString());`,
    `var resp = await http.SendAsync(req);`,
    `Console.WriteLine($"{(int)resp.StatusCode} {await resp.Content.ReadAsStringAsync()}");`,
    "```",
    "",
    "## Node (undici)",
    "`echo.mjs` (Node 20.18+, `npm install undici`), run with `node echo.mjs`:",
    "```js",
    `import { readFileSync } from "node:fs";`,
    `import { randomUUID } from "node:crypto";`,
    `import { Agent, request } from "undici";`,
    "",
    `const dispatcher = new Agent({ connect: { cert: readFileSync("client-fullchain.pem"), key: readFileSync("client.key")${o.truststore ? `, ca: readFileSync("thales-trust.pem")` : ""} } });`,
    `const r = await request("${url}", { dispatcher, headers: { ${authNode}"x-correlation-id": randomUUID() } });`,
    `console.log(r.statusCode, await r.body.text());`,
    `await dispatcher.close();`,
    "```",
    "",
  ];
  return lines.filter((l, i, a) => !(l === "" && a[i - 1] === "" )).join("\n").replace(/\n{3,}/g, "\n\n");
}

/** The names of what `export server` writes. */
export const SERVER_EXPORT_FILES = {
  key: "server.key",
  fullchain: "server-fullchain.pem",
  p12: "server.p12",
  pass: "server.p12.pass",
  clientCa: "thales-client-ca.pem",
  clientCaP12: "thales-client-ca.p12",
} as const;

/**
 * `mtlskit export server`: the endpoint Thales calls, for a load balancer or an appliance: the
 * server key, its full chain, and the Thales Client CA bundle (the trust for Thales's client
 * certificate), as PEM and PKCS#12.
 */
export async function exportServerCredentials(dir: string, name: string, options: ExportClientOptions): Promise<ExportClientResult> {
  const profile = await openProfile(dir, name);
  const p = profile.paths;
  const tokenKey = profile.config.pkcs11?.serverKey;
  if (tokenKey) throw refuseTokenKey(profile, "server", tokenKey);
  if (!(await exists(p.server.key)) || !(await exists(p.server.cert))) {
    throw new MtlsError("PROFILE_INCOMPLETE", `profile '${name}' has no server certificate and key to export`, { hint: `Set them first: mtlskit server-cert set --profile ${name} --cert CERT --key KEY` });
  }
  if (!(await exists(p.assets.inboundClientCa))) {
    throw new MtlsError("PROFILE_INCOMPLETE", `profile '${name}' has no Thales Client CA (${p.assets.inboundClientCa})`, { hint: `Import the assets Thales gave: mtlskit assets import DIR --profile ${name}` });
  }
  const key = await readPrivateKeyFile(p.server.key);
  const [leaf] = await readCertificates(p.server.cert);
  if (!leaf) throw new MtlsError("PROFILE_INCOMPLETE", `${p.server.cert} holds no certificate`);
  const chain = (await exists(p.server.chain)) ? await readCertificates(p.server.chain) : [];
  const cas = await readCertificates(p.assets.inboundClientCa);
  const password = options.passwordFile ? await readPassphraseFile(options.passwordFile) : randomBytes(18).toString("base64url");
  const legacy = options.legacy === true;
  const localKeyId = createHash("sha1").update(Buffer.from(leaf.der)).digest();
  const friendly = `${name}-server`;
  const F = SERVER_EXPORT_FILES;
  const writes: ExportWrite[] = [
    { name: F.key, data: key.export({ type: "pkcs8", format: "pem" }) as string, mode: 0o600, role: "server private key (PKCS#8 PEM)" },
    { name: F.fullchain, data: [leaf, ...chain].map((c) => toPem("CERTIFICATE", c.der)).join(""), mode: 0o644, role: "server certificate then its CAs" },
    { name: F.p12, data: writePkcs12({ password, legacy, key: { key, friendlyName: friendly, localKeyId }, certificates: [{ der: leaf.der, friendlyName: friendly, localKeyId }, ...chain.map((c) => ({ der: c.der, friendlyName: label(c) }))] }), mode: 0o600, role: "PKCS#12 server key + chain" },
    { name: F.clientCa, data: cas.map((c) => toPem("CERTIFICATE", c.der)).join(""), mode: 0o644, role: "Thales Client CA bundle (trust for Thales's client certificate)" },
    { name: F.clientCaP12, data: writePkcs12({ password, legacy, certificates: cas.map((c, i) => ({ der: c.der, friendlyName: `thales-client-ca-${i + 1}`, javaTrusted: true })) }), mode: 0o644, role: "Thales Client CA bundle as a PKCS#12 truststore" },
  ];
  if (!options.passwordFile) writes.push({ name: F.pass, data: `${password}\n`, mode: 0o600, role: "PKCS#12 password (generated)" });
  const files = await writeExportSet(options.out, writes, !!options.force);
  return { profile: name, out: path.resolve(options.out), files, generatedPassword: !options.passwordFile, encryption: encryptionName(legacy) };
}

/** One file of an export set. */
interface ExportWrite {
  name: string;
  data: string | Uint8Array;
  mode: number;
  role: string;
}

/** Writes an export set into `out` (created 0700); without `force`, refuses if any of its files is there. */
async function writeExportSet(out: string, writes: readonly ExportWrite[], force: boolean): Promise<ExportedFile[]> {
  await fs.mkdir(out, { recursive: true, mode: 0o700 });
  if (!force) {
    const present: string[] = [];
    for (const w of writes) if (await exists(path.join(out, w.name))) present.push(w.name);
    if (present.length) throw new MtlsError("EXPORT_EXISTS", `${out} already holds ${present.join(", ")}`);
  }
  const files: ExportedFile[] = [];
  for (const w of writes) {
    const file = path.join(out, w.name);
    await writeFileAtomic(file, w.data, { mode: w.mode, overwrite: force });
    files.push({ file, role: w.role, mode: w.mode.toString(8).padStart(4, "0") });
  }
  return files;
}

/** How a PKCS#12 of the export is protected, as the commands print it. */
function encryptionName(legacy: boolean): string {
  return legacy ? "pbeWithSHAAnd3-KeyTripleDES-CBC, SHA-1 MAC" : "PBES2 (PBKDF2-HMAC-SHA-256, AES-256-CBC), HMAC-SHA-256 MAC";
}
