import { createPublicKey, type KeyObject } from "node:crypto";
import { MtlsError } from "../errors/index.js";
import { loadPrivateKey } from "./keys.js";
import { looksLikePem, parsePem } from "./pem.js";
import { parseCertificate, parseCsr, type CertificateInfo, type CsrInfo } from "./x509-parse.js";
import { readInputFile } from "./files.js";
import { isPkcs12Der } from "./pkcs12-detect.js";

/** A private key found in a file. */
export interface PrivateKeyItem {
  readonly kind: "private-key";
  readonly key: KeyObject;
}

/** One object found in a file, with where it was found. */
export type PkiItem = (CertificateInfo | CsrInfo | PrivateKeyItem) & { readonly source: string; readonly index: number };

/** Options of {@link readPkiObjects}. */
export interface ReadObjectsOptions {
  /** Passphrase for encrypted private keys. */
  passphrase?: string;
}

const CERT_LABELS = new Set(["CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"]);
const CSR_LABELS = new Set(["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"]);
const KEY_LABELS = new Set(["PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]);
const IGNORED_LABELS = new Set(["EC PARAMETERS"]);

/**
 * Every certificate, CSR and private key in the bytes of one file, PEM (one or many blocks)
 * or DER (one object). Anything unrecognised is a coded error naming the file and block.
 */
export function decodePkiObjects(data: Uint8Array, source: string, options: ReadObjectsOptions = {}): PkiItem[] {
  if (looksLikePem(data)) {
    // A view of the bytes, not a copy, made into text.
    const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("latin1");
    const blocks = parsePem(text, source);
    const items: PkiItem[] = [];
    blocks.forEach((b, i) => {
      const where = blocks.length > 1 ? `${source} (block ${i + 1})` : source;
      // Object.assign, not a spread: a spread would read (and so make) the certificate's lazy parts.
      if (CERT_LABELS.has(b.label)) items.push(Object.assign(parseCertificate(b.der, where), { source: where, index: i }));
      else if (CSR_LABELS.has(b.label)) items.push({ ...parseCsr(b.der, where), source: where, index: i });
      else if (KEY_LABELS.has(b.label)) {
        const key = loadPrivateKey(Buffer.from(b.text, "latin1"), { source: where, ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}) });
        items.push({ kind: "private-key", key, source: where, index: i });
      } else if (!IGNORED_LABELS.has(b.label)) {
        throw new MtlsError("INPUT_NOT_RECOGNIZED", `${where}: a '${b.label}' block is not a certificate, CSR or private key`, { subject: source });
      }
    });
    if (items.length === 0) throw new MtlsError("INPUT_NOT_RECOGNIZED", `${source}: holds no certificate, CSR or private key`, { subject: source });
    return items;
  }
  return [Object.assign(decodeDer(data, source, options), { source, index: 0 })];
}

function decodeDer(der: Uint8Array, source: string, options: ReadObjectsOptions): CertificateInfo | CsrInfo | PrivateKeyItem {
  if (isPkcs12Der(der)) {
    throw new MtlsError("PKCS12_NOT_USABLE_HERE", `${source}: is a PKCS#12 (.p12/.pfx), which this input does not take`, {
      subject: source,
      hint: `Extract PEM files first: openssl pkcs12 -in ${source} -nokeys -out cert.pem and openssl pkcs12 -in ${source} -nocerts -noenc -out key.pem; or give it with --passphrase-file where a PKCS#12 is taken (inspect, lint, cert install, server-cert set, serve).`,
    });
  }
  try {
    return parseCertificate(der, source);
  } catch (e) {
    // A certificate with an impossible date is a certificate, and refused as such.
    if (e instanceof MtlsError && e.code === "TIME_INVALID") throw e;
  }
  try {
    return parseCsr(der, source);
  } catch {
    // not a CSR
  }
  try {
    return { kind: "private-key", key: loadPrivateKey(der, { source, ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}) }) };
  } catch (e) {
    if (e instanceof MtlsError && (e.code === "KEY_ENCRYPTED" || e.code === "KEY_BAD_PASSPHRASE" || e.code === "KEY_INVALID")) throw e;
  }
  throw new MtlsError("INPUT_NOT_RECOGNIZED", `${source}: is neither PEM nor a DER certificate, CSR or private key`, { subject: source });
}

