/**
 * Keys in a token (issue 14): the client key in SoftHSM2 against the same key type in a file,
 * in the same run. (d1) pooled requests/s through `createThalesDispatcher`, where the token
 * signs only at each new connection; (d2) full mutual-TLS handshakes/s, where it signs every
 * time. Needs softhsm2 and OpenSSL's pkcs11 engine; prints why when they are missing.
 *
 * Run alone: `node --import tsx bench/pkcs11.ts`; from bench/run.ts: `runPkcs11Bench()`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { pathToFileURL } from "node:url";
import { createThalesDispatcher, thalesTlsOptions } from "../src/client/index.js";
import { ReloadableCredentials, type CredentialFiles } from "../src/credentials/index.js";
import { startDnsStandIn } from "../src/emulator/dns/dns-server.js";
import { createCertificate, createTokenKey, OID, toPem } from "../src/pki/index.js";
import { mt } from "../src/policy/index.js";
import { createTestPki } from "../src/testing/index.js";
import { measure, startServer } from "./outbound.js";
import { table } from "./table.js";
import { median } from "./stats.js";

const MODULE = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"].find((m) => existsSync(m));
const REQUESTS = Number(process.env["MTLSKIT_BENCH_PKCS11_REQUESTS"] ?? 500);
const ROUNDS = Number(process.env["MTLSKIT_BENCH_PKCS11_ROUNDS"] ?? 7);
const HANDSHAKES = Number(process.env["MTLSKIT_BENCH_PKCS11_HANDSHAKES"] ?? 200);

async function handshakesPerSecond(options: tls.ConnectionOptions, port: number, count: number): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => {
      const s = tls.connect({ ...options, host: "127.0.0.1", port, session: undefined }, () => {
        s.destroy();
        resolve();
      });
      s.once("error", reject);
    });
  }
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** Runs the token benchmark and returns the lines to print. */
export async function runPkcs11Bench(): Promise<string[]> {
  if (!MODULE) return ["(d) Keys in a token: skipped, libsofthsm2.so not found (Debian package softhsm2)"];
  const dir = await fs.mkdtemp(path.join(tmpdir(), "mtlskit-bench-pkcs11-"));
  await fs.mkdir(path.join(dir, "tokens"));
  const conf = path.join(dir, "softhsm2.conf");
  await fs.writeFile(conf, `directories.tokendir = ${path.join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env["SOFTHSM2_CONF"] = conf;
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", "bench", "--pin", "123456", "--so-pin", "987654"], { stdio: "ignore" });
  const pkcs11 = { module: MODULE, pin: "123456" };

  const host = "tmg.dbp-stg.thalescloud.test";
  const serverPki = await createTestPki({ rootCn: "DigiCert High Assurance EV Root CA (bench)", intermediateCn: "DigiCert SHA2 High Assurance Server CA" });
  const serverLeaf = await serverPki.issue({ usage: "server", dns: [host], ip: [] });
  const fileClient = await serverPki.selfSigned({ cn: "MT-BENCH-SBX" });
  const tokenKey = createTokenKey("pkcs11:token=bench;object=client", "ecdsa-p256", pkcs11);
  const tokenCertPem = toPem(
    "CERTIFICATE",
    createCertificate({ subject: [[{ type: "CN", oid: "2.5.4.3", value: "MT-BENCH-SBX" }]], publicKey: tokenKey.publicKey, signingKey: tokenKey, notAfter: new Date(Date.now() + 86_400_000), extensions: { basicConstraints: { ca: false }, keyUsage: ["digitalSignature"], extKeyUsage: [OID.clientAuth] } }),
  );
  tokenKey.close();
  const caFile = path.join(dir, "trust.pem");
  await fs.writeFile(caFile, serverPki.caBundlePem);
  const fileFiles: CredentialFiles = { certFile: path.join(dir, "file.crt"), keyFile: path.join(dir, "file.key"), caFile };
  await fs.writeFile(fileFiles.certFile, fileClient.certPem);
  await fs.writeFile(fileFiles.keyFile, fileClient.keyPem, { mode: 0o600 });
  const tokenFiles: CredentialFiles = { certFile: path.join(dir, "token.crt"), keyFile: tokenKey.info.uri, caFile, pkcs11 };
  await fs.writeFile(tokenFiles.certFile, tokenCertPem);
  const fileCreds = await ReloadableCredentials.load(fileFiles);
  const tokenCreds = await ReloadableCredentials.load(tokenFiles);

  const server = await startServer({ cert: serverLeaf.chainPem, key: serverLeaf.keyPem, ca: fileClient.certPem + tokenCertPem });
  const dns = await startDnsStandIn({ records: [{ name: host, address: "127.0.0.1", ttlSeconds: 30 }] });
  const url = `https://${host}:${server.port}/1/sandbox-v2/echo`;
  const file = createThalesDispatcher({ program: mt, credentials: fileCreds, dns: { servers: [dns.server] }, pool: { connections: 16 } });
  const token = createThalesDispatcher({ program: mt, credentials: tokenCreds, dns: { servers: [dns.server] }, pool: { connections: 16 } });
  const fileRps: number[] = [];
  const tokenRps: number[] = [];
  const fileHs: number[] = [];
  const tokenHs: number[] = [];
  try {
    await measure(file, url, {}, 200);
    await measure(token, url, {}, 200);
    for (let i = 0; i < ROUNDS; i++) {
      const pair = i % 2 === 0 ? [file, token] : [token, file];
      for (const d of pair) (d === file ? fileRps : tokenRps).push((await measure(d, url, {}, REQUESTS)).rps);
    }
    const connect = (c: ReloadableCredentials): tls.ConnectionOptions => ({ ...thalesTlsOptions({ program: mt, credentials: c.current() }), servername: host });
    const fileTls = connect(fileCreds);
    const tokenTls = connect(tokenCreds);
    for (let i = 0; i < 3; i++) {
      fileHs.push(await handshakesPerSecond(fileTls, server.port, HANDSHAKES));
      tokenHs.push(await handshakesPerSecond(tokenTls, server.port, HANDSHAKES));
    }
  } finally {
    await file.close();
    await token.close();
    await dns.close();
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
  const rps = (a: number[]) => `${Math.round(median(a)).toLocaleString("en-US")}/s`;
  return [
    `(d) Keys in a token: client key in SoftHSM2 (OpenSSL pkcs11 engine) vs the same key type in a file, same server, same run`,
    ...table([
      ["client key", `pooled req/s (${REQUESTS} GETs x ${ROUNDS} rounds)`, `full handshakes/s (${HANDSHAKES} x 3)`],
      ["file, ECDSA P-256 (reference)", rps(fileRps), rps(fileHs)],
      ["SoftHSM2 token, ECDSA P-256", rps(tokenRps), rps(tokenHs)],
      ["token / file", `${(median(tokenRps) / median(fileRps)).toFixed(2)}x`, `${(median(tokenHs) / median(fileHs)).toFixed(2)}x`],
    ]),
    "  With pooled connections the token signs only at each new connection; every full handshake signs once in the token.",
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const line of await runPkcs11Bench()) console.log(line);
}
