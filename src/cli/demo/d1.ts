/**
 * D1 eCom PreProd in `mtlskit demo`: profile, ECDSA P-256 key and CSR with the derived CN, the
 * Thales portal signs it, `cert install`, `assets import`, the OAuth key; the token; and the
 * renewal (renew -> new CSR -> the portal signs -> cert install).
 */
import { X509Certificate } from "node:crypto";
import { openWorkspace } from "../../store/index.js";
import { createOAuthKey, obtainProfileToken } from "../../client/index.js";
import { MtlsError } from "../../errors/index.js";
import { dayCount, readInputFile } from "../../pki/index.js";
import type { DemoSession } from "./session.js";
import { registerStep, serverCertStep, type DemoStep, type ProgramDriver } from "./steps.js";

/** The subject of the D1 CSR, without the CN (derived from the rules). */
export const D1_SUBJECT = "/C=FR/ST=Ile-de-France/L=Paris/O=Example Payments SA/OU=Integration";

const cnOf = (dn: string) => /(?:^|\n)CN=([^\n]*)/.exec(dn)?.[1] ?? dn;

/** The portal signs a CSR (what Thales Business PKI does); the certificate and its chain go to the exchange folder. */
async function portalSigns(s: DemoSession, d: ProgramDriver, csrFile: string, fileName: string): Promise<{ file: string; issuer: string; notAfter: string }> {
  const csr = (await readInputFile(csrFile)).toString("utf8");
  const signed = await s.portal<{ certificate: string; chain: string }>("POST", `/v1/d1/${d.environment}/csr`, { customerId: d.customerId, csr });
  const file = await s.exchangeFile(fileName, signed.chain);
  const x = new X509Certificate(signed.certificate);
  return { file, issuer: cnOf(x.issuer), notAfter: new Date(x.validTo).toISOString().slice(0, 10) };
}

export function d1Driver(): ProgramDriver {
  const d: ProgramDriver = {
    id: "d1",
    tag: "D1",
    label: "D1 eCom PreProd",
    environment: "preprod",
    profile: "d1-preprod",
    customerId: "123456",
    notifyHost: "notify-d1.merchant.test",
    echoPath: "/d1/v1/echo",
    onboarding(s) {
      const ws = s.folders.workspace;
      const workspace = openWorkspace(ws);
      const profile = workspace.profile(d.profile);
      let csrFile = "";
      let signedFile = "";
      const steps: DemoStep[] = [
        {
          id: "d1.profile",
          name: `D1: profile add ${d.profile}`,
          async run() {
            const p = await workspace.addProfile(d.profile, { program: "d1", environment: d.environment, customerId: d.customerId, subject: D1_SUBJECT });
            return `${p.program.name} ${p.environment.label}, ${p.program.customerIdLabel} ${p.customerId}, folder ${p.folderName}`;
          },
        },
        {
          id: "d1.csr",
          name: "D1: csr create (ECDSA P-256 key, derived CN)",
          async run() {
            const r = await profile.createCsr({ keyType: "ecdsa-p256" });
            csrFile = r.csrFile;
            return `CN=${r.commonName}, key ${r.keyType} (mode 0600, stays here)`;
          },
        },
        {
          id: "d1.sign",
          name: "D1: the Thales portal signs the CSR",
          async run() {
            const r = await portalSigns(s, d, csrFile, "d1-preprod-signed.pem");
            signedFile = r.file;
            return `issued by ${r.issuer}, valid until ${r.notAfter}`;
          },
        },
        {
          id: "d1.install",
          name: "D1: cert install",
          async run() {
            const r = await profile.installCertificate(signedFile);
            s.summary("d1").clientCertificate = { commonName: r.commonName ?? "", sha256: r.sha256Fingerprint };
            return `checked against the key, CSR and D1 rules; ${dayCount(r.daysLeft)} left`;
          },
        },
        {
          id: "d1.assets",
          name: "D1: assets import",
          async run() {
            const bundle = await s.portal<{ directory: string }>("GET", `/v1/d1/${d.environment}/assets?customerId=${d.customerId}`);
            const r = await profile.importAssets(bundle.directory);
            return `${r.imported.map((a) => a.name).join(", ")}${r.dnsServers ? `; resolver ${r.dnsServers.join(", ")}` : ""}`;
          },
        },
        {
          id: "d1.oauth",
          name: "D1: oauth key create",
          async run() {
            const r = await createOAuthKey(ws, d.profile);
            return `ES256 key (mode 0600), kid ${r.kid.length > 16 ? `${r.kid.slice(0, 12)}…` : r.kid}`;
          },
        },
        serverCertStep(d, s),
        registerStep(d, s),
      ];
      return steps;
    },
    async renew(s) {
      const profile = openWorkspace(s.folders.workspace).profile(d.profile);
      const r = await profile.renew();
      if (!r.csrFile) throw new MtlsError("DEMO_STEP_FAILED", "renew made no CSR for the D1 profile");
      const signed = await portalSigns(s, d, r.csrFile, "d1-preprod-renewed.pem");
      const installed = await profile.installCertificate(signed.file);
      if (!installed.promoted) throw new MtlsError("DEMO_STEP_FAILED", "cert install did not make the renewed certificate active");
      return installed.sha256Fingerprint;
    },
  };
  return d;
}

/** `mtlskit token`: a D1 access token over mTLS (JWT bearer grant); the token itself is never shown. */
export function tokenStep(d: ProgramDriver, s: DemoSession): DemoStep {
  return {
    id: "d1.token",
    name: `D1: token --profile ${d.profile}`,
    async run() {
      const r = await obtainProfileToken(s.folders.workspace, d.profile, { timeoutMs: 10_000 });
      const t = r.token.toJSON();
      s.summary("d1").token = { tokenType: t.tokenType, expiresIn: t.expiresIn, kid: r.kid };
      return `${t.tokenType} token, expires in ${t.expiresIn} s (not shown)`;
    },
  };
}
