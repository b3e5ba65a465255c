import { createPublicKey, verify as cryptoVerify, X509Certificate, type KeyObject } from "node:crypto";
import { MtlsError, printable } from "../errors/index.js";
import type { HashName, KeyType } from "../policy/index.js";
import { bitsOf, boolOf, children, contentBytes, intOf, isContext, oidOf, parseDer, rawBytes, timeOf, universalTag, type Node } from "./asn1.js";
import { colonHex, fingerprint, spkiPin } from "./fingerprint.js";
import { describeKey, describeSpki, type KeyDescription } from "./keys.js";
import { KEY_USAGE_BITS, OID, OID_NAMES, SIGNATURE_ALGORITHMS, type KeyUsageName } from "./oids.js";
import { decodeName, formatSubjectOneLine, getAttribute, type Rdn } from "./subject.js";

/** The signature algorithm of a certificate or CSR. */
export interface SignatureAlgorithmInfo {
  readonly oid: string;
  /** e.g. `ecdsa-with-SHA256`, or the OID when unknown. */
  readonly name: string;
  readonly hash: HashName | undefined;
}

/** One extension, decoded for display and checks. */
export interface ExtensionInfo {
  readonly oid: string;
  readonly name: string;
  readonly critical: boolean;
  /** Human-readable value. */
  readonly text: string;
}

/** What certificates and CSRs have in common. */
export interface ParsedSubjectKey {
  readonly der: Uint8Array;
  readonly subject: Rdn[];
  /** `C=FR, O=Example, CN=...` */
  readonly subjectText: string;
  /** DER of the subject Name, exactly as encoded. */
  readonly subjectDer: Uint8Array;
  /** First CN of the subject, if any. */
  readonly commonName: string | undefined;
  readonly publicKey: KeyObject;
  readonly key: KeyDescription;
  readonly keyType: KeyType | undefined;
  readonly signatureAlgorithm: SignatureAlgorithmInfo;
  readonly extensions: ExtensionInfo[];
  readonly basicConstraints: { ca: boolean; pathLength?: number } | undefined;
  readonly keyUsage: KeyUsageName[] | undefined;
  readonly extKeyUsage: string[] | undefined;
  readonly subjectAltNames: string[] | undefined;
  /** `sha256/<base64>` of the SubjectPublicKeyInfo (HPKP style pin). Computed when first read, for a certificate. */
  readonly spkiPin: string;
}

/** A parsed X.509 certificate. */
export interface CertificateInfo extends ParsedSubjectKey {
  readonly kind: "certificate";
  readonly issuer: Rdn[];
  readonly issuerText: string;
  readonly issuerDer: Uint8Array;
  /** Upper-case hex, without the DER sign byte (as `openssl x509 -serial` prints it). */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly version: number;
  readonly subjectKeyIdentifier: string | undefined;
  readonly authorityKeyIdentifier: string | undefined;
  /** Subject and issuer names are the same bytes. */
  readonly selfIssued: boolean;
  /** SHA-256 of the DER, upper-case hex with colons (openssl's form). Computed when first read. */
  readonly sha256Fingerprint: string;
  /** Node's native certificate, for signature checks. Made when first read. */
  readonly x509: X509Certificate;
}

/** A parsed PKCS#10 certificate signing request. */
export interface CsrInfo extends ParsedSubjectKey {
  readonly kind: "csr";
  /** The CSR's own signature verifies with its public key. */
  readonly signatureValid: boolean;
}

// Moved to fingerprint.ts (the one home of fingerprint formats); still importable from here.
export { colonHex, spkiPin } from "./fingerprint.js";

/** Byte equality, on views of the bytes (no copies). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** A view of bytes as a Buffer, for its string conversions (no copy). */
function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** `getAttribute(rdns, "CN")[0]`, without the lists. */
function firstCommonName(rdns: Rdn[]): string | undefined {
  for (const rdn of rdns) for (const a of rdn) if (a.oid === OID_COMMON_NAME) return a.value;
  return undefined;
}

const OID_COMMON_NAME = "2.5.4.3";

/** A copy of decoded RDNs that shares nothing with them (what decoding the same bytes again gives). */
function copyRdns(rdns: Rdn[]): Rdn[] {
  return rdns.map((rdn) => rdn.map((a) => ({ type: a.type, oid: a.oid, value: a.value })));
}

function sigAlg(algId: Node | undefined): SignatureAlgorithmInfo {
  const oid = oidOf(children(algId)[0]);
  const a = SIGNATURE_ALGORITHMS[oid];
  return { oid, name: a?.name ?? oid, hash: a?.hash };
}

