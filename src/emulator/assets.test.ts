import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCsr, decodePkiObjects, generateKey, isSignedBy, parseSubject, type CertificateInfo } from "../pki/index.js";
import { createTestPki, type TestPki } from "../testing/index.js";
import { ASSET_FORMAT, assetBundleDirName, buildAssetBundle, writeAssetBundle, type AssetSources } from "./assets.js";
import { loadOrCreateEmulatorPki, type EmulatorPki } from "./emulator-pki.js";
import { EmulatorState, issuedD1Record } from "./state.js";

let dir: string;
let pki: EmulatorPki;
let state: EmulatorState;
let testPki: TestPki;

const mtEndpoint = { apiUrl: "https://tmg.dbp-stg.thalescloud.test:40003/1/sandbox-v2/" };
const d1Endpoint = { apiUrl: "https://api.d1-stg.thalescloud.test:40004", authzUrl: "https://api.d1-stg.thalescloud.test:40004/authz/v1" };

function sources(endpoint: AssetSources["endpoint"]): AssetSources {
  return { pki, state, endpoint, dnsServers: ["127.0.0.1:40002"] };
}

function certificates(pem: string): CertificateInfo[] {
  const items = decodePkiObjects(Buffer.from(pem), "asset");
  expect(items.every((i) => i.kind === "certificate")).toBe(true);
  return items as unknown as CertificateInfo[];
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "mtlskit-assets-"));
  pki = await loadOrCreateEmulatorPki(dir);
  state = await EmulatorState.load(dir);
  testPki = await createTestPki();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("MT asset bundle", () => {
  it("has exactly the docs/architecture.md shape, and every file parses", async () => {
    const customerServer = await testPki.issue({ usage: "server", dns: ["issuer.example.test"] });
    const clientCert = await testPki.selfSigned({ cn: "MT-123456-SBX" });
    await state.putCustomer("mt", "sandbox", "123456", { issuerHost: "issuer.example.test:8443", serverChainPem: customerServer.chainPem, apiKey: "never-in-a-bundle", portalCn: "MT-123456-SBX" });
    await state.endorse("sandbox", "123456", clientCert.der, clientCert.certPem);

    const assetsDir = path.join(dir, "assets");
    const bundle = await writeAssetBundle(assetsDir, "mt", "sandbox", "123456", sources(mtEndpoint));
    expect(bundle.dir).toBe(path.join(assetsDir, "mt-sandbox-123456"));
    const manifest = JSON.parse(readFileSync(path.join(bundle.dir, "manifest.json"), "utf8"));
    expect(manifest).toEqual({
      format: "mtlskit-assets/1",
      program: "mt",
      environment: "sandbox",
      customerId: "123456",
      direction: "from-thales",
      dnsServers: ["127.0.0.1:40002"],
      assets: {
        TSH_TLS_SERVER_CERTIFICATE_CHAIN: "TSH_TLS_SERVER_CERTIFICATE_CHAIN.pem",
        TSH_TLS_CLIENT_CERTIFICATE: "TSH_TLS_CLIENT_CERTIFICATE.pem",
        TSH_INBOUND_HOST: "tmg.dbp-stg.thalescloud.test:40003",
        TSH_CLIENT_CN: "MT-123456-SBX",
        CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN: "CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN.pem",
        CUSTOMER_TLS_CLIENT_CERTIFICATE: "CUSTOMER_TLS_CLIENT_CERTIFICATE.pem",
        ISSUER_HOST: "issuer.example.test:8443",
      },
    });
    expect(Object.keys(manifest)).toEqual(["format", "program", "environment", "customerId", "direction", "dnsServers", "assets"]);
    expect(manifest).toEqual(bundle.manifest);
    expect(readdirSync(bundle.dir).sort()).toEqual([...Object.values(bundle.manifest.assets).filter((v) => v.endsWith(".pem")), "manifest.json"].sort());
    for (const [name, value] of Object.entries(manifest.assets as Record<string, string>)) {
      if (!value.endsWith(".pem")) continue;
      const text = readFileSync(path.join(bundle.dir, value), "utf8");
      expect(text).toBe(bundle.files[name]);
      expect(certificates(text).length).toBeGreaterThan(0);
    }

    const serverChain = certificates(bundle.files["TSH_TLS_SERVER_CERTIFICATE_CHAIN"]!);
    expect(serverChain.map((c) => c.commonName)).toEqual(["DigiCert SHA2 High Assurance Server CA", expect.stringMatching(/^DigiCert High Assurance EV Root CA/)]);
    // The client certificate asset: the leaf followed by its issuing CA, which the customer trusts.
    const [leaf, ca, ...more] = certificates(bundle.files["TSH_TLS_CLIENT_CERTIFICATE"]!);
    expect(more).toEqual([]);
    expect(leaf!.basicConstraints?.ca).toBe(false);
    expect(ca!.basicConstraints?.ca).toBe(true);
    expect(ca!.commonName).toBe("Thales Client CA");
    expect(isSignedBy(leaf!, ca!)).toBe(true);
    expect(bundle.files["CUSTOMER_TLS_CLIENT_CERTIFICATE"]).toBe(clientCert.certPem);
    expect(JSON.stringify(bundle)).not.toContain("never-in-a-bundle");
    const host = manifest.assets.TSH_INBOUND_HOST.replace(/:\d+$/, "");
    expect(isIP(host)).toBe(0);
  });

  it("without a customer, carries only what every customer gets", () => {
    const bundle = buildAssetBundle("mt", "production", undefined, sources({ apiUrl: "https://tmg.dbp.thalescloud.test:443/1/mg/" }));
    expect(bundle.manifest.customerId).toBeUndefined();
    expect(bundle.manifest.assets).toEqual({
      TSH_TLS_SERVER_CERTIFICATE_CHAIN: "TSH_TLS_SERVER_CERTIFICATE_CHAIN.pem",
      TSH_TLS_CLIENT_CERTIFICATE: "TSH_TLS_CLIENT_CERTIFICATE.pem",
      TSH_INBOUND_HOST: "tmg.dbp.thalescloud.test",
    });
    expect(assetBundleDirName("mt", "production")).toBe("mt-production");
  });

  it("refuses an endpoint given by IP address: hosts in bundles are DNS names", () => {
    expect(() => buildAssetBundle("mt", "sandbox", undefined, sources({ apiUrl: "https://127.0.0.1:40003/1/sandbox-v2/" }))).toThrow(/IP address/);
  });
});

