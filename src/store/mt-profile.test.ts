import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { importAssets } from "./assets-import.js";
import { exportAssets } from "./assets-export.js";
import { activateCertificate, installCertificate } from "./cert-install.js";
import { createProfileCsr, createProfileSelfSigned } from "./profile-credentials.js";
import { addProfile } from "./profiles.js";
import { renewProfile } from "./renew.js";
import { workspaceStatus } from "./status.js";
import { makeThalesSide, standardBundle, type ThalesSide } from "../../test/support/store-fixtures.js";
import { openProfile } from "./workspace.js";

let side: ThalesSide;
let tmp: string;
let ws: string;
const CN = "MT-654321-SBX";

beforeAll(async () => {
  side = await makeThalesSide("mt");
});
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-mt-"));
  ws = path.join(tmp, "ws");
  await addProfile(ws, "mt-sbx", { program: "mt", environment: "sandbox", customerId: "654321" });
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe("MT profile: self-signed, endorsed, renewed", () => {
  it("needs the portal CN, keeps it, and refuses another one", async () => {
    await expect(createProfileSelfSigned(ws, "mt-sbx")).rejects.toMatchObject({ code: "USAGE", hint: expect.stringContaining("--cn") });
    const r = await createProfileSelfSigned(ws, "mt-sbx", { cn: CN, days: 365 });
    expect(r.commonName).toBe(CN);
    expect(r.sha256Fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect((await openProfile(ws, "mt-sbx")).config.cn).toBe(CN);
    await expect(createProfileSelfSigned(ws, "mt-sbx", { cn: "OTHER", force: true })).rejects.toMatchObject({ code: "CN_MISMATCH" });
    await expect(createProfileSelfSigned(ws, "mt-sbx")).rejects.toMatchObject({ code: "FILE_EXISTS" });
    await expect(createProfileCsr(ws, "mt-sbx")).rejects.toMatchObject({ code: "WRONG_PROGRAM" });
    await expect(createProfileSelfSigned(ws, "mt-sbx", { days: 800, force: true })).rejects.toMatchObject({ code: "VALIDITY_TOO_LONG" });
  });

  it("goes green with the assets, and notes that Thales endorsed the certificate", async () => {
    const cert = await createProfileSelfSigned(ws, "mt-sbx", { cn: CN });
    const bundle = await standardBundle(path.join(tmp, "b"), side, "mt", "sandbox", "654321", {
      values: { TSH_CLIENT_CN: CN },
      files: { CUSTOMER_TLS_CLIENT_CERTIFICATE: await fs.readFile(cert.certificateFile, "utf8") },
    });
    const r = await importAssets(ws, "mt-sbx", bundle);
    expect(r.notes.join("\n")).toContain("Thales has endorsed the current client certificate");
    expect(r.warnings).toEqual([]);
    const s = await workspaceStatus(ws);
    expect(s.ok).toBe(true);
    expect(s.profiles[0]!.ready.outbound).toBe(true);
    expect(s.profiles[0]!.ready.inbound).toBe(false);
  });

  it("renewal: the current certificate stays active until cert activate", async () => {
    await createProfileSelfSigned(ws, "mt-sbx", { cn: CN });
    const p = (await openProfile(ws, "mt-sbx")).paths;
    const before = { key: await fs.readFile(p.client.key, "utf8"), cert: await fs.readFile(p.client.cert, "utf8") };
    await expect(activateCertificate(ws, "mt-sbx")).rejects.toMatchObject({ code: "NOTHING_TO_ACTIVATE" });
    const r = await renewProfile(ws, "mt-sbx", { days: 700 });
    expect(r.commonName).toBe(CN);
    expect(r.certificateFile).toBe(p.pending.cert);
    expect(await fs.readFile(p.client.key, "utf8")).toBe(before.key);
    expect(await fs.readFile(p.client.cert, "utf8")).toBe(before.cert);
    // The export hands Thales the renewal's certificate to endorse.
    const exp = await exportAssets(ws, "mt-sbx", path.join(tmp, "out"));
    expect(exp.fingerprints?.sha256).toBe(r.sha256Fingerprint);
    // Thales's bundle says it endorsed the renewal.
    const bundle = await standardBundle(path.join(tmp, "b"), side, "mt", "sandbox", "654321", { files: { CUSTOMER_TLS_CLIENT_CERTIFICATE: await fs.readFile(p.pending.cert, "utf8") } });
    expect((await importAssets(ws, "mt-sbx", bundle)).notes.join()).toContain("mtlskit cert activate --profile mt-sbx");
    const a = await activateCertificate(ws, "mt-sbx");
    expect(a.promoted).toBe(true);
    expect(a.sha256Fingerprint).toBe(r.sha256Fingerprint);
    expect(await fs.readFile(p.client.cert, "utf8")).not.toBe(before.cert);
    await expect(fs.stat(p.pending.dir)).rejects.toMatchObject({ code: "ENOENT" });
    expect(a.backups.map((b) => path.basename(b)).sort()).toEqual([expect.stringMatching(/^client\..*\.crt$/), expect.stringMatching(/^client\..*\.key$/)]);
  });

  it("installs a self-signed certificate made elsewhere for the profile's key", async () => {
    await createProfileSelfSigned(ws, "mt-sbx", { cn: CN, days: 100 });
    await renewProfile(ws, "mt-sbx");
    const p = (await openProfile(ws, "mt-sbx")).paths;
    // A certificate for the renewal's key goes to pending/, to be activated.
    const r = await installCertificate(ws, "mt-sbx", p.pending.cert);
    expect(r.slot).toBe("pending");
    expect(r.nextSteps[0]).toContain("cert activate");
  });
});
