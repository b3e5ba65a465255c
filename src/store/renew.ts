import { MtlsError } from "../errors/index.js";
import { type Pkcs11Options, createClientCsr, createSelfSignedClientCertificate, describeKey, formatSubject, readCertificates, readPrivateKeyFile } from "../pki/index.js";
import { parseKeyType, type HashName, type KeyType } from "../policy/index.js";
import type { StoreWriteOptions } from "./cert-install.js";
import { ensureDir, isFile, moveToTrash, willWrite } from "./fs-ops.js";
import { profileClientKeyUri, profilePkcs11Options, renewalKeyUri } from "./token-keys.js";
import { writeWorkspace } from "./workspace.js";

/** Options of {@link renewProfile}. */
export interface RenewOptions extends StoreWriteOptions {
  /** Key type of the new key. Default: the profile's `keyType`, else the current key's type. */
  keyType?: KeyType | string;
  /** MT: validity of the new certificate in days (at most 730). */
  days?: number;
  hash?: HashName;
  /** Start again when a renewal is already waiting (its key and files go to backups/). */
  force?: boolean;
  /** Module and PIN of the token, when the profile's key is in one (the new key is made in the same token). */
  pkcs11?: Pkcs11Options;
}

/** What {@link renewProfile} made. */
export interface RenewResult {
  profile: string;
  program: string;
  /** The new key (pending/client.key), not yet in use. */
  keyFile: string;
  /** D1: the CSR to send to Thales. */
  csrFile: string | undefined;
  /** MT: the self-signed certificate for Thales to endorse. */
  certificateFile: string | undefined;
  subject: string;
  commonName: string;
  keyType: KeyType;
  /** MT: what Thales pins. */
  sha256Fingerprint: string | undefined;
  spkiPin: string;
  /** The certificate in use until the renewal becomes active. */
  current: { certificateFile: string; notAfter: string };
  nextSteps: string[];
}

/**
 * `mtlskit renew --profile NAME`: D1, a new key and a CSR with the same DN; MT, a new key and a
 * self-signed certificate with the same CN. Both go to the profile's `pending/` folder, and the
 * current credentials stay active until the new certificate is installed (D1: `cert install`)
 * or endorsed (MT: `cert activate`), so that nothing breaks in between.
 *
 * @example
 * const r = await renewProfile(".mtlskit", "d1-pp");
 * r.csrFile; // .../d1-preprod-123456/pending/client.csr
 */
