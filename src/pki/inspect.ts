/**
 * `mtlskit inspect`: what a file holds, as plain data ready to print or to serialise, through
 * the fast read path (asn1.ts + node:crypto). A TLS server is inspected by inspect-url.ts.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { isMtlsError, MtlsError } from "../errors/index.js";
import { children, contentBytes, isContext, oidOf, parseDer, type Node } from "./asn1.js";
import { readInputFile } from "./files.js";
import { describeKey, type KeyDescription } from "./keys.js";
import { OID } from "./oids.js";
import { looksLikePem, parsePem } from "./pem.js";
import { isPkcs12Der } from "./pkcs12-detect.js";
import { decodePkiObjects, type PkiItem, type ReadObjectsOptions } from "./read-objects.js";
import { colonHex, spkiPin } from "./fingerprint.js";
import type { CertificateInfo, CsrInfo, ExtensionInfo } from "./x509-parse.js";

const DAY = 86_400_000;

/** Where a certificate stands in its validity period. */
export type ValidityState = "valid" | "expired" | "not-yet-valid";

/** One extension as shown by inspect. */
export interface ExtensionDescription {
  readonly name: string;
  readonly oid: string;
  readonly critical: boolean;
  /** Human-readable value. */
  readonly value: string;
}

/** A certificate, described for people and for `--json`. */
export interface CertificateDescription {
  readonly kind: "certificate";
  /** `C=FR, O=Example, CN=...` */
  readonly subject: string;
  readonly issuer: string;
  /** Subject and issuer are the same name (a root or a self-signed leaf). */
  readonly selfIssued: boolean;
  /** Hex with colons, as openssl prints it. */
  readonly serialNumber: string;
  readonly version: number;
  /** ISO 8601, UTC. */
  readonly notBefore: string;
  readonly notAfter: string;
  readonly validity: ValidityState;
  /** Whole days until notAfter; negative once expired. */
  readonly daysLeft: number;
  /** Milliseconds until notAfter (negative once expired), for finer display than days. */
  readonly msLeft: number;
  /** Milliseconds until notBefore when not yet valid, else 0. */
  readonly msUntilValid: number;
  readonly key: KeyDescription;
  readonly signatureAlgorithm: string;
  /** basicConstraints CA:TRUE. */
  readonly ca: boolean;
  readonly subjectAltNames: readonly string[];
  readonly extensions: readonly ExtensionDescription[];
  /** SHA-256 of the DER, upper-case hex with colons. */
  readonly sha256Fingerprint: string;
  /** `sha256/<base64>` of the SubjectPublicKeyInfo. */
  readonly spkiPin: string;
}

/** A certificate signing request, described. */
export interface CsrDescription {
  readonly kind: "csr";
  readonly subject: string;
  readonly key: KeyDescription;
  readonly signatureAlgorithm: string;
  /** The CSR's self-signature verifies with the public key it carries. */
  readonly signatureValid: boolean;
  /** Extensions the CSR asks for (usually none: the CA decides). */
  readonly extensions: readonly ExtensionDescription[];
  readonly spkiPin: string;
}

/** A private key: its type only, never its material. */
export interface PrivateKeyDescription {
  readonly kind: "private-key";
  /** Undefined while the key is encrypted (its type is inside the encrypted part). */
  readonly key: KeyDescription | undefined;
  readonly encrypted: boolean;
}

/** A bare public key (`BEGIN PUBLIC KEY`). */
export interface PublicKeyDescription {
  readonly kind: "public-key";
  readonly key: KeyDescription;
  readonly spkiPin: string;
}

/** Anything inspect can describe. */
export type ObjectDescription = CertificateDescription | CsrDescription | PrivateKeyDescription | PublicKeyDescription;

/** One object of a file, with where it was found. */
export type FileObjectDescription = ObjectDescription & {
  /** The file, plus `(block N)` when the file holds several PEM blocks. */
  readonly source: string;
  /** Position in the file, from 0. */
  readonly index: number;
};

/** What {@link inspectFile} found. */
export interface FileInspection {
  readonly file: string;
  /** Set for a PKCS#12: its bags (names, key ids), MAC, encryption and a legacy warning. */
  readonly pkcs12?: Pkcs12Summary;
  /** Every object, in file order. */
  readonly objects: readonly FileObjectDescription[];
}

/** What a PKCS#12 holds (never key material). */
export interface Pkcs12Summary {
  readonly mac: string;
  readonly encryptions: readonly string[];
  readonly legacyWarning?: string;
  readonly bags: ReadonlyArray<{ kind: "private-key" | "certificate"; friendlyName?: string; localKeyId?: string; javaTrusted?: boolean; encryption: string }>;
}

/** Options of {@link inspectFile}. */
export interface InspectFileOptions {
  /** Passphrase of encrypted private keys; without it they are reported as encrypted. */
  passphrase?: string;
  /** The time validity is judged at. Default: now. */
  now?: Date;
}

