import type { ProgramId } from "../policy/index.js";

/**
 * The asset names of the bundle contract (docs/architecture.md, "Asset bundle"): what Thales hands over
 * and what the customer sends back, per program. The names are the reference pages' (MT) or
 * built in the same style (D1).
 */
export interface AssetNames {
  readonly fromThales: {
    /** Chain of Thales's server certificate: the outbound trust. */
    readonly serverChain: string;
    /** Thales's client certificate (with its CA) or the Thales Client CA: the inbound trust. */
    readonly clientCertificate: string;
    /** Host to reach Thales (`name` or `name:port`). */
    readonly apiHost: string;
    /** D1: OAuth 2.0 authorization server base URL. */
    readonly authzUrl?: string;
    /** MT: the exact client CN of the Thales portal. */
    readonly clientCn?: string;
    /** D1: the customer's signed client certificate and its chain, once issued. */
    readonly customerCertificate?: string;
  };
  readonly toThales: {
    readonly serverChain: string;
    readonly issuerHost: string;
    /** MT: the self-signed client certificate Thales endorses (pins). */
    readonly clientCertificate?: string;
    /** D1: the CSR Thales signs. */
    readonly csr?: string;
    readonly oauthPublicKey?: string;
    readonly oauthKid?: string;
    /** A PEM trust store for a server chain that does not reach a Mozilla root (an mtlskit addition). */
    readonly serverTrustStore: string;
  };
}

export const ASSET_NAMES: Readonly<Record<ProgramId, AssetNames>> = {
  mt: {
    fromThales: {
      serverChain: "TSH_TLS_SERVER_CERTIFICATE_CHAIN",
      clientCertificate: "TSH_TLS_CLIENT_CERTIFICATE",
      apiHost: "TSH_INBOUND_HOST",
      clientCn: "TSH_CLIENT_CN",
    },
    toThales: {
      serverChain: "CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN",
      clientCertificate: "CUSTOMER_TLS_CLIENT_CERTIFICATE",
      issuerHost: "ISSUER_HOST",
      serverTrustStore: "CUSTOMER_TLS_SERVER_TRUST_STORE",
    },
  },
  d1: {
    fromThales: {
      serverChain: "D1_TLS_SERVER_CA_CHAIN",
      clientCertificate: "D1_TLS_CLIENT_CA",
      apiHost: "D1_API_HOST",
      authzUrl: "D1_AUTHZ_URL",
      customerCertificate: "D1_CLIENT_CERTIFICATE",
    },
    toThales: {
      csr: "D1_CSR",
      serverChain: "CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN",
      issuerHost: "ISSUER_HOST",
      oauthPublicKey: "D1_OAUTH_PUBLIC_KEY",
      oauthKid: "D1_OAUTH_KID",
      serverTrustStore: "CUSTOMER_TLS_SERVER_TRUST_STORE",
    },
  },
};

/** Format tag of bundles. */
export const BUNDLE_FORMAT = "mtlskit-assets/1";
/** File name of a bundle's manifest. */
export const MANIFEST_FILE = "manifest.json";
