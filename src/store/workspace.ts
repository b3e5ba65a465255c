import * as path from "node:path";
import { MtlsError } from "../errors/index.js";
import { getEnvironment, getProgram, type EnvironmentPolicy, type ProgramPolicy } from "../policy/index.js";
import { loadConfig, saveConfig, setIn, type LoadedConfig, type ProfileConfig } from "./config.js";
import { ensureDir } from "./fs-ops.js";
import { hasJournal, inTransaction, runTransaction } from "./journal.js";
import { withWorkspaceLock, type LockOptions } from "./lock.js";
import { profileFolderName, profilePaths, type ProfilePaths } from "./layout.js";
import type { Pkcs11Options } from "../pki/index.js";

/** Folder of removed profiles inside the workspace. */
export const TRASH_DIR = "trash";

/**
 * A profile with everything the other parts need to find: its program and environment
 * policies, the paths of its files, and where Thales is.
 */
export interface Profile {
  readonly name: string;
  readonly config: ProfileConfig;
  readonly program: ProgramPolicy;
  readonly environment: EnvironmentPolicy;
  readonly customerId: string;
  /** Workspace folder (absolute). */
  readonly workspace: string;
  /** Folder name relative to the workspace: `<program>-<env>-<id>`. */
  readonly folderName: string;
  readonly paths: ProfilePaths;
  /** TSH_INBOUND_HOST / D1_API_HOST from the assets, else the program's host for the environment. */
  readonly apiHost: string;
  /** D1: D1_AUTHZ_URL from the assets, else the program's. */
  readonly authzUrl: string | undefined;
  /** Resolvers for outbound connections (empty: the system's). */
  readonly dnsServers: readonly string[];
  /** ISSUER_HOST: the host Thales calls. */
  readonly issuerHost: string | undefined;
  /** D1 OAuth key id, when registered. */
  readonly oauthKid: string | undefined;
  /**
   * How this run reaches the profile's keys in a token (`--pkcs11-module`, `--pin-file`), set by
   * `withTokenAccess`; never saved. Read by `profilePkcs11Options` before the environment.
   */
  readonly tokenAccess?: Pkcs11Options;
}

/** Builds the resolved view of a profile entry. */
export function resolveProfile(dir: string, name: string, config: ProfileConfig): Profile {
  const program = getProgram(config.program);
  const environment = getEnvironment(program, config.environment);
  return {
    name,
    config,
    program,
    environment,
    customerId: config.customerId,
    workspace: path.resolve(dir),
    folderName: profileFolderName(config),
    paths: profilePaths(dir, config),
    apiHost: config.thales?.apiHost ?? environment.apiHost,
    authzUrl: config.thales?.authzUrl ?? environment.authzUrl,
    dnsServers: config.dns?.servers ?? [],
    issuerHost: config.inbound?.issuerHost,
    oauthKid: config.oauth?.kid,
  };
}

function notFound(dir: string, name: string, names: string[]): MtlsError {
  return new MtlsError("PROFILE_NOT_FOUND", `no profile '${name}' in ${path.join(dir, "mtlskit.yaml")}`, {
    hint: names.length ? `Profiles here: ${names.join(", ")}. Or create it: mtlskit profile add ${name} --program ... --env ... --id ...` : `Create it first: mtlskit profile add ${name} --program d1 --env preprod --id <merchantGatewayId>`,
  });
}

/**
 * Loads one profile of the workspace: its configuration, policies and paths.
 *
 * @example
 * const p = await openProfile(".mtlskit", "d1-pp");
 * p.paths.client.key; // .../.mtlskit/d1-preprod-123456/client.key
 */
export async function openProfile(dir: string, name: string): Promise<Profile> {
  await recoverWorkspace(dir);
  const loaded = await loadConfig(dir);
  // Own entries only: `constructor` or `toString` is a name, not a profile.
  const config = Object.hasOwn(loaded.config.profiles, name) ? loaded.config.profiles[name] : undefined;
  if (!config) throw notFound(dir, name, Object.keys(loaded.config.profiles));
  return resolveProfile(dir, name, config);
}

/** Every profile of the workspace, in the file's order. */
export async function listProfiles(dir: string): Promise<Profile[]> {
  await recoverWorkspace(dir);
  const loaded = await loadConfig(dir);
  return Object.entries(loaded.config.profiles).map(([name, config]) => resolveProfile(dir, name, config));
}

/**
 * For readers (status, serve, check...): when a command was killed in the middle of a change,
 * takes the lock for a moment so that its journal is undone before anything is read. A lock
 * held by a live writer is waited for as usual; still held at the end, the reader goes on.
 */
export async function recoverWorkspace(dir: string): Promise<void> {
  if (inTransaction(dir) || !(await hasJournal(dir))) return;
  await withWorkspaceLock(dir, async () => undefined, { command: "recovery" }).catch((e: unknown) => {
    if (!(e instanceof MtlsError && e.code === "WORKSPACE_LOCKED")) throw e;
  });
}

/** What a write gets: the configuration to change (saved afterwards when `changed`), under the lock. */
export interface WorkspaceTxn {
  readonly dir: string;
  readonly loaded: LoadedConfig;
  /** Marks the configuration for saving at the end. */
  markChanged(): void;
  /** The profile of that name, as read under the lock (before this write's changes). */
  profile(name: string): Profile;
  /** Sets (or with `undefined` deletes) a value of the configuration and marks it for saving. */
  set(keys: readonly string[], value: unknown): void;
}

/**
 * Runs a write on the workspace: creates the folder if needed, takes the lock, re-reads
 * `mtlskit.yaml`, runs `work`, and saves the configuration if `work` changed it. The whole is
 * one transaction (`journal.ts`): if `work` throws or the process dies, every file it changed
 * through the store is put back as it was.
 */
export async function writeWorkspace<T>(dir: string, work: (txn: WorkspaceTxn) => Promise<T>, options: LockOptions = {}): Promise<T> {
  await ensureDir(dir);
  return withWorkspaceLock(
    dir,
    async () => {
      const loaded = await loadConfig(dir);
      let changed = false;
      const txn: WorkspaceTxn = {
        dir,
        loaded,
        markChanged: () => {
          changed = true;
        },
        set: (keys, value) => {
          setIn(loaded, keys, value);
          changed = true;
        },
        profile: (name) => {
          const config = Object.hasOwn(loaded.config.profiles, name) ? loaded.config.profiles[name] : undefined;
          if (!config) throw notFound(dir, name, Object.keys(loaded.config.profiles));
          return resolveProfile(dir, name, config);
        },
      };
      return runTransaction(
        dir,
        async () => {
          const result = await work(txn);
          if (changed) await saveConfig(loaded);
          return result;
        },
        options.command !== undefined ? { command: options.command } : {},
      );
    },
    options,
  );
}
