import { generateKey, privateKeyToPem, describeKey } from "./keys.js";
import { checkOutputPath, writeFileAtomic } from "./files.js";
import { spkiPin } from "./fingerprint.js";
import type { KeyType } from "../policy/index.js";

/** Options of {@link createKeyFile}. */
export interface CreateKeyFileOptions {
  type: KeyType;
  /** Where to write the PKCS#8 PEM private key (mode 0600). */
  out: string;
  /** Replace an existing file. Default false. */
  force?: boolean;
}

/** What {@link createKeyFile} made. */
export interface CreateKeyFileResult {
  file: string;
  type: KeyType;
  label: string;
  /** `sha256/<base64>` of the public key. */
  spkiPin: string;
}

/**
 * Generates a private key and writes it as unencrypted PKCS#8 PEM, mode 0600, atomically;
 * an existing file is kept unless `force`.
 *
 * @example
 * await createKeyFile({ type: "ecdsa-p256", out: "client.key" });
 */
export async function createKeyFile(options: CreateKeyFileOptions): Promise<CreateKeyFileResult> {
  // Fail before the second or two an RSA key takes, not after.
  await checkOutputPath(options.out, !!options.force);
  const pair = await generateKey(options.type);
  await writeFileAtomic(options.out, privateKeyToPem(pair.privateKey), { mode: 0o600, overwrite: !!options.force });
  return { file: options.out, type: options.type, label: describeKey(pair.publicKey).label, spkiPin: spkiPin(pair.publicKey) };
}