export async function renewProfile(dir: string, name: string, options: RenewOptions = {}): Promise<RenewResult> {
  return writeWorkspace(
    dir,
    async (txn) => {
      const profile = txn.profile(name);
      const p = profile.paths;
      const d1 = profile.program.clientCertificate.issuance === "thales-signed-csr";
      if (!(await isFile(p.client.cert))) {
        throw new MtlsError("NOTHING_TO_RENEW", `profile '${name}' has no client certificate to renew`, {
          hint: d1 ? `Create the first one: mtlskit csr create --profile ${name}, then mtlskit cert install FILE --profile ${name}` : `Create the first one: mtlskit cert self-signed --profile ${name}`,
        });
      }
      if ((await isFile(p.pending.key)) || (await isFile(p.pending.csr)) || (await isFile(p.pending.cert)) || profileClientKeyUri(profile, "pending")) {
        if (!options.force) {
          throw new MtlsError("RENEWAL_PENDING", `profile '${name}' has a renewal waiting already (${p.pending.dir})`, {
            hint: d1
              ? `Install the certificate Thales returns for it (mtlskit cert install FILE --profile ${name}), or add --force to start again.`
              : `Once Thales has endorsed it: mtlskit cert activate --profile ${name}; or add --force to start again.`,
          });
        }
        await moveToTrash(p.pending.dir, p.backups, "pending", options.now);
      }
      const current = (await readCertificates(p.client.cert))[0]!;
      const currentKeyType = (await isFile(p.client.key)) ? describeKey(await readPrivateKeyFile(p.client.key)).type : undefined;
      const keyType = parseKeyType(String(options.keyType ?? profile.config.keyType ?? currentKeyType ?? profile.program.clientCertificate.defaultKeyType));
      const rest = current.subject.map((rdn) => rdn.filter((a) => a.type !== "CN")).filter((rdn) => rdn.length > 0);
      const subject = rest.length ? formatSubject(rest) : undefined;
      // A key in a token: the new key goes into the same token under a new label; its URI is
      // stored (as pendingClientKey) only when the CSR or certificate is written, so that an
      // interrupted renewal leaves at most an unused key in the token and the profile as it was.
      const tokenKey = profileClientKeyUri(profile);
      const pkcs11 = tokenKey ? profilePkcs11Options(profile, options.pkcs11) : undefined;
      const newUri = tokenKey && pkcs11 ? renewalKeyUri(tokenKey, pkcs11, options.now ?? new Date()) : undefined;
      const newKey = newUri ? { keyType, keyOut: newUri, ...(pkcs11 ? { pkcs11 } : {}) } : { keyType, keyOut: p.pending.key };
      if (newUri) txn.set(["profiles", name, "pkcs11", "pendingClientKey"], newUri);
      await ensureDir(p.pending.dir);
      await willWrite(p.pending.key, p.pending.csr, p.pending.cert);
      const notAfter = current.notAfter.toISOString();
      if (d1) {
        const r = await createClientCsr({
          program: profile.program.id,
          environment: profile.environment.id,
          gatewayId: profile.customerId,
          subject: subject ?? profile.config.subject ?? "",
          key: newKey,
          out: p.pending.csr,
          ...(options.hash ? { hash: options.hash } : {}),
        });
        return {
          profile: name,
          program: profile.program.id,
          keyFile: newUri ?? p.pending.key,
          csrFile: p.pending.csr,
          certificateFile: undefined,
          subject: r.subject,
          commonName: r.commonName,
          keyType: r.keyType,
          sha256Fingerprint: undefined,
          spkiPin: r.spkiPin,
          current: { certificateFile: p.client.cert, notAfter },
          nextSteps: [
            `Send ${p.pending.csr} to Thales (D1 ${profile.environment.label}, merchantGatewayId ${profile.customerId}); the current certificate stays in use meanwhile (expires ${notAfter}).`,
            `When the new certificate comes back: mtlskit cert install FILE --profile ${name} (it becomes active then; the old key and certificate are kept in backups/).`,
          ],
        };
      }
      const cn = current.commonName ?? profile.config.cn;
      if (!cn) throw new MtlsError("CERTIFICATE_REFUSED", `${p.client.cert}: the current certificate has no Common Name to renew with`, { hint: `Create a new one: mtlskit cert self-signed --profile ${name} --force` });
      const r = await createSelfSignedClientCertificate({
        program: profile.program.id,
        environment: profile.environment.id,
        cn,
        ...(subject ? { subject } : {}),
        key: newKey,
        out: p.pending.cert,
        ...(options.days !== undefined ? { days: options.days } : {}),
        ...(options.hash ? { hash: options.hash } : {}),
      });
      return {
        profile: name,
        program: profile.program.id,
        keyFile: newUri ?? p.pending.key,
        csrFile: undefined,
        certificateFile: p.pending.cert,
        subject: r.subject,
        commonName: r.commonName,
        keyType: r.keyType,
        sha256Fingerprint: r.sha256Fingerprint,
        spkiPin: r.spkiPin,
        current: { certificateFile: p.client.cert, notAfter },
        nextSteps: [
          `Have Thales endorse ${p.pending.cert} (SHA-256 ${r.sha256Fingerprint}) for MT ${profile.environment.label}; the current certificate stays in use meanwhile (expires ${notAfter}).`,
          `Once Thales has it: mtlskit cert activate --profile ${name}`,
        ],
      };
    },
    { ...options, command: "renew" },
  );
}
