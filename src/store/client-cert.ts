import type { KeyObject } from "node:crypto";
import { MtlsError } from "../errors/index.js";
import { lintItems, type Finding } from "../lint/index.js";
import { keysMatch, parseCsr, parsePem, readInputFile, readPrivateKeyFile, toPem, type CertificateInfo, type PkiItem } from "../pki/index.js";
import { chainUp, isCa, nameOf, pemBundle } from "./chains.js";
import { assertCertificateEnvironment } from "./environment-guard.js";
import { backupFile, ensureDir, isFile, removeDirIfEmpty, removeFile, replaceFile } from "./fs-ops.js";
import { profileClientKeyUri, profilePkcs11Options, readTokenPublicKey } from "./token-keys.js";
import type { Profile, WorkspaceTxn } from "./workspace.js";

type Cert = PkiItem & CertificateInfo;

/** Which credentials a certificate goes with: the active ones, or those of a renewal in progress. */
export type CredentialSlot = "active" | "pending";

/** A certificate checked and ready to be installed into a profile. */
export interface InstallPlan {
  readonly leaf: CertificateInfo;
  /** The issuing CA chain that came with it, issuer order. */
  readonly chain: CertificateInfo[];
  readonly slot: CredentialSlot;
  /** Warnings and infos of the checks (errors refuse the plan). */
  readonly findings: Finding[];
}

/** The profile's client keys, as far as they exist. */
async function profileKeys(profile: Profile): Promise<{ active?: KeyObject; pending?: KeyObject }> {
  const out: { active?: KeyObject; pending?: KeyObject } = {};
  // A key in a token: its public half (the module from MTLSKIT_PKCS11_MODULE or the profile).
  const uris = { active: profileClientKeyUri(profile, "active"), pending: profileClientKeyUri(profile, "pending") };
  if (uris.active) out.active = readTokenPublicKey(uris.active, profilePkcs11Options(profile)).publicKey;
  if (uris.pending) out.pending = readTokenPublicKey(uris.pending, profilePkcs11Options(profile)).publicKey;
  if (!uris.active && await isFile(profile.paths.client.key)) out.active = await readPrivateKeyFile(profile.paths.client.key);
  if (!uris.pending && (await isFile(profile.paths.pending.key))) out.pending = await readPrivateKeyFile(profile.paths.pending.key);
  return out;
}

function findingLine(f: Finding): string {
  return `[${f.code}] ${f.message}`;
}

/** The refused findings of an install or activation, each said once, in the order lint found them. */
export function refusedFindings(errors: readonly Finding[]): string {
  return [...new Set(errors.map(findingLine))].join("; ");
}

/**
 * Checks a client certificate (and the chain that came with it) against a profile: the
 * program's lint rules for its environment and customer id, the profile's key (active or
 * pending renewal), the environment guards, and the CSR. Throws `ENVIRONMENT_MISMATCH`,
 * `CERTIFICATE_REFUSED` (with the findings) or `NO_CLIENT_KEY`; returns the plan otherwise.
 */
