import { promises as fs } from "node:fs";
import * as path from "node:path";
import { MtlsError } from "../errors/index.js";
import { dayCount, keysMatch, needsRenewal, readCertificates, readPrivateKeyFile, type CertificateInfo, type Pkcs11Options } from "../pki/index.js";
import { ASSET_NAMES } from "./asset-names.js";
import { isCa } from "./chains.js";
import { fileMode, isFile } from "./fs-ops.js";
import { CONFIG_FILE } from "./config.js";
import { waitForUnlock } from "./lock.js";
import { profileClientKeyUri, profilePkcs11Options, readTokenPublicKey, withTokenAccess } from "./token-keys.js";
import { listProfiles, openProfile, type Profile } from "./workspace.js";

/** Days before expiry from which `status` reports a renewal as due (and exits 1). */
export const STATUS_RENEWAL_DAYS = 30;

/** What a certificate is for, in a profile. */
export type CertificateRole =
  | "client"
  | "client-chain"
  | "pending-client"
  | "thales-server-trust"
  | "inbound-client-ca"
  | "thales-client-certificate"
  | "server"
  | "server-chain";

/** One certificate of a profile, with its days left. */
export interface CertificateStatus {
  role: CertificateRole;
  file: string;
  subject: string;
  issuer: string;
  ca: boolean;
  /** Start of validity, ISO 8601. */
  notBefore: string;
  /** End of validity, ISO 8601. */
  notAfter: string;
  daysLeft: number;
  state: "ok" | "due" | "expired" | "not-yet-valid";
  sha256Fingerprint: string;
}

/** Something `status` found. `error` and `warning` make `status` exit 1; `info` does not. */
export interface StatusProblem {
  /** Stable: `EXPIRED`, `RENEWAL_DUE`, `NOT_YET_VALID`, `KEY_FILE_EXPOSED`, `KEY_MISMATCH`, `CN_MISMATCH`, `FILE_INVALID`. */
  code: string;
  severity: "error" | "warning" | "info";
  message: string;
  hint: string;
  file?: string;
}

/**
 * Something still needed before the profile can go live. A missing item of the outbound side
 * (every profile calls Thales) makes `status` fail; one of the inbound side does once the
 * profile has started it (a server certificate or an ISSUER_HOST is set), or with
 * `require: "all"`.
 */
export interface MissingItem {
  item: string;
  /** For the outbound side (calls to Thales) or the inbound side (Thales calls). */
  side: "outbound" | "inbound";
  hint: string;
}

/** The state of one profile. */
export interface ProfileStatus {
  name: string;
  program: string;
  environment: string;
  customerId: string;
  folder: string;
  certificates: CertificateStatus[];
  problems: StatusProblem[];
  missing: MissingItem[];
  /** The client key when it is in a token and reachable: `key in token T, object O, ECDSA P-256, non-extractable`. */
  keyInToken?: string | undefined;
  /** A renewal waiting to become active. */
  pending: { keyFile: string; csrFile: string | undefined; certificateFile: string | undefined } | undefined;
  ready: { outbound: boolean; inbound: boolean };
  /** The sides this profile must have ready for `ok` (outbound always; inbound once started or when required). */
  required: { outbound: boolean; inbound: boolean };
  /** Why `ok` is false, one line each (empty when ok). */
  reasons: string[];
  /** No error or warning problem, and every required side ready. */
  ok: boolean;
}

/** The state of the workspace. */
export interface WorkspaceStatus {
  workspace: string;
  profiles: ProfileStatus[];
  /** Every profile is ok, and there is at least one. */
  ok: boolean;
  /** Why `ok` is false, each line prefixed with its profile (empty when ok). */
  reasons: string[];
  /** Counts, for monitoring. */
  summary: { profiles: number; errors: number; warnings: number; due: number; expired: number };
}

async function certsOf(file: string, problems: StatusProblem[]): Promise<CertificateInfo[]> {
  if (!(await isFile(file))) return [];
  try {
    return await readCertificates(file);
  } catch (e) {
    problems.push({ code: "FILE_INVALID", severity: "error", message: `${file}: ${e instanceof MtlsError ? e.message : String(e)}`, hint: "Install or import it again.", file });
    return [];
  }
}

