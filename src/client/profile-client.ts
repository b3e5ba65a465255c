import { promises as fs } from "node:fs";
import type { KeyObject } from "node:crypto";
import { ReloadableCredentials, type CredentialFiles, type CredentialRules } from "../credentials/index.js";
import { MtlsError } from "../errors/index.js";
import { openTokenKey, readPrivateKeyFile, type Pkcs11Options, type Signer } from "../pki/index.js";
import { openProfile, profileClientKeyUri, profilePkcs11Options, type Profile } from "../store/index.js";
import { createThalesDispatcher, type ThalesDispatcher, type ThalesDispatcherOptions } from "./thales-dispatcher.js";

/** Where a profile's Thales endpoint is. */
export interface ProfileEndpoints {
  /** `https://host[:port]` of the API (the profile's TSH_INBOUND_HOST / D1_API_HOST). */
  readonly origin: string;
  /** Host name (what DNS resolves, SNI, and the certificate check). */
  readonly hostname: string;
  readonly port: number;
  /** The program's base path: MT `/1/sandbox-v2/` or `/1/mg/`; D1 `/` (resource paths are configurable). */
  readonly basePath: string;
  /** D1: `{authzUrl}/oauth2/token`. */
  readonly tokenUrl: string | undefined;
}

/** The endpoints of a profile, from its host (assets) and its program's environment. */
export function profileEndpoints(profile: Profile): ProfileEndpoints {
  const url = new URL(`https://${profile.apiHost}`);
  const base = profile.environment.baseUrl ? new URL(profile.environment.baseUrl).pathname : "/";
  const tokenUrl = profile.program.auth.kind === "oauth2-jwt-bearer" && profile.authzUrl ? `${profile.authzUrl.replace(/\/+$/, "")}/oauth2/token` : undefined;
  return { origin: url.origin, hostname: url.hostname, port: url.port ? Number(url.port) : 443, basePath: base.endsWith("/") ? base : `${base}/`, tokenUrl };
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

/** The credential files of a profile (client key, certificate and chain; Thales server trust). */
export async function profileCredentialFiles(profile: Profile, pkcs11: Pkcs11Options = {}): Promise<CredentialFiles> {
  const p = profile.paths;
  const missing: string[] = [];
  const keyUri = profileClientKeyUri(profile);
  if (!keyUri && !(await exists(p.client.key))) missing.push(`the client key (${p.client.key})`);
  if (!(await exists(p.client.cert))) missing.push(`the client certificate (${p.client.cert})`);
  if (missing.length > 0) {
    const how = profile.program.clientCertificate.issuance === "thales-signed-csr" ? `mtlskit csr create --profile ${profile.name}, then mtlskit cert install` : `mtlskit cert self-signed --profile ${profile.name}, and have Thales endorse it`;
    throw new MtlsError("PROFILE_INCOMPLETE", `profile '${profile.name}' has no ${missing.join(" and no ")}`, { hint: `Create it: ${how}.` });
  }
  return {
    certFile: p.client.cert,
    ...(keyUri ? { keyFile: keyUri, pkcs11: profilePkcs11Options(profile, pkcs11) } : { keyFile: p.client.key }),
    ...((await exists(p.client.chain)) ? { chainFile: p.client.chain } : {}),
    ...((await exists(p.assets.serverTrust)) ? { caFile: p.assets.serverTrust } : {}),
  };
}

/** The profile's client credentials, reloadable (a renewal installed later is swapped in by `reload()`). */
export async function loadProfileCredentials(profile: Profile, rules: CredentialRules = {}): Promise<ReloadableCredentials> {
  return ReloadableCredentials.load(await profileCredentialFiles(profile), rules);
}

/** D1: the profile's OAuth signing key and kid; `OAUTH_NOT_USED`, `OAUTH_KEY_MISSING` otherwise. */
export async function loadOAuthKey(profile: Profile, pkcs11: Pkcs11Options = {}): Promise<{ kid: string; privateKey: KeyObject | Signer; file: string }> {
  if (profile.program.auth.kind !== "oauth2-jwt-bearer") {
    throw new MtlsError("OAUTH_NOT_USED", `profile '${profile.name}' is ${profile.program.name}, which does not use OAuth 2.0`);
  }
  const uri = profile.config.pkcs11?.oauthKey;
  // A key in a token: a Signer; the assertion is signed inside the token.
  if (uri && profile.oauthKid) return { kid: profile.oauthKid, privateKey: openTokenKey(uri, profilePkcs11Options(profile, pkcs11)), file: uri };
  const file = uri ?? profile.paths.oauth.key;
  const hasKey = uri !== undefined || (await exists(file));
  if (!hasKey || !profile.oauthKid) {
    const what = [!hasKey ? `no signing key (${file})` : "", !profile.oauthKid ? `no kid (profiles.${profile.name}.oauth.kid)` : ""].filter(Boolean).join(" and ");
    throw new MtlsError("OAUTH_KEY_MISSING", `profile '${profile.name}' has ${what}`, {
      hint: `Create them: mtlskit oauth key create --profile ${profile.name}; then register the public key and kid with Thales (mtlskit assets export).`,
    });
  }
  return { kid: profile.oauthKid, privateKey: await readPrivateKeyFile(file), file };
}

/** Options of {@link createProfileDispatcher}: the dispatcher's, minus what the profile gives. */
export type ProfileDispatcherOptions = Partial<Omit<ThalesDispatcherOptions, "program" | "credentials" | "oauth">> & {
  /** D1: set up the OAuth client (default true when the profile has a key and kid; `false` for none). */
  oauth?: boolean | Partial<Omit<NonNullable<ThalesDispatcherOptions["oauth"]>, "apiOrigin" | "privateKey" | "kid" | "issuer" | "tokenUrl">>;
  /** Rules of the credentials (the doctor loads an expired certificate to hear the server on it). */
  credentialRules?: CredentialRules;
  /** Credentials already loaded (default: from the profile's files). */
  credentials?: ReloadableCredentials;
};

/**
 * The Thales dispatcher of a profile: its client certificate and key, its Thales server trust
 * (`assets/thales-server-trust.pem`; for an emulator profile, the emulator's CAs), its
 * resolvers (`dns.servers`), and for D1 the OAuth client with its key and kid.
 *
 * @example
 * const profile = await openProfile(".mtlskit", "d1-pp");
 * const dispatcher = await createProfileDispatcher(profile);
 * const res = await request(`${profileEndpoints(profile).origin}/d1/v1/echo`, { dispatcher });
 */
export async function createProfileDispatcher(profile: Profile, options: ProfileDispatcherOptions = {}): Promise<ThalesDispatcher> {
  const { oauth: oauthOption, credentialRules, credentials: given, ...rest } = options;
  const credentials = given ?? (await loadProfileCredentials(profile, credentialRules));
  const endpoints = profileEndpoints(profile);
  let oauth: ThalesDispatcherOptions["oauth"];
  const isD1 = profile.program.auth.kind === "oauth2-jwt-bearer";
  if (isD1 && oauthOption !== false && endpoints.tokenUrl) {
    const wanted = oauthOption !== undefined;
    try {
      const key = await loadOAuthKey(profile);
      oauth = { ...(typeof oauthOption === "object" ? oauthOption : {}), apiOrigin: endpoints.origin, tokenUrl: endpoints.tokenUrl, issuer: profile.customerId, kid: key.kid, privateKey: key.privateKey };
    } catch (e) {
      if (wanted || !(e instanceof MtlsError && e.code === "OAUTH_KEY_MISSING")) throw e;
    }
  }
  return createThalesDispatcher({
    ...rest,
    program: profile.program,
    credentials,
    dns: rest.dns ?? { servers: profile.dnsServers },
    ...(oauth ? { oauth } : {}),
  });
}

/** {@link createProfileDispatcher} for the profile `name` of the workspace `dir`. */
export async function openThalesDispatcher(dir: string, name: string, options: ProfileDispatcherOptions = {}): Promise<{ profile: Profile; endpoints: ProfileEndpoints; dispatcher: ThalesDispatcher }> {
  const profile = await openProfile(dir, name);
  const dispatcher = await createProfileDispatcher(profile, options);
  return { profile, endpoints: profileEndpoints(profile), dispatcher };
}
