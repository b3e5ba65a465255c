import { createSecureContext, type ConnectionOptions, type SecureContext } from "node:tls";
import type { CredentialSet } from "../credentials/index.js";
import type { ProgramPolicy } from "../policy/index.js";
import { serverIdentityChecker } from "./server-trust.js";

/**
 * Cipher suites offered: AEAD with forward secrecy only. TLS 1.3 suites are all AEAD and
 * ephemeral; for TLS 1.2, ECDHE with AES-GCM or ChaCha20-Poly1305 (no CBC, no static RSA key
 * exchange, no DHE with server-chosen groups).
 */
export const DEFAULT_CIPHERS = [
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

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
    key: credentials.keyPem,
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
