/**
 * The trusted client CAs in force, for connections kept alive across a reload (see
 * `inbound-server.ts`). A new handshake is checked by OpenSSL against the secure context; a
 * connection opened before the client CA changed is checked here, at its next request: its
 * peer's chain must still lead to one of the CAs now trusted ({@link chainTrusted}), the check
 * a new handshake would pass. {@link ClientTrust.generation} changes with the CAs, so that a
 * connection is checked once per change, not at every request.
 */
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";

/** The certificates of a PEM text, in order. */
export function x509s(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
}

/**
 * True when a certificate of `chain` (the peer's, leaf first) is one of `cas` or is issued
 * (and signed) by one of them.
 */
export function chainTrusted(chain: Iterable<X509Certificate>, cas: readonly X509Certificate[]): boolean {
  for (const cert of chain) {
    for (const ca of cas) {
      if (cert.fingerprint256 === ca.fingerprint256) return true;
      if (cert.checkIssued(ca) && cert.verify(ca.publicKey)) return true;
    }
  }
  return false;
}

/** The peer's certificate, then each issuer it presented, each once (a self-signed root ends the walk). */
export function* peerChain(socket: TLSSocket): Generator<X509Certificate> {
  let cert: X509Certificate | undefined = socket.getPeerX509Certificate();
  const seen = new Set<string>();
  while (cert && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    yield cert;
    cert = cert.issuerCertificate;
  }
}

/** The trusted client CAs, and a generation that changes with them. */
export class ClientTrust {
  /** Bumped by {@link replace}: a connection checked under an older generation is checked again. */
  generation = 0;
  private cas: X509Certificate[];

  constructor(caPem: string) {
    this.cas = x509s(caPem);
  }

  /** The client CA changed (a reload): from now on `caPem` is trusted. */
  replace(caPem: string): void {
    this.cas = x509s(caPem);
    this.generation += 1;
  }

  /** True when the peer of `socket` would pass a new handshake under the CAs now trusted. */
  stillTrusts(socket: TLSSocket): boolean {
    return chainTrusted(peerChain(socket), this.cas);
  }
}
