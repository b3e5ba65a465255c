import { promises as fs } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Agent, request, type Dispatcher } from "undici";
import { createThalesDispatcher, thalesTlsOptions, correlationIdInterceptor, retryInterceptor } from "../src/client/index.js";
import { ReloadableCredentials } from "../src/credentials/index.js";
import { startDnsStandIn } from "../src/emulator/dns/dns-server.js";
import { mt } from "../src/policy/index.js";
import { createTestPki } from "../src/testing/index.js";
import { median } from "./stats.js";
const host = "tmg.dbp-stg.thalescloud.test";
const serverPki = await createTestPki({ rootCn: "R", intermediateCn: "DigiCert SHA2 High Assurance Server CA" });
const leaf = await serverPki.issue({ usage: "server", dns: [host], ip: [] });
const client = await serverPki.selfSigned({ cn: "C" });
const dir = await fs.mkdtemp(path.join(tmpdir(), "x-"));
const files = { certFile: path.join(dir, "c.crt"), keyFile: path.join(dir, "c.key"), caFile: path.join(dir, "t.pem") };
await fs.writeFile(files.certFile, client.certPem); await fs.writeFile(files.keyFile, client.keyPem); await fs.writeFile(files.caFile, serverPki.caBundlePem);
const credentials = await ReloadableCredentials.load(files);
const body = Buffer.from('{"ok":true}');
const server = https.createServer({ cert: leaf.chainPem, key: leaf.keyPem, ca: client.certPem, requestCert: true }, (req, res) => { req.resume(); res.writeHead(200, { "content-length": body.length }); res.end(body); });
server.keepAliveTimeout = 60000;
await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
const port = (server.address() as AddressInfo).port;
const dns = await startDnsStandIn({ records: [{ name: host, address: "127.0.0.1", ttlSeconds: 300 }] });
const tlsOpts = { ...thalesTlsOptions({ program: mt, credentials: credentials.current() }), servername: host };
const rawA = () => new Agent({ connect: tlsOpts, connections: 16 });
const rawUrl = `https://127.0.0.1:${port}/x`; const tUrl = `https://${host}:${port}/x`;
const variants: Record<string, [Dispatcher, string, Record<string, string>]> = {
  raw: [rawA(), rawUrl, { host: `${host}:${port}` }],
  rawCorrRetry: [rawA().compose(retryInterceptor(), correlationIdInterceptor()), rawUrl, { host: `${host}:${port}` }],
  thales: [createThalesDispatcher({ program: mt, credentials, dns: { servers: [dns.server] } }), tUrl, {}],
  thalesNoRetry: [createThalesDispatcher({ program: mt, credentials, dns: { servers: [dns.server] }, retry: false }), tUrl, {}],
};
async function measure(d: Dispatcher, url: string, headers: Record<string, string>, n: number) {
  let next = 0; const t = process.hrtime.bigint();
  await Promise.all(Array.from({ length: 8 }, async () => { for (;;) { if (next++ >= n) return; const r = await request(url, { dispatcher: d, headers }); await r.body.dump(); } }));
  return n / (Number(process.hrtime.bigint() - t) / 1e9);
}
const res: Record<string, number[]> = {};
for (const [k, [d, u, h]] of Object.entries(variants)) await measure(d, u, h, 500);
for (let round = 0; round < 8; round++) for (const [k, [d, u, h]] of Object.entries(variants)) (res[k] ??= []).push(await measure(d, u, h, 2000));
const base = median(res.raw!);
for (const [k, v] of Object.entries(res)) console.log(k.padEnd(15), Math.round(median(v)), (median(v) / base).toFixed(2));
server.closeAllConnections(); server.close(); await dns.close(); for (const [d] of Object.values(variants)) await d.close();
