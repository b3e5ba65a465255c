/**
 * What `mtlskit serve --profile NAME` serves: the profile's server certificate, key and chain
 * (`server-cert set`) and the Thales Client CA derived at `assets import` (never the leaf).
 */
import { promises as fs } from "node:fs";
import type { CredentialFiles } from "../credentials/index.js";
import { MtlsError } from "../errors/index.js";
import type { Pkcs11Options } from "../pki/index.js";
import { openProfile, profilePkcs11Options, withTokenAccess, type Profile } from "../store/index.js";

/** The files of a profile's inbound side. */
export interface ProfileInbound {
  readonly profile: Profile;
  readonly files: CredentialFiles;
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

/**
 * The credential files of a profile's endpoint. Throws `PROFILE_NOT_FOUND`, or
 * `INBOUND_NOT_READY` naming what is missing and the command that provides it.
 *
 * @example
 * const { files, profile } = await profileInboundFiles(".mtlskit", "d1-pp");
 * const srv = await createInboundServer({ credentials: files, upstream: "http://127.0.0.1:8080", profile: profile.name, program: profile.program });
 */
export async function profileInboundFiles(dir: string, name: string, pkcs11?: Pkcs11Options): Promise<ProfileInbound> {
  const profile = withTokenAccess(await openProfile(dir, name), pkcs11);
  const p = profile.paths;
  const missing: string[] = [];
  const steps: string[] = [];
  const tokenKey = profile.config.pkcs11?.serverKey;
  if (!(await exists(p.server.cert)) || !(tokenKey || (await exists(p.server.key)))) {
    missing.push(`the server certificate and key (${p.server.cert})`);
    steps.push(`mtlskit server-cert set --profile ${name} --cert FILE --key FILE [--chain FILE] --host NAME`);
  }
  if (!(await exists(p.assets.inboundClientCa))) {
    missing.push(`the Thales Client CA (${p.assets.inboundClientCa})`);
    steps.push(`mtlskit assets import DIR --profile ${name}`);
  }
  if (missing.length > 0) {
    throw new MtlsError("INBOUND_NOT_READY", `profile '${name}' lacks ${missing.join(" and ")}`, { hint: `Run: ${steps.join("; then ")}`, subject: p.folder });
  }
  const files: CredentialFiles = {
    certFile: p.server.cert,
    ...(tokenKey ? { keyFile: tokenKey, pkcs11: profilePkcs11Options(profile) } : { keyFile: p.server.key }),
    ...((await exists(p.server.chain)) ? { chainFile: p.server.chain } : {}),
    caFile: p.assets.inboundClientCa,
  };
  return { profile, files };
}
