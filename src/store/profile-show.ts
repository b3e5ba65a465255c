import { MtlsError } from "../errors/index.js";
import type { Pkcs11Options } from "../pki/index.js";
import { fileMode, isFile } from "./fs-ops.js";
import type { ProfileConfig } from "./config.js";
import { inspectProfile, type ProfileStatus } from "./status.js";
import { profilePkcs11Options, readTokenPublicKey, withTokenAccess } from "./token-keys.js";
import { openProfile, type Profile } from "./workspace.js";

/** One file of a profile, as `profile show` lists it. */
export interface ProfileFile {
  /** What it is: `client.key`, `assets.inboundClientCa`... (its path in `ProfilePaths`). */
  role: string;
  /** The file, or for a key in a token its PKCS#11 URI (no PIN). */
  path: string;
  /** The file exists; for a key in a token, the token was reached and holds the key. */
  exists: boolean;
  /** Permission bits, for the private keys. */
  mode?: string;
  /** A key in a token: `key in token T, object O, ECDSA P-256, non-extractable`, when reachable. */
  keyInToken?: string;
  /** A key in a token that could not be reached: the PKCS11_* code and why. */
  tokenError?: { code: string; message: string };
}

/** What {@link showProfile} returns. Never any key material: paths and states only. */
export interface ProfileReport {
  /** The profile's name in `mtlskit.yaml`. */
  name: string;
  /** Its entry in `mtlskit.yaml`. */
  config: ProfileConfig;
  /** Its folder, `<workspace>/<program>-<env>-<id>`. */
  folder: string;
  /** Where calls to Thales go: the imported TSH_INBOUND_HOST / D1_API_HOST, else the program's host. */
  apiHost: string;
  /** D1: the token endpoint (D1_AUTHZ_URL). */
  authzUrl: string | undefined;
  /** Resolvers of outbound connections (empty: the system's). */
  dnsServers: readonly string[];
  /** ISSUER_HOST: the host Thales calls on this side. */
  issuerHost: string | undefined;
  /** Every file the profile may have, present or not. */
  files: ProfileFile[];
  /** As `status` reports it. */
  status: ProfileStatus;
}

/** Options of {@link showProfile}. */
export interface ShowProfileOptions {
  /** The time the certificates are judged at. Default now. */
  now?: Date;
  /** Where keys in a token are reached (`--pkcs11-module`, `--pin-file`). Default: the environment and the profile. */
  pkcs11?: Pkcs11Options;
}

/**
 * `mtlskit profile show NAME`: the profile's configuration, the files it has and where, and its
 * status (certificates with days left, problems, what is missing).
 */
export async function showProfile(dir: string, name: string, options: ShowProfileOptions = {}): Promise<ProfileReport> {
  const profile = withTokenAccess(await openProfile(dir, name), options.pkcs11);
  const inToken = tokenKeyUris(profile);
  const p = profile.paths;
  const groups: Record<string, Record<string, string>> = {
    client: p.client,
    pending: { key: p.pending.key, csr: p.pending.csr, cert: p.pending.cert },
    assets: { serverChain: p.assets.serverChain, serverTrust: p.assets.serverTrust, clientCertificate: p.assets.clientCertificate, inboundClientCa: p.assets.inboundClientCa },
    server: { cert: p.server.cert, key: p.server.key, chain: p.server.chain, trustStore: p.server.trustStore },
    oauth: { key: p.oauth.key },
  };
  const files: ProfileFile[] = [];
  for (const [group, entries] of Object.entries(groups)) {
    for (const [role, file] of Object.entries(entries)) {
      const uri = inToken[`${group}.${role}`];
      if (uri !== undefined) {
        files.push(describeTokenKey(profile, `${group}.${role}`, uri));
        continue;
      }
      const exists = await isFile(file);
      const mode = exists && role === "key" ? await fileMode(file) : undefined;
      files.push({ role: `${group}.${role}`, path: file, exists, ...(mode !== undefined ? { mode: mode.toString(8).padStart(4, "0") } : {}) });
    }
  }
  return {
    name,
    config: profile.config,
    folder: p.folder,
    apiHost: profile.apiHost,
    authzUrl: profile.authzUrl,
    dnsServers: profile.dnsServers,
    issuerHost: profile.issuerHost,
    files,
    status: await inspectProfile(profile, options.now),
  };
}

/** The profile's keys held in a token, by the role their file would have. */
function tokenKeyUris(profile: Profile): Record<string, string | undefined> {
  const t = profile.config.pkcs11;
  return { "client.key": t?.clientKey, "pending.key": t?.pendingClientKey, "server.key": t?.serverKey, "oauth.key": t?.oauthKey };
}

/** A key in a token as `profile show` lists it: its URI and where it is, never a file path. */
function describeTokenKey(profile: Profile, role: string, uri: string): ProfileFile {
  try {
    return { role, path: uri, exists: true, keyInToken: readTokenPublicKey(uri, profilePkcs11Options(profile)).info.summary };
  } catch (e) {
    if (!(e instanceof MtlsError)) throw e;
    return { role, path: uri, exists: false, tokenError: { code: e.code, message: e.message } };
  }
}
