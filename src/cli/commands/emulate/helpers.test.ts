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
import { setServerCertificate } from "../../../store/server-cert.js";
import { createOAuthKey } from "../../../client/oauth-key.js";
import { createMerchantPki } from "../../demo/merchant-pki.js";

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

  it("register: a profile with its server certificate and OAuth key (D1) / API key (MT) is registered, and notifications can be sent", async () => {
    const merchant = await createMerchantPki(path.join(tmp, "merchant-pki"));
    await setServerCertificate(ws, "d1-pp", { ...(await merchant.issue("notify-d1.merchant.test")), host: "notify-d1.merchant.test" });
    const oauth = await createOAuthKey(ws, "d1-pp");
    const d1Out = path.join(tmp, "d1-out-2");
    await exportAssets(ws, "d1-pp", d1Out);
    const d1 = await mtlskit(["emulate", "register", "--from", d1Out, "--portal", emu.portalUrl, "--json"]);
    expect(d1.stderr).toBe("");
    expect(d1.code).toBe(0);
    expect(JSON.parse(d1.stdout)).toMatchObject({ program: "d1", environment: "preprod", customerId: "123456", issuerHost: "notify-d1.merchant.test", kid: oauth.kid, oauthPublicKey: true });
    const text = await mtlskit(["emulate", "register", "--from", d1Out, "--portal", emu.portalUrl]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("registered 123456 (d1 preprod) with issuer host notify-d1.merchant.test");

    await setServerCertificate(ws, "mt-sbx", { ...(await merchant.issue("notify-mt.merchant.test")), host: "notify-mt.merchant.test" });
    const mtOut = path.join(tmp, "mt-out-2");
    await exportAssets(ws, "mt-sbx", mtOut);
    const mt = await mtlskit(["emulate", "register", "--from", mtOut, "--portal", emu.portalUrl, "--api-key", "k3y", "--json"]);
    expect(mt.code).toBe(0);
    expect(JSON.parse(mt.stdout)).toMatchObject({ program: "mt", customerId: "654321", issuerHost: "notify-mt.merchant.test", apiKey: "set" });

    // The portal sends notifications only to a registered issuer host.
    for (const [route, id] of [["d1/preprod", "123456"], ["mt/sandbox", "654321"]] as const) {
      const res = await fetch(`${emu.portalUrl}/v1/${route}/notifications`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ customerId: id, count: 1 }) });
      expect(res.status).toBe(202);
    }
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
