/**
 * Rules on every certificate (validity dates, signatures) and on the order of the
 * certificates of a file. These hold for any program: nothing here reads the policy.
 */
import { daysText, finding, hashLabel, utc, type LintContext } from "./findings.js";
import { blockName, type CertItem, type InputFile } from "./roles.js";
import { bytesKey, claimsSelfSigned, namesIssuer, type SignatureChecker } from "./signatures.js";

/**
 * Certificates by subject, to find issuers without comparing every pair: those of the same
 * file first, then those of the whole input (one of each, by fingerprint, so that a CA
 * repeated in many files is one candidate).
 */
export class IssuerIndex {
  private readonly all = new Map<string, CertItem[]>();
  private readonly perFile = new Map<InputFile, Map<string, CertItem[]>>();

  constructor(files: readonly InputFile[]) {
    const seen = new Set<string>();
    let total = 0;
    for (const f of files) total += f.certificates.length;
    if (total < 2) return;
    for (const f of files) {
      const local = f.certificates.length > 1 ? new Map<string, CertItem[]>() : undefined;
      if (local) this.perFile.set(f, local);
      for (const c of f.certificates) {
        const k = bytesKey(c.subjectDer);
        if (local) push(local, k, c);
        if (!seen.has(c.sha256Fingerprint)) {
          seen.add(c.sha256Fingerprint);
          push(this.all, k, c);
        }
      }
    }
  }

  /** The certificates of `file` named as the issuer of `cert` (never `cert` itself). */
  inFile(cert: CertItem, file: InputFile): CertItem[] {
    const list = this.perFile.get(file)?.get(bytesKey(cert.issuerDer));
    return list ? list.filter((c) => c !== cert && namesIssuer(c, cert)) : [];
  }

  /** The certificates named as the issuer of `cert`: those of its file, else any of the input. */
  issuersOf(cert: CertItem, file: InputFile): CertItem[] {
    if (this.all.size === 0) return [];
    const local = this.inFile(cert, file);
    if (local.length > 0) return local;
    const list = this.all.get(bytesKey(cert.issuerDer));
    return list ? list.filter((c) => c.sha256Fingerprint !== cert.sha256Fingerprint && namesIssuer(c, cert)) : [];
  }
}

function push(map: Map<string, CertItem[]>, k: string, c: CertItem): void {
  const list = map.get(k);
  if (list) list.push(c);
  else map.set(k, [c]);
}

/** `the client certificate`, `this CA certificate (CN=...)`. */
function describe(cert: CertItem, isLeaf: boolean): string {
  if (isLeaf) return "the client certificate";
  return `this ${cert.basicConstraints?.ca ? "CA certificate" : "certificate"} (${cert.subjectText || "empty subject"})`;
}

const CA_RENEWAL_HINT = "Get the issuer's current certificate (for a Thales CA, from the Thales assets or your Thales contact) and replace this one.";

/**
 * EXPIRED, NOT_YET_VALID, EXPIRING_SOON. `renewalHint` is what to do when the client
 * certificate runs out (it depends on the program).
 */
export function checkDates(ctx: LintContext, cert: CertItem, isLeaf: boolean, renewalHint?: string): void {
  const what = describe(cert, isLeaf);
  const notAfter = cert.notAfter.getTime();
  const notBefore = cert.notBefore.getTime();
  const hint = isLeaf ? renewalHint : CA_RENEWAL_HINT;
  if (ctx.now > notAfter) {
    ctx.report(finding("EXPIRED", cert.source, `${what} expired on ${utc(notAfter)}, ${daysText(ctx.now - notAfter)} ago.`, hint ? { hint } : {}));
  } else if (ctx.now < notBefore) {
    ctx.report(finding("NOT_YET_VALID", cert.source, `${what} is not valid before ${utc(notBefore)}, in ${daysText(notBefore - ctx.now)}.`));
  } else if (notAfter - ctx.now < ctx.warnMs) {
    ctx.report(finding("EXPIRING_SOON", cert.source, `${what} expires on ${utc(notAfter)}, in ${daysText(notAfter - ctx.now)} (warning window: ${daysText(ctx.warnMs)}).`, hint ? { hint } : {}));
  }
}

/**
 * SELF_SIGNATURE_INVALID for a self-issued certificate; CHAIN_SIGNATURE when a certificate of
 * the input is named as the issuer but none such verifies the signature (issuers in the same
 * file are tried, else those of other files); WEAK_SIGNATURE for a CA-signed chain member (the client
 * certificate's hash is checked with the client rules, a root's self-signature is not relied on).
 */
