import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createPrivateKey } from "node:crypto";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestPki, type TestPki } from "../testing/index.js";
import { exportAssets } from "./assets-export.js";
import { addProfile } from "./profiles.js";
import { createProfileCsr } from "./profile-credentials.js";
import { hostCovered, setServerCertificate } from "./server-cert.js";
import { workspaceStatus } from "./status.js";
import { openProfile } from "./workspace.js";

let pki: TestPki;
let tmp: string;
let ws: string;

beforeAll(async () => {
  pki = await createTestPki({ rootCn: "Example Private Root", intermediateCn: "Example Private Issuing CA", validityHours: 24 * 800 });
});
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-server-"));
  ws = path.join(tmp, "ws");
  await addProfile(ws, "d1-pp", { program: "d1", environment: "preprod", customerId: "123456", subject: "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments" });
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function files(names: Record<string, string>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(names)) {
    out[k] = path.join(tmp, k);
    await fs.writeFile(out[k]!, v);
  }
  return out;
}

describe("server-cert set", () => {
  it("matches host names as TLS does", () => {
    expect(hostCovered("notify.example.com", ["notify.example.com"])).toBe(true);
    expect(hostCovered("notify.example.com:8443", ["*.example.com"])).toBe(true);
    expect(hostCovered("a.b.example.com", ["*.example.com"])).toBe(false);
    expect(hostCovered("example.com", ["*.example.com"])).toBe(false);
  });

  it("takes a complete, ordered private chain, writes the PEM trust store for Thales, and exports it", async () => {
    const leaf = await pki.issue({ usage: "server", dns: ["notify.example.com"], cn: "notify.example.com", validityHours: 24 * 400 });
    const f = await files({ "server.crt": leaf.certPem, "server.key": leaf.keyPem, "chain.pem": pki.intermediate.certPem + pki.root.certPem });
    const r = await setServerCertificate(ws, "d1-pp", { certFile: f["server.crt"]!, keyFile: f["server.key"]!, chainFile: f["chain.pem"]!, host: "notify.example.com" });
    expect(r.mozillaRoot).toBeUndefined();
    expect(r.trustStoreFile).toBeDefined();
    expect(await fs.readFile(r.trustStoreFile!, "utf8")).toBe(pki.root.certPem);
    expect(r.nextSteps[0]).toContain("PEM trust store");
    expect((await fs.stat(r.files.key)).mode & 0o777).toBe(0o600);
    expect((await openProfile(ws, "d1-pp")).issuerHost).toBe("notify.example.com");

    await createProfileCsr(ws, "d1-pp");
    const out = path.join(tmp, "export");
    const e = await exportAssets(ws, "d1-pp", out);
    const manifest = JSON.parse(await fs.readFile(path.join(out, "manifest.json"), "utf8")) as { direction: string; assets: Record<string, string> };
    expect(manifest.direction).toBe("to-thales");
    expect(Object.keys(manifest.assets).sort()).toEqual(["CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN", "CUSTOMER_TLS_SERVER_TRUST_STORE", "D1_CSR", "ISSUER_HOST"]);
    expect(manifest.assets["ISSUER_HOST"]).toBe("notify.example.com");
    const readme = await fs.readFile(path.join(out, "README.md"), "utf8");
    expect(readme).toContain("D1_CSR");
    expect(readme).toContain("No private key");
    expect(e.missing.map((m) => m.name)).toEqual(["D1_OAUTH_PUBLIC_KEY", "D1_OAUTH_KID"]);
    for (const name of await fs.readdir(out)) expect(await fs.readFile(path.join(out, name), "utf8")).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY/);
    await expect(exportAssets(ws, "d1-pp", out)).rejects.toMatchObject({ code: "FILE_EXISTS" });
    expect((await workspaceStatus(ws)).profiles[0]!.certificates.filter((c) => c.role.startsWith("server")).map((c) => c.state)).toEqual(["ok", "ok", "ok"]);
  });

  it("refuses an incomplete or unordered chain, another key, an uncovered host, a port Thales does not call, an expired certificate", async () => {
    const leaf = await pki.issue({ usage: "server", dns: ["notify.example.com"], validityHours: 24 * 400 });
    const other = await pki.issue({ usage: "server", dns: ["notify.example.com"] });
    const expired = await pki.expired({ usage: "server", dns: ["notify.example.com"] });
    const f = await files({
      "leaf.crt": leaf.certPem,
      "leaf.key": leaf.keyPem,
      "other.key": other.keyPem,
      "exp.crt": expired.certPem,
      "exp.key": expired.keyPem,
      "root-only.pem": pki.root.certPem,
      "unordered.pem": pki.root.certPem + pki.intermediate.certPem,
      "chain.pem": pki.intermediate.certPem + pki.root.certPem,
      "intermediate.pem": pki.intermediate.certPem,
    });
    const set = (o: Partial<Parameters<typeof setServerCertificate>[2]>) => setServerCertificate(ws, "d1-pp", { certFile: f["leaf.crt"]!, keyFile: f["leaf.key"]!, chainFile: f["chain.pem"]!, host: "notify.example.com", ...o });
    await expect(set({ chainFile: f["root-only.pem"]! })).rejects.toMatchObject({ code: "SERVER_CERT_INVALID", message: expect.stringContaining("incomplete") });
    await expect(set({ chainFile: f["intermediate.pem"]! })).rejects.toMatchObject({ code: "SERVER_CERT_INVALID", message: expect.stringContaining("neither given nor a Mozilla-recognised root") });
    await expect(set({ chainFile: f["unordered.pem"]! })).rejects.toMatchObject({ code: "SERVER_CERT_INVALID", message: expect.stringContaining("out of order") });
    await expect(set({ keyFile: f["other.key"]! })).rejects.toMatchObject({ code: "SERVER_CERT_INVALID", message: expect.stringContaining("does not match") });
    await expect(set({ host: "api.example.com" })).rejects.toMatchObject({ code: "SERVER_CERT_INVALID", message: expect.stringContaining("does not cover") });
    await expect(set({ host: "notify.example.com:9443" })).rejects.toMatchObject({ code: "SERVER_CERT_INVALID", message: expect.stringContaining("port 9443") });
    await expect(set({ host: "192.0.2.1" })).rejects.toMatchObject({ code: "HOST_INVALID" });
    await expect(set({ certFile: f["exp.crt"]!, keyFile: f["exp.key"]! })).rejects.toMatchObject({ code: "SERVER_CERT_INVALID", message: expect.stringContaining("expired") });
    await expect(fs.stat((await openProfile(ws, "d1-pp")).paths.server.dir)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("issue 10: a key given encrypted and stored decrypted says so, and how to keep it protected", async () => {
    const leaf = await pki.issue({ usage: "server", dns: ["notify.example.com"], cn: "notify.example.com", validityHours: 24 * 400 });
    const encrypted = createPrivateKey(leaf.keyPem).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "s3cret" }).toString();
    const f = await files({ "server.crt": leaf.certPem, "server.key": encrypted, "pass.txt": "s3cret\n", "plain.key": leaf.keyPem, "chain.pem": pki.intermediate.certPem + pki.root.certPem });
    const r = await setServerCertificate(ws, "d1-pp", { certFile: f["server.crt"]!, keyFile: f["server.key"]!, passphraseFile: f["pass.txt"]!, chainFile: f["chain.pem"]!, host: "notify.example.com" });
    const w = r.warnings.find((x) => x.includes("stored decrypted"));
    expect(w).toContain(r.files.key);
    expect(w).toContain("encrypted disk");
    expect(await fs.readFile(r.files.key, "utf8")).not.toContain("ENCRYPTED");
    // A key given in clear gets no such warning.
    const plain = await setServerCertificate(ws, "d1-pp", { certFile: f["server.crt"]!, keyFile: f["plain.key"]!, chainFile: f["chain.pem"]!, host: "notify.example.com" });
    expect(plain.warnings.some((x) => x.includes("stored decrypted"))).toBe(false);
  });

  it("never replaces the server key silently", async () => {
    const a = await pki.issue({ usage: "server", dns: ["notify.example.com"], validityHours: 24 * 400 });
    const b = await pki.issue({ usage: "server", dns: ["notify.example.com"], validityHours: 24 * 400 });
    const f = await files({ "a.crt": a.certPem, "a.key": a.keyPem, "b.crt": b.certPem, "b.key": b.keyPem, "chain.pem": pki.intermediate.certPem + pki.root.certPem });
    await setServerCertificate(ws, "d1-pp", { certFile: f["a.crt"]!, keyFile: f["a.key"]!, chainFile: f["chain.pem"]!, host: "notify.example.com" });
    await expect(setServerCertificate(ws, "d1-pp", { certFile: f["b.crt"]!, keyFile: f["b.key"]!, chainFile: f["chain.pem"]! })).rejects.toMatchObject({ code: "FILE_EXISTS" });
    const r = await setServerCertificate(ws, "d1-pp", { certFile: f["b.crt"]!, keyFile: f["b.key"]!, chainFile: f["chain.pem"]!, force: true });
    expect(r.backups.map((x) => path.extname(x)).sort()).toEqual([".crt", ".key"]);
  });
});
