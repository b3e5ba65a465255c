import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { promises as fs } from "node:fs";
import { calculateJwkThumbprint, exportJWK } from "jose";
import { MtlsError } from "../errors/index.js";
import { backupFile, replaceFile, writeWorkspace } from "../store/index.js";

/** Options of {@link createOAuthKey}. */
export interface CreateOAuthKeyOptions {
  /** The key id to register with Thales. Default: the RFC 7638 thumbprint of the public key. */
  kid?: string;
  /** Replace an existing key (the old one is kept in the profile's backups/). Default false. */
  force?: boolean;
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
  });
}
