import { MtlsError } from "../errors/index.js";
import { isPkcs12File, needsRenewal, readPassphraseFile, readPkiObjects, readPrivateKeyFile, toPem, type CertificateInfo, type Pkcs11Options, type PkiItem } from "../pki/index.js";
import { lintItems, type Finding } from "../lint/index.js";
import { applyClientInstall, planClientInstall, promotePending, refusedFindings, type CredentialSlot } from "./client-cert.js";
import { isFile } from "./fs-ops.js";
import { profileClientKeyUri, profilePkcs11Options, readTokenPublicKey, withTokenAccess } from "./token-keys.js";
import { writeWorkspace } from "./workspace.js";
import type { LockOptions } from "./lock.js";

/** What {@link installCertificate} and {@link activateCertificate} did. */
export interface InstallResult {
  profile: string;
  /** `active`: the certificate is in use now; `pending`: an MT renewal waiting for `cert activate`. */
  slot: CredentialSlot;
  /** A renewal became the active credentials. */
  promoted: boolean;
  certificateFile: string;
  chainFile: string | undefined;
  commonName: string | undefined;
  notAfter: string;
  daysLeft: number;
  sha256Fingerprint: string;
  /** Dated copies of the files replaced. */
  backups: string[];
  /** Warnings of the checks. */
  findings: Finding[];
  nextSteps: string[];
}

/** Options of the write commands. */
export interface StoreWriteOptions extends LockOptions {
  /** The time to use for backups and checks. Default now. */
  now?: Date;
}

/** Options of `cert install` and `cert activate`. */
export interface InstallOptions extends StoreWriteOptions {
  /** Where the profile's key in a token is reached (`--pkcs11-module`, `--pin-file`). Default: the environment and the profile. */
  pkcs11?: Pkcs11Options;
  /** `cert install`: the passphrase of a PKCS#12 `file`, in a file (first line). */
  passphraseFile?: string;
}

/**
 * `mtlskit cert install FILE --profile NAME`: checks the certificate Thales returned (and the
 * chain with it) against the profile's key, CSR, program and environment with every lint rule,
 * and installs it; the previous certificate is kept as a dated backup. A certificate for a D1
 * renewal's key makes the renewal active.
 *
 * @example
 * const r = await installCertificate(".mtlskit", "d1-pp", "signed.pem");
 * r.daysLeft; // 1825
 */
export async function installCertificate(dir: string, name: string, file: string, options: InstallOptions = {}): Promise<InstallResult> {
  const passphrase = options.passphraseFile ? await readPassphraseFile(options.passphraseFile) : undefined;
  // A PKCS#12 gives its certificates in chain order; its key, if any, stays out: the profile
  // keeps its own key, and the certificate is checked against it below.
  const p12 = await isPkcs12File(file);
  const items = (await readPkiObjects(file, passphrase !== undefined ? { passphrase } : {})).filter((i) => !(p12 && i.kind === "private-key"));
  return writeWorkspace(
    dir,
    async (txn) => {
      const profile = withTokenAccess(txn.profile(name), options.pkcs11);
      const plan = await planClientInstall(profile, items, file);
      const outcome = await applyClientInstall(profile, plan, options.now, txn);
      const status = needsRenewal(plan.leaf, { days: 30 }, options.now);
      const nextSteps =
        outcome.slot === "pending"
          ? [`Once Thales has endorsed this certificate, make it active: mtlskit cert activate --profile ${name}`]
          : [`Check everything: mtlskit status`, ...(outcome.promoted ? ["The renewal is active; the previous key and certificate are kept in backups/."] : [])];
      return {
        profile: name,
        slot: outcome.slot,
        promoted: outcome.promoted,
        certificateFile: outcome.certificateFile,
        chainFile: outcome.chainFile,
        commonName: plan.leaf.commonName,
        notAfter: plan.leaf.notAfter.toISOString(),
        daysLeft: status.daysLeft,
        sha256Fingerprint: plan.leaf.sha256Fingerprint,
        backups: outcome.backups,
        findings: plan.findings,
        nextSteps,
      };
    },
    { ...lockOptions(options), command: "cert install" },
  );
}

/**
 * `mtlskit cert activate --profile NAME` (MT): once Thales has endorsed the renewal's
 * self-signed certificate, makes it and its key the active credentials; until then the
 * current ones stay in use. The replaced key and certificate are kept as dated backups.
 */
export async function activateCertificate(dir: string, name: string, options: InstallOptions = {}): Promise<InstallResult> {
  return writeWorkspace(
    dir,
    async (txn) => {
      const profile = withTokenAccess(txn.profile(name), options.pkcs11);
      const p = profile.paths;
      if (profile.program.clientCertificate.issuance !== "self-signed-endorsed") {
        throw new MtlsError("WRONG_PROGRAM", `${profile.program.name} certificates become active when installed; there is nothing to activate`, {
          hint: `Install the certificate Thales signed: mtlskit cert install FILE --profile ${name}`,
        });
      }
      const pendingUri = profileClientKeyUri(profile, "pending");
      if ((!pendingUri && !(await isFile(p.pending.key))) || !(await isFile(p.pending.cert))) {
        throw new MtlsError("NOTHING_TO_ACTIVATE", `profile '${name}' has no renewal waiting (${p.pending.cert})`, {
          hint: `Start one with: mtlskit renew --profile ${name}`,
        });
      }
      const certs = (await readPkiObjects(p.pending.cert)).filter((i): i is PkiItem & CertificateInfo => i.kind === "certificate");
      if (certs.length === 0) throw new MtlsError("CERTIFICATE_EXPECTED", `${p.pending.cert}: holds no certificate`, { subject: p.pending.cert });
      const key = pendingUri ? readTokenPublicKey(pendingUri, profilePkcs11Options(profile)).publicKey : await readPrivateKeyFile(p.pending.key);
      const result = lintItems(certs, {
        program: profile.program.id,
        environment: profile.environment.id,
        ...(profile.config.cn ? { cn: profile.config.cn } : {}),
        privateKey: key,
        privateKeySource: pendingUri ?? p.pending.key,
        ...(options.now ? { now: options.now } : {}),
      });
      const errors = result.findings.filter((f) => f.severity === "error");
      if (errors.length) {
        throw new MtlsError("CERTIFICATE_REFUSED", `${p.pending.cert}: not activated: ${refusedFindings(errors)}`, { hint: errors[0]!.hint });
      }
      const leaf = certs[0]!;
      const { backups } = await promotePending(profile, { leafPem: toPem("CERTIFICATE", leaf.der), chainPem: undefined }, options.now, txn);
      const status = needsRenewal(leaf, { days: 30 }, options.now);
      return {
        profile: name,
        slot: "active" as const,
        promoted: true,
        certificateFile: p.client.cert,
        chainFile: undefined,
        commonName: leaf.commonName,
        notAfter: leaf.notAfter.toISOString(),
        daysLeft: status.daysLeft,
        sha256Fingerprint: leaf.sha256Fingerprint,
        backups,
        findings: result.findings.filter((f) => f.severity !== "error"),
        nextSteps: ["The new certificate is active; the previous key and certificate are kept in backups/.", "Ask Thales to remove the endorsement of the previous certificate once everything works."],
      };
    },
    { ...lockOptions(options), command: "cert activate" },
  );
}

function lockOptions({ pkcs11: _pkcs11, passphraseFile: _passphraseFile, ...rest }: InstallOptions): StoreWriteOptions {
  return rest;
}
