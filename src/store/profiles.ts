import { promises as fs } from "node:fs";
import * as path from "node:path";
import { MtlsError } from "../errors/index.js";
import { getAttribute, parseSubject } from "../pki/index.js";
import { assertCustomerId, assertKeyAccepted, deriveCommonName, getEnvironment, getProgram, parseKeyType } from "../policy/index.js";
import type { StoreWriteOptions } from "./cert-install.js";
import { PROFILE_NAME_PATTERN, type ProfileConfig } from "./config.js";
import { assertHostName } from "./environment-guard.js";
import { ensureDir, moveToTrash } from "./fs-ops.js";
import { profileFolderName } from "./layout.js";
import { resolveProfile, TRASH_DIR, writeWorkspace, type Profile } from "./workspace.js";

/** Options of {@link addProfile}. */
export interface AddProfileOptions extends StoreWriteOptions {
  /** `d1` or `mt`. */
  program: string;
  /** One of the program's environments. */
  environment: string;
  /** merchantGatewayId (D1) or customer identifier (MT). */
  customerId: string;
  /** Subject without CN, openssl -subj syntax (D1: C, ST, L, O, OU; the CN is derived). */
  subject?: string;
  /** Key type of new client keys (checked against the program). */
  keyType?: string;
  /** MT: the exact Common Name of the Thales portal for this environment. */
  cn?: string;
  /** ISSUER_HOST: the host name Thales calls on this side. */
  issuerHost?: string;
}

/** Checks a profile name: `PROFILE_NAME_INVALID` otherwise. */
export function assertProfileName(name: string): void {
  if (!PROFILE_NAME_PATTERN.test(name)) {
    throw new MtlsError("PROFILE_NAME_INVALID", `'${name}' is not a valid profile name`, {
      hint: "Use up to 64 letters, digits, '.', '_' and '-', starting with a letter or digit, e.g. d1-preprod.",
    });
  }
}

/** Checks the values of a new profile against the program's rules and returns its entry. */
export function buildProfileConfig(options: AddProfileOptions): ProfileConfig {
  const program = getProgram(options.program);
  const environment = getEnvironment(program, options.environment);
  assertCustomerId(program, options.customerId);
  let keyType: KeyTypeName | undefined;
  if (options.keyType !== undefined) {
    keyType = parseKeyType(options.keyType);
    assertKeyAccepted(program, keyType);
  }
  let subject = options.subject?.trim() || undefined;
  if (subject) {
    const rdns = parseSubject(subject);
    const cns = getAttribute(rdns, "CN");
    if (cns.length > 0 && program.clientCertificate.commonName.kind === "template") {
      const derived = deriveCommonName(program, { environment, customerId: options.customerId, keyType: keyType ?? program.clientCertificate.defaultKeyType });
      if (cns.length > 1 || cns[0] !== derived) {
        throw new MtlsError("CN_MISMATCH", `the subject's CN '${cns.join("', '")}' differs from the Common Name ${program.name} requires: '${derived}'`, {
          hint: "Leave the CN out of --subject: mtlskit derives it from the key type, the id and the environment.",
        });
      }
    }
    const missing = program.clientCertificate.requiredSubjectAttributes.filter((a) => getAttribute(rdns, a).length === 0);
    if (missing.length) {
      throw new MtlsError("SUBJECT_INCOMPLETE", `the subject lacks ${missing.join(", ")}: ${program.name}'s DN policy requires ${program.clientCertificate.requiredSubjectAttributes.join(", ")} besides the CN`);
    }
    subject = subject.startsWith("/") ? subject : `/${subject}`;
  }
  let cn: string | undefined;
  if (options.cn !== undefined) {
    if (program.clientCertificate.commonName.kind === "template") {
      const derived = deriveCommonName(program, { environment, customerId: options.customerId, keyType: keyType ?? program.clientCertificate.defaultKeyType });
      if (options.cn !== derived) {
        throw new MtlsError("CN_MISMATCH", `--cn '${options.cn}' differs from the Common Name ${program.name} requires: '${derived}'`, { hint: "Leave --cn out: D1 Common Names are derived." });
      }
    } else {
      cn = deriveCommonName(program, { environment, keyType: keyType ?? program.clientCertificate.defaultKeyType, portalValue: options.cn });
    }
  }
  const issuerHost = options.issuerHost ? assertHostName(options.issuerHost, "ISSUER_HOST") : undefined;
  return {
    program: program.id,
    environment: environment.id,
    customerId: options.customerId,
    ...(subject ? { subject } : {}),
    ...(keyType ? { keyType } : {}),
    ...(cn ? { cn } : {}),
    ...(issuerHost ? { inbound: { issuerHost } } : {}),
  };
}

type KeyTypeName = ReturnType<typeof parseKeyType>;

/**
 * `mtlskit profile add NAME --program P --env E --id ID`: adds a profile to `mtlskit.yaml`
 * (creating the workspace when needed) and creates its folder `<program>-<env>-<id>` (0700).
 *
 * @example
 * await addProfile(".mtlskit", "d1-pp", { program: "d1", environment: "preprod", customerId: "123456",
 *   subject: "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments" });
 */
export async function addProfile(dir: string, name: string, options: AddProfileOptions): Promise<Profile> {
  assertProfileName(name);
  const entry = buildProfileConfig(options);
  return writeWorkspace(
    dir,
    async (txn) => {
      const profiles = txn.loaded.config.profiles;
      if (Object.hasOwn(profiles, name)) {
        throw new MtlsError("PROFILE_EXISTS", `profile '${name}' exists already (${profileFolderName(profiles[name]!)})`, {
          hint: `Choose another name, or look at it: mtlskit profile show ${name}`,
        });
      }
      const folder = profileFolderName(entry);
      const twin = Object.entries(profiles).find(([, p]) => profileFolderName(p) === folder);
      if (twin) {
        throw new MtlsError("PROFILE_EXISTS", `profile '${twin[0]}' is already the ${folder} connection (same program, environment and id)`, {
          hint: `Use --profile ${twin[0]}, or remove it first: mtlskit profile remove ${twin[0]}`,
        });
      }
      if (!txn.loaded.exists) txn.set(["version"], 1);
      txn.set(["profiles", name], entry);
      const profile = resolveProfile(dir, name, entry);
      await ensureDir(profile.paths.folder);
      return profile;
    },
    { ...options, command: "profile add" },
  );
}

/** What {@link removeProfile} did. */
export interface RemoveProfileResult {
  profile: string;
  /** Where the profile's folder went (`<workspace>/trash/<date>-<name>`), undefined when it had none. */
  trashedTo: string | undefined;
}

/**
 * `mtlskit profile remove NAME`: removes the profile from `mtlskit.yaml` and moves its folder
 * (keys included) to `trash/<date>-<name>/` in the workspace; nothing is deleted.
 */
export async function removeProfile(dir: string, name: string, options: StoreWriteOptions = {}): Promise<RemoveProfileResult> {
  return writeWorkspace(
    dir,
    async (txn) => {
      const profile = txn.profile(name);
      let trashedTo: string | undefined;
      const hasFolder = await fs.stat(profile.paths.folder).then((s) => s.isDirectory(), () => false);
      if (hasFolder) trashedTo = await moveToTrash(profile.paths.folder, path.join(dir, TRASH_DIR), name, options.now);
      txn.set(["profiles", name], undefined);
      // Saved at the end by writeWorkspace; a failed save puts the folder back (one transaction).
      return { profile: name, trashedTo };
    },
    { ...options, command: "profile remove" },
  );
}
