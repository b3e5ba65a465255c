import { createSecureContext, type ConnectionOptions, type SecureContext } from "node:tls";
import type { CredentialSet } from "../credentials/index.js";
import { AEAD_FORWARD_SECRET_CIPHERS, type ProgramPolicy } from "../policy/index.js";
import { serverIdentityChecker } from "./server-trust.js";

/** Cipher suites offered: the policy's AEAD, forward-secret list. */
export const DEFAULT_CIPHERS = AEAD_FORWARD_SECRET_CIPHERS;

/** Options of {@link thalesTlsOptions}. */
export interface ThalesTlsOptionsInput {
  program: ProgramPolicy;
  /** The client identity (and, in `caPem`, the Thales server trust). */
  credentials: CredentialSet;
  /**
   * CA certificates (PEM) the server chain must verify against. Default: the set's `caPem`
   * when it has one (the profile's `assets/thales-server-trust.pem`), else Node's bundled
   * Mozilla roots.
   */
  serverTrustPem?: string;
  /** Cipher list. Default {@link DEFAULT_CIPHERS}. */
  ciphers?: string;
}

/**
 * The `tls.connect` options of every connection to Thales: TLS 1.2 to 1.3 as the program
 * says, AEAD forward-secret ciphers, the client certificate chain and key, the server trust,
 * certificate verification on, and a `checkServerIdentity` that checks the host name and the
 * program's trust rule. The secure context is built once here, not at each connection.
 */
export function thalesTlsOptions(input: ThalesTlsOptionsInput): ConnectionOptions & { secureContext: SecureContext } {
  const { program, credentials } = input;
  const trust = input.serverTrustPem ?? (credentials.caPem.trim() ? credentials.caPem : undefined);
  const ciphers = input.ciphers ?? DEFAULT_CIPHERS;
  const secureContext = createSecureContext({
    minVersion: program.tls.minVersion,
    maxVersion: program.tls.maxVersion,
    ciphers,
    cert: credentials.certChainPem,
    ...credentials.tlsKey,
    ...(trust !== undefined ? { ca: trust } : {}),
  });
  return {
    secureContext,
    minVersion: program.tls.minVersion,
    maxVersion: program.tls.maxVersion,
    rejectUnauthorized: true,
    checkServerIdentity: serverIdentityChecker(program),
  };
}
