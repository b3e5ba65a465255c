import { createHash, createPublicKey, randomBytes, sign as cryptoSign, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import type { HashName } from "../policy/index.js";
import { describeKey } from "./keys.js";
import { isSigner, type Signer } from "./signer.js";
import { KEY_USAGE_BITS, OID, signatureOid, type KeyUsageName } from "./oids.js";
import { encodeSubject, type Rdn } from "./subject.js";

/** Extensions of a certificate to create. */
export interface CertificateExtensions {
  /** basicConstraints (always marked critical). Omit for none. */
  basicConstraints?: { ca: boolean; pathLength?: number };
  /** keyUsage bits (marked critical). */
  keyUsage?: KeyUsageName[];
  /** extendedKeyUsage OIDs, e.g. `OID.clientAuth`. */
  extKeyUsage?: string[];
  /** subjectAltName entries: DNS names and IP addresses. */
  subjectAltNames?: { dns?: string[]; ip?: string[] };
  /** Add a subjectKeyIdentifier (SHA-1 of the public key bits, as openssl does). Default true. */
  subjectKeyIdentifier?: boolean;
}

/** Parameters of {@link createCertificate}. */
export interface CreateCertificateParams {
  subject: Rdn[];
  /** The public key the certificate certifies. */
  publicKey: KeyObject;
  /**
   * What signs: the subject's own key for a self-signed certificate, else the issuer's. A
   * node:crypto private key, or a {@link Signer} (a key in a PKCS#11 token).
   */
  signingKey: KeyObject | Signer;
  /** The issuer; omit for self-signed (issuer = subject, AKI = own SKI). */
  issuer?: { subjectDer: Uint8Array; subjectKeyIdentifier?: Uint8Array | undefined };
  /** Start of validity. Default: now, minus one minute for clock skew. */
  notBefore?: Date;
  /** End of validity. */
  notAfter: Date;
  /** Serial number as bytes; default 16 random bytes with the top bit clear. */
  serialNumber?: Uint8Array;
  /** Signature hash. Default sha256. */
  hash?: HashName;
  extensions?: CertificateExtensions;
}

/** The pkijs Name of RDNs; fromBER keeps the bytes, so the encoding stays openssl's. */
function pkijsName(rdns: Rdn[]): pkijs.RelativeDistinguishedNames {
  return pkijs.RelativeDistinguishedNames.fromBER(encodeSubject(rdns));
}

/** The key identifier openssl uses: SHA-1 of the subjectPublicKey BIT STRING contents. */
export function keyIdentifier(publicKey: KeyObject): Uint8Array {
  const spki = pkijs.PublicKeyInfo.fromBER(publicKey.export({ type: "spki", format: "der" }));
  return new Uint8Array(createHash("sha1").update(spki.subjectPublicKey.valueBlock.valueHexView).digest());
}

/** Signs the to-be-signed bytes with a key or a {@link Signer} (ECDSA signatures in DER). */
function signTbs(key: KeyObject | Signer, hash: HashName, tbs: Uint8Array): Uint8Array {
  return isSigner(key) ? key.sign(hash, tbs, "der") : new Uint8Array(cryptoSign(hash, tbs, key));
}

function algorithmIdentifier(signingKey: KeyObject | Signer, hash: HashName): pkijs.AlgorithmIdentifier {
  const family = describeKey(isSigner(signingKey) ? signingKey.publicKey : signingKey).algorithm === "EC" ? "ec" : "rsa";
  const oid = signatureOid(family, hash);
  // RSA PKCS#1 v1.5 identifiers carry an explicit NULL; ECDSA ones carry no parameters.
  return new pkijs.AlgorithmIdentifier(family === "rsa" ? { algorithmId: oid, algorithmParams: new asn1js.Null() } : { algorithmId: oid });
}

function randomSerial(): Uint8Array {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01; // positive, and no leading zero byte to strip
  return new Uint8Array(b);
}

function keyUsageBitString(names: KeyUsageName[]): asn1js.BitString {
  let highest = -1;
  const bytes = new Uint8Array(2);
  for (const n of names) {
    const i = KEY_USAGE_BITS.indexOf(n);
    bytes[i >> 3]! |= 0x80 >> (i & 7);
    highest = Math.max(highest, i);
  }
  // DER: no trailing zero bytes, and unused bits count the zero bits after the last one set.
  const len = highest < 8 ? 1 : 2;
  const unused = len * 8 - 1 - highest;
  return new asn1js.BitString({ valueHex: bytes.slice(0, len), unusedBits: highest < 0 ? 0 : unused });
}

/**
 * A validity time as RFC 5280 4.1.2.5 wants it: UTCTime through 2049, GeneralizedTime from
 * 2050 (and before 1950), whole seconds. pkijs keeps the type a Time was created with (UTCTime)
 * whatever date is set later, which would write 2051 as "51" (read back as 1951), and writes
 * milliseconds into a GeneralizedTime, which DER forbids.
 */
function certificateTime(date: Date): pkijs.Time {
  const value = new Date(Math.floor(date.getTime() / 1000) * 1000);
  const year = value.getUTCFullYear();
  return new pkijs.Time({ type: year >= 1950 && year < 2050 ? pkijs.TimeType.UTCTime : pkijs.TimeType.GeneralizedTime, value });
}

function ipBytes(ip: string): Uint8Array {
  if (ip.includes(":")) {
    const [head, tail] = ip.split("::") as [string, string | undefined];
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    const parts = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
    const out = new Uint8Array(16);
    parts.forEach((p, i) => {
      const v = parseInt(p, 16);
      out[i * 2] = v >> 8;
      out[i * 2 + 1] = v & 0xff;
    });
    return out;
  }
  return new Uint8Array(ip.split(".").map(Number));
}

function buildExtensions(params: CreateCertificateParams, ski: Uint8Array): pkijs.Extension[] {
  const e = params.extensions ?? {};
  const out: pkijs.Extension[] = [];
  if (e.basicConstraints) {
    const bc = new pkijs.BasicConstraints({ cA: e.basicConstraints.ca, ...(e.basicConstraints.pathLength !== undefined ? { pathLenConstraint: e.basicConstraints.pathLength } : {}) });
    out.push(new pkijs.Extension({ extnID: OID.basicConstraints, critical: true, extnValue: bc.toSchema().toBER(false) }));
  }
  if (e.keyUsage?.length) {
    out.push(new pkijs.Extension({ extnID: OID.keyUsage, critical: true, extnValue: keyUsageBitString(e.keyUsage).toBER(false) }));
  }
  if (e.extKeyUsage?.length) {
    out.push(new pkijs.Extension({ extnID: OID.extKeyUsage, critical: false, extnValue: new pkijs.ExtKeyUsage({ keyPurposes: e.extKeyUsage }).toSchema().toBER(false) }));
  }
  const san = e.subjectAltNames;
  if (san && ((san.dns?.length ?? 0) > 0 || (san.ip?.length ?? 0) > 0)) {
    const altNames = [
      ...(san.dns ?? []).map((d) => new pkijs.GeneralName({ type: 2, value: d })),
      ...(san.ip ?? []).map((ip) => new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: ipBytes(ip) }) })),
    ];
    out.push(new pkijs.Extension({ extnID: OID.subjectAltName, critical: false, extnValue: new pkijs.AltName({ altNames }).toSchema().toBER(false) }));
  }
  if (e.subjectKeyIdentifier !== false) {
    out.push(new pkijs.Extension({ extnID: OID.subjectKeyIdentifier, critical: false, extnValue: new asn1js.OctetString({ valueHex: ski }).toBER(false) }));
  }
  const akid = params.issuer ? params.issuer.subjectKeyIdentifier : ski;
  if (akid) {
    const aki = new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: akid }) });
    out.push(new pkijs.Extension({ extnID: OID.authorityKeyIdentifier, critical: false, extnValue: aki.toSchema().toBER(false) }));
  }
  return out;
}

