/** A key type mtlskit can create and check. */
export type KeyType = "ecdsa-p256" | "ecdsa-p384" | "rsa-2048" | "rsa-4096";
/** Every key type, in the order they are offered. */
export const KEY_TYPES: readonly KeyType[] = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-4096"];
/** Signature hashes used with client certificates. */
export type HashName = "sha256" | "sha384" | "sha512" | "sha1" | "md5";
/** The programs mtlskit implements. */
export type ProgramId = "d1" | "mt";

/** A key type a program accepts, with the hashes allowed with it. */
export interface AcceptedKey {
  readonly keyType: KeyType;
  readonly hashes: readonly HashName[];
  /** The program says this type is preferred. */
  readonly preferred?: boolean;
}

/** A key type a program refuses, with the sentence of the rule that refuses it. */
export interface RefusedKey {
  readonly keyType: KeyType;
  /** Stable finding / error code for the refusal. */
  readonly code: string;
  /** The rule, quoted or paraphrased from the reference page. */
  readonly rule: string;
}

/** The Common Name rule of a program. */
export type CommonNameRule =
  | {
      /** The CN is built from a template: `{keyAlg}`, `{id}`, `{envCode}` are replaced. */
      readonly kind: "template";
      readonly template: string;
      /** The word for each key family inside the CN. */
      readonly keyAlgLabels: { readonly ec: string; readonly rsa: string };
      /** A regular expression any CN of the program must match (groups: keyAlg, id, envCode). */
      readonly pattern: RegExp;
    }
  | {
      /** The CN is the exact value the Thales portal gives for the customer and environment. */
      readonly kind: "portal-value";
    };

/** How the customer trusts the Thales server certificate. */
export type ServerTrustRule =
  | {
      /** The presented chain must contain a CA certificate with this subject CN. */
      readonly kind: "ca-in-chain";
      readonly caCommonName: string;
    }
  | {
      /** The chain must reach one of the named public roots. */
      readonly kind: "public-root";
      readonly rootOwner: string;
      readonly rootCommonNames: readonly string[];
      readonly repository: string;
    };

/** One environment of a program. Environments are isolated from each other. */
export interface EnvironmentPolicy {
  readonly id: string;
  readonly label: string;
  /** The code of the environment inside the client CN (D1: PPR, PRD). */
  readonly cnCode?: string;
  /** Host name of the Thales API for this environment. */
  readonly apiHost: string;
  /** Base URL of the Thales API (MT) for this environment. */
  readonly baseUrl?: string;
  /** OAuth 2.0 authorization server base (D1). */
  readonly authzUrl?: string;
  /** True for the production environment. */
  readonly production: boolean;
}

/** The rules of the endpoint Thales calls (Thales -> customer). */
export interface InboundPolicy {
  readonly minTlsVersion: "TLSv1.2";
  readonly ports: readonly number[];
  readonly preferredPort: number;
  /** What to trust for Thales's client certificate: always its issuing CA. */
  readonly trust: "thales-client-ca";
  /** Thales rotates its client certificate without notice: never pin the leaf. */
  readonly pinLeaf: false;
  /** How Thales trusts the customer's server certificate. */
  readonly serverChain: "pinned-by-thales" | "mozilla-root-or-pem-trust-store";
}

/** What runs above TLS. */
export interface AuthPolicy {
  readonly kind: "api-key" | "oauth2-jwt-bearer";
  readonly description: string;
  /** Algorithm of the JWT assertion (D1). */
  readonly assertionAlg?: "ES256";
  /** Maximum lifetime of the JWT assertion, in seconds. */
  readonly assertionMaxLifetimeSeconds?: number;
  /** Lifetime of the access token, in seconds. */
  readonly tokenLifetimeSeconds?: number;
  readonly correlationIdPattern?: RegExp;
}

/** A Thales program as data: every rule mtlskit applies for it lives here and nowhere else. */
export interface ProgramPolicy {
  readonly id: ProgramId;
  readonly name: string;
  /** What Thales calls the customer's identifier in this program. */
  readonly customerIdLabel: string;
  readonly environments: readonly EnvironmentPolicy[];
  readonly clientCertificate: {
    /** How the client certificate comes to be. */
    readonly issuance: "thales-signed-csr" | "self-signed-endorsed";
    readonly accepted: readonly AcceptedKey[];
    readonly refused: readonly RefusedKey[];
    readonly defaultKeyType: KeyType;
    readonly defaultHash: HashName;
    /** Longest validity mtlskit lets the customer create, in days (null: set by Thales). */
    readonly maxValidityDays: number | null;
    /** Validity of the certificate Thales issues, in days (D1: 5 years). */
    readonly issuedValidityDays?: number;
    readonly commonName: CommonNameRule;
    /** Subject attributes the DN policy requires besides CN. */
    readonly requiredSubjectAttributes: readonly string[];
  };
  readonly tls: { readonly minVersion: "TLSv1.2"; readonly maxVersion: "TLSv1.3" };
  readonly serverTrust: ServerTrustRule;
  readonly inbound: InboundPolicy;
  readonly auth: AuthPolicy;
  /** Both programs: always resolve DNS, never keep an address past its TTL, no IP allow-listing. */
  readonly dns: { readonly honourTtl: true; readonly staticIps: false };
  /** Where the rules come from. */
  readonly reference: string;
}
