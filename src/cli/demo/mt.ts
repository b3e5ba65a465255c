/**
 * Merchant Tokenization Sandbox in `mtlskit demo`: the portal's Common Name, profile, the
 * self-signed client certificate, the portal's endorsement, `assets import`; and the renewal
 * (renew -> the portal endorses the new certificate -> cert activate).
 */
import { openWorkspace } from "../../store/index.js";
import { MtlsError } from "../../errors/index.js";
import { formatFingerprint, readInputFile } from "../../pki/index.js";
import { type DemoSession } from "./session.js";
import { registerStep, serverCertStep, type DemoStep, type ProgramDriver } from "./steps.js";

/** The portal endorses (pins) a self-signed certificate for the customer. */
async function portalEndorses(s: DemoSession, d: ProgramDriver, certificateFile: string, sha256: string): Promise<void> {
  const certificate = (await readInputFile(certificateFile)).toString("utf8");
  const r = await s.portal<{ fingerprint: string }>("POST", `/v1/mt/${d.environment}/endorsements`, { customerId: d.customerId, certificate });
  if (formatFingerprint(r.fingerprint, "hex") !== formatFingerprint(sha256, "hex")) throw new MtlsError("DEMO_STEP_FAILED", `the portal endorsed ${r.fingerprint}, not the certificate sent (${sha256})`);
}

export function mtDriver(): ProgramDriver {
  const d: ProgramDriver = {
    id: "mt",
    tag: "MT",
    label: "MT Sandbox",
    environment: "sandbox",
    profile: "mt-sandbox",
    customerId: "654321",
    notifyHost: "notify-mt.merchant.test",
    echoPath: "echo",
    onboarding(s) {
      const workspace = openWorkspace(s.folders.workspace);
      const profile = workspace.profile(d.profile);
      let certificateFile = "";
      let sha256 = "";
      const steps: DemoStep[] = [
        {
          id: "mt.profile",
          name: `MT: profile add ${d.profile} (the portal's CN)`,
          async run() {
            // The Thales portal shows the exact Common Name to use for this customer and environment.
            const bundle = await s.portal<{ assets: Record<string, string> }>("GET", `/v1/mt/${d.environment}/assets?customerId=${d.customerId}`);
            const cn = bundle.assets["TSH_CLIENT_CN"];
            if (!cn) throw new MtlsError("DEMO_STEP_FAILED", "the portal gave no TSH_CLIENT_CN");
            const p = await workspace.addProfile(d.profile, { program: "mt", environment: d.environment, customerId: d.customerId, cn, subject: "/C=FR/O=Example Payments SA" });
            return `${p.program.name} ${p.environment.label}, ${p.program.customerIdLabel} ${p.customerId}, CN ${cn}`;
          },
        },
        {
          id: "mt.cert",
          name: "MT: cert self-signed",
          async run() {
            const r = await profile.createSelfSigned({ keyType: "ecdsa-p256" });
            certificateFile = r.certificateFile;
            sha256 = r.sha256Fingerprint;
            s.summary("mt").clientCertificate = { commonName: r.commonName, sha256 };
            return `CN=${r.commonName}, ${r.keyType}, until ${r.notAfter.slice(0, 10)}, SHA-256 ${formatFingerprint(sha256, "short")}`;
          },
        },
        {
          id: "mt.endorse",
          name: "MT: the Thales portal endorses the certificate",
          async run() {
            await portalEndorses(s, d, certificateFile, sha256);
            return `pinned SHA-256 ${formatFingerprint(sha256, "short")}`;
          },
        },
        {
          id: "mt.assets",
          name: "MT: assets import",
          async run() {
            const bundle = await s.portal<{ directory: string }>("GET", `/v1/mt/${d.environment}/assets?customerId=${d.customerId}`);
            const r = await profile.importAssets(bundle.directory);
            const endorsed = r.notes.some((n) => /endorsed the current client certificate/.test(n)) ? "; the bundle confirms the endorsement" : "";
            return `${r.imported.map((a) => a.name).join(", ")}${endorsed}`;
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
      if (!r.certificateFile || !r.sha256Fingerprint) throw new MtlsError("DEMO_STEP_FAILED", "renew made no certificate for the MT profile");
      await portalEndorses(s, d, r.certificateFile, r.sha256Fingerprint);
      const activated = await profile.activateCertificate();
      return activated.sha256Fingerprint;
    },
  };
  return d;
}
