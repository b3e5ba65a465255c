import { MtlsError } from "../../errors/index.js";
import { parseKeyType, type HashName } from "../../policy/index.js";
import { isPkcs11Uri, type KeySource, type Pkcs11Options } from "../../pki/index.js";
import { printJson, printNextSteps, say, warn, type CliContext } from "../context.js";

/** `--pin-file` and `--pkcs11-module`, as commander hands them over (declared with {@link TOKEN_OPTION_HELP}). */
export interface TokenOptions {
  pinFile?: string;
  pkcs11Module?: string;
}

/** `--pkcs11-module` and `--pin-file`: where a key in a token is reached (else MTLSKIT_PKCS11_MODULE / MTLSKIT_PKCS11_PIN). */
export function pkcs11OptionsFrom(o: TokenOptions): Pkcs11Options {
  return {
    ...(o.pkcs11Module !== undefined ? { module: o.pkcs11Module } : {}),
    ...(o.pinFile !== undefined ? { pinFile: o.pinFile } : {}),
  };
}

/** Help texts of the token options, one wording for every command. */
export const TOKEN_OPTION_HELP = {
  pinFile: "PIN of the PKCS#11 token (first line); default MTLSKIT_PKCS11_PIN. Never stored",
  module: "PKCS#11 module (shared library) of the token; default MTLSKIT_PKCS11_MODULE",
} as const;

/** The key options of the commands that make a key or use one: `--key`, `--passphrase-file`, `--type`, `--key-out` and the token's. */
export interface KeyOptions extends TokenOptions {
  key?: string;
  passphraseFile?: string;
  type?: string;
  keyOut?: string;
}

/** Reads `--key FILE [--passphrase-file F]` or `--type T [--key-out FILE]` into a key source. */
export function keySourceFrom(o: KeyOptions, out: string): KeySource {
  const keyFile = o.key;
  const type = o.type;
  if (keyFile && type) throw new MtlsError("USAGE", "give either --key FILE (an existing key) or --type TYPE (a new key), not both");
  if (keyFile) {
    if (o.keyOut) throw new MtlsError("USAGE", "--key-out goes with --type (a new key); with --key the existing key is used");
    if (isPkcs11Uri(keyFile)) return { keyUri: keyFile, pkcs11: pkcs11OptionsFrom(o) };
    return { keyFile, ...(o.passphraseFile ? { passphraseFile: o.passphraseFile } : {}) };
  }
  if (!type) throw new MtlsError("USAGE", "give --key FILE (an existing key) or --type TYPE (a new key: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-4096)");
  const keyOut = o.keyOut ?? defaultKeyPath(out);
  if (isPkcs11Uri(keyOut)) return { keyType: parseKeyType(type), keyOut, pkcs11: pkcs11OptionsFrom(o) };
  return { keyType: parseKeyType(type), keyOut };
}

/** `client.csr` -> `client.key`. */
export function defaultKeyPath(out: string): string {
  return /\.[A-Za-z0-9]+$/.test(out) ? out.replace(/\.[A-Za-z0-9]+$/, ".key") : `${out}.key`;
}

/** Parses `--hash`. */
export function hashOption(v: string | undefined): HashName | undefined {
  if (v === undefined) return undefined;
  const h = v.toLowerCase().replace("-", "");
  if (h !== "sha256" && h !== "sha384") throw new MtlsError("USAGE", `--hash must be sha256 or sha384, not '${v}'`);
  return h;
}

/** Options of a command as pairs of [option key, flag as written in messages]. */
export type OptionFlags<O> = ReadonlyArray<readonly [keyof O, string]>;

/** The flag of the first option of `list` that is given (or, with `given` false, missing). */
export function firstOption<O extends object>(o: O, list: OptionFlags<O>, given = true): string | undefined {
  return list.find(([key]) => (o[key] !== undefined) === given)?.[1];
}

/** Without --profile, each option of `list` is required: USAGE names the first missing; else the options, with those given. */
export function requireWithoutProfile<O extends object, K extends keyof O>(o: O, list: ReadonlyArray<readonly [K, string]>): O & { [P in K]-?: NonNullable<O[P]> } {
  const missing = firstOption(o, list, false);
  if (missing !== undefined) throw new MtlsError("USAGE", `required option '${missing}' not specified`, { hint: "Give it, or use --profile NAME (mtlskit profile add) to take it from a profile." });
  return o as O & { [P in K]-?: NonNullable<O[P]> };
}