function generalNameText(g: Node): string {
  const bytes = contentBytes(g);
  switch (g.tag) {
    case 1:
      return `email:${printable(view(bytes).toString("latin1"))}`;
    case 2:
      return `DNS:${printable(view(bytes).toString("latin1"))}`;
    case 6:
      return `URI:${printable(view(bytes).toString("latin1"))}`;
    case 7: {
      if (bytes.length === 4) return `IP:${Array.from(bytes).join(".")}`;
      if (bytes.length === 16) {
        const parts: string[] = [];
        for (let i = 0; i < 16; i += 2) parts.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
        return `IP:${parts.join(":")}`;
      }
      return `IP:${view(bytes).toString("hex")}`;
    }
    case 4:
      return `DirName:${formatSubjectOneLine(decodeName(rawBytes(children(g)[0]!)))}`;
    default:
      return `othername:<tag ${g.tag}>`;
  }
}

interface DecodedExtensions {
  list: ExtensionInfo[];
  basicConstraints: { ca: boolean; pathLength?: number } | undefined;
  keyUsage: KeyUsageName[] | undefined;
  extKeyUsage: string[] | undefined;
  subjectAltNames: string[] | undefined;
  ski: string | undefined;
  aki: string | undefined;
}

function decodeExtension(oid: string, value: Uint8Array, out: DecodedExtensions): string {
  switch (oid) {
    case OID.basicConstraints: {
      const items = children(parseDer(value));
      const ca = universalTag(items[0]) === 1 ? boolOf(items[0]) : false;
      const last = items[items.length - 1];
      const pathLength = universalTag(last) === 2 ? intOf(last) : undefined;
      out.basicConstraints = { ca, ...(pathLength !== undefined ? { pathLength } : {}) };
      return `CA:${ca ? "TRUE" : "FALSE"}${pathLength !== undefined ? `, pathlen:${pathLength}` : ""}`;
    }
    case OID.keyUsage: {
      const { bytes } = bitsOf(parseDer(value));
      const names: KeyUsageName[] = [];
      KEY_USAGE_BITS.forEach((name, i) => {
        if ((bytes[i >> 3] ?? 0) & (0x80 >> (i & 7))) names.push(name);
      });
      out.keyUsage = names;
      return names.join(", ");
    }
    case OID.extKeyUsage: {
      out.extKeyUsage = children(parseDer(value)).map(oidOf);
      return out.extKeyUsage.map((o) => OID_NAMES[o] ?? o).join(", ");
    }
    case OID.subjectAltName: {
      out.subjectAltNames = children(parseDer(value)).map(generalNameText);
      return out.subjectAltNames.join(", ");
    }
    case OID.subjectKeyIdentifier: {
      out.ski = colonHex(contentBytes(parseDer(value)));
      return out.ski;
    }
    case OID.authorityKeyIdentifier: {
      const keyId = children(parseDer(value)).find((c) => isContext(c, 0));
      if (keyId) out.aki = colonHex(contentBytes(keyId));
      return out.aki ? `keyid:${out.aki}` : "(no key identifier)";
    }
    default:
      return view(value).toString("hex");
  }
}

function decodeExtensions(exts: Node[]): DecodedExtensions {
  const out: DecodedExtensions = { list: [], basicConstraints: undefined, keyUsage: undefined, extKeyUsage: undefined, subjectAltNames: undefined, ski: undefined, aki: undefined };
  for (const e of exts) {
    const parts = children(e);
    const oid = oidOf(parts[0]);
    const critical = parts.length === 3 ? boolOf(parts[1]) : false;
    const value = contentBytes(parts[parts.length - 1]!);
    let text: string;
    try {
      text = decodeExtension(oid, value, out);
    } catch {
      text = `(undecodable) ${view(value).toString("hex")}`;
    }
    out.list.push({ oid, name: OID_NAMES[oid] ?? oid, critical, text });
  }
  return out;
}

function fail(source: string, what: string, cause?: unknown): never {
  throw new MtlsError("INPUT_NOT_RECOGNIZED", `${source}: is not a valid ${what}`, { subject: source, cause });
}

function publicKeyOf(spki: Uint8Array, source: string): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: "der", type: "spki" });
  } catch (e) {
    throw new MtlsError("INPUT_NOT_RECOGNIZED", `${source}: the certificate's public key cannot be read`, { subject: source, cause: e });
  }
}