const ROLE_LABEL: Record<CertificateRole, string> = {
  client: "client certificate",
  "client-chain": "client certificate's CA",
  "pending-client": "renewal certificate",
  "thales-server-trust": "Thales server CA",
  "inbound-client-ca": "Thales Client CA",
  "thales-client-certificate": "Thales client certificate",
  server: "server certificate",
  "server-chain": "server certificate's CA",
};

function certStatus(c: CertificateInfo, role: CertificateRole, file: string, now: Date): CertificateStatus {
  const s = needsRenewal(c, { days: STATUS_RENEWAL_DAYS }, now);
  return {
    role,
    file,
    subject: c.subjectText,
    issuer: c.issuerText,
    ca: isCa(c),
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    daysLeft: s.daysLeft,
    state: s.expired ? "expired" : s.notYetValid ? "not-yet-valid" : s.due ? "due" : "ok",
    sha256Fingerprint: c.sha256Fingerprint,
  };
}

function renewHint(profile: Profile, role: CertificateRole): string {
  switch (role) {
    case "client":
    case "client-chain":
      return `Renew now: mtlskit renew --profile ${profile.name}`;
    case "server":
    case "server-chain":
      return `Get a new server certificate, set it (mtlskit server-cert set --profile ${profile.name} ...) and hand the chain to Thales.`;
    default:
      return `Ask Thales for the current assets and import them: mtlskit assets import DIR --profile ${profile.name}`;
  }
}

/** Every private key file of a profile, including the backups'. */
async function keyFiles(profile: Profile): Promise<string[]> {
  const p = profile.paths;
  const files = [p.client.key, p.pending.key, p.server.key, p.oauth.key];
  const backups = await fs.readdir(p.backups, { recursive: true }).catch(() => [] as string[]);
  for (const b of backups) if (String(b).endsWith(".key")) files.push(path.join(p.backups, String(b)));
  return files;
}

/**
 * The state of one profile: every certificate with its days left, what is wrong (expired, due
 * within 30 days, key files readable by others, keys not matching), what is still missing
 * before it can go live, and a renewal in progress.
 */
