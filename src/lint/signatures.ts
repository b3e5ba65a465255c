/**
 * Signature checks, the only costly work of the linter (one ECDSA verification costs more than
 * all the other rules on a certificate together). Each is made only where a rule needs it and
 * only once per pair of certificates: results are remembered for the run by fingerprint (the
 * same CA repeated in many chain files is verified once), and across runs per certificate
 * object (a certificate linted again is not verified again).
 */
import { verifyCertificateSignature, type CertificateInfo } from "../pki/index.js";

const remembered = new WeakMap<CertificateInfo, WeakMap<CertificateInfo, boolean>>();

/** True when a certificate names itself as its issuer (same name, same key identifier if any): no verification. */
export function claimsSelfSigned(cert: CertificateInfo): boolean {
  if (!cert.selfIssued) return false;
  const aki = cert.authorityKeyIdentifier;
  const ski = cert.subjectKeyIdentifier;
  return aki === undefined || ski === undefined || aki === ski;
}

/** True when `issuer` is named as the issuer of `cert` (subject = issuer bytes, key identifiers agreeing). */
export function namesIssuer(issuer: CertificateInfo, cert: CertificateInfo): boolean {
  if (!sameBytes(issuer.subjectDer, cert.issuerDer)) return false;
  const aki = cert.authorityKeyIdentifier;
  const ski = issuer.subjectKeyIdentifier;
  return aki === undefined || ski === undefined || aki === ski;
}

/** Verifies signatures for one lint run, each pair once. */
export class SignatureChecker {
  private readonly byFingerprint = new Map<string, boolean>();

  /**
   * Whether a certificate is self-signed: `not-self-issued` when it names another issuer (or
   * another key, by key identifiers: a CA's key-rollover certificate), else whether its
   * signature verifies with its own key.
   */
  selfSigned(cert: CertificateInfo): "valid" | "invalid" | "not-self-issued" {
    if (!claimsSelfSigned(cert)) return "not-self-issued";
    return this.verifies(cert, cert) ? "valid" : "invalid";
  }

  /** True when `cert`'s signature verifies with `issuer`'s key. */
  verifies(cert: CertificateInfo, issuer: CertificateInfo): boolean {
    const key = `${cert.sha256Fingerprint}>${issuer.sha256Fingerprint}`;
    let ok = this.byFingerprint.get(key);
    if (ok !== undefined) return ok;
    let byIssuer = remembered.get(cert);
    ok = byIssuer?.get(issuer);
    if (ok === undefined) {
      ok = safeVerify(cert, issuer);
      if (!byIssuer) {
        byIssuer = new WeakMap();
        remembered.set(cert, byIssuer);
      }
      byIssuer.set(issuer, ok);
    }
    this.byFingerprint.set(key, ok);
    return ok;
  }
}

function safeVerify(cert: CertificateInfo, signer: CertificateInfo): boolean {
  try {
    return verifyCertificateSignature(cert, signer.publicKey);
  } catch {
    return false;
  }
}

/** Byte equality of two DER values. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** A string key of DER bytes, for maps. */
export function bytesKey(a: Uint8Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("latin1");
}
