/**
 * What the notifier checks of a customer's registration (see `notifier.ts`): ISSUER_HOST, the
 * MT API key, and the registered server chain turned into trust anchors and leaf pins
 * ({@link pinnedTrust}), with the pin check run after the chain and host name checks
 * ({@link checkPin}). Pure functions of the registration and the presented certificate.
 */
import type { PeerCertificate } from "node:tls";
import { MtlsError } from "../errors/index.js";
import { decodePkiObjects, fingerprint, formatFingerprint, type CertificateInfo } from "../pki/index.js";
import { parseHostPort } from "../policy/index.js";

/** A problem with the customer's registration: retrying will not help. */
export class ConfigurationError extends Error {}

/** What the customer registered, ready for the TLS options. */
export interface PinnedTrust {
  /** Identifies the registration (for the agent map). */
  readonly key: string;
  readonly caPem: string[];
  /** SHA-256 (hex) of the registered end-entity certificates; empty = pinned at the CA. */
  readonly leafFingerprints: ReadonlySet<string>;
}

/**
 * Checks ISSUER_HOST with policy's one rule (`parseHostPort`: a DNS name with an optional port,
 * never an IP address) and returns it normalised (lower case, no trailing dot, no `:443`).
 * Throws `ErrorClass` when given (attempt time), else an `MtlsError` `USAGE`.
 */
export function checkIssuerHost(issuerHost: string, ErrorClass: (new (message: string) => Error) | undefined): string {
  const r = parseHostPort(issuerHost);
  if (!r.ok) {
    const message = `ISSUER_HOST ${r.message}`;
    throw ErrorClass ? new ErrorClass(message) : new MtlsError("USAGE", message, { hint: "Register ISSUER_HOST as a DNS name with an optional port, e.g. notify.example.com:8443." });
  }
  return r.port === undefined || r.port === 443 ? r.host : `${r.host}:${r.port}`;
}

/** Checks the MT API key (it goes in a header) and returns it; throws as {@link checkIssuerHost}. */
export function checkApiKey(apiKey: string | undefined, ErrorClass: (new (message: string) => Error) | undefined): string {
  let why: string | undefined;
  if (apiKey === undefined || apiKey === "") why = "no API key is registered: MT notifications carry 'authorization: APIKEY <key>'";
  else if (!/^[\x21-\x7e]{1,1024}$/.test(apiKey)) why = "the registered API key has characters that cannot go in a header";
  if (why === undefined) return apiKey!;
  throw ErrorClass ? new ErrorClass(why) : new MtlsError("USAGE", why, { hint: "Register the customer's API key (apiKey) first." });
}

/** Parses the registered server chain into CA list and leaf pins; `ConfigurationError` when it cannot be used. */
export function pinnedTrust(key: string, serverChainPem: string): PinnedTrust {
  let certs: CertificateInfo[];
  try {
    certs = decodePkiObjects(Buffer.from(serverChainPem, "utf8"), "registered server chain").filter((i): i is CertificateInfo & { source: string; index: number } => i.kind === "certificate");
  } catch (e) {
    throw new ConfigurationError(`the registered server chain cannot be read: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (certs.length === 0) throw new ConfigurationError("the registered server chain holds no certificate");
  const leaves = certs.filter((c) => !c.basicConstraints?.ca);
  return {
    key,
    caPem: certs.map((c) => c.x509.toString()),
    leafFingerprints: new Set(leaves.map((c) => fingerprint(c.der, "hex"))),
  };
}

/** The pin check, after the chain and host name checks passed: an error coded `ERR_SERVER_CERT_NOT_PINNED`, or undefined. */
export function checkPin(host: string, peer: Pick<PeerCertificate, "raw" | "subject">, trust: PinnedTrust): Error | undefined {
  if (trust.leafFingerprints.size === 0) return undefined; // pinned at the CA: the chain check did it
  const fp = fingerprint(peer.raw, "hex");
  if (trust.leafFingerprints.has(fp)) return undefined;
  const err = new Error(
    `pinning: the server certificate of ${host} (subject ${peer.subject?.CN ?? "?"}, SHA-256 ${formatFingerprint(fp, "colon-hex")}) is not one the customer registered`,
  ) as Error & { code: string };
  err.code = "ERR_SERVER_CERT_NOT_PINNED";
  return err;
}