export async function inspectProfile(profile: Profile, now = new Date(), options: { require?: StatusRequirement } = {}): Promise<ProfileStatus> {
  const p = profile.paths;
  const problems: StatusProblem[] = [];
  const certificates: CertificateStatus[] = [];
  const missing: MissingItem[] = [];
  const d1 = profile.program.clientCertificate.issuance === "thales-signed-csr";
  const names = ASSET_NAMES[profile.program.id].fromThales;

  const groups: Array<[CertificateRole, string, boolean]> = [
    ["client", p.client.cert, true],
    ["client-chain", p.client.chain, true],
    ["pending-client", p.pending.cert, false],
    ["thales-server-trust", p.assets.serverTrust, true],
    ["inbound-client-ca", p.assets.inboundClientCa, true],
    ["server", p.server.cert, true],
    ["server-chain", p.server.chain, true],
  ];
  const loaded = new Map<CertificateRole, CertificateInfo[]>();
  for (const [role, file, counts] of groups) {
    const certs = await certsOf(file, problems);
    loaded.set(role, certs);
    for (const c of certs) {
      const st = certStatus(c, role, file, now);
      certificates.push(st);
      if (!counts) continue;
      const what = `${ROLE_LABEL[role]} ${c.commonName ? `CN=${c.commonName}` : c.subjectText}`;
      if (st.state === "expired") problems.push({ code: "EXPIRED", severity: "error", message: `the ${what} expired on ${st.notAfter} (${dayCount(-st.daysLeft)} ago)`, hint: renewHint(profile, role), file });
      else if (st.state === "not-yet-valid") problems.push({ code: "NOT_YET_VALID", severity: "error", message: `the ${what} is not valid before ${c.notBefore.toISOString()}`, hint: "Check this machine's clock.", file });
      else if (st.state === "due") problems.push({ code: "RENEWAL_DUE", severity: "warning", message: `the ${what} expires in ${dayCount(st.daysLeft)} (${st.notAfter})`, hint: renewHint(profile, role), file });
    }
  }

  for (const f of await keyFiles(profile)) {
    const mode = await fileMode(f);
    if (mode !== undefined && (mode & 0o077) !== 0) {
      problems.push({
        code: "KEY_FILE_EXPOSED",
        severity: "error",
        message: `${f}: private key file has mode ${mode.toString(8).padStart(4, "0")}: readable${mode & 0o022 ? " or writable" : ""} by ${mode & 0o070 ? "group" : ""}${mode & 0o070 && mode & 0o007 ? " and " : ""}${mode & 0o007 ? "others" : ""}`,
        hint: `Restrict it to its owner: chmod 600 ${f}`,
        file: f,
      });
    }
  }

  const client = loaded.get("client")?.[0];
  // A key in a token: the token must be reachable and hold the key, and the key match the certificate.
  const tokenUri = profileClientKeyUri(profile);
  let keyInToken: string | undefined;
  if (tokenUri) {
    try {
      const { publicKey, info } = readTokenPublicKey(tokenUri, profilePkcs11Options(profile));
      keyInToken = info.summary;
      if (client && !keysMatch(publicKey, client.publicKey)) {
        problems.push({ code: "KEY_MISMATCH", severity: "error", message: `the key in the token (${tokenUri}) does not match the client certificate ${p.client.cert}`, hint: `Install the certificate made for this key, or start again: mtlskit renew --profile ${profile.name}`, file: p.client.cert });
        keyInToken = undefined;
      }
    } catch (e) {
      if (!(e instanceof MtlsError)) throw e;
      problems.push({ code: e.code, severity: "error", message: `the profile's key in a token (${tokenUri}): ${e.message}`, hint: e.hint ?? "Check the token, the module (--pkcs11-module, MTLSKIT_PKCS11_MODULE or pkcs11.module) and the PIN (--pin-file or MTLSKIT_PKCS11_PIN).", file: tokenUri });
    }
  }
  const hasKey = tokenUri ? keyInToken !== undefined : await isFile(p.client.key);
  let clientUsable = !!client && hasKey;
  if (client && hasKey && !tokenUri) {
    try {
      const key = await readPrivateKeyFile(p.client.key);
      if (!keysMatch(key, client.publicKey)) {
        clientUsable = false;
        problems.push({ code: "KEY_MISMATCH", severity: "error", message: `${p.client.key} does not match the client certificate ${p.client.cert}`, hint: `Install the certificate made for this key, or start again: mtlskit renew --profile ${profile.name}`, file: p.client.key });
      }
    } catch (e) {
      clientUsable = false;
      problems.push({ code: "FILE_INVALID", severity: "error", message: `${p.client.key}: ${e instanceof MtlsError ? e.message : String(e)}`, hint: "Restore the key from backups/ or start again.", file: p.client.key });
    }
  }
  if (client && !d1 && profile.config.cn && client.commonName !== profile.config.cn) {
    problems.push({ code: "CN_MISMATCH", severity: "error", message: `the client certificate's CN '${client.commonName ?? ""}' is not the portal's '${profile.config.cn}'`, hint: `Thales will refuse it: mtlskit cert self-signed --profile ${profile.name} --force`, file: p.client.cert });
  }
  if (client && needsRenewal(client, { days: 0 }, now).expired) clientUsable = false;

  const server = loaded.get("server")?.[0];
  const hasServerKey = profile.config.pkcs11?.serverKey !== undefined || (await isFile(p.server.key));
  if (server && hasServerKey) {
    const key = await readPrivateKeyFile(p.server.key).catch(() => undefined);
    if (key && !keysMatch(key, server.publicKey)) {
      problems.push({ code: "KEY_MISMATCH", severity: "error", message: `${p.server.key} does not match the server certificate ${p.server.cert}`, hint: `Set the pair again: mtlskit server-cert set --profile ${profile.name} --cert FILE --key FILE`, file: p.server.key });
    }
  }
  const pendingUri = profileClientKeyUri(profile, "pending");
  const hasPendingKey = pendingUri !== undefined || (await isFile(p.pending.key));
  const pending = hasPendingKey
    ? { keyFile: pendingUri ?? p.pending.key, csrFile: (await isFile(p.pending.csr)) ? p.pending.csr : undefined, certificateFile: (await isFile(p.pending.cert)) ? p.pending.cert : undefined }
    : undefined;
  if (pending) {
    problems.push({
      code: "RENEWAL_IN_PROGRESS",
      severity: "info",
      message: d1 ? `a renewal is waiting for Thales to sign ${pending.csrFile ?? "its CSR"}; the current certificate stays in use` : `a renewal is waiting for Thales to endorse ${pending.certificateFile ?? "its certificate"}; the current certificate stays in use`,
      hint: d1 ? `Install the new certificate when it comes: mtlskit cert install FILE --profile ${profile.name}` : `Once Thales has it: mtlskit cert activate --profile ${profile.name}`,
    });
  }

  if (!hasKey && !tokenUri) missing.push({ item: "client key", side: "outbound", hint: d1 ? `mtlskit csr create --profile ${profile.name}` : `mtlskit cert self-signed --profile ${profile.name}` });
  if (!client) {
    missing.push({
      item: "client certificate",
      side: "outbound",
      hint: d1 ? `Send ${p.client.csr} to Thales, then: mtlskit cert install FILE --profile ${profile.name}` : `mtlskit cert self-signed --profile ${profile.name}, then have Thales endorse it`,
    });
  }
  const serverTrust = loaded.get("thales-server-trust") ?? [];
  if (serverTrust.length === 0) missing.push({ item: `Thales server trust (${names.serverChain})`, side: "outbound", hint: `mtlskit assets import DIR --profile ${profile.name}` });
  if (!profile.config.thales?.apiHost) missing.push({ item: `Thales host (${names.apiHost})`, side: "outbound", hint: `mtlskit assets import DIR --profile ${profile.name} (until then: ${profile.environment.apiHost})` });
  if (!d1 && !profile.config.cn) missing.push({ item: `portal Common Name (${names.clientCn ?? "CN"})`, side: "outbound", hint: `mtlskit assets import DIR --profile ${profile.name}` });
  const inboundCa = loaded.get("inbound-client-ca") ?? [];
  if (inboundCa.length === 0) missing.push({ item: `Thales Client CA (${names.clientCertificate})`, side: "inbound", hint: `mtlskit assets import DIR --profile ${profile.name}` });
  if (!server || !hasServerKey) missing.push({ item: "server certificate and key", side: "inbound", hint: `mtlskit server-cert set --profile ${profile.name} --cert FILE --key FILE --chain FILE --host NAME` });
  if (!profile.issuerHost) missing.push({ item: "ISSUER_HOST", side: "inbound", hint: `mtlskit server-cert set --profile ${profile.name} ... --host NAME` });
  if (profile.program.auth.kind === "oauth2-jwt-bearer" && (!profile.oauthKid || !(profile.config.pkcs11?.oauthKey || (await isFile(p.oauth.key))))) {
    missing.push({ item: "OAuth 2.0 signing key and kid (D1_OAUTH_PUBLIC_KEY, D1_OAUTH_KID)", side: "outbound", hint: `Put the ES256 key in ${p.oauth.key} and its kid in mtlskit.yaml (profiles.${profile.name}.oauth.kid), then register the public key with Thales` });
  }

  const ready = {
    outbound: clientUsable && serverTrust.length > 0,
    inbound: !!server && hasServerKey && inboundCa.length > 0,
  };
  const require = options.require ?? "started";
  const inboundStarted = !!server || hasServerKey || !!profile.issuerHost;
  const required = {
    outbound: require !== "none",
    inbound: require === "all" || (require === "started" && inboundStarted),
  };
  const reasons: string[] = problems.filter((x) => x.severity !== "info").map((x) => `[${x.code}] ${x.message}`);
  for (const side of ["outbound", "inbound"] as const) {
    if (!required[side] || ready[side]) continue;
    const what = missing.filter((m) => m.side === side).map((m) => m.item);
    reasons.push(`[NOT_READY] the ${side} side is not ready${what.length ? `: missing ${what.join(", ")}` : " (see the problems above)"}`);
  }
  return {
    name: profile.name,
    program: profile.program.id,
    environment: profile.environment.id,
    customerId: profile.customerId,
    folder: p.folder,
    certificates,
    problems,
    missing,
    pending,
    ...(keyInToken ? { keyInToken } : {}),
    ready,
    required,
    reasons,
    ok: reasons.length === 0,
  };
}

