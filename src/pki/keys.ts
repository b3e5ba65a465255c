import { createPrivateKey, createPublicKey, generateKeyPair, sign as cryptoSign, verify as cryptoVerify, X509Certificate, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { MtlsError } from "../errors/index.js";
import type { KeyType } from "../policy/index.js";
import { bitsOf, children, contentBytes, oidOf, parseDer, universalTag } from "./asn1.js";
import { looksLikePem, parsePem } from "./pem.js";

const generateKeyPairAsync = promisify(generateKeyPair);

/** Key parameters of each key type: node:crypto's names. */
const KEY_PARAMS: Record<KeyType, { kind: "ec"; namedCurve: string } | { kind: "rsa"; modulusLength: number }> = {
  "ecdsa-p256": { kind: "ec", namedCurve: "prime256v1" },
  "ecdsa-p384": { kind: "ec", namedCurve: "secp384r1" },
  "rsa-2048": { kind: "rsa", modulusLength: 2048 },
  "rsa-4096": { kind: "rsa", modulusLength: 4096 },
};

/** A generated key pair. */
export interface KeyPair {
  readonly type: KeyType;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/**
 * Generates a key pair with node:crypto (off the main thread, so a progress display can run
 * during the second or two an RSA 4096 key takes).
 *
 * @example
 * const { privateKey } = await generateKey("ecdsa-p256");
 */
export async function generateKey(type: KeyType): Promise<KeyPair> {
  const p = KEY_PARAMS[type];
  const pair =
    p.kind === "ec"
      ? await generateKeyPairAsync("ec", { namedCurve: p.namedCurve })
      : await generateKeyPairAsync("rsa", { modulusLength: p.modulusLength, publicExponent: 0x10001 });
  return { type, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

/** The private key as unencrypted PKCS#8 PEM (`BEGIN PRIVATE KEY`), as openssl 3 writes it. */
export function privateKeyToPem(key: KeyObject): string {
  return key.export({ type: "pkcs8", format: "pem" }).toString();
}

/** What a key is, in mtlskit's terms. */
export interface KeyDescription {
  /** The key type, when it is one mtlskit knows. */
  readonly type: KeyType | undefined;
  /** `EC` or `RSA` (or node's name for other kinds). */
  readonly algorithm: string;
  /** Curve name for EC keys (`P-256`, `P-384`, ...). */
  readonly curve?: string;
  /** Key size in bits. */
  readonly bits: number;
  /** Human label: `ECDSA P-256`, `RSA 4096`. */
  readonly label: string;
}

const CURVES: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: "P-256", bits: 256 },
  secp384r1: { name: "P-384", bits: 384 },
  secp521r1: { name: "P-521", bits: 521 },
  secp256k1: { name: "secp256k1", bits: 256 },
};

/** Describes a public or private key: type, size, label. */
export function describeKey(key: KeyObject): KeyDescription {
  const kind = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails ?? {};
  if (kind === "ec") {
    const c = CURVES[d.namedCurve ?? ""] ?? { name: d.namedCurve ?? "unknown curve", bits: 0 };
    const type: KeyType | undefined = c.name === "P-256" ? "ecdsa-p256" : c.name === "P-384" ? "ecdsa-p384" : undefined;
    return { type, algorithm: "EC", curve: c.name, bits: c.bits, label: `ECDSA ${c.name}` };
  }
  if (kind === "rsa" || kind === "rsa-pss") {
    const bits = d.modulusLength ?? 0;
    const type: KeyType | undefined = kind === "rsa" && bits === 2048 ? "rsa-2048" : kind === "rsa" && bits === 4096 ? "rsa-4096" : undefined;
    return { type, algorithm: kind === "rsa" ? "RSA" : "RSA-PSS", bits, label: `${kind === "rsa" ? "RSA" : "RSA-PSS"} ${bits}` };
  }
  return { type: undefined, algorithm: String(kind ?? "unknown").toUpperCase(), bits: 0, label: String(kind ?? "unknown key").toUpperCase() };
}

/** Curve OIDs of the EC keys {@link describeSpki} reads: node:crypto's names. */
const CURVE_OIDS: Record<string, string> = {
  "1.2.840.10045.3.1.7": "prime256v1",
  "1.3.132.0.34": "secp384r1",
  "1.3.132.0.35": "secp521r1",
  "1.3.132.0.10": "secp256k1",
};

/**
 * {@link describeKey} of a SubjectPublicKeyInfo, read from its DER without making a
 * `KeyObject` (which costs more than the rest of a certificate's parse): EC keys on the curves
 * above and RSA keys. `undefined` for any other kind, or SPKI this reader cannot place: the
 * caller then describes the `KeyObject` as before. The result is the same as describeKey's
 * (keys.test.ts checks it on every kind).
 */
export function describeSpki(spki: Uint8Array): KeyDescription | undefined {
  try {
    const [alg, bits] = children(parseDer(spki));
    const [oidNode, params] = children(alg);
    const oid = oidOf(oidNode);
    if (oid === "1.2.840.10045.2.1") {
      const named = universalTag(params) === 6 ? CURVE_OIDS[oidOf(params)] : undefined;
      const c = named ? CURVES[named] : undefined;
      const point = bitsOf(bits).bytes;
      // An uncompressed or compressed point of the curve's size, else let node judge it.
      if (!c || point.length === 0 || (point[0] !== 4 && point[0] !== 2 && point[0] !== 3)) return undefined;
      const type: KeyType | undefined = c.name === "P-256" ? "ecdsa-p256" : c.name === "P-384" ? "ecdsa-p384" : undefined;
      return { type, algorithm: "EC", curve: c.name, bits: c.bits, label: `ECDSA ${c.name}` };
    }
    if (oid === "1.2.840.113549.1.1.1") {
      const { bytes, unusedBits } = bitsOf(bits);
      if (unusedBits !== 0) return undefined;
      const [n, e] = children(parseDer(bytes));
      if (universalTag(n) !== 2 || universalTag(e) !== 2) return undefined;
      let m = contentBytes(n!);
      while (m.length > 1 && m[0] === 0) m = m.subarray(1);
      if (m.length === 0 || ((m[0]! & 0x80) !== 0 && contentBytes(n!)[0] !== 0)) return undefined;
      const modulusLength = (m.length - 1) * 8 + (32 - Math.clz32(m[0]!));
      const type: KeyType | undefined = modulusLength === 2048 ? "rsa-2048" : modulusLength === 4096 ? "rsa-4096" : undefined;
      return { type, algorithm: "RSA", bits: modulusLength, label: `RSA ${modulusLength}` };
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** Options of {@link loadPrivateKey}. */
export interface LoadKeyOptions {
  /** Passphrase of an encrypted key (PKCS#8 or legacy PEM). */
  passphrase?: string;
  /** Name of the file, for error messages. */
  source?: string;
}

const KEY_LABELS = new Set(["PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]);
const NOT_KEY_LABELS: Record<string, string> = {
  CERTIFICATE: "a certificate",
  "TRUSTED CERTIFICATE": "a certificate",
  "CERTIFICATE REQUEST": "a certificate signing request",
  "NEW CERTIFICATE REQUEST": "a certificate signing request",
  "PUBLIC KEY": "a public key",
  "RSA PUBLIC KEY": "a public key",
  "X509 CRL": "a CRL",
};

/**
 * Loads a private key from PEM or DER: PKCS#8 (plain or encrypted), PKCS#1 (`RSA PRIVATE
 * KEY`, also legacy-encrypted), SEC1 (`EC PRIVATE KEY`, with or without `EC PARAMETERS`).
 * Every failure is a coded `MtlsError` naming the file: `KEY_EXPECTED` for a certificate or
 * CSR, `KEY_ENCRYPTED` without a passphrase, `KEY_BAD_PASSPHRASE`, `INPUT_NOT_RECOGNIZED`.
 */
export function loadPrivateKey(data: Uint8Array, options: LoadKeyOptions = {}): KeyObject {
  const source = options.source ?? "key";
  if (looksLikePem(data)) {
    const blocks = parsePem(Buffer.from(data).toString("latin1"), source);
    const keyBlocks = blocks.filter((b) => KEY_LABELS.has(b.label));
    if (keyBlocks.length === 0) {
      const other = blocks.map((b) => NOT_KEY_LABELS[b.label] ?? `a '${b.label}' block`)[0] ?? "no key";
      throw new MtlsError("KEY_EXPECTED", `${source}: holds ${other}, not a private key`, { subject: source });
    }
    if (keyBlocks.length > 1) {
      throw new MtlsError("KEY_EXPECTED", `${source}: holds ${keyBlocks.length} private keys; give a file with exactly one`, { subject: source });
    }
    const block = keyBlocks[0]!;
    const encrypted = block.label === "ENCRYPTED PRIVATE KEY" || (block.headers["Proc-Type"] ?? "").includes("ENCRYPTED");
    return decodeKey(() => createPrivateKey({ key: block.text, format: "pem", ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}) }), encrypted, options);
  }
  const der = Buffer.from(data);
  const attempts: Array<"pkcs8" | "pkcs1" | "sec1"> = ["pkcs8", "pkcs1", "sec1"];
  for (const type of attempts) {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: der, format: "der", type });
    } catch {
      continue; // try the next encoding
    }
    return assertConsistent(key, source);
  }
  // Encrypted PKCS#8 in DER: only decryptable with the passphrase.
  if (isEncryptedPkcs8Der(der)) {
    return decodeKey(() => createPrivateKey({ key: der, format: "der", type: "pkcs8", ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}) }), true, options);
  }
  if (isProbablyCertificateOrCsrDer(der)) {
    throw new MtlsError("KEY_EXPECTED", `${source}: holds a certificate or CSR (DER), not a private key`, { subject: source });
  }
  throw new MtlsError("INPUT_NOT_RECOGNIZED", `${source}: is not a private key in PEM or DER (PKCS#8, PKCS#1 or SEC1)`, { subject: source });
}

