/**
 * The one wording of "a key given encrypted is stored decrypted in the workspace" (`server-cert
 * set`, `csr create --profile`, `cert self-signed --profile`): where, why, and how to keep it
 * protected.
 */
export function decryptedKeyWarning(given: string, stored: string, why: string): string {
  return `the key was given encrypted (${given}) and is stored decrypted in ${stored} (mode 0600), because ${why}: keep the workspace on an encrypted disk, readable only by the service's user, and keep the encrypted original as your backup`;
}

/** Why a client key is stored decrypted. */
export const CLIENT_KEY_WHY = "connections to Thales read it without a passphrase";
