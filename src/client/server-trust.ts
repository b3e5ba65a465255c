import { checkServerIdentity as nodeCheckServerIdentity, type DetailedPeerCertificate, type PeerCertificate } from "node:tls";
import { MtlsError } from "../errors/index.js";
import { fingerprint } from "../pki/index.js";
import type { ProgramPolicy, ServerTrustRule } from "../policy/index.js";

/** One certificate of a server chain, as far as the trust rules look at it. */
export interface ChainLink {
  /** Subject CN (the first one when there are several). */
  readonly subjectCn: string | undefined;
  /** Issuer CN. */
  readonly issuerCn: string | undefined;
  /** `C=..., O=..., CN=...` for messages. */
  readonly subject: string;
  /** SHA-256 fingerprint (`AB:CD:...`), when known. */
  readonly fingerprint256?: string;
}

/** What {@link checkTrustRule} concluded. */
export type TrustVerdict = { ok: true; rule: string; matched: string } | { ok: false; rule: string; message: string };

function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function nameText(n: Record<string, string | string[] | undefined> | undefined): string {
  if (!n) return "";
  return Object.entries(n)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("+") : (v ?? "")}`)
    .join(", ");
}

/**
 * The chain Node built for a peer (`getPeerCertificate(true)`): the certificates the server
 * presented, completed from the trust store up to the root when they verify. Leaf first.
 */
export function chainFromPeer(cert: PeerCertificate | DetailedPeerCertificate | undefined): ChainLink[] {
  const links: ChainLink[] = [];
  const seen = new Set<string>();
  let c = cert as DetailedPeerCertificate | undefined;
  while (c && c.raw && links.length < 16) {
    const sha256 = fingerprint(c.raw, "colon-hex");
    if (seen.has(sha256)) break;
    seen.add(sha256);
    links.push({
      subjectCn: firstValue(c.subject?.CN as string | string[] | undefined),
      issuerCn: firstValue(c.issuer?.CN as string | string[] | undefined),
      subject: nameText(c.subject as unknown as Record<string, string | string[] | undefined>),
      fingerprint256: sha256,
    });
    c = c.issuerCertificate;
  }
  return links;
}

/** One sentence naming the program's rule, for messages. */
export function describeTrustRule(rule: ServerTrustRule): string {
  return rule.kind === "ca-in-chain" ? `the chain must contain the CA "${rule.caCommonName}"` : `the chain must reach ${/^[AEIOU]/.test(rule.rootOwner) ? "an" : "a"} ${rule.rootOwner} root (${rule.rootCommonNames.join(", ")})`;
}

/**
 * Applies the program's server trust rule (src/policy) to a verified chain: MT requires a CA
 * with the policy's subject CN in the chain; D1 requires the chain to reach one of the named
 * roots (the top certificate is one of them, or is issued by one of them).
 */
export function checkTrustRule(program: ProgramPolicy, chain: readonly ChainLink[]): TrustVerdict {
  const rule = program.serverTrust;
  const described = describeTrustRule(rule);
  const names = chain.map((l) => l.subjectCn ?? l.subject).join(" <- ");
  if (rule.kind === "ca-in-chain") {
    // The leaf itself never counts: the rule is about the CA that issued it.
    if (chain.slice(1).some((l) => l.subjectCn === rule.caCommonName)) return { ok: true, rule: described, matched: rule.caCommonName };
    return { ok: false, rule: described, message: `${program.name}: the server chain (${names || "empty"}) does not contain the CA "${rule.caCommonName}"` };
  }
  const top = chain[chain.length - 1];
  const roots = rule.rootCommonNames;
  const hit = chain.find((l) => l.subjectCn !== undefined && roots.includes(l.subjectCn)) ?? (top?.issuerCn !== undefined && roots.includes(top.issuerCn) ? top : undefined);
  if (hit) return { ok: true, rule: described, matched: hit.subjectCn !== undefined && roots.includes(hit.subjectCn) ? hit.subjectCn : (hit.issuerCn ?? "") };
  return { ok: false, rule: described, message: `${program.name}: the server chain (${names || "empty"}) does not reach a ${rule.rootOwner} root (${roots.join(", ")})` };
}

/**
 * A `checkServerIdentity` for `tls.connect`: Node's host-name check, then the program's trust
 * rule on the chain Node verified. Returns a coded `MtlsError` (`TLS_HOSTNAME_MISMATCH`,
 * `TLS_SERVER_WRONG_CA`), which Node hands to the connection's error path unchanged. Node runs
 * it on full handshakes only: a resumed session was checked when it was made.
 */
export function serverIdentityChecker(program: ProgramPolicy): (hostname: string, cert: PeerCertificate) => Error | undefined {
  return (hostname, cert) => {
    const nameError = nodeCheckServerIdentity(hostname, cert);
    if (nameError) {
      const names = cert.subjectaltname ?? (firstValue(cert.subject?.CN as string | string[] | undefined) ? `CN=${firstValue(cert.subject.CN as string | string[])}` : "no name");
      return new MtlsError("TLS_HOSTNAME_MISMATCH", `${hostname}: the server certificate is for ${names}, not for ${hostname}`, { subject: hostname, cause: nameError });
    }
    const verdict = checkTrustRule(program, chainFromPeer(cert));
    if (!verdict.ok) return new MtlsError("TLS_SERVER_WRONG_CA", `${hostname}: ${verdict.message}`, { subject: hostname });
    return undefined;
  };
}