/**
 * Describes a parsed certificate: names, validity with days left, key, signature algorithm,
 * extensions, fingerprint and SPKI pin.
 *
 * @example
 * const [cert] = await readCertificates("server.crt");
 * const d = describeCertificate(cert);
 * console.log(d.subject, d.validity, d.daysLeft, d.spkiPin);
 */
export function describeCertificate(info: CertificateInfo, now: Date = new Date()): CertificateDescription {
  const t = now.getTime();
  const msLeft = info.notAfter.getTime() - t;
  const msUntilValid = Math.max(0, info.notBefore.getTime() - t);
  const validity: ValidityState = msUntilValid > 0 ? "not-yet-valid" : msLeft <= 0 ? "expired" : "valid";
  return {
    kind: "certificate",
    subject: info.subjectText,
    issuer: info.issuerText,
    selfIssued: info.selfIssued,
    serialNumber: colonHex(Buffer.from(info.serialNumber, "hex")),
    version: info.version,
    notBefore: isoSeconds(info.notBefore),
    notAfter: isoSeconds(info.notAfter),
    validity,
    daysLeft: Math.floor(msLeft / DAY),
    msLeft,
    msUntilValid,
    key: info.key,
    signatureAlgorithm: info.signatureAlgorithm.name,
    ca: info.basicConstraints?.ca ?? false,
    subjectAltNames: info.subjectAltNames ?? [],
    extensions: info.extensions.map(describeExtension),
    sha256Fingerprint: info.sha256Fingerprint,
    spkiPin: info.spkiPin,
  };
}

/**
 * Describes a parsed CSR: subject, key, signature algorithm and whether its signature verifies.
 *
 * @example
 * const [csr] = await readPkiObjects("client.csr");
 * if (csr.kind === "csr") console.log(describeCsr(csr).signatureValid);
 */
export function describeCsr(info: CsrInfo): CsrDescription {
  return {
    kind: "csr",
    subject: info.subjectText,
    key: info.key,
    signatureAlgorithm: info.signatureAlgorithm.name,
    signatureValid: info.signatureValid,
    extensions: info.extensions.map(describeExtension),
    spkiPin: info.spkiPin,
  };
}

/** Describes a private key by its type only. */
export function describePrivateKey(key: KeyObject): PrivateKeyDescription {
  return { kind: "private-key", key: describeKey(key), encrypted: false };
}

function describeItem(item: PkiItem, now: Date): ObjectDescription {
  if (item.kind === "certificate") return describeCertificate(item, now);
  if (item.kind === "csr") return describeCsr(item);
  return describePrivateKey(item.key);
}

/**
 * Reads a file (PEM with any number of blocks, or one DER object) and describes every
 * certificate, CSR and key in it, in order. A private key is described by its type only; an
 * encrypted one without a passphrase is reported as encrypted, not refused. File and format
 * problems are coded `MtlsError`s naming the file (and block).
 *
 * @example
 * const { objects } = await inspectFile("chain.pem");
 * for (const o of objects) if (o.kind === "certificate") console.log(o.subject, o.daysLeft);
 */
export async function inspectFile(file: string, options: InspectFileOptions = {}): Promise<FileInspection> {
  const data = await readInputFile(file);
  const now = options.now ?? new Date();
  const read: ReadObjectsOptions = options.passphrase !== undefined ? { passphrase: options.passphrase } : {};
  const objects: FileObjectDescription[] = [];
  if (isPkcs12Der(data)) {
    if (options.passphrase === undefined) {
      throw new MtlsError("PKCS12_PASSPHRASE_REQUIRED", `${file}: is a PKCS#12; its content is encrypted`, { subject: file, hint: `Give its passphrase in a file: mtlskit inspect ${file} --passphrase-file FILE` });
    }
    const { readPkcs12 } = await import("./pkcs12.js");
    const p = readPkcs12(data, options.passphrase, file);
    const { parseCertificate } = await import("./x509-parse.js");
    p.certificates.forEach((c, i) => objects.push({ ...describeCertificate(parseCertificate(c.der, file), now), source: `${file} (certificate ${i + 1}${c.friendlyName ? `, "${c.friendlyName}"` : ""})`, index: i }));
    p.keys.forEach((k, i) => objects.push({ ...describePrivateKey(k.key), source: `${file} (key ${i + 1}${k.friendlyName ? `, "${k.friendlyName}"` : ""})`, index: p.certificates.length + i }));
    const bags: Pkcs12Summary["bags"][number][] = [
      ...p.keys.map((k) => ({ kind: "private-key" as const, ...(k.friendlyName !== undefined ? { friendlyName: k.friendlyName } : {}), ...(k.localKeyId ? { localKeyId: k.localKeyId } : {}), encryption: k.encryption })),
      ...p.certificates.map((c) => ({ kind: "certificate" as const, ...(c.friendlyName !== undefined ? { friendlyName: c.friendlyName } : {}), ...(c.localKeyId ? { localKeyId: c.localKeyId } : {}), javaTrusted: c.javaTrusted, encryption: c.encryption })),
    ];
    return { file, objects, pkcs12: { mac: p.mac, encryptions: p.encryptions, ...(p.legacyWarning ? { legacyWarning: p.legacyWarning } : {}), bags } };
  }
  if (!looksLikePem(data)) {
    objects.push({ ...decodeOne(data, file, read, now, "der"), source: file, index: 0 });
    return { file, objects };
  }
  const blocks = parsePem(data.toString("latin1"), file);
  blocks.forEach((b, i) => {
    if (b.label === "EC PARAMETERS") return;
    const where = blocks.length > 1 ? `${file} (block ${i + 1})` : file;
    objects.push({ ...decodeOne(Buffer.from(b.text, "latin1"), where, read, now, b.label), source: where, index: i });
  });
  if (objects.length === 0) throw new MtlsError("INPUT_NOT_RECOGNIZED", `${file}: holds no certificate, CSR or key`, { subject: file });
  return { file, objects };
}