describe("D1 asset bundle", () => {
  it("carries the D1 names, the signed certificate once issued and the registered OAuth key", async () => {
    const assetsDir = path.join(dir, "assets");
    const before = await writeAssetBundle(assetsDir, "d1", "preprod", "654321", sources(d1Endpoint));
    expect(before.manifest).toEqual({
      format: ASSET_FORMAT,
      program: "d1",
      environment: "preprod",
      customerId: "654321",
      direction: "from-thales",
      dnsServers: ["127.0.0.1:40002"],
      assets: {
        D1_TLS_SERVER_CA_CHAIN: "D1_TLS_SERVER_CA_CHAIN.pem",
        D1_TLS_CLIENT_CA: "D1_TLS_CLIENT_CA.pem",
        D1_API_HOST: "api.d1-stg.thalescloud.test:40004",
        D1_AUTHZ_URL: "https://api.d1-stg.thalescloud.test:40004/authz/v1",
      },
    });
    expect(certificates(before.files["D1_TLS_SERVER_CA_CHAIN"]!).map((c) => c.commonName)).toEqual(["Amazon RSA 2048 M02", "Amazon Root CA 1"]);

    const { privateKey } = await generateKey("ecdsa-p256");
    const signed = pki.signD1Csr("preprod", createCsr({ subject: parseSubject("/C=FR/ST=P/L=P/O=E/OU=U/CN=TLSMA-ECDSA\\/654321\\/D1.PPR"), privateKey }), "654321");
    await state.recordIssued(issuedD1Record(signed));
    const server = await testPki.issue({ usage: "server", dns: ["gw.example.test"] });
    const oauth = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" }).toString();
    await state.putCustomer("d1", "preprod", "654321", { issuerHost: "gw.example.test", serverChainPem: server.chainPem, oauthPublicKeyPem: oauth, kid: "kid-1" });

    const after = await writeAssetBundle(assetsDir, "d1", "preprod", "654321", sources(d1Endpoint));
    expect(after.manifest.assets).toEqual({
      ...before.manifest.assets,
      D1_CLIENT_CERTIFICATE: "D1_CLIENT_CERTIFICATE.pem",
      CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN: "CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN.pem",
      ISSUER_HOST: "gw.example.test",
      D1_OAUTH_PUBLIC_KEY: "D1_OAUTH_PUBLIC_KEY.pem",
      D1_OAUTH_KID: "kid-1",
    });
    const [leaf, ca] = certificates(after.files["D1_CLIENT_CERTIFICATE"]!);
    expect(leaf!.commonName).toBe("TLSMA-ECDSA/654321/D1.PPR");
    expect(ca!.commonName).toBe("Thales Business PKI CA PPR");
    expect(after.files["D1_OAUTH_PUBLIC_KEY"]).toBe(oauth);
    expect(readFileSync(path.join(after.dir, "D1_OAUTH_PUBLIC_KEY.pem"), "utf8")).toBe(oauth);
  });

  it("removes files of an earlier bundle that the new manifest no longer names", async () => {
    const assetsDir = path.join(dir, "assets-stale");
    await state.putCustomer("d1", "production", "9", { issuerHost: "gw.example.test", serverChainPem: testPki.caBundlePem });
    const first = await writeAssetBundle(assetsDir, "d1", "production", "9", sources({ apiUrl: "https://api.d1.thalescloud.test:40005" }));
    expect(existsSync(path.join(first.dir, "CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN.pem"))).toBe(true);
    await state.putCustomer("d1", "production", "9", { issuerHost: "gw.example.test" });
    const second = await writeAssetBundle(assetsDir, "d1", "production", "9", sources({ apiUrl: "https://api.d1.thalescloud.test:40005" }));
    expect(existsSync(path.join(second.dir, "CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN.pem"))).toBe(false);
    expect(second.manifest.assets["D1_AUTHZ_URL"]).toBeUndefined();
  });
});
