import { createPublicKey, type KeyObject } from "node:crypto";
import { MtlsError } from "../errors/index.js";
import { assertKeyAccepted, deriveCommonName, getEnvironment, type EnvironmentPolicy, type HashName, type KeyType, type ProgramPolicy } from "../policy/index.js";
import { checkOutputPath, readPassphraseFile, writeFileAtomic } from "./files.js";
import { describeKey, generateKey, privateKeyToPem } from "./keys.js";
import { readPrivateKeyFile } from "./read-objects.js";
import { isPkcs11Uri } from "./pkcs11/uri.js";
import { createTokenKey, openTokenKey, type Pkcs11Options, type TokenKeyInfo } from "./pkcs11/token.js";
import { isSigner, type Signer } from "./signer.js";
import { formatSubject, getAttribute, parseSubject, type Rdn } from "./subject.js";
import { promises as fs } from "node:fs";
import * as path from "node:path";

/**
 * Shared steps of `csr create` and `cert self-signed`: resolve the environment, get the key
 * (load and check it, or generate one), build the subject with the CN the program requires,
 * and write outputs so that nothing is left half-done.
 */

/**
 * Where the private key comes from: a key file, a key in a PKCS#11 token (`keyUri`), or a new
 * key of `keyType` written to `keyOut` (a file, or a `pkcs11:` URI: the key is then generated
 * inside the token and never leaves it).
 */
export type KeySource =
  | { keyFile: string; passphraseFile?: string }
  | { keyUri: string; pkcs11?: Pkcs11Options }
  | { keyType: KeyType; keyOut: string; pkcs11?: Pkcs11Options };

/** The key to use, checked against the program. */
export interface ResolvedKey {
  /** A key in memory, or a {@link Signer} for a key in a token. */
  readonly privateKey: KeyObject | Signer;
  readonly keyType: KeyType;
  /** Set when the key was generated and must still be written to this file. */
  readonly generatedTo?: string;
  /** Set when the key is in a token: what the token says of it (never key material). */
  readonly token?: TokenKeyInfo;
}

/** True when a new key goes into a PKCS#11 token rather than a file. */
export function keyOutIsToken(source: KeySource): boolean {
  return "keyOut" in source && isPkcs11Uri(source.keyOut);
}

function checkTokenKey(program: ProgramPolicy, info: TokenKeyInfo, hash: HashName): KeyType {
  if (!info.type) throw new MtlsError("KEY_UNSUPPORTED", `${info.uri}: a ${info.label} key cannot be used for a ${program.name} client certificate`, { subject: info.uri });
  try {
    assertKeyAccepted(program, info.type, hash);
  } catch (e) {
    if (e instanceof MtlsError) throw new MtlsError(e.code, `${info.uri}: ${e.message}`, { hint: e.hint, subject: info.uri });
    throw e;
  }
  return info.type;
}

/** Loads or generates the client key and checks the program accepts its type and hash. */
export async function resolveClientKey(program: ProgramPolicy, source: KeySource, hash: HashName, force: boolean): Promise<ResolvedKey> {
  if ("keyFile" in source) {
    const passphrase = source.passphraseFile ? await readPassphraseFile(source.passphraseFile) : undefined;
    const privateKey = await readPrivateKeyFile(source.keyFile, passphrase !== undefined ? { passphrase } : {});
    const d = describeKey(privateKey);
    if (!d.type) {
      throw new MtlsError("KEY_UNSUPPORTED", `${source.keyFile}: a ${d.label} key cannot be used for a ${program.name} client certificate`, { subject: source.keyFile });
    }
    try {
      assertKeyAccepted(program, d.type, hash);
    } catch (e) {
      if (e instanceof MtlsError) throw new MtlsError(e.code, `${source.keyFile}: ${e.message}`, { hint: e.hint, subject: source.keyFile });
      throw e;
    }
    return { privateKey, keyType: d.type };
  }
  if ("keyUri" in source) {
    const key = openTokenKey(source.keyUri, source.pkcs11);
    try {
      return { privateKey: key, keyType: checkTokenKey(program, key.info, hash), token: key.info };
    } catch (e) {
      key.close();
      throw e;
    }
  }
  assertKeyAccepted(program, source.keyType, hash);
  if (isPkcs11Uri(source.keyOut)) {
    const key = createTokenKey(source.keyOut, source.keyType, source.pkcs11);
    return { privateKey: key, keyType: source.keyType, token: key.info };
  }
  await checkOutputPath(source.keyOut, force);
  const pair = await generateKey(source.keyType);
  return { privateKey: pair.privateKey, keyType: source.keyType, generatedTo: source.keyOut };
}

/**
 * The subject: the user's attributes (openssl -subj syntax) followed by the required CN.
 * A CN in the user's subject is accepted only when it equals the required one.
 */
export function buildClientSubject(program: ProgramPolicy, subjectText: string | undefined, commonName: string): Rdn[] {
  const rdns = subjectText && subjectText.trim() !== "" ? parseSubject(subjectText) : [];
  const given = getAttribute(rdns, "CN");
  if (given.length > 1) throw new MtlsError("CN_MISMATCH", `the subject has ${given.length} CN attributes; a client certificate has exactly one`);
  if (given.length === 1 && given[0] !== commonName) {
    throw new MtlsError("CN_MISMATCH", `the subject's CN '${given[0]}' differs from the Common Name ${program.name} requires: '${commonName}'`);
  }
  const missing = program.clientCertificate.requiredSubjectAttributes.filter((a) => getAttribute(rdns, a).length === 0);
  if (missing.length) {
    throw new MtlsError("SUBJECT_INCOMPLETE", `the subject lacks ${missing.join(", ")}: ${program.name}'s DN policy requires ${program.clientCertificate.requiredSubjectAttributes.join(", ")} besides the CN`);
  }
  if (given.length === 1) return rdns;
  return [...rdns, [{ type: "CN", oid: "2.5.4.3", value: commonName }]];
}