/** One PEM block (as text) or one DER object. */
function decodeOne(data: Buffer, where: string, read: ReadObjectsOptions, now: Date, label: string): ObjectDescription {
  if (label === "PUBLIC KEY") {
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: data, format: "pem" });
    } catch (e) {
      throw new MtlsError("INPUT_NOT_RECOGNIZED", `${where}: the PUBLIC KEY block is not a valid public key`, { subject: where, cause: e });
    }
    return describePublicKey(publicKey);
  }
  try {
    const [item] = decodePkiObjects(data, where, read);
    return describeItem(item!, now);
  } catch (e) {
    if (isMtlsError(e, "KEY_ENCRYPTED")) return { kind: "private-key", key: undefined, encrypted: true };
    if (label === "der" && isMtlsError(e, "INPUT_NOT_RECOGNIZED")) {
      const publicKey = tryPublicKeyDer(data);
      if (publicKey) return describePublicKey(publicKey);
    }
    throw e;
  }
}

function describePublicKey(key: KeyObject): PublicKeyDescription {
  return { kind: "public-key", key: describeKey(key), spkiPin: spkiPin(key) };
}

function tryPublicKeyDer(der: Buffer): KeyObject | undefined {
  try {
    return createPublicKey({ key: der, format: "der", type: "spki" });
  } catch {
    return undefined;
  }
}

function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

// Extensions the fast parser leaves as hex, decoded here for display only.
const CT_SCTS = "1.3.6.1.4.1.11129.2.4.2";
const ACCESS_METHODS: Readonly<Record<string, string>> = { "1.3.6.1.5.5.7.48.1": "OCSP", "1.3.6.1.5.5.7.48.2": "CA Issuers" };
const POLICY_NAMES: Readonly<Record<string, string>> = {
  "2.5.29.32.0": "anyPolicy",
  "2.23.140.1.2.1": "CA/B domain validated",
  "2.23.140.1.2.2": "CA/B organization validated",
  "2.23.140.1.2.3": "CA/B individual validated",
  "2.23.140.1.1": "CA/B extended validation",
};

function describeExtension(e: ExtensionInfo): ExtensionDescription {
  return { name: e.name, oid: e.oid, critical: e.critical, value: readableExtension(e) };
}

const DECODED_HERE = new Set<string>([OID.authorityInfoAccess, OID.crlDistributionPoints, OID.certificatePolicies, CT_SCTS]);

function readableExtension(e: ExtensionInfo): string {
  if (!DECODED_HERE.has(e.oid) || !/^[0-9a-f]+$/.test(e.text)) return e.text;
  try {
    const value = parseDer(new Uint8Array(Buffer.from(e.text, "hex")));
    switch (e.oid) {
      case OID.authorityInfoAccess:
        return children(value)
          .map((ad) => {
            const [method, location] = children(ad);
            const m = oidOf(method);
            return `${ACCESS_METHODS[m] ?? m} - ${generalName(location)}`;
          })
          .join(", ");
      case OID.crlDistributionPoints:
        return children(value)
          .flatMap((dp) => children(children(dp).find((n) => isContext(n, 0))).flatMap((name) => (isContext(name, 0) ? children(name).map(generalName) : [])))
          .join(", ");
      case OID.certificatePolicies:
        return children(value)
          .map((p) => {
            const oid = oidOf(children(p)[0]);
            return POLICY_NAMES[oid] ? `${oid} (${POLICY_NAMES[oid]})` : oid;
          })
          .join(", ");
      case CT_SCTS: {
        // An OCTET STRING holding a TLS-encoded list: 2-byte total length, then 2-byte length + SCT each.
        const list = contentBytes(value);
        let n = 0;
        for (let at = 2; at + 2 <= list.length; n++) at += 2 + ((list[at]! << 8) | list[at + 1]!);
        return `${n} signed certificate timestamp${n === 1 ? "" : "s"}`;
      }
      default:
        return e.text;
    }
  } catch {
    return e.text;
  }
}

function generalName(n: Node | undefined): string {
  if (isContext(n, 6)) return `URI:${latin1(n!)}`;
  if (isContext(n, 2)) return `DNS:${latin1(n!)}`;
  if (isContext(n, 1)) return `email:${latin1(n!)}`;
  return "<other name>";
}

function latin1(n: Node): string {
  return Buffer.from(contentBytes(n)).toString("latin1");
}
