import { MtlsError } from "../errors/index.js";
import {
  createClientCsr,
  createSelfSignedClientCertificate,
  privateKeyToPem,
  readPassphraseFile,
  readPrivateKeyFile,
  type CreateClientCsrResult,
  type CreateSelfSignedResult,
  type KeySource,
  type Pkcs11Options,
} from "../pki/index.js";
import { parseKeyType, type HashName, type KeyType } from "../policy/index.js";
import type { StoreWriteOptions } from "./cert-install.js";
import { backupFile, ensureDir, isFile, removeFile, replaceFile, willWrite } from "./fs-ops.js";
import { CLIENT_KEY_WHY, decryptedKeyWarning } from "./key-warning.js";
import { profileClientKeyUri, profilePkcs11Options, readTokenPublicKey } from "./token-keys.js";
import { writeWorkspace, type Profile, type WorkspaceTxn } from "./workspace.js";

/** Options of {@link createProfileCsr} and {@link createProfileSelfSigned}. */
export interface ProfileCredentialOptions extends StoreWriteOptions {
  /** Type of a new key. Default: the profile's `keyType`, else the program's default. */
  keyType?: KeyType | string;
  /** Use this existing key (it is copied into the profile, 0600) instead of creating one. */
  keyFile?: string;
  passphraseFile?: string;
  /** Use this key in a PKCS#11 token (its URI, never a PIN, is stored in the profile). */
  keyUri?: string;
  /** Module and PIN of the token (the module, not the PIN, is stored in the profile). */
  pkcs11?: Pkcs11Options;
  /** Subject attributes (openssl -subj); default the profile's `subject`. Stored in the profile when it had none. */
  subject?: string;
  /** Replace the profile's key and certificate (the old ones are kept as dated backups). */
  force?: boolean;
  hash?: HashName;
}

/** What `csr create --profile` made. */
export interface ProfileCsrResult extends CreateClientCsrResult {
  profile: string;
  /** Things to know, such as a key given encrypted and stored decrypted. */
  warnings: string[];
  /** The key the CSR was made with (in the profile folder). */
  keyFileInProfile: string;
  /** True when the profile's existing key was used. */
  reusedKey: boolean;
  backups: string[];
}

/** What `cert self-signed --profile` made. */
export interface ProfileSelfSignedResult extends CreateSelfSignedResult {
  profile: string;
  /** Things to know, such as a key given encrypted and stored decrypted. */
  warnings: string[];
  keyFileInProfile: string;
  reusedKey: boolean;
  backups: string[];
}

/** Keeps dated copies of the client credentials and removes them, before a forced replacement. */
async function retireClientCredentials(profile: Profile, now: Date | undefined): Promise<string[]> {
  const p = profile.paths;
  const backups: string[] = [];
  for (const f of [p.client.key, p.client.cert, p.client.chain, p.client.csr]) {
    const b = await backupFile(f, p.backups, now);
    if (b) backups.push(b);
    await removeFile(f);
  }
  return backups;
}

/** With `force`: keeps dated copies of what is about to be replaced (everything, for a new key). */
async function makeRoom(profile: Profile, reused: boolean, options: ProfileCredentialOptions, output: string): Promise<string[]> {
  if (!options.force) return [];
  if (!reused) return retireClientCredentials(profile, options.now);
  const b = await backupFile(output, profile.paths.backups, options.now);
  return b ? [b] : [];
}

/**
 * Decides where the key comes from: a file given (copied in), the profile's key (reused), or
 * a new one. Refuses to replace a key or certificate without `force`.
 */
/** Where the key of a new CSR or certificate comes from. */
interface KeyChoice {
  source: KeySource;
  /** The profile's key is used. */
  reused: boolean;
  /** A key given as a file, as PKCS#8 PEM, to copy into the profile. */
  imported?: string;
  /** The key was given encrypted (with a passphrase) and is stored decrypted. */
  decryptedFrom?: string;
  /** A key in a token, given now: its URI goes into the profile. */
  tokenUri?: string;
}