/** With --profile NAME, each option of `list` is the profile's to decide: USAGE names the first given, with the command to run instead. */
export function refuseWithProfile<O extends object>(o: O, list: OptionFlags<O>, command: string, name: string): void {
  const flag = firstOption(o, list);
  if (flag !== undefined) {
    throw new MtlsError("USAGE", `${flag} does not go with --profile: the profile decides it`, { hint: `Run: mtlskit ${command} --profile ${name} (see mtlskit profile show ${name}).` });
  }
}

/** The key lines of a profile command's output: the reused key, or the new one, and backups. */
export function keyLines(r: { reusedKey: boolean; keyFileInProfile: string; backups: readonly string[]; keyUri?: string | undefined; keyInToken?: string | undefined }, wrote: string): string[] {
  if (r.keyUri) return [`key: ${r.keyUri} (${r.keyInToken ?? "key in token"}${r.reusedKey ? ", the profile's key" : ", kept in the profile"})`, ...r.backups.map((b) => `backup: ${b}`)];
  return [r.reusedKey ? `key: ${r.keyFileInProfile} (the profile's key)` : `${wrote} ${r.keyFileInProfile} (private key, mode 0600)`, ...r.backups.map((b) => `backup: ${b}`)];
}

/** The key lines of `csr create` and `cert self-signed` without a profile: the new key file, or the key in a token. */
export function newKeyLines(r: { keyFile: string | undefined; keyUri?: string | undefined; keyInToken?: string | undefined }, wrote: string): string[] {
  return [...(r.keyFile ? [`${wrote} ${r.keyFile} (private key, mode 0600)`] : []), ...(r.keyUri ? [`key: ${r.keyUri} (${r.keyInToken})`] : [])];
}

/** The options `csr create` and `cert self-signed` share (each command's interface adds its own). */
export interface ClientCredentialOptions extends KeyOptions {
  profile?: string;
  program?: string;
  env?: string;
  cn?: string;
  subject?: string;
  hash?: string;
  out?: string;
  force?: boolean;
}

/** What `csr create` and `cert self-signed` without --profile take from the command line: program, environment, key (existing or new), output, hash. */
export function newCredentialOptions(o: ClientCredentialOptions & { program: string; env: string; out: string }) {
  const hash = hashOption(o.hash);
  return { program: o.program, environment: o.env, key: keySourceFrom(o, o.out), out: o.out, force: !!o.force, ...(hash ? { hash } : {}) };
}

/** What `csr create --profile` and `cert self-signed --profile` take from the command line: key type, key, passphrase, subject, hash. */
export function profileCredentialOptions(o: ClientCredentialOptions) {
  const hash = hashOption(o.hash);
  return {
    ...(o.type !== undefined ? { keyType: o.type } : {}),
    ...profileKeyOptions(o),
    ...(o.passphraseFile !== undefined ? { passphraseFile: o.passphraseFile } : {}),
    ...(o.subject !== undefined ? { subject: o.subject } : {}),
    ...(hash ? { hash } : {}),
    force: !!o.force,
  };
}

/**
 * Prints what `csr create` or `cert self-signed` made: its warnings on stderr, then the one JSON
 * document, or `lines` and the next steps. Returns the exit code (0).
 */
export function reportMade(ctx: CliContext, r: { warnings?: readonly string[]; nextSteps: readonly string[] }, lines: readonly string[]): number {
  for (const w of r.warnings ?? []) warn(ctx, w);
  if (ctx.json) {
    printJson(ctx, { ok: true, ...r });
    return 0;
  }
  for (const line of lines) say(ctx, line);
  printNextSteps(ctx, r.nextSteps);
  return 0;
}

/** `--key FILE` or `--key pkcs11:...` (with `--pkcs11-module`, `--pin-file`) of a profile command. */
export function profileKeyOptions(o: KeyOptions): { keyFile?: string; keyUri?: string; pkcs11: Pkcs11Options } {
  const key = o.key;
  if (key !== undefined && isPkcs11Uri(key)) return { keyUri: key, pkcs11: pkcs11OptionsFrom(o) };
  return { ...(key !== undefined ? { keyFile: key } : {}), pkcs11: pkcs11OptionsFrom(o) };
}
