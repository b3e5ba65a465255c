import { X509Certificate } from "node:crypto";
import { rootCertificates } from "node:tls";
import { MtlsError } from "../errors/index.js";
import { isSignedBy, toPem, type CertificateInfo } from "../pki/index.js";

/** True for a CA certificate (basicConstraints CA:TRUE). */
export function isCa(c: CertificateInfo): boolean {
  return c.basicConstraints?.ca === true;
}

/** Subject and issuer are the same name and the certificate verifies with its own key. */
export function isSelfSigned(c: CertificateInfo): boolean {
  return c.selfIssued && isSignedBy(c, c);
}

/** `CN=..., O=...` for messages. */
export function nameOf(c: CertificateInfo): string {
  return c.commonName ? `CN=${c.commonName}` : c.subjectText || "(empty subject)";
}

/** Certificates as one PEM text, in the order given. */
export function pemBundle(certs: readonly CertificateInfo[]): string {
  return certs.map((c) => toPem("CERTIFICATE", c.der)).join("");
}

function sameName(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

/** The certificates of `pool` that issued `cert` (name and signature), itself excluded unless self-signed. */
export function issuersIn(cert: CertificateInfo, pool: readonly CertificateInfo[]): CertificateInfo[] {
  return pool.filter((p) => p !== cert && sameName(cert.issuerDer, p.subjectDer) && isSignedBy(cert, p));
}

/**
 * Checks every link of a set of certificates: a certificate whose issuer's name is in the set
 * must verify with that issuer's key, and a self-issued one with its own. `CHAIN_INVALID`
 * naming `what` otherwise.
 */
export function verifyLinks(certs: readonly CertificateInfo[], what: string): void {
  for (const c of certs) {
    if (c.selfIssued) {
      if (!isSignedBy(c, c)) throw new MtlsError("CHAIN_INVALID", `${what}: the self-signed certificate ${nameOf(c)} does not verify with its own key (altered or damaged)`);
      continue;
    }
    const named = certs.filter((p) => p !== c && sameName(c.issuerDer, p.subjectDer));
    if (named.length > 0 && !named.some((p) => isSignedBy(c, p))) {
      throw new MtlsError("CHAIN_INVALID", `${what}: ${nameOf(c)} names ${named[0]!.commonName ?? named[0]!.subjectText} as its issuer, but that certificate's key did not sign it`, {
        hint: "One of the certificates is not the one that signed: get the complete chain again from its source.",
      });
    }
  }
}

/** `cert` followed by its issuers found in `pool`, as far as they go (stops at a self-signed root or a loop). */
export function chainUp(cert: CertificateInfo, pool: readonly CertificateInfo[]): CertificateInfo[] {
  const out = [cert];
  let cur = cert;
  while (!cur.selfIssued) {
    const next = issuersIn(cur, pool).find((p) => !out.includes(p));
    if (!next) break;
    out.push(next);
    cur = next;
  }
  return out;
}

/**
 * Puts a set of certificates in chain order: the leaves (certificates that issued none of the
 * others) first, each followed by its issuers; certificates unrelated to any come last.
 */
export function orderChain(certs: readonly CertificateInfo[]): CertificateInfo[] {
  const issuedSomething = (c: CertificateInfo) => certs.some((o) => o !== c && issuersIn(o, certs).includes(c));
  const ends = certs.filter((c) => !issuedSomething(c));
  const out: CertificateInfo[] = [];
  for (const end of ends.length ? ends : certs.slice(0, 1)) for (const c of chainUp(end, certs)) if (!out.includes(c)) out.push(c);
  for (const c of certs) if (!out.includes(c)) out.push(c);
  return out;
}

let mozilla: X509Certificate[] | undefined;

/** Node's bundled root store: Mozilla's list of recognised root CAs. */
export function mozillaRoots(): X509Certificate[] {
  mozilla ??= rootCertificates.map((pem) => new X509Certificate(pem));
  return mozilla;
}

/** The Mozilla root the certificate is, or that issued it; undefined when none. */
export function mozillaRootFor(cert: CertificateInfo): X509Certificate | undefined {
  for (const root of mozillaRoots()) {
    if (root.fingerprint256 === cert.x509.fingerprint256) return root;
    try {
      if (cert.x509.checkIssued(root) && cert.x509.verify(root.publicKey)) return root;
    } catch {
      // not this one
    }
  }
  return undefined;
}