async function keySource(profile: Profile, options: ProfileCredentialOptions, renewHint: string): Promise<KeyChoice> {
  const p = profile.paths.client;
  const tokenKey = profileClientKeyUri(profile);
  const hasKey = (await isFile(p.key)) || tokenKey !== undefined;
  const hasCert = await isFile(p.cert);
  const force = !!options.force;
  if (hasCert && !force) {
    throw new MtlsError("FILE_EXISTS", `profile '${profile.name}' already has a client certificate (${p.cert})`, {
      hint: `${renewHint}, or add --force to replace key and certificate now (the old ones are kept in backups/).`,
    });
  }
  if (options.keyUri) {
    if (hasKey && !force && options.keyUri !== tokenKey) {
      throw new MtlsError("FILE_EXISTS", `profile '${profile.name}' already has a client key (${tokenKey ?? p.key}); mtlskit does not replace a private key without --force`, { subject: tokenKey ?? p.key });
    }
    const pkcs11 = profilePkcs11Options(profile, options.pkcs11);
    // Reach the key now, before anything of the profile is moved aside (a coded PKCS11_* error otherwise).
    readTokenPublicKey(options.keyUri, pkcs11);
    return { source: { keyUri: options.keyUri, pkcs11 }, reused: options.keyUri === tokenKey, tokenUri: options.keyUri };
  }
  if (options.keyFile) {
    if (hasKey && !force) {
      throw new MtlsError("FILE_EXISTS", `profile '${profile.name}' already has a client key (${p.key}); mtlskit does not replace a private key without --force`, { subject: p.key });
    }
    const passphrase = options.passphraseFile ? await readPassphraseFile(options.passphraseFile) : undefined;
    const key = await readPrivateKeyFile(options.keyFile, passphrase !== undefined ? { passphrase } : {});
    return {
      source: { keyFile: options.keyFile, ...(options.passphraseFile ? { passphraseFile: options.passphraseFile } : {}) },
      reused: false,
      imported: privateKeyToPem(key),
      ...(passphrase !== undefined ? { decryptedFrom: options.keyFile } : {}),
    };
  }
  if (hasKey && !(force && options.keyType)) {
    if (options.keyType && !force) {
      throw new MtlsError("FILE_EXISTS", `profile '${profile.name}' already has a client key (${p.key}); a new ${String(options.keyType)} key would replace it`, {
        hint: "Leave --type out to use the profile's key, or add --force to replace it (the old one is kept in backups/).",
      });
    }
    if (tokenKey) return { source: { keyUri: tokenKey, pkcs11: profilePkcs11Options(profile, options.pkcs11) }, reused: true };
    return { source: { keyFile: p.key }, reused: true };
  }
  const keyType = parseKeyType(String(options.keyType ?? profile.config.keyType ?? profile.program.clientCertificate.defaultKeyType));
  return { source: { keyType, keyOut: p.key }, reused: false };
}

/**
 * Once the CSR or certificate is written: a key given as a file moves into the profile (0600),
 * the key type is remembered, and the profile's part of the result.
 */
async function settleKey(txn: WorkspaceTxn, profile: Profile, ks: KeyChoice, made: { keyFile: string | undefined; keyType: KeyType; keyUri?: string | undefined }, backups: string[]) {
  const key = profile.paths.client.key;
  if (ks.imported) {
    await replaceFile(key, ks.imported, { mode: 0o600 });
    if (profile.config.pkcs11?.clientKey) txn.set(["profiles", profile.name, "pkcs11", "clientKey"], undefined);
  }
  if (!profile.config.keyType) txn.set(["profiles", profile.name, "keyType"], made.keyType);
  const uri = made.keyUri ?? ks.tokenUri;
  if (uri) {
    // The token's URI, never a PIN, and the module it was reached through.
    if (ks.tokenUri) {
      if (await isFile(key)) await removeFile(key);
      txn.set(["profiles", profile.name, "pkcs11", "clientKey"], uri);
      const module = "keyUri" in ks.source ? ks.source.pkcs11?.module : undefined;
      if (module && !profile.config.pkcs11?.module) txn.set(["profiles", profile.name, "pkcs11", "module"], module);
    }
    return { keyFile: undefined, keyUri: uri, profile: profile.name, keyFileInProfile: uri, reusedKey: ks.reused, backups, warnings: [] as string[] };
  }
  const warnings = ks.decryptedFrom !== undefined ? [decryptedKeyWarning(ks.decryptedFrom, key, CLIENT_KEY_WHY)] : [];
  return { keyFile: made.keyFile ?? (ks.imported ? key : undefined), profile: profile.name, keyFileInProfile: key, reusedKey: ks.reused, backups, warnings };
}

/**
 * `mtlskit csr create --profile NAME` (D1): a key and a CSR in the profile's folder, with the
 * profile's merchantGatewayId, environment and subject, by the same rules as `csr create`.
 * The profile's key is reused when it has one and no certificate yet.
 *
 * @example
 * const r = await createProfileCsr(".mtlskit", "d1-pp");
 * r.csrFile; // .../d1-preprod-123456/client.csr
 */
