import * as path from "node:path";
import type { ProfileConfig } from "./config.js";

/**
 * Where everything of a profile lives. One folder per profile, `<program>-<env>-<id>`, inside
 * the workspace; the names below are fixed so that every command (and the outbound and inbound
 * sides) finds the same files without configuration.
 */
export interface ProfilePaths {
  /** Absolute path of the profile's folder. */
  readonly folder: string;
  /** The active client credentials: what connections to Thales use now. */
  readonly client: {
    /** Private key (0600). */
    readonly key: string;
    /** D1: the CSR made with `key`. */
    readonly csr: string;
    /** The client certificate (the leaf alone). */
    readonly cert: string;
    /** D1: the CA chain Thales returned with the certificate (issuing CA first), without the leaf. */
    readonly chain: string;
  };
  /** A renewal in progress: these become the active ones on `cert install` (D1) / `cert activate` (MT). */
  readonly pending: { readonly dir: string; readonly key: string; readonly csr: string; readonly cert: string; readonly chain: string };
  /** What Thales handed over (`assets import`). */
  readonly assets: {
    readonly dir: string;
    /** What was imported, from where, when (JSON). */
    readonly record: string;
    /** TSH_TLS_SERVER_CERTIFICATE_CHAIN / D1_TLS_SERVER_CA_CHAIN as received, leaf first when there is one. */
    readonly serverChain: string;
    /** The CA certificates of the server chain: the trust for outbound connections to Thales. */
    readonly serverTrust: string;
    /** TSH_TLS_CLIENT_CERTIFICATE / D1_TLS_CLIENT_CA as received (identifies the Thales Client CA). */
    readonly clientCertificate: string;
    /** Derived: the issuing CA of Thales's client certificate and its chain. The trust of the inbound side; never the leaf. */
    readonly inboundClientCa: string;
  };
  /** The server side Thales calls (`server-cert set`). */
  readonly server: {
    readonly dir: string;
    readonly cert: string;
    /** Private key (0600). */
    readonly key: string;
    /** Intermediates (and the root of a private CA), issuer order, without the leaf. */
    readonly chain: string;
    /** The PEM trust store to hand to Thales when the chain does not reach a Mozilla root. */
    readonly trustStore: string;
  };
  /** D1 OAuth 2.0 signing key (placeholder until the token command creates it). */
  readonly oauth: { readonly dir: string; readonly key: string };
  /** Dated copies of every replaced certificate and key. */
  readonly backups: string;
}

/** `<program>-<env>-<id>`: the folder of a profile, relative to the workspace. */
export function profileFolderName(p: Pick<ProfileConfig, "program" | "environment" | "customerId">): string {
  return `${p.program}-${p.environment}-${p.customerId}`;
}

/** Every path of a profile, absolute. */
export function profilePaths(dir: string, p: ProfileConfig): ProfilePaths {
  const folder = path.resolve(dir, profileFolderName(p));
  const at = (...parts: string[]) => path.join(folder, ...parts);
  return {
    folder,
    client: { key: at("client.key"), csr: at("client.csr"), cert: at("client.crt"), chain: at("client-chain.pem") },
    pending: { dir: at("pending"), key: at("pending", "client.key"), csr: at("pending", "client.csr"), cert: at("pending", "client.crt"), chain: at("pending", "client-chain.pem") },
    assets: {
      dir: at("assets"),
      record: at("assets", "assets.json"),
      serverChain: at("assets", "thales-server-chain.pem"),
      serverTrust: at("assets", "thales-server-trust.pem"),
      clientCertificate: at("assets", "thales-client-certificate.pem"),
      inboundClientCa: at("assets", "inbound-client-ca.pem"),
    },
    server: { dir: at("server"), cert: at("server", "server.crt"), key: at("server", "server.key"), chain: at("server", "server-chain.pem"), trustStore: at("server", "trust-store.pem") },
    oauth: { dir: at("oauth"), key: path.resolve(folder, p.oauth?.keyFile ?? path.join("oauth", "oauth.key")) },
    backups: at("backups"),
  };
}