/**
 * Creates and signs an X.509 v3 certificate; returns its DER. Used for MT self-signed client
 * certificates, the test PKI and the emulator's CAs.
 *
 * @example
 * const der = createCertificate({ subject: parseSubject("/CN=Test"), publicKey, signingKey: privateKey,
 *   notAfter: new Date(Date.now() + 86400e3), extensions: { basicConstraints: { ca: false } } });
 */
export function createCertificate(params: CreateCertificateParams): Uint8Array {
  const hash = params.hash ?? "sha256";
  const ski = keyIdentifier(params.publicKey);
  const subject = pkijsName(params.subject);
  const issuer = params.issuer ? pkijs.RelativeDistinguishedNames.fromBER(params.issuer.subjectDer) : subject;
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ valueHex: params.serialNumber ?? randomSerial() });
  cert.subject = subject;
  cert.issuer = issuer;
  cert.notBefore = certificateTime(params.notBefore ?? new Date(Date.now() - 60_000));
  cert.notAfter = certificateTime(params.notAfter);
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(params.publicKey.export({ type: "spki", format: "der" }));
  const exts = buildExtensions(params, ski);
  if (exts.length) cert.extensions = exts;
  const alg = algorithmIdentifier(params.signingKey, hash);
  cert.signature = alg;
  cert.signatureAlgorithm = alg;
  const tbs = new Uint8Array(cert.encodeTBS().toBER(false));
  cert.tbsView = tbs;
  const sig = signTbs(params.signingKey, hash, tbs);
  cert.signatureValue = new asn1js.BitString({ valueHex: sig });
  return new Uint8Array(cert.toSchema(false).toBER(false));
}

/** Parameters of {@link createCsr}. */
export interface CreateCsrParams {
  subject: Rdn[];
  /** The private key (or a {@link Signer}: a key in a token): the CSR carries its public half and is signed with it. */
  privateKey: KeyObject | Signer;
  /** Signature hash. Default sha256. */
  hash?: HashName;
}

/**
 * Creates a PKCS#10 CSR signed with the key; returns its DER. Like `openssl req -new`, it
 * carries only the subject and the public key (no requested extensions): the CA decides them.
 */
export function createCsr(params: CreateCsrParams): Uint8Array {
  const hash = params.hash ?? "sha256";
  const csr = new pkijs.CertificationRequest();
  csr.version = 0;
  csr.subject = pkijsName(params.subject);
  const publicKey = isSigner(params.privateKey) ? params.privateKey.publicKey : createPublicKey(params.privateKey);
  csr.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(publicKey.export({ type: "spki", format: "der" }));
  csr.attributes = [];
  const alg = algorithmIdentifier(params.privateKey, hash);
  csr.signatureAlgorithm = alg;
  // encodeTBS is protected in pkijs's CSR typings but public at run time (its sign() uses it).
  const tbs = new Uint8Array((csr as unknown as { encodeTBS(): asn1js.Sequence }).encodeTBS().toBER(false));
  csr.tbsView = tbs;
  csr.signatureValue = new asn1js.BitString({ valueHex: signTbs(params.privateKey, hash, tbs) });
  return new Uint8Array(csr.toSchema(false).toBER(false));
}