export async function createProfileCsr(dir: string, name: string, options: ProfileCredentialOptions = {}): Promise<ProfileCsrResult> {
  return writeWorkspace(
    dir,
    async (txn) => {
      const profile = txn.profile(name);
      if (profile.program.clientCertificate.issuance !== "thales-signed-csr") {
        throw new MtlsError("WRONG_PROGRAM", `profile '${name}' is ${profile.program.name}, whose client certificates are self-signed, not issued from a CSR`, {
          hint: `Use: mtlskit cert self-signed --profile ${name}`,
        });
      }
      const subject = options.subject ?? profile.config.subject;
      if (!subject) {
        throw new MtlsError("USAGE", `profile '${name}' has no subject, and none was given`, {
          hint: `Add --subject "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments" (it is kept in the profile for renewals).`,
        });
      }
      const p = profile.paths;
      await ensureDir(p.folder);
      const ks = await keySource(profile, options, `To renew it: mtlskit renew --profile ${name}`);
      const backups = await makeRoom(profile, ks.reused, options, p.client.csr);
      await willWrite(p.client.key, p.client.csr);
      const r = await createClientCsr({
        program: profile.program.id,
        environment: profile.environment.id,
        gatewayId: profile.customerId,
        subject,
        key: ks.source,
        out: p.client.csr,
        force: !!options.force,
        ...(options.hash ? { hash: options.hash } : {}),
      });
      if (!profile.config.subject) txn.set(["profiles", name, "subject"], subject);
      return {
        ...r,
        ...(await settleKey(txn, profile, ks, r, backups)),
        nextSteps: [
          `Send ${p.client.csr} to your Thales representative for D1 ${profile.environment.label} (merchantGatewayId ${profile.customerId}), or hand over the export: mtlskit assets export --profile ${name} --out DIR`,
          ks.source && "keyUri" in ks.source ? `The private key stays in the token (${ks.source.keyUri}); it is never sent.` : `The private key stays in ${p.client.key}; it is never sent.`,
          `When the certificate comes back: mtlskit cert install FILE --profile ${name}`,
        ],
      };
    },
    { ...options, command: "csr create" },
  );
}

/** Options of {@link createProfileSelfSigned}. */
export interface ProfileSelfSignedOptions extends ProfileCredentialOptions {
  /** The portal's Common Name; default the profile's `cn`. Stored in the profile when it had none. */
  cn?: string;
  /** Validity in days (at most 730). */
  days?: number;
}

/**
 * `mtlskit cert self-signed --profile NAME` (MT): a key and a self-signed client certificate
 * in the profile's folder, with the portal's CN, by the same rules as `cert self-signed`.
 *
 * @example
 * const r = await createProfileSelfSigned(".mtlskit", "mt-sbx", { cn: "MT-123456-SBX" });
 * r.sha256Fingerprint; // what Thales endorses
 */
export async function createProfileSelfSigned(dir: string, name: string, options: ProfileSelfSignedOptions = {}): Promise<ProfileSelfSignedResult> {
  return writeWorkspace(
    dir,
    async (txn) => {
      const profile = txn.profile(name);
      if (profile.program.clientCertificate.issuance !== "self-signed-endorsed") {
        throw new MtlsError("WRONG_PROGRAM", `profile '${name}' is ${profile.program.name}, whose client certificates are signed by the Thales CA from a CSR`, {
          hint: `Use: mtlskit csr create --profile ${name}`,
        });
      }
      const cn = options.cn ?? profile.config.cn;
      if (!cn) {
        throw new MtlsError("USAGE", `profile '${name}' has no Common Name yet: MT needs the exact value of the Thales portal`, {
          hint: `Add --cn "<CN from the Thales portal>" (it is kept in the profile), or import the assets first (they carry TSH_CLIENT_CN).`,
        });
      }
      if (options.cn && profile.config.cn && options.cn !== profile.config.cn) {
        throw new MtlsError("CN_MISMATCH", `--cn '${options.cn}' differs from the Common Name of profile '${name}': '${profile.config.cn}'`, {
          hint: "Leave --cn out to use the profile's, which came from the Thales portal or its assets.",
        });
      }
      const p = profile.paths;
      await ensureDir(p.folder);
      const ks = await keySource(profile, options, `To renew it: mtlskit renew --profile ${name}`);
      const backups = await makeRoom(profile, ks.reused, options, p.client.cert);
      await willWrite(p.client.key, p.client.cert);
      const subject = options.subject ?? profile.config.subject;
      const r = await createSelfSignedClientCertificate({
        program: profile.program.id,
        environment: profile.environment.id,
        cn,
        key: ks.source,
        out: p.client.cert,
        force: !!options.force,
        ...(subject ? { subject } : {}),
        ...(options.days !== undefined ? { days: options.days } : {}),
        ...(options.hash ? { hash: options.hash } : {}),
      });
      if (!profile.config.cn) txn.set(["profiles", name, "cn"], cn);
      return {
        ...r,
        ...(await settleKey(txn, profile, ks, r, backups)),
        nextSteps: [
          `Have Thales endorse (pin) ${p.client.cert} for MT ${profile.environment.label} (customer ${profile.customerId}): upload it in the Thales portal, or hand over the export: mtlskit assets export --profile ${name} --out DIR`,
          `Check that Thales registers the SHA-256 fingerprint ${r.sha256Fingerprint}.`,
          `Then import the Thales assets: mtlskit assets import DIR --profile ${name}`,
        ],
      };
    },
    { ...options, command: "cert self-signed" },
  );
}