/** Reads a file and decodes every object in it (see {@link decodePkiObjects}). */
export async function readPkiObjects(file: string, options: ReadObjectsOptions = {}): Promise<PkiItem[]> {
  const data = await readInputFile(file);
  if (isPkcs12Der(data)) {
    const p12 = await openPkcs12(data, file, options);
    const certs = leafFirst(
      p12.certificates.map((c, i) => parseCertificate(c.der, `${file} (certificate ${i + 1})`)),
      p12.keys.map((k) => k.key),
    );
    return [
      ...certs.map((c, i) => Object.assign(c, { source: file, index: i })),
      ...p12.keys.map((k, i) => ({ kind: "private-key" as const, key: k.key, source: file, index: certs.length + i })),
    ];
  }
  return decodePkiObjects(data, file, options);
}

/** True when the file is a PKCS#12 (.p12/.pfx), recognised by its content, not its name. */
export async function isPkcs12File(file: string): Promise<boolean> {
  return isPkcs12Der(await readInputFile(file));
}

/**
 * The certificates of a PKCS#12 in chain order: a PKCS#12 is an unordered set of bags, so the
 * certificate of its key comes first, then its issuer, that issuer's issuer, and so on; the
 * certificates outside that chain follow in file order.
 */
function leafFirst(certs: CertificateInfo[], keys: KeyObject[]): CertificateInfo[] {
  const spki = (k: KeyObject) => k.export({ type: "spki", format: "der" }).toString("base64");
  const keySpkis = new Set(keys.map((k) => spki(createPublicKey(k))));
  const leaf = certs.find((c) => keySpkis.has(spki(c.publicKey)));
  if (!leaf) return certs;
  const out = [leaf];
  const rest = certs.filter((c) => c !== leaf);
  for (;;) {
    const last = out[out.length - 1]!;
    if (last.issuerText === last.subjectText) break;
    const i = rest.findIndex((c) => c.subjectText === last.issuerText);
    if (i < 0) break;
    out.push(rest.splice(i, 1)[0]!);
  }
  return [...out, ...rest];
}

/** A PKCS#12 read with the passphrase of `options`; `PKCS12_PASSPHRASE_REQUIRED` without one. */
async function openPkcs12(data: Uint8Array, file: string, options: ReadObjectsOptions) {
  if (options.passphrase === undefined) {
    throw new MtlsError("PKCS12_PASSPHRASE_REQUIRED", `${file}: is a PKCS#12, and its passphrase was not given`, { subject: file, hint: "Give its passphrase in a file: --passphrase-file FILE (first line)." });
  }
  const { readPkcs12 } = await import("./pkcs12.js");
  return readPkcs12(data, options.passphrase, file);
}

/** Reads a file that must hold exactly one private key. */
export async function readPrivateKeyFile(file: string, options: ReadObjectsOptions = {}): Promise<KeyObject> {
  const data = await readInputFile(file);
  if (isPkcs12Der(data)) {
    const p12 = await openPkcs12(data, file, options);
    if (p12.keys.length !== 1) throw new MtlsError("PKCS12_NO_KEY", `${file}: the PKCS#12 holds ${p12.keys.length} private keys, where one is needed`, { subject: file });
    return p12.keys[0]!.key;
  }
  return loadPrivateKey(data, { source: file, ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}) });
}

/**
 * Reads a file of certificates (PEM chain or one DER certificate), in file order; a PKCS#12
 * (with `options.passphrase`) gives its certificates in chain order and its key is ignored.
 */
export async function readCertificates(file: string, options: ReadObjectsOptions = {}): Promise<CertificateInfo[]> {
  const items = await readPkiObjects(file, options);
  const certs = items.filter((i): i is PkiItem & CertificateInfo => i.kind === "certificate");
  if (certs.length === 0) throw new MtlsError("CERTIFICATE_EXPECTED", `${file}: holds no certificate`, { subject: file });
  return certs;
}