const PROBE = Buffer.from("mtlskit key consistency probe");

/**
 * A key file can carry a private value that does not match its stored public half (a damaged
 * or forged SEC1 key, a scalar of zero): it loads, then signs what nobody can verify. One
 * signature over a probe, checked with the key's public half, catches it before any CSR or
 * certificate is made with it.
 */
function assertConsistent(key: KeyObject, source: string): KeyObject {
  const kind = key.asymmetricKeyType;
  if (kind !== "ec" && kind !== "rsa" && kind !== "rsa-pss" && kind !== "ed25519" && kind !== "ed448") return key;
  let ok = false;
  try {
    const hash = kind === "ed25519" || kind === "ed448" ? null : "sha256";
    ok = cryptoVerify(hash, PROBE, createPublicKey(key), cryptoSign(hash, PROBE, key));
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new MtlsError("KEY_INVALID", `${source}: the private key is damaged: its private value does not match its public key`, { subject: source });
  }
  return key;
}

function decodeKey(load: () => KeyObject, encrypted: boolean, options: LoadKeyOptions): KeyObject {
  const source = options.source ?? "key";
  if (encrypted && options.passphrase === undefined) {
    throw new MtlsError("KEY_ENCRYPTED", `${source}: the private key is encrypted and no passphrase was given`, { subject: source });
  }
  try {
    return assertConsistent(load(), source);
  } catch (e) {
    if (e instanceof MtlsError) throw e;
    const code = (e as { code?: string }).code ?? "";
    const msg = (e as Error).message ?? "";
    if (encrypted || /bad decrypt|BAD_DECRYPT|passphrase/i.test(code + msg)) {
      if (code === "ERR_MISSING_PASSPHRASE") {
        throw new MtlsError("KEY_ENCRYPTED", `${source}: the private key is encrypted and no passphrase was given`, { subject: source, cause: e });
      }
      throw new MtlsError("KEY_BAD_PASSPHRASE", `${source}: the private key could not be decrypted with this passphrase`, { subject: source, cause: e });
    }
    throw new MtlsError("INPUT_NOT_RECOGNIZED", `${source}: the private key is damaged or of an unknown format`, { subject: source, cause: e });
  }
}

