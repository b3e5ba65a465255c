import { MtlsError } from "../errors/index.js";
import { dayCount, needsRenewal, readCertificates, readPkiObjects } from "../pki/index.js";
import { ASSET_NAMES } from "./asset-names.js";
import { readAssetCertificates, validateClientTrust, validateServerChain } from "./assets-import.js";
import { isFile } from "./fs-ops.js";
import { openProfile } from "./workspace.js";

/** The state of one asset. */
export interface AssetState {
  name: string;
  direction: "from-thales" | "to-thales";
  state: "present" | "missing" | "wrong";
  /** What it is, what is wrong, or how to get it. */
  detail: string;
  file?: string;
}

/** What {@link assetsStatus} found. */
export interface AssetsStatusResult {
  profile: string;
  assets: AssetState[];
  warnings: string[];
  /** Nothing wrong, and everything from Thales present. */
  ok: boolean;
}

/** Options of {@link assetsStatus}. */
export interface AssetsStatusOptions {
  /** The time the certificates are judged at. Default now. */
  now?: Date;
}

/**
 * `mtlskit assets status --profile NAME`: each asset from Thales and for Thales, present,
 * missing or wrong. The stored files are checked again as at import (a CA may have expired
 * since).
 */
export async function assetsStatus(dir: string, name: string, options: AssetsStatusOptions = {}): Promise<AssetsStatusResult> {
  const now = options.now ?? new Date();
  const profile = await openProfile(dir, name);
  const p = profile.paths;
  const from = ASSET_NAMES[profile.program.id].fromThales;
  const to = ASSET_NAMES[profile.program.id].toThales;
  const d1 = profile.program.clientCertificate.issuance === "thales-signed-csr";
  const assets: AssetState[] = [];
  const warnings: string[] = [];
  const importHint = `mtlskit assets import DIR --profile ${name}`;

  const check = async (assetName: string, file: string, validate: (certs: Awaited<ReturnType<typeof readAssetCertificates>>) => string): Promise<void> => {
    if (!(await isFile(file))) {
      assets.push({ name: assetName, direction: "from-thales", state: "missing", detail: importHint });
      return;
    }
    try {
      const detail = validate(await readAssetCertificates(file, assetName));
      assets.push({ name: assetName, direction: "from-thales", state: "present", detail, file });
    } catch (e) {
      if (!(e instanceof MtlsError)) throw e;
      assets.push({ name: assetName, direction: "from-thales", state: "wrong", detail: `[${e.code}] ${e.message}`, file });
    }
  };
  await check(from.serverChain, p.assets.serverChain, (certs) => {
    const v = validateServerChain(profile, from.serverChain, p.assets.serverChain, certs, warnings, now);
    return `trust for calls to Thales: ${v.trust.map((c) => c.commonName ?? c.subjectText).join(", ")}`;
  });
  await check(from.clientCertificate, p.assets.clientCertificate, (certs) => {
    const v = validateClientTrust(profile, from.clientCertificate, p.assets.clientCertificate, certs, warnings, now);
    return `inbound trust (${p.assets.inboundClientCa}): ${v.trust.map((c) => c.commonName ?? c.subjectText).join(", ")}`;
  });
  const value = (assetName: string, v: string | undefined, dflt?: string) =>
    assets.push(v ? { name: assetName, direction: "from-thales", state: "present", detail: v } : { name: assetName, direction: "from-thales", state: "missing", detail: `${importHint}${dflt ? ` (until then the program's host is used: ${dflt})` : ""}` });
  value(from.apiHost, profile.config.thales?.apiHost, profile.environment.apiHost);
  if (from.authzUrl) value(from.authzUrl, profile.config.thales?.authzUrl, profile.environment.authzUrl);
  if (from.clientCn) value(from.clientCn, profile.config.cn);
  if (from.customerCertificate) {
    if (await isFile(p.client.cert)) {
      const c = (await readCertificates(p.client.cert))[0]!;
      const s = needsRenewal(c, { days: 30 }, now);
      assets.push({ name: from.customerCertificate, direction: "from-thales", state: s.expired ? "wrong" : "present", detail: s.expired ? `expired on ${c.notAfter.toISOString()}` : `${c.commonName ?? c.subjectText}, ${dayCount(s.daysLeft)} left`, file: p.client.cert });
    } else {
      assets.push({ name: from.customerCertificate, direction: "from-thales", state: "missing", detail: `mtlskit cert install FILE --profile ${name}` });
    }
  }

  const toState = (assetName: string, present: boolean, detail: string, file?: string) =>
    assets.push({ name: assetName, direction: "to-thales", state: present ? "present" : "missing", detail, ...(file ? { file } : {}) });
  if (d1 && to.csr) {
    const csr = (await isFile(p.pending.csr)) ? p.pending.csr : (await isFile(p.client.csr)) ? p.client.csr : undefined;
    toState(to.csr, !!csr, csr ? (csr === p.pending.csr ? "renewal CSR" : "CSR") : `mtlskit csr create --profile ${name}`, csr);
  }
  if (!d1 && to.clientCertificate) {
    const cert = (await isFile(p.pending.cert)) ? p.pending.cert : (await isFile(p.client.cert)) ? p.client.cert : undefined;
    let detail = `mtlskit cert self-signed --profile ${name}`;
    if (cert) {
      const c = (await readPkiObjects(cert))[0];
      detail = c?.kind === "certificate" ? `SHA-256 ${c.sha256Fingerprint}` : cert;
    }
    toState(to.clientCertificate, !!cert, detail, cert);
  }
  const hasServer = await isFile(p.server.cert);
  toState(to.serverChain, hasServer, hasServer ? ((await isFile(p.server.trustStore)) ? "with a PEM trust store (private CA)" : "reaches a Mozilla root") : `mtlskit server-cert set --profile ${name} ...`, hasServer ? p.server.cert : undefined);
  toState(to.issuerHost, !!profile.issuerHost, profile.issuerHost ?? `mtlskit server-cert set --profile ${name} ... --host NAME`);
  if (d1 && to.oauthPublicKey && to.oauthKid) {
    toState(to.oauthPublicKey, await isFile(p.oauth.key), p.oauth.key);
    toState(to.oauthKid, !!profile.oauthKid, profile.oauthKid ?? `profiles.${name}.oauth.kid in mtlskit.yaml`);
  }
  const ok = !assets.some((a) => a.state === "wrong" || (a.direction === "from-thales" && a.state === "missing"));
  return { profile: name, assets, warnings, ok };
}
