import { MtlsError } from "../../errors/index.js";
import { parseKeyType, type HashName } from "../../policy/index.js";
import { isPkcs11Uri, type KeySource, type Pkcs11Options } from "../../pki/index.js";

/** `--pkcs11-module` and `--pin-file`: where a key in a token is reached (else MTLSKIT_PKCS11_MODULE / MTLSKIT_PKCS11_PIN). */
export function pkcs11OptionsFrom(o: Record<string, unknown>): Pkcs11Options {
  return {
    ...(o["pkcs11Module"] !== undefined ? { module: String(o["pkcs11Module"]) } : {}),
    ...(o["pinFile"] !== undefined ? { pinFile: String(o["pinFile"]) } : {}),
  };
}

/** Help texts of the token options, one wording for every command. */
export const TOKEN_OPTION_HELP = {
  pinFile: "PIN of the PKCS#11 token (first line); default MTLSKIT_PKCS11_PIN. Never stored",
  module: "PKCS#11 module (shared library) of the token; default MTLSKIT_PKCS11_MODULE",
} as const;

/** Reads `--key FILE [--passphrase-file F]` or `--type T [--key-out FILE]` into a key source. */
export function keySourceFrom(o: Record<string, unknown>, out: string): KeySource {
  const keyFile = o["key"] as string | undefined;
  const type = o["type"] as string | undefined;
  if (keyFile && type) throw new MtlsError("USAGE", "give either --key FILE (an existing key) or --type TYPE (a new key), not both");
  if (keyFile) {
    if (o["keyOut"]) throw new MtlsError("USAGE", "--key-out goes with --type (a new key); with --key the existing key is used");
    if (isPkcs11Uri(keyFile)) return { keyUri: keyFile, pkcs11: pkcs11OptionsFrom(o) };
    return { keyFile, ...(o["passphraseFile"] ? { passphraseFile: String(o["passphraseFile"]) } : {}) };
  }
  if (!type) throw new MtlsError("USAGE", "give --key FILE (an existing key) or --type TYPE (a new key: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-4096)");
  const keyOut = (o["keyOut"] as string | undefined) ?? defaultKeyPath(out);
  if (isPkcs11Uri(keyOut)) return { keyType: parseKeyType(type), keyOut, pkcs11: pkcs11OptionsFrom(o) };
  return { keyType: parseKeyType(type), keyOut };
}

/** `client.csr` -> `client.key`. */
export function defaultKeyPath(out: string): string {
  return /\.[A-Za-z0-9]+$/.test(out) ? out.replace(/\.[A-Za-z0-9]+$/, ".key") : `${out}.key`;
}

/** Parses `--hash`. */
export function hashOption(v: unknown): HashName | undefined {
  if (v === undefined) return undefined;
  const h = String(v).toLowerCase().replace("-", "");
  if (h !== "sha256" && h !== "sha384") throw new MtlsError("USAGE", `--hash must be sha256 or sha384, not '${String(v)}'`);
  return h;
}

/** Without --profile, each option of `list` ([key, flag]) is required: USAGE names the first missing. */
export function requireWithoutProfile(o: Record<string, unknown>, list: ReadonlyArray<readonly [string, string]>): void {
  for (const [key, flag] of list) {
    if (o[key] === undefined) throw new MtlsError("USAGE", `required option '${flag}' not specified`, { hint: "Give it, or use --profile NAME (mtlskit profile add) to take it from a profile." });
  }
}

/** The key lines of a profile command's output: the reused key, or the new one, and backups. */
export function keyLines(r: { reusedKey: boolean; keyFileInProfile: string; backups: readonly string[]; keyUri?: string | undefined; keyInToken?: string | undefined }, wrote: string): string[] {
  if (r.keyUri) return [`key: ${r.keyUri} (${r.keyInToken ?? "key in token"}${r.reusedKey ? ", the profile's key" : ", kept in the profile"})`, ...r.backups.map((b) => `backup: ${b}`)];
  return [r.reusedKey ? `key: ${r.keyFileInProfile} (the profile's key)` : `${wrote} ${r.keyFileInProfile} (private key, mode 0600)`, ...r.backups.map((b) => `backup: ${b}`)];
}

/** `--key FILE` or `--key pkcs11:...` (with `--pkcs11-module`, `--pin-file`) of a profile command. */
export function profileKeyOptions(o: Record<string, unknown>): { keyFile?: string; keyUri?: string; pkcs11: Pkcs11Options } {
  const key = o["key"] === undefined ? undefined : String(o["key"]);
  if (key !== undefined && isPkcs11Uri(key)) return { keyUri: key, pkcs11: pkcs11OptionsFrom(o) };
  return { ...(key !== undefined ? { keyFile: key } : {}), pkcs11: pkcs11OptionsFrom(o) };
}