/** SEQUENCE { SEQUENCE { OID pkcs5PBES2 ... } OCTET STRING }: the shape of EncryptedPrivateKeyInfo. */
function isEncryptedPkcs8Der(der: Buffer): boolean {
  // 06 09 2a 86 48 86 f7 0d 01 05 0d = OID 1.2.840.113549.1.5.13 (PBES2); also PKCS#12 PBE OIDs 1.2.840.113549.1.12.1.x
  return der[0] === 0x30 && (der.includes(Buffer.from("06092a864886f70d01050d", "hex")) || der.includes(Buffer.from("060a2a864886f70d010c01", "hex")));
}

function isProbablyCertificateOrCsrDer(der: Buffer): boolean {
  try {
    new X509Certificate(der);
    return true;
  } catch {
    // A CSR: SEQUENCE { SEQUENCE { INTEGER, Name, SubjectPublicKeyInfo, ... }, AlgorithmIdentifier, BIT STRING }.
    try {
      const parts = children(parseDer(der));
      const info = children(parts[0]);
      return parts.length === 3 && universalTag(parts[2]) === 3 && universalTag(info[0]) === 2 && universalTag(info[1]) === 16 && universalTag(info[2]) === 16;
    } catch {
      return false;
    }
  }
}

/** True when a private key and a public key are two halves of one pair. */
export function keysMatch(privateKey: KeyObject, publicKey: KeyObject): boolean {
  const a = (privateKey.type === "public" ? privateKey : createPublicKey(privateKey)).export({ type: "spki", format: "der" });
  const b = publicKey.export({ type: "spki", format: "der" });
  return Buffer.compare(a, b) === 0;
}
