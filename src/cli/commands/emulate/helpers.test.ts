import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mtlskit } from "../../../../test/support/cli.js";
import { startEmulator, type Emulator } from "../../../emulator/index.js";
import { mtPortalCommonName } from "../../../emulator/state.js";
import { exportAssets } from "../../../store/assets-export.js";
import { installCertificate } from "../../../store/cert-install.js";
import { createProfileCsr, createProfileSelfSigned } from "../../../store/profile-credentials.js";
import { addProfile } from "../../../store/profiles.js";

let tmp: string;
let ws: string;
let emu: Emulator;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-emulate-helpers-"));
  ws = path.join(tmp, "ws");
  emu = await startEmulator({ dir: path.join(tmp, "emu") });
}, 60_000);

afterAll(async () => {
  await emu?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe("mtlskit emulate sign|endorse|register (no hand-written JSON)", () => {
  it("D1: signs the exported CSR, and the written chain installs", async () => {
    await addProfile(ws, "d1-pp", { program: "d1", environment: "preprod", customerId: "123456", subject: "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments" });
    await createProfileCsr(ws, "d1-pp");
    const out = path.join(tmp, "d1-out");
    await exportAssets(ws, "d1-pp", out);
    const signed = path.join(tmp, "signed.pem");
    const r = await mtlskit(["emulate", "sign", "--from", out, "--portal", emu.portalUrl, "--out", signed, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).subject).toContain("TLSMA-ECDSA/123456/D1.PPR");
    await installCertificate(ws, "d1-pp", signed);
  }, 60_000);

  it("MT: endorses the exported self-signed certificate", async () => {
    await addProfile(ws, "mt-sbx", { program: "mt", environment: "sandbox", customerId: "654321" });
    await createProfileSelfSigned(ws, "mt-sbx", { cn: mtPortalCommonName("sandbox", "654321"), days: 365 });
    const out = path.join(tmp, "mt-out");
    await exportAssets(ws, "mt-sbx", out);
    const r = await mtlskit(["emulate", "endorse", "--from", out, "--portal", emu.portalUrl, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).fingerprint).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);

  it("register: a bundle without ISSUER_HOST is bad input (exit 2); a refusal by the portal exits 1 with its codes", async () => {
    const r = await mtlskit(["emulate", "register", "--from", path.join(tmp, "mt-out"), "--portal", emu.portalUrl]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("ISSUER_HOST");
    const bad = path.join(tmp, "bad-out");
    await fs.mkdir(bad);
    await fs.writeFile(path.join(bad, "manifest.json"), JSON.stringify({ program: "mt", environment: "sandbox", customerId: "654321", assets: { ISSUER_HOST: "10.0.0.1", CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN: "chain.pem" } }));
    await fs.writeFile(path.join(bad, "chain.pem"), "not pem");
    const refused = await mtlskit(["emulate", "register", "--from", bad, "--portal", emu.portalUrl]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("refused [ISSUER_HOST_IP]");
    const none = await mtlskit(["emulate", "sign", "--from", tmp, "--portal", emu.portalUrl]);
    expect(none.code).toBe(2);
  }, 60_000);
});
