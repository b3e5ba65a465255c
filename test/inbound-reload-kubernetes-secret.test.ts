/**
 * A Kubernetes secret volume: every file is a symlink through `..data`, which the kubelet
 * swaps atomically to a new timestamped folder. The server watches the folder, so the swap is
 * seen and the renewed certificate and key are taken up together for new connections.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInboundServer, type InboundServer } from "../src/server/index.js";
import { captureLogger, createInboundPki, startUpstream, waitFor, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";
import type { TestCertificate } from "../src/testing/index.js";

let pki: InboundPki;
let upstream: TestUpstream;
let srv: InboundServer;
let secret: string;

async function writeVersion(name: string, server: TestCertificate): Promise<void> {
  const d = path.join(secret, name);
  await fs.mkdir(d);
  await fs.writeFile(path.join(d, "tls.crt"), server.certPem + pki.serverPki.intermediate.certPem);
  await fs.writeFile(path.join(d, "tls.key"), server.keyPem, { mode: 0o600 });
  await fs.writeFile(path.join(d, "ca.crt"), pki.thales.caBundlePem);
}

async function presented(): Promise<string> {
  const s = tls.connect({ host: "127.0.0.1", port: srv.address.port, servername: "notify.customer.test", ca: pki.serverPki.root.certPem, cert: pki.client.chainPem, key: pki.client.keyPem });
  await new Promise<void>((resolve, reject) => s.once("secureConnect", () => resolve()).once("error", reject));
  const fp = s.getPeerCertificate().fingerprint256;
  s.destroy();
  return fp;
}

beforeAll(async () => {
  pki = await createInboundPki();
  secret = path.join(pki.dir, "secret");
  await fs.mkdir(secret);
  await writeVersion("..2025_01_01_00_00_00.1", pki.server);
  await fs.symlink("..2025_01_01_00_00_00.1", path.join(secret, "..data"));
  for (const f of ["tls.crt", "tls.key", "ca.crt"]) await fs.symlink(path.join("..data", f), path.join(secret, f));
  upstream = await startUpstream();
  srv = await createInboundServer({
    credentials: { certFile: path.join(secret, "tls.crt"), keyFile: path.join(secret, "tls.key"), caFile: path.join(secret, "ca.crt") },
    upstream: upstream.url,
    listen: { host: "127.0.0.1", port: 0 },
    logger: captureLogger(),
    reload: { debounceMs: 50 },
  });
});
afterAll(async () => {
  await srv?.close({ graceMs: 100 });
  await upstream?.stop();
  if (pki) await fs.rm(pki.dir, { recursive: true, force: true });
});

describe("Kubernetes secret volume", () => {
  it("takes up the renewed certificate when ..data is swapped", async () => {
    expect(srv.watched).toEqual([secret]);
    expect(await presented()).toBe(pki.server.info.sha256Fingerprint);
    const renewed = await pki.serverPki.issue({ cn: "notify.customer.test", usage: "server", dns: ["notify.customer.test"] });
    await writeVersion("..2025_02_01_00_00_00.2", renewed);
    await fs.symlink("..2025_02_01_00_00_00.2", path.join(secret, "..data_tmp"));
    await fs.rename(path.join(secret, "..data_tmp"), path.join(secret, "..data"));
    await waitFor(async () => (await presented()) === renewed.info.sha256Fingerprint, 5000, "the renewed certificate");
    expect(srv.metrics.reloads.get({ result: "changed", trigger: "watch" })).toBe(1);
    expect(srv.metrics.reloads.get({ result: "failed", trigger: "watch" })).toBe(0);
  });
});