/**
 * Parses a DER certificate. Throws `INPUT_NOT_RECOGNIZED` (naming `source`) when the bytes
 * are not a certificate. Parts only some callers need (`x509`, `publicKey` for the common key
 * kinds, `spkiPin`, `sha256Fingerprint`) are made when first read.
 */
export function parseCertificate(der: Uint8Array, source = "certificate"): CertificateInfo {
  try {
    const [tbs, alg, sig] = children(parseDer(der));
    if (universalTag(tbs) !== 16 || universalTag(alg) !== 16 || universalTag(sig) !== 3) throw new Error("not a certificate");
    let f = children(tbs);
    let version = 1;
    if (isContext(f[0], 0)) {
      version = intOf(children(f[0])[0]) + 1;
      f = f.slice(1);
    }
    const [serial, , issuerN, validity, subjectN, spkiN, ...rest] = f;
    if (universalTag(serial) !== 2 || universalTag(spkiN) !== 16) throw new Error("not a certificate");
    const [nb, na] = children(validity);
    const extWrapper = rest.find((n) => isContext(n, 3));
    const ext = decodeExtensions(children(children(extWrapper)[0]));
    const subjectDer = rawBytes(subjectN!);
    const issuerDer = rawBytes(issuerN!);
    const selfIssued = sameBytes(subjectDer, issuerDer);
    const subject = decodeName(subjectDer);
    const subjectText = formatSubjectOneLine(subject);
    // The same bytes read the same: a self-issued certificate's issuer is a copy of its subject.
    const issuer = selfIssued ? copyRdns(subject) : decodeName(issuerDer);
    const spkiDer = rawBytes(spkiN!);
    // The key's description from its DER when this reader knows the kind; else from node's KeyObject.
    let publicKey: KeyObject | undefined;
    let key = describeSpki(spkiDer);
    if (key === undefined) {
      publicKey = publicKeyOf(spkiDer, source);
      key = describeKey(publicKey);
    }
    // What only some callers need is made on first read and kept: Node's X509Certificate, the
    // public KeyObject (when describeSpki could describe the key without it), the SPKI pin and
    // the fingerprint. Made here, they cost more than the rest of the parse together (issue 11,
    // `npm run bench` (b)). Own enumerable getters: a spread or JSON.stringify of the result
    // still sees every field.
    let x509: X509Certificate | undefined;
    let pin: string | undefined;
    let sha256: string | undefined;
    return {
      kind: "certificate",
      der,
      subject,
      subjectText,
      subjectDer,
      commonName: firstCommonName(subject),
      issuer,
      issuerText: selfIssued ? subjectText : formatSubjectOneLine(issuer),
      issuerDer,
      serialNumber: serialHex(contentBytes(serial!)),
      notBefore: timeOf(nb),
      notAfter: timeOf(na),
      version,
      key,
      keyType: key.type,
      signatureAlgorithm: sigAlg(alg),
      extensions: ext.list,
      basicConstraints: ext.basicConstraints,
      keyUsage: ext.keyUsage,
      extKeyUsage: ext.extKeyUsage,
      subjectAltNames: ext.subjectAltNames,
      subjectKeyIdentifier: ext.ski,
      authorityKeyIdentifier: ext.aki,
      selfIssued,
      get publicKey(): KeyObject {
        return (publicKey ??= publicKeyOf(spkiDer, source));
      },
      get spkiPin(): string {
        return (pin ??= spkiPin(this.publicKey));
      },
      get sha256Fingerprint(): string {
        return (sha256 ??= fingerprint(der, "colon-hex"));
      },
      get x509(): X509Certificate {
        if (x509 === undefined) {
          try {
            x509 = new X509Certificate(der);
          } catch (e) {
            fail(source, "X.509 certificate", e);
          }
        }
        return x509;
      },
    };
  } catch (e) {
    if (e instanceof MtlsError && e.subject) throw e;
    if (e instanceof MtlsError && e.code === "TIME_INVALID") throw new MtlsError("TIME_INVALID", `${source}: ${e.message}`, { subject: source, cause: e });
    fail(source, "X.509 certificate", e);
  }
}

/**
 * Parses a DER PKCS#10 CSR and checks its self-signature. Throws `INPUT_NOT_RECOGNIZED` when
 * the bytes are not a CSR.
 */
