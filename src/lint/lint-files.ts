import { isPkcs11Uri, openTokenKey, readPassphraseFile, readPkiObjects, readPrivateKeyFile, type PkiItem } from "../pki/index.js";
import { lintItems, resolveLintOptions } from "./lint-items.js";
import type { LintFilesOptions, LintResult } from "./types.js";

/**
 * Reads and lints files of certificates, CSRs, private keys and chains, PEM (one or many
 * blocks) or DER. Every input problem is an `MtlsError` thrown before anything is linted:
 * unknown program or environment, a missing or unreadable file, malformed PEM, something
 * that is not a key, certificate or CSR, an encrypted key without its passphrase.
 *
 * @example
 * const r = await lintFiles(["client.crt"], { program: "mt", environment: "sandbox", cn: "my-portal-cn", keyFile: "client.key" });
 * console.log(r.errors === 0 ? "ok" : r.findings.map((f) => f.code).join(", "));
 */
export async function lintFiles(files: string[], options: LintFilesOptions): Promise<LintResult> {
  resolveLintOptions(options);
  const passphrase = options.passphraseFile !== undefined ? await readPassphraseFile(options.passphraseFile) : undefined;
  const read = passphrase !== undefined ? { passphrase } : {};
  const items: PkiItem[] = [];
  for (const file of files) items.push(...(await readPkiObjects(file, read)));
  const { keyFile, passphraseFile: _passphraseFile, pkcs11, ...lintOptions } = options;
  let keyInToken: string | undefined;
  if (keyFile !== undefined && isPkcs11Uri(keyFile)) {
    // A key in a token: its public half is what the checks compare.
    const key = openTokenKey(keyFile, pkcs11);
    key.close();
    lintOptions.privateKey = key.publicKey;
    lintOptions.privateKeySource ??= `the ${key.info.summary} (--key)`;
    keyInToken = key.info.summary;
  } else if (keyFile !== undefined) {
    lintOptions.privateKey = await readPrivateKeyFile(keyFile, read);
    lintOptions.privateKeySource ??= `the private key in ${keyFile} (--key)`;
  }
  const result = lintItems(items, lintOptions);
  return keyInToken ? { ...result, keyInToken } : result;
}