export async function planClientInstall(profile: Profile, items: PkiItem[], source: string): Promise<InstallPlan> {
  if (items.some((i) => i.kind === "private-key")) {
    throw new MtlsError("CERTIFICATE_REFUSED", `${source}: holds a private key; give the certificate (and its chain) alone`, {
      hint: "Private keys never travel: the profile's key is already in its folder.",
    });
  }
  const certs = items.filter((i): i is PkiItem & CertificateInfo => i.kind === "certificate");
  if (certs.length === 0) throw new MtlsError("CERTIFICATE_EXPECTED", `${source}: holds no certificate`, { subject: source });
  const byFingerprint = new Map<string, number[]>();
  certs.forEach((c, i) => byFingerprint.set(c.sha256Fingerprint, [...(byFingerprint.get(c.sha256Fingerprint) ?? []), i + 1]));
  const copies = [...byFingerprint.entries()].filter(([, at]) => at.length > 1);
  if (copies.length) {
    const listed = copies.map(([fp, at]) => `${nameOf(certs.find((c) => c.sha256Fingerprint === fp)!)} (certificates ${at.join(", ")} of the file)`);
    throw new MtlsError("CERTIFICATE_DUPLICATED", `${source}: holds the same certificate more than once: ${listed.join("; ")}`, {
      subject: source,
      hint: "Keep one copy of each, the client certificate first and each certificate followed by its issuer, then install again.",
    });
  }
  const leaf: Cert | undefined = certs.find((c) => !isCa(c)) ?? (profile.program.clientCertificate.issuance === "self-signed-endorsed" ? certs[0]! : undefined);
  if (!leaf) {
    throw new MtlsError("CERTIFICATE_REFUSED", `${source}: holds only CA certificates (${certs.map(nameOf).join(", ")}); the client certificate is missing`, {
      hint: "Give the certificate Thales issued for your CSR, followed by its CA chain.",
    });
  }
  const keys = await profileKeys(profile);
  if (!keys.active && !keys.pending) {
    throw new MtlsError("NO_CLIENT_KEY", `profile '${profile.name}' has no client key, so no certificate can be installed`, {
      hint: profile.program.clientCertificate.issuance === "thales-signed-csr" ? `Create the key and CSR first: mtlskit csr create --profile ${profile.name}` : `Create the certificate: mtlskit cert self-signed --profile ${profile.name}`,
    });
  }
  const slot: CredentialSlot = keys.pending && keysMatch(keys.pending, leaf.publicKey) ? "pending" : "active";
  const key = slot === "pending" ? keys.pending : (keys.active ?? keys.pending);
  const keyFile = (slot === "pending" || !keys.active ? profileClientKeyUri(profile, "pending") : profileClientKeyUri(profile, "active")) ?? (slot === "pending" || !keys.active ? profile.paths.pending.key : profile.paths.client.key);
  assertCertificateEnvironment(profile, leaf, source);
  for (const c of certs) if (c !== leaf) assertCertificateEnvironment(profile, c, `${source} (CA ${nameOf(c)})`);
  const chain = chainUp(leaf, certs).slice(1);
  const lintInput: PkiItem[] = [leaf, ...(chain as Cert[]), ...certs.filter((c) => c !== leaf && !chain.includes(c))];
  const result = lintItems(lintInput, {
    program: profile.program.id,
    environment: profile.environment.id,
    ...(profile.program.clientCertificate.commonName.kind === "template" ? { gatewayId: profile.customerId } : profile.config.cn ? { cn: profile.config.cn } : {}),
    ...(key ? { privateKey: key, privateKeySource: `the profile's ${slot === "pending" ? "renewal key" : "key"} (${keyFile})` } : {}),
  });
  const errors = result.findings.filter((f) => f.severity === "error");
  const envError = errors.find((f) => f.code === "CN_ENVIRONMENT");
  if (envError) {
    throw new MtlsError("ENVIRONMENT_MISMATCH", `${source}: ${envError.message}`, {
      hint: `Environments are isolated: this profile is ${profile.program.name} ${profile.environment.label}; install the certificate Thales issued for that environment.`,
    });
  }
  if (errors.length > 0) {
    throw new MtlsError("CERTIFICATE_REFUSED", `${source}: not installed: ${refusedFindings(errors)}`, { subject: source, hint: errors[0]!.hint });
  }
  const findings = result.findings.filter((f) => f.severity !== "error");
  const csrFile = slot === "pending" ? profile.paths.pending.csr : profile.paths.client.csr;
  if (await isFile(csrFile)) {
    const blocks = parsePem((await readInputFile(csrFile)).toString("latin1"), csrFile);
    const csr = blocks[0] ? parseCsr(blocks[0].der, csrFile) : undefined;
    if (csr && Buffer.compare(Buffer.from(csr.subjectDer), Buffer.from(leaf.subjectDer)) !== 0) {
      findings.push({
        code: "SUBJECT_DIFFERS_FROM_CSR",
        severity: "warning",
        message: `the certificate's subject (${leaf.subjectText}) differs from the CSR's (${csr.subjectText})`,
        hint: "Check with Thales that the certificate was issued for this CSR; the key matches, so it can be used.",
        source,
      });
    }
  }
  return { leaf, chain, slot, findings };
}