/**
 * What `status` requires of each profile: `started` (default) the outbound side, and the
 * inbound side once a server certificate or ISSUER_HOST is set; `outbound` only the outbound
 * side; `all` both sides; `none` nothing beyond the absence of problems.
 */
export type StatusRequirement = "started" | "outbound" | "all" | "none";

/** Options of {@link workspaceStatus}. */
export interface WorkspaceStatusOptions {
  /** The time the certificates are judged at. Default now. */
  now?: Date;
  /** Only this profile (`PROFILE_NOT_FOUND` when the workspace has no such profile). Default every profile. */
  profile?: string;
  /** What each profile must have ready. Default `started`. */
  require?: StatusRequirement;
  /** Where keys in a token are reached (`--pkcs11-module`, `--pin-file`). Default: the environment and the profile. */
  pkcs11?: Pkcs11Options;
}

/**
 * `mtlskit status`: every profile of the workspace, each certificate with its days left, what
 * is wrong and what is missing. `ok` is false (the CLI exits 1) when anything is expired, due
 * within 30 days, not yet valid, mismatched, a key file is readable by group or others, a side
 * the profile needs is not ready (no key, no certificate, no Thales trust...), or the workspace
 * has no profile. `reasons` says why, one line each.
 *
 * Throws `WORKSPACE_NOT_FOUND` when `dir` does not exist or holds no `mtlskit.yaml`, and
 * `NOT_A_DIRECTORY` when it is a file: a monitor started from the wrong folder must not stay green.
 *
 * @example
 * const s = await workspaceStatus(".mtlskit");
 * if (!s.ok) process.exitCode = 1;
 */
