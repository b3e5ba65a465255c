import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestPki } from "../testing/index.js";
import { assetsStatus } from "./assets-status.js";
import { importAssets } from "./assets-import.js";
import { loadConfig } from "./config.js";
import { addProfile } from "./profiles.js";
import { makeThalesSide, serverChainPem, standardBundle, thalesClientCertificate, writeBundle, type ThalesSide } from "../../test/support/store-fixtures.js";
import { openProfile } from "./workspace.js";

let d1: ThalesSide;
let mt: ThalesSide;
let tmp: string;
let ws: string;

beforeAll(async () => {
  [d1, mt] = await Promise.all([makeThalesSide("d1"), makeThalesSide("mt")]);
});
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-assets-"));
  ws = path.join(tmp, "ws");
  await addProfile(ws, "d1-pp", { program: "d1", environment: "preprod", customerId: "123456" });
  await addProfile(ws, "mt-sbx", { program: "mt", environment: "sandbox", customerId: "654321" });
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function pemFile(name: string, pem: string): Promise<string> {
  const f = path.join(tmp, name);
  await fs.writeFile(f, pem);
  return f;
}

async function assetsDirIsEmpty(profile: string): Promise<boolean> {
  const p = (await openProfile(ws, profile)).paths;
  return (await fs.readdir(p.assets.dir).catch(() => [])).length === 0;
}

