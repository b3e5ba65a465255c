import type { ProgramPolicy } from "./types.js";

/** Upper bound of the CN (X.520 ub-common-name). */
export const COMMON_NAME_MAX_LENGTH = 64;

/** Days in the MT validity limit of 2 years. */
export const MT_MAX_VALIDITY_DAYS = 730;

/** D1 eCom: the rules of reference/thales-d1-set-up-mutual-tls.md and thales-api-facts.md. */
export const d1: ProgramPolicy = {
  id: "d1",
  name: "D1 eCom",
  customerIdLabel: "merchantGatewayId",
  environments: [
    {
      id: "preprod",
      label: "PreProd",
      cnCode: "PPR",
      apiHost: "api.d1-stg.thalescloud.io",
      authzUrl: "https://api.d1-stg.thalescloud.io/authz/v1",
      production: false,
    },
    {
      id: "production",
      label: "Production",
      cnCode: "PRD",
      apiHost: "api.d1.thalescloud.io",
      authzUrl: "https://api.d1.thalescloud.io/authz/v1",
      production: true,
    },
  ],
  clientCertificate: {
    issuance: "thales-signed-csr",
    accepted: [
      { keyType: "ecdsa-p256", hashes: ["sha256"], preferred: true },
      { keyType: "rsa-4096", hashes: ["sha256"] },
    ],
    refused: [
      {
        keyType: "rsa-2048",
        code: "D1_RSA_2048_REFUSED",
        rule: "D1 does not accept RSA 2048 client certificates (\"Can I use an RSA 2048 client certificate? No, it is not possible.\"): use ECDSA P-256 or RSA 4096.",
      },
    ],
    defaultKeyType: "ecdsa-p256",
    defaultHash: "sha256",
    maxValidityDays: null,
    issuedValidityDays: 5 * 365,
    commonName: {
      kind: "template",
      template: "TLSMA-{keyAlg}/{id}/D1.{envCode}",
      keyAlgLabels: { ec: "ECDSA", rsa: "RSA" },
      pattern: /^TLSMA-(?<keyAlg>ECDSA|RSA)\/(?<id>[^/]+)\/D1\.(?<envCode>[A-Z]+)$/,
    },
    requiredSubjectAttributes: ["C", "ST", "L", "O", "OU"],
  },
  tls: { minVersion: "TLSv1.2", maxVersion: "TLSv1.3" },
  serverTrust: {
    kind: "public-root",
    rootOwner: "Amazon Trust Services",
    rootCommonNames: ["Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4", "Starfield Services Root Certificate Authority - G2"],
    repository: "https://www.amazontrust.com/repository/",
  },
  inbound: {
    minTlsVersion: "TLSv1.2",
    ports: [443, 8443],
    preferredPort: 443,
    trust: "thales-client-ca",
    pinLeaf: false,
    serverChain: "mozilla-root-or-pem-trust-store",
  },
  auth: {
    kind: "oauth2-jwt-bearer",
    description: "OAuth 2.0 JWT bearer grant (RFC 7523), ES256 assertion with iss = merchantGatewayId and kid; 15-minute tokens.",
    assertionAlg: "ES256",
    assertionMaxLifetimeSeconds: 15 * 60,
    tokenLifetimeSeconds: 900,
    correlationIdPattern: /^[A-Za-z0-9_-]{1,64}$/,
  },
  dns: { honourTtl: true, staticIps: false },
  reference: "reference/thales-d1-set-up-mutual-tls.md",
};

/** Merchant Tokenization: the rules of reference/thales-mt-set-up-mutual-tls.ja.md. */
export const mt: ProgramPolicy = {
  id: "mt",
  name: "Merchant Tokenization",
  customerIdLabel: "customer identifier",
  environments: [
    {
      id: "sandbox",
      label: "Sandbox",
      apiHost: "tmg.dbp-stg.thalescloud.io",
      baseUrl: "https://tmg.dbp-stg.thalescloud.io:443/1/sandbox-v2/",
      production: false,
    },
    {
      id: "production",
      label: "Production",
      apiHost: "tmg.dbp.thalescloud.io",
      baseUrl: "https://tmg.dbp.thalescloud.io:443/1/mg/",
      production: true,
    },
  ],
  clientCertificate: {
    issuance: "self-signed-endorsed",
    accepted: [
      { keyType: "ecdsa-p256", hashes: ["sha256"], preferred: true },
      { keyType: "ecdsa-p384", hashes: ["sha256", "sha384"], preferred: true },
      { keyType: "rsa-2048", hashes: ["sha256"] },
    ],
    refused: [
      {
        keyType: "rsa-4096",
        code: "KEY_TYPE_NOT_ALLOWED",
        rule: "MT client certificates use ECDSA P-256 or P-384 (preferred) or RSA 2048; RSA 4096 is not in the list.",
      },
    ],
    defaultKeyType: "ecdsa-p256",
    defaultHash: "sha256",
    maxValidityDays: MT_MAX_VALIDITY_DAYS,
    commonName: { kind: "portal-value" },
    requiredSubjectAttributes: [],
  },
  tls: { minVersion: "TLSv1.2", maxVersion: "TLSv1.3" },
  serverTrust: { kind: "ca-in-chain", caCommonName: "DigiCert SHA2 High Assurance Server CA" },
  inbound: {
    minTlsVersion: "TLSv1.2",
    ports: [443, 8443],
    preferredPort: 443,
    trust: "thales-client-ca",
    pinLeaf: false,
    serverChain: "pinned-by-thales",
  },
  auth: {
    kind: "api-key",
    description: "API key on notifications (authorization: APIKEY <key>) and x-correlation-id.",
  },
  dns: { honourTtl: true, staticIps: false },
  reference: "reference/thales-mt-set-up-mutual-tls.ja.md",
};

/** Every program, by id. */
export const PROGRAMS: Readonly<Record<"d1" | "mt", ProgramPolicy>> = { d1, mt };