export async function workspaceStatus(dir: string, options: WorkspaceStatusOptions = {}): Promise<WorkspaceStatus> {
  const now = options.now ?? new Date();
  await requireWorkspace(dir);
  await waitForUnlock(dir);
  const profiles = (options.profile ? [await openProfile(dir, options.profile)] : await listProfiles(dir)).map((p) => withTokenAccess(p, options.pkcs11));
  const statuses: ProfileStatus[] = [];
  for (const p of profiles) statuses.push(await inspectProfile(p, now, options.require ? { require: options.require } : {}));
  const all = statuses.flatMap((s) => s.problems);
  const reasons = statuses.flatMap((s) => s.reasons.map((r) => `${s.name}: ${r}`));
  if (statuses.length === 0) reasons.push(`[NO_PROFILES] the workspace ${path.resolve(dir)} has no profile`);
  return {
    workspace: path.resolve(dir),
    profiles: statuses,
    ok: reasons.length === 0,
    reasons,
    summary: {
      profiles: statuses.length,
      errors: all.filter((x) => x.severity === "error").length,
      warnings: all.filter((x) => x.severity === "warning").length,
      due: all.filter((x) => x.code === "RENEWAL_DUE").length,
      expired: all.filter((x) => x.code === "EXPIRED").length,
    },
  };
}

/**
 * Refuses a workspace folder that is not there (`WORKSPACE_NOT_FOUND`), is a file
 * (`NOT_A_DIRECTORY`) or holds no `mtlskit.yaml` (`WORKSPACE_NOT_FOUND`): for the commands
 * that only read a workspace, where an empty answer would be a silent success.
 */
export async function requireWorkspace(dir: string): Promise<void> {
  const where = path.resolve(dir);
  let st: import("node:fs").Stats;
  try {
    st = await fs.stat(where);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") throw new MtlsError("NOT_A_DIRECTORY", `workspace ${where}: a parent of this path is a file, not a folder`, { subject: where, cause: e });
    throw new MtlsError("WORKSPACE_NOT_FOUND", `workspace ${where}: no such folder`, { subject: where, cause: e });
  }
  if (!st.isDirectory()) throw new MtlsError("NOT_A_DIRECTORY", `workspace ${where}: is a file, not a folder`, { subject: where });
  if (!(await isFile(path.join(where, CONFIG_FILE)))) {
    throw new MtlsError("WORKSPACE_NOT_FOUND", `workspace ${where}: the folder holds no mtlskit.yaml (not a workspace)`, {
      subject: where,
      hint: "Run the command from the right folder, give the workspace (--dir DIR or MTLSKIT_HOME=DIR), or create one: mtlskit profile add NAME ...",
    });
  }
}
