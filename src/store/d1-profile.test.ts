import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readPrivateKeyFile, keysMatch, parseCertificate, parsePem } from "../pki/index.js";
import { installCertificate } from "./cert-install.js";
import { loadConfig } from "./config.js";
import { importAssets } from "./assets-import.js";
import { createProfileCsr } from "./profile-credentials.js";
import { addProfile, removeProfile } from "./profiles.js";
import { renewProfile } from "./renew.js";
import { workspaceStatus } from "./status.js";
import { makeThalesSide, signCsr, standardBundle, type ThalesSide } from "../../test/support/store-fixtures.js";
import { openProfile } from "./workspace.js";

const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
let side: ThalesSide;
let tmp: string;
let ws: string;

beforeAll(async () => {
  side = await makeThalesSide("d1");
});
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-d1-"));
  ws = path.join(tmp, "ws");
  await addProfile(ws, "d1-pp", { program: "d1", environment: "preprod", customerId: "123456", subject: SUBJECT });
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function issued(envCode = "PPR", options: Parameters<typeof signCsr>[4] = {}): Promise<string> {
  const p = (await openProfile(ws, "d1-pp")).paths;
  const cert = await signCsr(side, envCode, p.client.csr, p.client.key, options);
  const file = path.join(tmp, `signed-${Math.random().toString(36).slice(2)}.pem`);
  await fs.writeFile(file, cert.chainPem);
  return file;
}

async function mode(file: string): Promise<number> {
  return (await fs.stat(file)).mode & 0o777;
}

