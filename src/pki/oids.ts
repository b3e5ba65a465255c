import type { HashName } from "../policy/index.js";

/** Signature algorithms by OID: name, hash and key family. */
export const SIGNATURE_ALGORITHMS: Readonly<Record<string, { name: string; hash: HashName | undefined; family: "ec" | "rsa" | "rsa-pss" | "ed25519" | "ed448" }>> = {
  "1.2.840.10045.4.1": { name: "ecdsa-with-SHA1", hash: "sha1", family: "ec" },
  "1.2.840.10045.4.3.2": { name: "ecdsa-with-SHA256", hash: "sha256", family: "ec" },
  "1.2.840.10045.4.3.3": { name: "ecdsa-with-SHA384", hash: "sha384", family: "ec" },
  "1.2.840.10045.4.3.4": { name: "ecdsa-with-SHA512", hash: "sha512", family: "ec" },
  "1.2.840.113549.1.1.4": { name: "md5WithRSAEncryption", hash: "md5", family: "rsa" },
  "1.2.840.113549.1.1.5": { name: "sha1WithRSAEncryption", hash: "sha1", family: "rsa" },
  "1.2.840.113549.1.1.11": { name: "sha256WithRSAEncryption", hash: "sha256", family: "rsa" },
  "1.2.840.113549.1.1.12": { name: "sha384WithRSAEncryption", hash: "sha384", family: "rsa" },
  "1.2.840.113549.1.1.13": { name: "sha512WithRSAEncryption", hash: "sha512", family: "rsa" },
  "1.2.840.113549.1.1.10": { name: "RSASSA-PSS", hash: undefined, family: "rsa-pss" },
  "1.3.101.112": { name: "ED25519", hash: undefined, family: "ed25519" },
  "1.3.101.113": { name: "ED448", hash: undefined, family: "ed448" },
};

/** The OID of the signature algorithm for a key family and hash. */
export function signatureOid(family: "ec" | "rsa", hash: HashName): string {
  for (const [oid, a] of Object.entries(SIGNATURE_ALGORITHMS)) {
    if (a.family === family && a.hash === hash) return oid;
  }
  throw new Error(`no signature algorithm for ${family} with ${hash}`);
}

export const OID = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  crlDistributionPoints: "2.5.29.31",
  certificatePolicies: "2.5.29.32",
  extensionRequest: "1.2.840.113549.1.9.14",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  ecPublicKey: "1.2.840.10045.2.1",
  rsaEncryption: "1.2.840.113549.1.1.1",
} as const;

/** Human names of common extension and extended key usage OIDs. */
export const OID_NAMES: Readonly<Record<string, string>> = {
  "2.5.29.19": "basicConstraints",
  "2.5.29.15": "keyUsage",
  "2.5.29.37": "extendedKeyUsage",
  "2.5.29.17": "subjectAltName",
  "2.5.29.14": "subjectKeyIdentifier",
  "2.5.29.35": "authorityKeyIdentifier",
  "1.3.6.1.5.5.7.1.1": "authorityInfoAccess",
  "2.5.29.31": "crlDistributionPoints",
  "2.5.29.32": "certificatePolicies",
  "2.5.29.30": "nameConstraints",
  "1.3.6.1.4.1.11129.2.4.2": "ctPrecertificateSCTs",
  "1.3.6.1.5.5.7.3.1": "serverAuth",
  "1.3.6.1.5.5.7.3.2": "clientAuth",
  "1.3.6.1.5.5.7.3.3": "codeSigning",
  "1.3.6.1.5.5.7.3.4": "emailProtection",
  "1.3.6.1.5.5.7.3.8": "timeStamping",
  "1.3.6.1.5.5.7.3.9": "OCSPSigning",
  "2.5.29.37.0": "anyExtendedKeyUsage",
};

/** keyUsage bit names, in bit order (RFC 5280). */
export const KEY_USAGE_BITS = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
] as const;
export type KeyUsageName = (typeof KEY_USAGE_BITS)[number];