describe("assets import: bundles", () => {
  it("MT: imports the named assets, takes the portal CN and the resolver, and derives the inbound trust from the CA only", async () => {
    const bundle = await standardBundle(path.join(tmp, "b"), mt, "mt", "sandbox", "654321", { values: { TSH_CLIENT_CN: "MT-654321-SBX" } });
    const r = await importAssets(ws, "mt-sbx", bundle);
    expect(r.kind).toBe("bundle");
    expect(r.imported.map((a) => a.name).sort()).toEqual(["TSH_CLIENT_CN", "TSH_INBOUND_HOST", "TSH_TLS_CLIENT_CERTIFICATE", "TSH_TLS_SERVER_CERTIFICATE_CHAIN"]);
    expect(r.inboundTrust!.certificates.every((c) => c.ca)).toBe(true);
    expect(r.outboundTrust!.certificates.map((c) => c.subject)).toContain("CN=DigiCert SHA2 High Assurance Server CA");
    const profile = await openProfile(ws, "mt-sbx");
    expect(profile.config.cn).toBe("MT-654321-SBX");
    expect(profile.config.dns?.servers).toEqual(["127.0.0.1:40002"]);
    expect(profile.apiHost).toBe("tmg.dbp-stg.thalescloud.test:40003");
    const status = await assetsStatus(ws, "mt-sbx");
    expect(status.assets.filter((a) => a.direction === "from-thales").map((a) => a.state)).toEqual(["present", "present", "present", "present"]);
    expect(status.ok).toBe(true);
  });

  it("refuses a bundle of another environment, and a bundle whose host belongs to another environment", async () => {
    const prod = await standardBundle(path.join(tmp, "prod"), d1, "d1", "production", "123456");
    await expect(importAssets(ws, "d1-pp", prod)).rejects.toMatchObject({ code: "ENVIRONMENT_MISMATCH" });
    const mixed = await standardBundle(path.join(tmp, "mixed"), d1, "d1", "preprod", "123456", { values: { D1_API_HOST: "api.d1.thalescloud.test:40004" } });
    await expect(importAssets(ws, "d1-pp", mixed)).rejects.toMatchObject({ code: "ENVIRONMENT_MISMATCH", message: expect.stringContaining("D1_API_HOST") });
    const mtProd = await standardBundle(path.join(tmp, "mtprod"), mt, "mt", "sandbox", "654321", { values: { TSH_INBOUND_HOST: "tmg.dbp.thalescloud.io" } });
    await expect(importAssets(ws, "mt-sbx", mtProd)).rejects.toMatchObject({ code: "ENVIRONMENT_MISMATCH", message: expect.stringContaining("Merchant Tokenization Production") });
    expect(await assetsDirIsEmpty("d1-pp")).toBe(true);
    expect(await assetsDirIsEmpty("mt-sbx")).toBe(true);
  });

  it("refuses Thales's production client certificate in a preprod bundle", async () => {
    const prodClient = await thalesClientCertificate(d1, "d1", "production");
    const b = await standardBundle(path.join(tmp, "b"), d1, "d1", "preprod", "123456", { files: { D1_TLS_CLIENT_CA: prodClient.pem } });
    await expect(importAssets(ws, "d1-pp", b)).rejects.toMatchObject({ code: "ENVIRONMENT_MISMATCH", message: expect.stringContaining("thales-notifier.d1-production") });
  });

  it("refuses a leaf where a CA is needed, with the advice to ask Thales for the Client CA", async () => {
    const leafOnly = (await thalesClientCertificate(mt, "mt", "sandbox")).leaf.certPem;
    const b = await standardBundle(path.join(tmp, "b"), mt, "mt", "sandbox", "654321", { files: { TSH_TLS_CLIENT_CERTIFICATE: leafOnly } });
    const err = await importAssets(ws, "mt-sbx", b).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "CA_CERTIFICATE_REQUIRED", message: expect.stringContaining("never pins the leaf") });
    expect((err as { hint: string }).hint).toContain("Thales Client CA");
    // The server chain too must hold CAs.
    const serverLeaf = await mt.server.issue({ usage: "server", dns: ["tmg.dbp-stg.thalescloud.test"], cn: "tmg.dbp-stg.thalescloud.test" });
    const b2 = await standardBundle(path.join(tmp, "b2"), mt, "mt", "sandbox", "654321", { files: { TSH_TLS_SERVER_CERTIFICATE_CHAIN: serverLeaf.certPem } });
    await expect(importAssets(ws, "mt-sbx", b2)).rejects.toMatchObject({ code: "CA_CERTIFICATE_REQUIRED" });
    expect(await assetsDirIsEmpty("mt-sbx")).toBe(true);
  });

  it("refuses a server chain without the CA the program names, a broken link, and an IP host", async () => {
    const other = await createTestPki({ rootCn: "Some Root", intermediateCn: "Some Server CA", validityHours: 24 * 400 });
    const b = await standardBundle(path.join(tmp, "b"), mt, "mt", "sandbox", "654321", { files: { TSH_TLS_SERVER_CERTIFICATE_CHAIN: other.caBundlePem } });
    await expect(importAssets(ws, "mt-sbx", b)).rejects.toMatchObject({ code: "ASSET_INVALID", message: expect.stringContaining("DigiCert SHA2 High Assurance Server CA") });
    // An intermediate followed by a root of the same name but another key.
    const impostor = await createTestPki({ rootCn: "Amazon Root CA 1", intermediateCn: "Amazon RSA 2048 M02", validityHours: 24 * 400 });
    const b2 = await standardBundle(path.join(tmp, "b2"), d1, "d1", "preprod", "123456", { files: { D1_TLS_SERVER_CA_CHAIN: d1.server.intermediate.certPem + impostor.root.certPem } });
    await expect(importAssets(ws, "d1-pp", b2)).rejects.toMatchObject({ code: "CHAIN_INVALID" });
    const b3 = await standardBundle(path.join(tmp, "b3"), d1, "d1", "preprod", "123456", { values: { D1_API_HOST: "10.1.2.3:443" } });
    await expect(importAssets(ws, "d1-pp", b3)).rejects.toMatchObject({ code: "HOST_INVALID" });
  });

  it("refuses an expired CA, a bundle for another customer, a to-Thales bundle, a missing manifest and a file outside the bundle", async () => {
    const old = await createTestPki({ rootCn: "Thales Client CA", validityHours: 1 });
    const expiredCa = await old.issue({ issuer: "root", ca: true, cn: "Thales Client Issuing CA", notBefore: new Date(Date.now() - 3 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    const b = await standardBundle(path.join(tmp, "b"), d1, "d1", "preprod", "123456", { files: { D1_TLS_CLIENT_CA: expiredCa.certPem } });
    await expect(importAssets(ws, "d1-pp", b)).rejects.toMatchObject({ code: "ASSET_INVALID", message: expect.stringContaining("expired") });
    const other = await standardBundle(path.join(tmp, "o"), d1, "d1", "preprod", "999");
    await expect(importAssets(ws, "d1-pp", other)).rejects.toMatchObject({ code: "PROFILE_MISMATCH" });
    const toThales = await writeBundle(path.join(tmp, "t"), { program: "d1", environment: "preprod", customerId: "123456", direction: "to-thales" }, {});
    await expect(importAssets(ws, "d1-pp", toThales)).rejects.toMatchObject({ code: "ASSETS_INVALID" });
    await fs.mkdir(path.join(tmp, "empty"));
    await expect(importAssets(ws, "d1-pp", path.join(tmp, "empty"))).rejects.toMatchObject({ code: "ASSETS_INVALID", message: expect.stringContaining("manifest.json") });
    const escape = await writeBundle(path.join(tmp, "e"), { program: "d1", environment: "preprod", customerId: "123456" }, {}, { D1_TLS_CLIENT_CA: "../secret.pem" });
    await expect(importAssets(ws, "d1-pp", escape)).rejects.toMatchObject({ code: "ASSETS_INVALID" });
  });

  it("re-importing replaces the files and keeps dated backups of what changed", async () => {
    await importAssets(ws, "d1-pp", await standardBundle(path.join(tmp, "b1"), d1, "d1", "preprod", "123456"));
    const r = await importAssets(ws, "d1-pp", await standardBundle(path.join(tmp, "b2"), d1, "d1", "preprod", "123456"));
    // A new Thales client leaf each time: the received file changes, the derived CA trust does not.
    expect(r.backups.map((b) => path.basename(b))).toEqual([expect.stringMatching(/^thales-client-certificate\.\d{4}-.*Z\.pem$/)]);
  });
});

describe("assets import: a single PEM file", () => {
  it("classifies Thales's client certificate with its CA, and says why", async () => {
    const client = await thalesClientCertificate(d1, "d1", "preprod");
    const r = await importAssets(ws, "d1-pp", await pemFile("client.pem", client.pem));
    expect(r.kind).toBe("file");
    expect(r.classification?.name).toBe("D1_TLS_CLIENT_CA");
    expect(r.classification?.reason).toContain("client certificate");
    expect(r.inboundTrust?.certificates).toHaveLength(2);
  });

  it("classifies a CA chain leading to the program's server CA as the server chain, and a lone CA as the Client CA", async () => {
    const s = await importAssets(ws, "mt-sbx", await pemFile("server.pem", serverChainPem(mt)));
    expect(s.classification?.name).toBe("TSH_TLS_SERVER_CERTIFICATE_CHAIN");
    const c = await importAssets(ws, "mt-sbx", await pemFile("ca.pem", mt.client.root.certPem));
    expect(c.classification?.name).toBe("TSH_TLS_CLIENT_CERTIFICATE");
    expect(c.classification?.reason).toContain("Thales Client CA");
  });

  it("refuses a lone leaf, a private key, and a wrong --as", async () => {
    const leaf = (await thalesClientCertificate(mt, "mt", "sandbox")).leaf;
    await expect(importAssets(ws, "mt-sbx", await pemFile("leaf.pem", leaf.certPem))).rejects.toMatchObject({ code: "CA_CERTIFICATE_REQUIRED" });
    await expect(importAssets(ws, "mt-sbx", await pemFile("k.pem", leaf.certPem + leaf.keyPem))).rejects.toMatchObject({ code: "ASSET_INVALID", message: expect.stringContaining("private key") });
    await expect(importAssets(ws, "mt-sbx", await pemFile("x.pem", mt.client.root.certPem), { as: "D1_TLS_CLIENT_CA" })).rejects.toMatchObject({ code: "USAGE" });
    const ok = await importAssets(ws, "mt-sbx", await pemFile("y.pem", mt.client.root.certPem), { as: "TSH_TLS_CLIENT_CERTIFICATE" });
    expect(ok.classification?.reason).toBe("named with --as");
  });

  it("keeps no private key material in the workspace's asset files or the record", async () => {
    await importAssets(ws, "d1-pp", await standardBundle(path.join(tmp, "b"), d1, "d1", "preprod", "123456"));
    const p = (await openProfile(ws, "d1-pp")).paths;
    for (const f of await fs.readdir(p.assets.dir)) expect(await fs.readFile(path.join(p.assets.dir, f), "utf8")).not.toContain("PRIVATE KEY");
    expect(Object.keys((await loadConfig(ws)).config.profiles["d1-pp"]!.thales!)).toEqual(["apiHost", "authzUrl"]);
  });
});