/** The CN, checked against an explicit `--cn` when one was given. */
export function requiredCommonName(
  program: ProgramPolicy,
  environment: EnvironmentPolicy,
  args: { customerId?: string; keyType: KeyType; cn?: string },
): string {
  const derived = deriveCommonName(program, {
    environment,
    keyType: args.keyType,
    ...(args.customerId !== undefined ? { customerId: args.customerId } : {}),
    ...(args.cn !== undefined ? { portalValue: args.cn } : {}),
  });
  if (program.clientCertificate.commonName.kind === "template" && args.cn !== undefined && args.cn !== derived) {
    throw new MtlsError("CN_MISMATCH", `--cn '${args.cn}' differs from the Common Name ${program.name} requires for this key and environment: '${derived}'`);
  }
  return derived;
}

export { getEnvironment };

/**
 * Checks the output files before any key is generated or anything written: the output and a
 * new key's file must be two different files, neither a directory, neither existing unless
 * `force`, each in an existing directory; and the output must not replace the key it uses.
 */
export async function checkOutputs(source: KeySource, out: string, force: boolean): Promise<void> {
  if ("keyOut" in source && path.resolve(source.keyOut) === path.resolve(out)) {
    throw new MtlsError("USAGE", `${out}: the new private key would go to the same file as the output (--key-out, which defaults to --out with .key)`, {
      hint: "Give --out and --key-out two different names, for example --out client.csr --key-out client.key.",
    });
  }
  if ("keyFile" in source && path.resolve(source.keyFile) === path.resolve(out)) {
    throw new MtlsError("USAGE", `${out}: --out names the private key file given with --key; writing there would destroy the key`, {
      hint: "Give --out another name (for example client.csr or client.crt).",
    });
  }
  await checkOutputPath(out, force);
  if ("keyOut" in source && !isPkcs11Uri(source.keyOut)) await checkOutputPath(source.keyOut, force);
}

/**
 * Writes the generated key (0600) and then the main output; when the second write fails the
 * key just written is removed again, so a failed command leaves nothing behind.
 */
export async function writeKeyThenOutput(key: ResolvedKey, out: string, content: string, force: boolean): Promise<void> {
  await checkOutputPath(out, force);
  if (key.generatedTo && !isSigner(key.privateKey)) {
    await writeFileAtomic(key.generatedTo, privateKeyToPem(key.privateKey), { mode: 0o600, overwrite: force });
  }
  try {
    await writeFileAtomic(out, content, { overwrite: force });
  } catch (e) {
    if (key.generatedTo) await fs.unlink(key.generatedTo).catch(() => undefined);
    throw e;
  }
}

/** The public key of a private key (or of a key in a token). */
export function publicOf(privateKey: KeyObject | Signer): KeyObject {
  return isSigner(privateKey) ? privateKey.publicKey : createPublicKey(privateKey);
}

/** Closes a token key's session once the command is done with it (a no-op for key files). */
export function releaseKey(key: ResolvedKey): void {
  const k = key.privateKey as { close?: () => void };
  if (isSigner(key.privateKey) && typeof k.close === "function") k.close();
}

/** What {@link makeClientObject} was asked for. */
export interface ClientObjectRequest {
  readonly key: KeySource;
  readonly out: string;
  readonly force: boolean;
  readonly hash: HashName;
  /** Subject attributes besides the CN (openssl -subj syntax). */
  readonly subject: string | undefined;
  /** What the CN is derived from or checked against (see {@link requiredCommonName}). */
  readonly cn: { customerId?: string; cn?: string };
}

/** What {@link makeClientObject} made: the DER `sign` returned, with the key, CN and subject it was made with. */
export interface ClientObject {
  readonly der: Uint8Array;
  readonly key: ResolvedKey;
  readonly commonName: string;
  readonly subject: Rdn[];
}

/**
 * The steps `csr create` and `cert self-signed` share: the CN and subject checked for the
 * requested key type and the output paths checked before any key is generated (a bad subject
 * or path fails at once and leaves nothing behind), then the key resolved, the subject built
 * with the CN the program requires, and `sign` called with them (a token key released after).
 * The caller parses the DER, then writes it with {@link writeKeyThenOutput}.
 */
export async function makeClientObject(program: ProgramPolicy, environment: EnvironmentPolicy, r: ClientObjectRequest, sign: (subject: Rdn[], key: ResolvedKey) => Uint8Array): Promise<ClientObject> {
  if ("keyType" in r.key) buildClientSubject(program, r.subject, requiredCommonName(program, environment, { ...r.cn, keyType: r.key.keyType }));
  await checkOutputs(r.key, r.out, r.force);
  const key = await resolveClientKey(program, r.key, r.hash, r.force);
  const commonName = requiredCommonName(program, environment, { ...r.cn, keyType: key.keyType });
  const subject = buildClientSubject(program, r.subject, commonName);
  let der: Uint8Array;
  try {
    der = sign(subject, key);
  } finally {
    releaseKey(key);
  }
  return { der, key, commonName, subject };
}

/** The part of a `csr create` or `cert self-signed` result that says which key, CN and subject it was made with. */
export function madeWith(made: ClientObject): { keyFile: string | undefined; keyUri?: string; keyInToken?: string; commonName: string; subject: string; keyType: KeyType } {
  const { key } = made;
  return {
    keyFile: key.generatedTo,
    ...(key.token ? { keyUri: key.token.uri, keyInToken: key.token.summary } : {}),
    commonName: made.commonName,
    subject: formatSubject(made.subject),
    keyType: key.keyType,
  };
}