export function parseCsr(der: Uint8Array, source = "CSR"): CsrInfo {
  let parts: Node[];
  let info: Node[];
  try {
    parts = children(parseDer(der));
    info = children(parts[0]);
    if (parts.length !== 3 || info.length < 3 || universalTag(info[0]) !== 2) throw new Error("not a CSR");
  } catch (e) {
    fail(source, "certificate signing request", e);
  }
  try {
    const [, subjectN, spkiN, attrs] = info;
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: Buffer.from(rawBytes(spkiN!)), format: "der", type: "spki" });
    } catch (e) {
      throw new MtlsError("INPUT_NOT_RECOGNIZED", `${source}: the CSR's public key cannot be read`, { subject: source, cause: e });
    }
    let extNodes: Node[] = [];
    for (const attr of isContext(attrs, 0) ? children(attrs) : []) {
      const [type, values] = children(attr);
      if (oidOf(type) === OID.extensionRequest) extNodes = children(children(values)[0]);
    }
    const ext = decodeExtensions(extNodes);
    const subjectDer = rawBytes(subjectN!);
    const subject = decodeName(subjectDer);
    const alg = sigAlg(parts[1]);
    const key = describeKey(publicKey);
    return {
      kind: "csr",
      der,
      subject,
      subjectText: formatSubjectOneLine(subject),
      subjectDer,
      commonName: getAttribute(subject, "CN")[0],
      publicKey,
      key,
      keyType: key.type,
      signatureAlgorithm: alg,
      extensions: ext.list,
      basicConstraints: ext.basicConstraints,
      keyUsage: ext.keyUsage,
      extKeyUsage: ext.extKeyUsage,
      subjectAltNames: ext.subjectAltNames,
      spkiPin: spkiPin(publicKey),
      signatureValid: verifySignature(alg, rawBytes(parts[0]!), bitsOf(parts[2]).bytes, publicKey),
    };
  } catch (e) {
    if (e instanceof MtlsError && e.subject) throw e;
    fail(source, "certificate signing request", e);
  }
}

/** Verifies a signature over `data` by the algorithm's rules; false (never a throw) on any failure. */
export function verifySignature(alg: SignatureAlgorithmInfo, data: Uint8Array, signature: Uint8Array, publicKey: KeyObject): boolean {
  const family = SIGNATURE_ALGORITHMS[alg.oid]?.family;
  try {
    if (family === "ed25519" || family === "ed448") return cryptoVerify(null, data, publicKey, signature);
    if (!alg.hash) return false;
    return cryptoVerify(alg.hash, data, publicKey, signature);
  } catch {
    return false;
  }
}

const KEY_KIND_OF_FAMILY: Readonly<Record<string, string>> = { ec: "ec", rsa: "rsa", ed25519: "ed25519", ed448: "ed448" };

/**
 * True when the signature of `cert` verifies with `publicKey`: the verdict of
 * `cert.x509.verify(publicKey)` (the inner and outer signature algorithms must be the same
 * bytes, the key must be of the algorithm's kind), computed over the certificate's own DER
 * without making Node's `X509Certificate` for the usual algorithms (ECDSA, RSA PKCS#1 v1.5,
 * EdDSA). Others go through `x509.verify`. False, never a throw, on any failure.
 */
export function verifyCertificateSignature(cert: CertificateInfo, publicKey: KeyObject): boolean {
  try {
    const family = SIGNATURE_ALGORITHMS[cert.signatureAlgorithm.oid]?.family;
    const kind = family === undefined ? undefined : KEY_KIND_OF_FAMILY[family];
    if (kind === undefined) return cert.x509.verify(publicKey);
    if (publicKey.asymmetricKeyType !== kind) return false;
    const [tbs, alg, sig] = children(parseDer(cert.der));
    let f = children(tbs);
    if (isContext(f[0], 0)) f = f.slice(1);
    const inner = f[1];
    if (!inner || Buffer.compare(Buffer.from(rawBytes(inner)), Buffer.from(rawBytes(alg!))) !== 0) return false;
    const { bytes, unusedBits } = bitsOf(sig);
    if (unusedBits !== 0) return false;
    return verifySignature(cert.signatureAlgorithm, rawBytes(tbs!), bytes, publicKey);
  } catch {
    return false;
  }
}

/** True when `cert` names `issuer` as its issuer and carries a valid signature by its key. */
export function isSignedBy(cert: CertificateInfo, issuer: CertificateInfo): boolean {
  try {
    return cert.x509.checkIssued(issuer.x509) && cert.x509.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * A serial number's INTEGER contents as upper-case hex, as openssl prints it: without the
 * leading 00 that DER adds before a positive number whose first byte has its high bit set.
 */
export function serialHex(contents: Uint8Array): string {
  const bytes = contents.length > 1 && contents[0] === 0 && (contents[1]! & 0x80) !== 0 ? contents.subarray(1) : contents;
  return view(bytes).toString("hex").toUpperCase();
}
