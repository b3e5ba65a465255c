/**
 * The TLS rules of the endpoint Thales calls, as Node secure-context options: TLS 1.2 and 1.3
 * only, ECDHE key exchange with AEAD ciphers only, no renegotiation, no compression, a client
 * certificate required and verified against the trusted client CA (never a pinned leaf).
 */
import { constants } from "node:crypto";
import type { SecureContextOptions, TlsOptions } from "node:tls";
import type { CredentialSet } from "../credentials/index.js";
import { AEAD_FORWARD_SECRET_CIPHERS, PROGRAMS, type ProgramPolicy } from "../policy/index.js";

/** Cipher suites accepted: the policy's AEAD, forward-secret list. */
export const INBOUND_CIPHERS = AEAD_FORWARD_SECRET_CIPHERS;

/** Key exchange groups offered, fastest first. */
export const INBOUND_ECDH_CURVES = "X25519:P-256:P-384";

/** Lifetime of a TLS session (and of its tickets), in seconds. */
export const SESSION_TIMEOUT_SECONDS = 300;

/**
 * OpenSSL options: no renegotiation at all (client- or server-initiated), no compression
 * (CRIME), and the server's cipher order.
 */
export const INBOUND_SECURE_OPTIONS = constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_COMPRESSION | constants.SSL_OP_CIPHER_SERVER_PREFERENCE;

/** The strictest minimum TLS version over the programs (both say TLS 1.2). */
export function inboundMinVersion(program?: ProgramPolicy): "TLSv1.2" | "TLSv1.3" {
  const programs = program ? [program] : Object.values(PROGRAMS);
  return programs.some((p) => p.inbound.minTlsVersion !== "TLSv1.2") ? "TLSv1.3" : "TLSv1.2";
}

/** Secure-context options for one validated credential set (server chain, key, client CA). */
export function secureContextOptions(set: CredentialSet, program?: ProgramPolicy): SecureContextOptions {
  return {
    cert: set.certChainPem,
    ...set.tlsKey,
    ca: set.caPem,
    // The Thales Client CA may be an intermediate shipped without its root: trust it as the anchor.
    allowPartialTrustChain: true,
    minVersion: inboundMinVersion(program),
    maxVersion: "TLSv1.3",
    ciphers: INBOUND_CIPHERS,
    ecdhCurve: INBOUND_ECDH_CURVES,
    honorCipherOrder: true,
    secureOptions: INBOUND_SECURE_OPTIONS,
    sessionTimeout: SESSION_TIMEOUT_SECONDS,
  };
}

/** Server options: the secure context plus the client-certificate requirement. */
export function serverTlsOptions(set: CredentialSet, handshakeTimeoutMs: number, program?: ProgramPolicy): TlsOptions {
  return {
    ...secureContextOptions(set, program),
    requestCert: true,
    rejectUnauthorized: true,
    handshakeTimeout: handshakeTimeoutMs,
  };
}
