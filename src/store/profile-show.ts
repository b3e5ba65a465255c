import { fileMode, isFile } from "./fs-ops.js";
import type { ProfileConfig } from "./config.js";
import { inspectProfile, type ProfileStatus } from "./status.js";
import { openProfile } from "./workspace.js";

/** One file of a profile, as `profile show` lists it. */
export interface ProfileFile {
  /** What it is: `client.key`, `assets.inboundClientCa`... (its path in `ProfilePaths`). */
  role: string;
  path: string;
  exists: boolean;
  /** Permission bits, for the private keys. */
  mode?: string;
}

/** What {@link showProfile} returns. Never any key material: paths and states only. */
export interface ProfileReport {
  name: string;
  config: ProfileConfig;
  folder: string;
  apiHost: string;
  authzUrl: string | undefined;
  dnsServers: readonly string[];
  issuerHost: string | undefined;
  files: ProfileFile[];
  status: ProfileStatus;
}

/**
 * `mtlskit profile show NAME`: the profile's configuration, the files it has and where, and its
 * status (certificates with days left, problems, what is missing).
 */
export async function showProfile(dir: string, name: string, options: { now?: Date } = {}): Promise<ProfileReport> {
  const profile = await openProfile(dir, name);
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
