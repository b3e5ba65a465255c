import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { promises as fs } from "node:fs";
import { calculateJwkThumbprint, exportJWK } from "jose";
import { MtlsError } from "../errors/index.js";
import { createTokenKey, type Pkcs11Options } from "../pki/index.js";
import { backupFile, profilePkcs11Options, replaceFile, writeWorkspace } from "../store/index.js";

/** Options of {@link createOAuthKey}. */
export interface CreateOAuthKeyOptions {
  /** The key id to register with Thales. Default: the RFC 7638 thumbprint of the public key. */
  kid?: string;
  /** Replace an existing key (the old one is kept in the profile's backups/). Default false. */
  force?: boolean;
  /** Make the key in a PKCS#11 token under this URI (`object=` its label) instead of a file; the profile stores the URI. */
  keyUri?: string;
  /** Module and PIN of the token (the module, never the PIN, is stored in the profile). */
  pkcs11?: Pkcs11Options;
}

/** What {@link createOAuthKey} made. */
export interface CreateOAuthKeyResult {
  profile: string;
  kid: string;
  /** The private key (0600). */
  keyFile: string;
  /** The public key, PEM (SPKI): what Thales registers as D1_OAUTH_PUBLIC_KEY. */
  publicKeyPem: string;
  /** The public key as a JWK, with its kid. */
  publicJwk: Record<string, unknown>;
  /** The replaced key's backup, when `force` replaced one. */
  backup: string | undefined;
  nextSteps: string[];
}

const KID_PATTERN = /^[A-Za-z0-9._~-]{1,128}$/;

/**
 * `mtlskit oauth key create`: makes the ES256 (ECDSA P-256) key pair a D1 profile signs its
 * JWT assertions with, stores the private key in the profile (`oauth/oauth.key`, 0600) and the
 * kid in `mtlskit.yaml`. `mtlskit assets export` then hands Thales the public key
 * (D1_OAUTH_PUBLIC_KEY) and the kid (D1_OAUTH_KID).
 *
 * @example
 * const r = await createOAuthKey(".mtlskit", "d1-pp");
 * console.log(r.kid, r.publicKeyPem);
 */
export async function createOAuthKey(dir: string, name: string, options: CreateOAuthKeyOptions = {}): Promise<CreateOAuthKeyResult> {
  if (options.kid !== undefined && !KID_PATTERN.test(options.kid)) {
    throw new MtlsError("USAGE", `--kid '${options.kid}' is not a key id mtlskit writes: use 1 to 128 letters, digits, '.', '_', '~' and '-'`);
  }
  return writeWorkspace(dir, async (txn) => {
    const profile = txn.profile(name);
    if (profile.program.auth.kind !== "oauth2-jwt-bearer") {
      throw new MtlsError("OAUTH_NOT_USED", `profile '${name}' is ${profile.program.name}, which does not use OAuth 2.0 (no key to create)`);
    }
    if (options.keyUri) {
      const old = profile.config.pkcs11?.oauthKey;
      if (old && !options.force) {
        throw new MtlsError("FILE_EXISTS", `profile '${name}' has an OAuth signing key already (${old})`, { subject: old, hint: "Keep it, or add --force to use a new one (the old key stays in the token)." });
      }
      const pkcs11 = profilePkcs11Options(profile, options.pkcs11);
      const key = createTokenKey(options.keyUri, "ecdsa-p256", pkcs11);
      let publicKey;
      let uri;
      try {
        publicKey = key.publicKey;
        uri = key.info.uri;
      } finally {
        key.close();
      }
      const jwk = await exportJWK(publicKey);
      const kid = options.kid ?? (await calculateJwkThumbprint(jwk, "sha256"));
      txn.set(["profiles", name, "oauth", "kid"], kid);
      txn.set(["profiles", name, "pkcs11", "oauthKey"], uri);
      if (pkcs11.module && !profile.config.pkcs11?.module) txn.set(["profiles", name, "pkcs11", "module"], pkcs11.module);
      return {
        profile: name,
        kid,
        keyFile: uri,
        publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
        publicJwk: { ...jwk, kid, alg: "ES256", use: "sig" },
        backup: old,
        nextSteps: [
          `Register the public key and kid with Thales: mtlskit assets export --profile ${name} (D1_OAUTH_PUBLIC_KEY, D1_OAUTH_KID).`,
          `Then check that a token comes: mtlskit token --profile ${name} (the assertion is signed in the token).`,
        ],
      };
    }
    const keyFile = profile.paths.oauth.key;
    let existing = false;
    try {
      await fs.access(keyFile);
      existing = true;
    } catch {
      existing = false;
    }
    if (existing && !options.force) {
      throw new MtlsError("FILE_EXISTS", `${keyFile}: profile '${name}' has an OAuth signing key already`, {
        subject: keyFile,
        hint: "Keep it (its public key may be registered with Thales), or add --force to replace it: the old key goes to the profile's backups/, and the new public key must be registered before it is used.",
      });
    }
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const publicKey = createPublicKey(privateKey);
    const jwk = await exportJWK(publicKey);
    const kid = options.kid ?? (await calculateJwkThumbprint(jwk, "sha256"));
    // Through the store, so that the change is one transaction of the workspace (journaled).
    const backup = existing ? await backupFile(keyFile, profile.paths.backups) : undefined;
    await replaceFile(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }).toString(), { mode: 0o600 });
    txn.set(["profiles", name, "oauth", "kid"], kid);
    return {
      profile: name,
      kid,
      keyFile,
      publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
      publicJwk: { ...jwk, kid, alg: "ES256", use: "sig" },
      backup,
      nextSteps: [
        `Register the public key and kid with Thales: mtlskit assets export --profile ${name} (D1_OAUTH_PUBLIC_KEY, D1_OAUTH_KID).`,
        `Then check that a token comes: mtlskit token --profile ${name}.`,
      ],
    };
  }, { command: "oauth key create" });
}