export function checkSignature(ctx: LintContext, cert: CertItem, isLeaf: boolean, index: IssuerIndex, file: InputFile, checker: SignatureChecker): void {
  const self = checker.selfSigned(cert);
  if (self === "invalid") {
    ctx.report(finding("SELF_SIGNATURE_INVALID", cert.source, `${describe(cert, isLeaf)} is self-issued, but its signature does not verify with its own key.`));
    return;
  }
  if (self === "valid") return;
  const hash = cert.signatureAlgorithm.hash;
  if (!isLeaf && (hash === "sha1" || hash === "md5")) {
    ctx.report(finding("WEAK_SIGNATURE", cert.source, `${describe(cert, false)} is signed with ${cert.signatureAlgorithm.name} (${hashLabel(hash)}), which TLS peers refuse.`, {
      hint: "Get the CA's current certificate, signed with SHA-256 or better.",
    }));
  }
  const issuers = index.issuersOf(cert, file);
  if (issuers.length === 0 || issuers.some((i) => checker.verifies(cert, i))) return;
  const named = issuers[0]!;
  ctx.report(finding("CHAIN_SIGNATURE", cert.source, `the signature of ${describe(cert, isLeaf)} does not verify with the key of ${named.source} (${named.subjectText}), which is named as its issuer.`));
}

const MAX_LISTED = 8;

/**
 * The order of a file's certificates: the client certificate first, each certificate followed
 * by its issuer; after a self-signed root a new chain may start (a bundle of roots). One
 * CHAIN_ORDER finding per file, naming the expected order; CHAIN_INCOMPLETE for each gap.
 */
export function checkChainOrder(ctx: LintContext, file: InputFile, index: IssuerIndex): void {
  const certs = file.certificates;
  if (certs.length < 2) return;
  const issuerInFile = (c: CertItem): CertItem | undefined => index.inFile(c, file)[0];
  // The same certificate twice (the leaf pasted again after its chain): one finding naming the
  // copies, and the order to keep, each certificate once.
  const firstOf = new Map<string, CertItem>();
  const copies: CertItem[] = [];
  for (const c of certs) {
    if (firstOf.has(c.sha256Fingerprint)) copies.push(c);
    else firstOf.set(c.sha256Fingerprint, c);
  }
  if (copies.length) {
    const unique = new Set(copies.map((c) => firstOf.get(c.sha256Fingerprint)!));
    const names = [...unique].map((c) => `${blockName(c)} (${c.commonName !== undefined ? `CN=${c.commonName}` : c.subjectText}) again as ${copies.filter((x) => x.sha256Fingerprint === c.sha256Fingerprint).map(blockName).join(", ")}`);
    const expected = expectedOrder({ ...file, certificates: [...firstOf.values()] }, issuerInFile).slice(0, MAX_LISTED);
    ctx.report(finding("CHAIN_ORDER", file.name, `the file holds the same certificate more than once: ${names.join("; ")}.`, {
      hint: `Remove the copies and keep this order, leaf first and each certificate followed by its issuer: ${expected.map((c) => `${blockName(c)} (${c.commonName !== undefined ? `CN=${c.commonName}` : c.subjectText})`).join(", ")}.`,
    }));
    return;
  }
  let problem: string | undefined;
  if (file.leaf && certs[0] !== file.leaf) {
    problem = `the client certificate (${blockName(file.leaf)}) is not the first certificate of the file`;
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    const c = certs[i]!;
    const next = certs[i + 1]!;
    if (claimsSelfSigned(c) || namesIssuer(next, c)) continue;
    const issuer = issuerInFile(c);
    if (issuer) {
      problem ??= `${blockName(c)} is followed by ${blockName(next)}, which did not issue it; its issuer is ${blockName(issuer)}`;
    } else {
      ctx.report(finding("CHAIN_INCOMPLETE", c.source, `this certificate is followed by ${blockName(next)} (${next.subjectText}), which did not issue it, and its issuer (${c.issuerText}) is not in the file.`, {
        hint: `Insert the certificate of ${c.issuerText} right after ${blockName(c)}, or remove what does not belong to this chain.`,
      }));
    }
  }
  if (problem === undefined) return;
  const expected = expectedOrder(file, issuerInFile);
  const listed = expected.slice(0, MAX_LISTED).map((c) => `${blockName(c)} (${c.commonName !== undefined ? `CN=${c.commonName}` : c.subjectText})`);
  if (expected.length > MAX_LISTED) listed.push(`and ${expected.length - MAX_LISTED} more`);
  ctx.report(finding("CHAIN_ORDER", file.name, `the certificates are not in chain order: ${problem}.`, {
    hint: `Reorder the file, leaf first and each certificate followed by its issuer: ${listed.join(", ")}.`,
  }));
}

/** The leaf (or a certificate that issued none of the others), then its issuers, then the rest. */
function expectedOrder(file: InputFile, issuerInFile: (c: CertItem) => CertItem | undefined): CertItem[] {
  const certs = file.certificates;
  const issuing = new Set<CertItem>();
  for (const c of certs) {
    const i = issuerInFile(c);
    if (i && i !== c) issuing.add(i);
  }
  const start = file.leaf ?? certs.find((c) => !issuing.has(c)) ?? certs[0]!;
  const order: CertItem[] = [];
  const seen = new Set<CertItem>();
  for (let c: CertItem | undefined = start; c && !seen.has(c); c = claimsSelfSigned(c) ? undefined : issuerInFile(c)) {
    order.push(c);
    seen.add(c);
  }
  return [...order, ...certs.filter((c) => !seen.has(c))];
}