/** What {@link applyClientInstall} did. */
export interface InstallOutcome {
  readonly slot: CredentialSlot;
  /** True when a pending renewal became the active credentials. */
  readonly promoted: boolean;
  readonly certificateFile: string;
  readonly chainFile: string | undefined;
  /** Dated copies made of the files replaced. */
  readonly backups: string[];
}

/**
 * Makes the pending renewal (key, CSR or certificate, chain) the active credentials, keeping
 * dated copies of the ones replaced. The key is written before the certificate, so that a
 * reader never sees a certificate without its key.
 */
export async function promotePending(profile: Profile, cert: { leafPem: string; chainPem: string | undefined }, now = new Date(), txn?: WorkspaceTxn): Promise<{ backups: string[] }> {
  const p = profile.paths;
  const backups: string[] = [];
  for (const f of [p.client.key, p.client.cert, p.client.chain, p.client.csr]) {
    const b = await backupFile(f, p.backups, now);
    if (b) backups.push(b);
  }
  const pendingUri = profileClientKeyUri(profile, "pending");
  if (pendingUri) {
    // A key in a token: the profile points at the new key; the old one stays in the token (its URI in the backups' note).
    if (!txn) throw new MtlsError("INTERNAL", "promoting a renewal key in a token needs the workspace transaction");
    txn.set(["profiles", profile.name, "pkcs11", "clientKey"], pendingUri);
    txn.set(["profiles", profile.name, "pkcs11", "pendingClientKey"], undefined);
    const old = profileClientKeyUri(profile, "active");
    if (old) backups.push(`${old} (previous key, left in the token)`);
  } else {
    const keyPem = await readInputFile(p.pending.key);
    await replaceFile(p.client.key, keyPem, { mode: 0o600 });
  }
  if (await isFile(p.pending.csr)) await replaceFile(p.client.csr, await readInputFile(p.pending.csr));
  else await removeFile(p.client.csr);
  await replaceFile(p.client.cert, cert.leafPem);
  if (cert.chainPem) await replaceFile(p.client.chain, cert.chainPem);
  else await removeFile(p.client.chain);
  for (const f of [p.pending.key, p.pending.csr, p.pending.cert, p.pending.chain]) await removeFile(f);
  await removeDirIfEmpty(p.pending.dir);
  return { backups };
}

/**
 * Writes a checked certificate into the profile: D1 (and MT for the active key) replaces the
 * active certificate, keeping the previous one as a dated backup; a certificate of a D1
 * renewal makes the renewal active; an MT renewal's certificate waits in `pending/` for
 * `cert activate`. Call under the workspace lock.
 */
export async function applyClientInstall(profile: Profile, plan: InstallPlan, now = new Date(), txn?: WorkspaceTxn): Promise<InstallOutcome> {
  const p = profile.paths;
  const leafPem = toPem("CERTIFICATE", plan.leaf.der);
  const chainPem = plan.chain.length ? pemBundle(plan.chain) : undefined;
  if (plan.slot === "pending" && profile.program.clientCertificate.issuance === "thales-signed-csr") {
    const { backups } = await promotePending(profile, { leafPem, chainPem }, now, txn);
    return { slot: "pending", promoted: true, certificateFile: p.client.cert, chainFile: chainPem ? p.client.chain : undefined, backups };
  }
  const target = plan.slot === "pending" ? p.pending : p.client;
  await ensureDir(profile.paths.folder);
  const backups: string[] = [];
  const b1 = await replaceFile(target.cert, leafPem, { backupsDir: p.backups, now });
  if (b1) backups.push(b1);
  if (chainPem) {
    const b2 = await replaceFile(target.chain, chainPem, { backupsDir: p.backups, now });
    if (b2) backups.push(b2);
  } else if (await isFile(target.chain)) {
    const b2 = await backupFile(target.chain, p.backups, now);
    if (b2) backups.push(b2);
    await removeFile(target.chain);
  }
  return { slot: plan.slot, promoted: false, certificateFile: target.cert, chainFile: chainPem ? target.chain : undefined, backups };
}