describe("D1 profile: CSR, install, assets, status", () => {
  it("goes from nothing to green", async () => {
    const csr = await createProfileCsr(ws, "d1-pp");
    const p = (await openProfile(ws, "d1-pp")).paths;
    expect(p.folder).toBe(path.join(ws, "d1-preprod-123456"));
    expect(csr.csrFile).toBe(p.client.csr);
    expect(csr.commonName).toBe("TLSMA-ECDSA/123456/D1.PPR");
    expect(await mode(p.client.key)).toBe(0o600);
    expect((await loadConfig(ws)).config.profiles["d1-pp"]?.keyType).toBe("ecdsa-p256");

    const r = await installCertificate(ws, "d1-pp", await issued());
    expect(r.slot).toBe("active");
    expect(r.daysLeft).toBeGreaterThan(1800);
    expect(parsePem(await fs.readFile(p.client.chain, "latin1"), "chain")).toHaveLength(1);

    const bundle = await standardBundle(path.join(tmp, "bundle"), side, "d1", "preprod", "123456");
    const imp = await importAssets(ws, "d1-pp", bundle);
    expect(imp.inboundTrust?.certificates.map((c) => c.subject)).toEqual(["CN=Thales Client Issuing CA", "CN=Thales Client CA"]);
    const inbound = await fs.readFile(p.assets.inboundClientCa, "utf8");
    expect(inbound).not.toContain(parsePem(await fs.readFile(path.join(bundle, "D1_TLS_CLIENT_CA.pem"), "latin1"), "x")[0]!.text.split("\n")[1]);
    const profile = await openProfile(ws, "d1-pp");
    expect(profile.dnsServers).toEqual(["127.0.0.1:40002"]);
    expect(profile.apiHost).toBe("api.d1-stg.thalescloud.test:40003");
    expect(profile.authzUrl).toBe("https://api.d1-stg.thalescloud.test:40003/authz/v1");

    const s = await workspaceStatus(ws);
    expect(s.ok).toBe(true);
    expect(s.profiles[0]!.ready.outbound).toBe(true);
    expect(s.profiles[0]!.certificates.find((c) => c.role === "client")?.state).toBe("ok");
  });

  it("does not overwrite the key, and refuses a second CSR while a certificate is installed", async () => {
    await createProfileCsr(ws, "d1-pp");
    await expect(createProfileCsr(ws, "d1-pp", { keyType: "rsa-4096" })).rejects.toMatchObject({ code: "FILE_EXISTS" });
    await expect(createProfileCsr(ws, "d1-pp")).rejects.toMatchObject({ code: "FILE_EXISTS" });
    await installCertificate(ws, "d1-pp", await issued());
    await expect(createProfileCsr(ws, "d1-pp", { force: false })).rejects.toMatchObject({ code: "FILE_EXISTS", hint: expect.stringContaining("mtlskit renew") });
  });

  it("refuses a certificate for another key, listing the finding", async () => {
    await createProfileCsr(ws, "d1-pp");
    const other = await side.business["PPR"]!.issue({ cn: "TLSMA-ECDSA/123456/D1.PPR", subject: `${SUBJECT}/CN=TLSMA-ECDSA\\/123456\\/D1.PPR`, validityHours: 24 * 365 });
    const file = path.join(tmp, "other.pem");
    await fs.writeFile(file, other.chainPem);
    await expect(installCertificate(ws, "d1-pp", file)).rejects.toMatchObject({ code: "CERTIFICATE_REFUSED", message: expect.stringContaining("[KEY_MISMATCH]") });
    await expect(fs.stat((await openProfile(ws, "d1-pp")).paths.client.cert)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("refuses a production certificate in a preprod profile, by its CN code and by its issuer", async () => {
    await createProfileCsr(ws, "d1-pp");
    const p = (await openProfile(ws, "d1-pp")).paths;
    const key = await readPrivateKeyFile(p.client.key);
    const prd = await side.business["PRD"]!.issue({ subject: `${SUBJECT}/CN=TLSMA-ECDSA\\/123456\\/D1.PRD`, privateKey: key, validityHours: 24 * 365 });
    const f1 = path.join(tmp, "prd.pem");
    await fs.writeFile(f1, prd.chainPem);
    await expect(installCertificate(ws, "d1-pp", f1)).rejects.toMatchObject({ code: "ENVIRONMENT_MISMATCH" });
    // The right CN, but issued by the production Business PKI CA.
    const f2 = await issued("PRD");
    await expect(installCertificate(ws, "d1-pp", f2)).rejects.toMatchObject({ code: "ENVIRONMENT_MISMATCH", message: expect.stringContaining("Thales Business PKI CA PRD") });
  });

  it("refuses an expired certificate", async () => {
    await createProfileCsr(ws, "d1-pp");
    const f = await issued("PPR", { notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    await expect(installCertificate(ws, "d1-pp", f)).rejects.toMatchObject({ code: "CERTIFICATE_REFUSED", message: expect.stringContaining("[EXPIRED]") });
  });

  it("refuses before any key exists", async () => {
    const f = path.join(tmp, "x.pem");
    await fs.writeFile(f, (await side.business["PPR"]!.issue({ cn: "TLSMA-ECDSA/123456/D1.PPR" })).certPem);
    await expect(installCertificate(ws, "d1-pp", f)).rejects.toMatchObject({ code: "NO_CLIENT_KEY" });
  });

  it("keeps the replaced certificate as a dated backup", async () => {
    await createProfileCsr(ws, "d1-pp");
    const first = await issued();
    await installCertificate(ws, "d1-pp", first);
    const r = await installCertificate(ws, "d1-pp", await issued());
    const p = (await openProfile(ws, "d1-pp")).paths;
    const crtBackup = r.backups.find((b) => b.endsWith(".crt"))!;
    expect(path.dirname(crtBackup)).toBe(p.backups);
    expect(path.basename(crtBackup)).toMatch(/^client\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.crt$/);
    const der = async (f: string) => Buffer.from(parsePem(await fs.readFile(f, "latin1"), f)[0]!.der).toString("hex");
    expect(await der(crtBackup)).toBe(await der(first));
  });

  it("renews without downtime: the old credentials stay until the new certificate is installed", async () => {
    await createProfileCsr(ws, "d1-pp");
    await installCertificate(ws, "d1-pp", await issued());
    const p = (await openProfile(ws, "d1-pp")).paths;
    const oldKey = await fs.readFile(p.client.key, "utf8");
    const oldCert = await fs.readFile(p.client.cert, "utf8");

    const r = await renewProfile(ws, "d1-pp");
    expect(r.csrFile).toBe(p.pending.csr);
    expect(r.subject).toBe(`${SUBJECT}/CN=TLSMA-ECDSA\\/123456\\/D1.PPR`);
    expect(await mode(p.pending.key)).toBe(0o600);
    expect(await fs.readFile(p.client.key, "utf8")).toBe(oldKey);
    expect(await fs.readFile(p.client.cert, "utf8")).toBe(oldCert);
    await expect(renewProfile(ws, "d1-pp")).rejects.toMatchObject({ code: "RENEWAL_PENDING" });
    const during = await workspaceStatus(ws);
    expect(during.profiles[0]!.problems.map((x) => x.code)).toContain("RENEWAL_IN_PROGRESS");
    // The renewal itself is no problem (only info); the profile has no Thales trust yet, so status is not ok (issue 10).
    expect(during.profiles[0]!.problems.filter((x) => x.severity !== "info")).toEqual([]);

    const signed = await signCsr(side, "PPR", p.pending.csr, p.pending.key);
    const f = path.join(tmp, "renewed.pem");
    await fs.writeFile(f, signed.chainPem);
    const done = await installCertificate(ws, "d1-pp", f);
    expect(done.promoted).toBe(true);
    const newKey = await readPrivateKeyFile(p.client.key);
    expect(keysMatch(newKey, parseCertificate(parsePem(await fs.readFile(p.client.cert, "latin1"), "c")[0]!.der).publicKey)).toBe(true);
    expect(await fs.readFile(p.client.key, "utf8")).not.toBe(oldKey);
    await expect(fs.stat(p.pending.dir)).rejects.toMatchObject({ code: "ENOENT" });
    const backups = await fs.readdir(p.backups);
    const keyBackup = backups.find((b) => b.startsWith("client.") && b.endsWith(".key"))!;
    expect(await fs.readFile(path.join(p.backups, keyBackup), "utf8")).toBe(oldKey);
    expect(await mode(path.join(p.backups, keyBackup))).toBe(0o600);
    expect(backups.some((b) => b.endsWith(".crt"))).toBe(true);
  });

  it("status fails on a key readable by others and on a certificate due within 30 days", async () => {
    await createProfileCsr(ws, "d1-pp");
    await installCertificate(ws, "d1-pp", await issued("PPR", { validityHours: 24 * 10 }));
    const p = (await openProfile(ws, "d1-pp")).paths;
    let s = await workspaceStatus(ws);
    expect(s.ok).toBe(false);
    expect(s.profiles[0]!.problems.find((x) => x.code === "RENEWAL_DUE")?.hint).toContain("mtlskit renew --profile d1-pp");
    await fs.chmod(p.client.key, 0o644);
    s = await workspaceStatus(ws);
    const exposed = s.profiles[0]!.problems.find((x) => x.code === "KEY_FILE_EXPOSED");
    expect(exposed?.message).toContain("0644");
    expect(exposed?.hint).toBe(`Restrict it to its owner: chmod 600 ${p.client.key}`);
  });

  it("remove moves the folder, keys included, to the dated trash", async () => {
    await createProfileCsr(ws, "d1-pp");
    const r = await removeProfile(ws, "d1-pp");
    expect(path.dirname(r.trashedTo!)).toBe(path.join(ws, "trash"));
    expect(path.basename(r.trashedTo!)).toMatch(/^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-d1-pp$/);
    expect(await mode(path.join(r.trashedTo!, "client.key"))).toBe(0o600);
    expect((await loadConfig(ws)).config.profiles).toEqual({});
    await expect(openProfile(ws, "d1-pp")).rejects.toMatchObject({ code: "PROFILE_NOT_FOUND" });
  });

  it("refuses a second profile of the same name or the same connection", async () => {
    await expect(addProfile(ws, "d1-pp", { program: "d1", environment: "production", customerId: "1" })).rejects.toMatchObject({ code: "PROFILE_EXISTS" });
    await expect(addProfile(ws, "again", { program: "d1", environment: "preprod", customerId: "123456" })).rejects.toMatchObject({ code: "PROFILE_EXISTS", message: expect.stringContaining("d1-pp") });
    await expect(addProfile(ws, "bad/name", { program: "d1", environment: "preprod", customerId: "1" })).rejects.toMatchObject({ code: "PROFILE_NAME_INVALID" });
    await expect(addProfile(ws, "x", { program: "d1", environment: "sandbox", customerId: "1" })).rejects.toMatchObject({ code: "UNKNOWN_ENVIRONMENT" });
    await expect(addProfile(ws, "x", { program: "d1", environment: "preprod", customerId: "1", keyType: "rsa-2048" })).rejects.toMatchObject({ code: "KEY_TYPE_REFUSED" });
    await expect(addProfile(ws, "x", { program: "d1", environment: "preprod", customerId: "1", subject: "/C=FR/O=X" })).rejects.toMatchObject({ code: "SUBJECT_INCOMPLETE" });
  });
});
