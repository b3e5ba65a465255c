import { createPublicKey } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { MtlsError } from "../errors/index.js";
import { parseCsr, readCertificates, readInputFile, readPkiObjects, readPrivateKeyFile, writeFileAtomic, type Pkcs11Options } from "../pki/index.js";
import { ASSET_NAMES, BUNDLE_FORMAT, MANIFEST_FILE } from "./asset-names.js";
import { pemBundle } from "./chains.js";
import { ensureDir, isFile } from "./fs-ops.js";
import { openProfile } from "./workspace.js";
import { profilePkcs11Options, readTokenPublicKey, withTokenAccess } from "./token-keys.js";

/** Options of {@link exportAssets}. */
export interface ExportAssetsOptions {
  /** Write into a folder that is not empty, replacing files of the same names. */
  force?: boolean;
  /** Where the OAuth key in a token is reached (`--pkcs11-module`, `--pin-file`). Default: the environment and the profile. */
  pkcs11?: Pkcs11Options;
}

/** One asset written by {@link exportAssets}. */
export interface ExportedAsset {
  name: string;
  /** The file written, or the value (hosts, kid). */
  file?: string;
  value?: string;
  description: string;
}

/** What {@link exportAssets} wrote. */
export interface ExportAssetsResult {
  profile: string;
  outDir: string;
  manifest: string;
  readme: string;
  assets: ExportedAsset[];
  /** What Thales will need but the profile does not have yet, with how to get it. */
  missing: Array<{ name: string; hint: string }>;
  /** MT: fingerprints of the client certificate Thales endorses. */
  fingerprints: { sha256: string; spkiPin: string } | undefined;
}

/**
 * `mtlskit assets export --profile NAME --out DIR`: what the customer sends to Thales, as a
 * bundle (`manifest.json`, direction `to-thales`) with a README saying what each file is:
 * the CSR (D1) or self-signed certificate with its fingerprints (MT), the server certificate
 * chain, ISSUER_HOST, the PEM trust store when the chain does not reach a Mozilla root, and
 * the OAuth public key and kid (D1). Never a private key.
 *
 * @example
 * const r = await exportAssets(".mtlskit", "mt-sbx", "./to-thales");
 * r.fingerprints?.sha256;
 */
export async function exportAssets(dir: string, name: string, outDir: string, options: ExportAssetsOptions = {}): Promise<ExportAssetsResult> {
  const profile = withTokenAccess(await openProfile(dir, name), options.pkcs11);
  const p = profile.paths;
  const n = ASSET_NAMES[profile.program.id].toThales;
  const d1 = profile.program.clientCertificate.issuance === "thales-signed-csr";
  const st = await fs.stat(outDir).catch(() => undefined);
  if (st && !st.isDirectory()) throw new MtlsError("FILE_EXISTS", `${outDir}: exists and is not a folder`, { subject: outDir });
  if (st && (await fs.readdir(outDir)).length > 0 && !options.force) {
    throw new MtlsError("FILE_EXISTS", `${outDir}: the folder is not empty`, { subject: outDir, hint: "Choose a new folder, or add --force to write into it." });
  }
  const files: Array<{ name: string; file: string; content: string; description: string }> = [];
  const values: ExportedAsset[] = [];
  const missing: Array<{ name: string; hint: string }> = [];
  let fingerprints: ExportAssetsResult["fingerprints"];

  if (d1 && n.csr) {
    const csrFile = (await isFile(p.pending.csr)) ? p.pending.csr : (await isFile(p.client.cert)) ? undefined : (await isFile(p.client.csr)) ? p.client.csr : undefined;
    if (csrFile) {
      const items = await readPkiObjects(csrFile);
      const csr = items.find((i) => i.kind === "csr");
      if (csr?.kind === "csr") {
        const info = parseCsr(csr.der, csrFile);
        files.push({
          name: n.csr,
          file: `${n.csr}.csr`,
          content: (await readInputFile(csrFile)).toString("latin1"),
          description: `The certificate signing request for Thales Business PKI to sign${csrFile === p.pending.csr ? " (renewal)" : ""}. Subject: ${info.subjectText}. Key: ${info.key.label}. Public key pin: ${info.spkiPin}.`,
        });
      }
    } else if (!(await isFile(p.client.cert))) {
      missing.push({ name: n.csr, hint: `mtlskit csr create --profile ${name}` });
    }
  }
  if (!d1 && n.clientCertificate) {
    const certFile = (await isFile(p.pending.cert)) ? p.pending.cert : (await isFile(p.client.cert)) ? p.client.cert : undefined;
    if (certFile) {
      const cert = (await readCertificates(certFile))[0]!;
      fingerprints = { sha256: cert.sha256Fingerprint, spkiPin: cert.spkiPin };
      files.push({
        name: n.clientCertificate,
        file: `${n.clientCertificate}.pem`,
        content: pemBundle([cert]),
        description: `Your self-signed client certificate${certFile === p.pending.cert ? " (renewal, to endorse before `mtlskit cert activate`)" : ""} for Thales to endorse (pin). CN: ${cert.commonName ?? ""}. Valid until ${cert.notAfter.toISOString()}. SHA-256 fingerprint: ${cert.sha256Fingerprint}. SPKI pin: ${cert.spkiPin}.`,
      });
    } else {
      missing.push({ name: n.clientCertificate, hint: `mtlskit cert self-signed --profile ${name}` });
    }
  }
  if (await isFile(p.server.cert)) {
    const chain = [...(await readCertificates(p.server.cert)), ...((await isFile(p.server.chain)) ? await readCertificates(p.server.chain) : [])];
    files.push({
      name: n.serverChain,
      file: `${n.serverChain}.pem`,
      content: pemBundle(chain),
      description: `Your server certificate chain (the server certificate first, then each issuer) for the endpoint Thales calls: ${chain.map((c) => c.commonName ?? c.subjectText).join(" <- ")}.`,
    });
    if (await isFile(p.server.trustStore)) {
      files.push({
        name: n.serverTrustStore,
        file: `${n.serverTrustStore}.pem`,
        content: (await readInputFile(p.server.trustStore)).toString("latin1"),
        description: "The PEM trust store for your server chain, which does not reach a Mozilla-recognised root: Thales needs it to trust your endpoint. Tell Thales before any CA change.",
      });
    }
  } else {
    missing.push({ name: n.serverChain, hint: `mtlskit server-cert set --profile ${name} --cert FILE --key FILE --chain FILE --host NAME` });
  }
  if (profile.issuerHost) values.push({ name: n.issuerHost, value: profile.issuerHost, description: "The host name Thales uses to reach your endpoint (port 443, or 8443)." });
  else missing.push({ name: n.issuerHost, hint: `mtlskit server-cert set --profile ${name} ... --host NAME` });
  if (d1 && n.oauthPublicKey && n.oauthKid) {
    const oauthUri = profile.config.pkcs11?.oauthKey;
    if (oauthUri || (await isFile(p.oauth.key))) {
      // A key in a token: its public half, read from the token.
      const pub = (oauthUri ? readTokenPublicKey(oauthUri, profilePkcs11Options(profile)).publicKey : createPublicKey(await readPrivateKeyFile(p.oauth.key))).export({ type: "spki", format: "pem" }).toString();
      files.push({ name: n.oauthPublicKey, file: `${n.oauthPublicKey}.pem`, content: pub, description: "The public key of your OAuth 2.0 JWT assertions (ES256); Thales looks it up by merchantGatewayId and kid." });
    } else missing.push({ name: n.oauthPublicKey, hint: `the ES256 signing key of your OAuth assertions, in ${p.oauth.key}` });
    if (profile.oauthKid) values.push({ name: n.oauthKid, value: profile.oauthKid, description: "The key id (kid) of your OAuth 2.0 public key." });
    else missing.push({ name: n.oauthKid, hint: `set profiles.${name}.oauth.kid in mtlskit.yaml` });
  }
  for (const f of files) {
    if (/PRIVATE KEY/.test(f.content)) throw new MtlsError("INTERNAL", `refusing to export ${f.name}: it holds a private key`);
  }

  await ensureDir(outDir, 0o755);
  const manifest = {
    format: BUNDLE_FORMAT,
    program: profile.program.id,
    environment: profile.environment.id,
    customerId: profile.customerId,
    direction: "to-thales",
    assets: Object.fromEntries([...files.map((f) => [f.name, f.file]), ...values.map((v) => [v.name, v.value!])]),
  };
  for (const f of files) await writeFileAtomic(path.join(outDir, f.file), f.content, { overwrite: true });
  const manifestFile = path.join(outDir, MANIFEST_FILE);
  await writeFileAtomic(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`, { overwrite: true });
  const readme = path.join(outDir, "README.md");
  const lines = [
    `# For Thales: ${profile.program.name} ${profile.environment.label}, ${profile.program.customerIdLabel} ${profile.customerId}`,
    "",
    `Made by mtlskit on ${new Date().toISOString()} from profile '${name}'. Send these to Thales (portal or delivery team).`,
    "No private key is in this folder: private keys never leave your machine.",
    "",
    "| asset | file or value | what it is |",
    "| --- | --- | --- |",
    ...files.map((f) => `| ${f.name} | ${f.file} | ${f.description} |`),
    ...values.map((v) => `| ${v.name} | \`${v.value}\` | ${v.description} |`),
    "",
    ...(fingerprints ? [`Certificate fingerprint Thales registers: SHA-256 ${fingerprints.sha256} (SPKI pin ${fingerprints.spkiPin}).`, ""] : []),
    ...(missing.length ? ["## Not ready yet", "", ...missing.map((m) => `- ${m.name}: ${m.hint}`), ""] : []),
    "`manifest.json` lists the same assets in the mtlskit-assets/1 format.",
    "",
  ];
  await writeFileAtomic(readme, lines.join("\n"), { overwrite: true });
  return {
    profile: name,
    outDir: path.resolve(outDir),
    manifest: manifestFile,
    readme,
    assets: [...files.map((f) => ({ name: f.name, file: path.join(outDir, f.file), description: f.description })), ...values],
    missing,
    fingerprints,
  };
}
