/**
 * The workspace as one object: `openWorkspace(dir)` gives a {@link Workspace} (profiles, status),
 * and `workspace.profile(name)` a {@link ProfileHandle} (its credentials, certificates, assets).
 * Each method is the store function of the same command with the folder and the profile name
 * filled in; results and errors are those of that function. This is the workspace of the
 * public API (`src/index.ts`) and of the CLI; the positional functions stay the store's own.
 */
import { addProfile, removeProfile, type AddProfileOptions, type RemoveProfileResult } from "./profiles.js";
import { activateCertificate, installCertificate, type InstallOptions, type InstallResult, type StoreWriteOptions } from "./cert-install.js";
import { createProfileCsr, createProfileSelfSigned, type ProfileCredentialOptions, type ProfileCsrResult, type ProfileSelfSignedOptions, type ProfileSelfSignedResult } from "./profile-credentials.js";
import { importAssets, type ImportAssetsOptions, type ImportAssetsResult } from "./assets-import.js";
import { exportAssets, type ExportAssetsOptions, type ExportAssetsResult } from "./assets-export.js";
import { assetsStatus, type AssetsStatusOptions, type AssetsStatusResult } from "./assets-status.js";
import { setServerCertificate, type SetServerCertificateOptions, type SetServerCertificateResult } from "./server-cert.js";
import { showProfile, type ProfileReport, type ShowProfileOptions } from "./profile-show.js";
import { renewProfile, type RenewOptions, type RenewResult } from "./renew.js";
import { requireWorkspace, workspaceStatus, type WorkspaceStatus, type WorkspaceStatusOptions } from "./status.js";
import { listProfiles, openProfile, type Profile } from "./workspace.js";

/**
 * A workspace folder: `mtlskit.yaml` and one folder per profile. Nothing is read when it is
 * made; each method reads (and writes, under the workspace's lock and as one transaction) when
 * called. A folder that does not exist yet is created by the first {@link Workspace.addProfile}.
 *
 * @example
 * const ws = openWorkspace(".mtlskit");
 * await ws.addProfile("d1-pp", { program: "d1", environment: "preprod", customerId: "123456",
 *   subject: "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments" });
 * const r = await ws.profile("d1-pp").createCsr();
 * r.csrFile; // .../.mtlskit/d1-preprod-123456/client.csr
 * if (!(await ws.status()).ok) process.exitCode = 1;
 */
export interface Workspace {
  /** The folder, as given to {@link openWorkspace}. */
  readonly dir: string;
  /**
   * `mtlskit profile add NAME`: adds a profile to `mtlskit.yaml` (creating the workspace when
   * needed) and creates its folder `<program>-<env>-<id>` (0700). `PROFILE_EXISTS` when the
   * name, or the same program, environment and id, is taken.
   */
  addProfile(name: string, options: AddProfileOptions): Promise<Profile>;
  /**
   * `mtlskit profile remove NAME`: removes the profile from `mtlskit.yaml` and moves its folder
   * (keys included) to `trash/<date>-<name>/` in the workspace; nothing is deleted.
   */
  removeProfile(name: string, options?: StoreWriteOptions): Promise<RemoveProfileResult>;
  /** `mtlskit profile list`: every profile, in the file's order (none when the workspace does not exist yet). */
  listProfiles(): Promise<Profile[]>;
  /**
   * One profile, to act on. Nothing is read here: a name the workspace does not have gives
   * `PROFILE_NOT_FOUND` at the first method called.
   */
  profile(name: string): ProfileHandle;
  /**
   * `mtlskit status`: every profile (or `options.profile`), each certificate with its days left,
   * what is wrong and what is missing; `ok` is false when anything needs attention or the
   * workspace has no profile. `WORKSPACE_NOT_FOUND` or `NOT_A_DIRECTORY` when the folder is
   * not a workspace.
   */
  status(options?: WorkspaceStatusOptions): Promise<WorkspaceStatus>;
  /**
   * Refuses a folder that is not a workspace: `WORKSPACE_NOT_FOUND` when it does not exist or
   * holds no `mtlskit.yaml`, `NOT_A_DIRECTORY` when it is a file. For readers, where an empty
   * answer would be a silent success.
   */
  assertExists(): Promise<void>;
}

/**
 * One profile of a {@link Workspace}: the commands that take `--profile NAME`. Each method reads
 * the profile afresh, so a handle stays valid across changes made by others (another process,
 * the CLI); `PROFILE_NOT_FOUND` when the workspace has no profile of that name.
 *
 * @example
 * const mt = openWorkspace(".mtlskit").profile("mt-sbx");
 * const cert = await mt.createSelfSigned({ cn: "MT-123456-SBX" });
 * cert.sha256Fingerprint; // what Thales endorses
 * await mt.importAssets("./assets-from-thales");
 * (await mt.assetsStatus()).ok;
 */
export interface ProfileHandle {
  /** The workspace folder, as given to {@link openWorkspace}. */
  readonly dir: string;
  /** The profile's name in `mtlskit.yaml`. */
  readonly name: string;
  /** The profile's configuration, policies and file paths, and where Thales is. */
  open(): Promise<Profile>;
  /**
   * `mtlskit profile show NAME`: the configuration, the files the profile has and where (keys in
   * a token by their URI, never key material), and its status.
   */
  show(options?: ShowProfileOptions): Promise<ProfileReport>;
  /**
   * `mtlskit csr create --profile NAME` (D1): a key and a CSR in the profile's folder, with its
   * merchantGatewayId, environment and subject. `WRONG_PROGRAM` for an MT profile.
   */
  createCsr(options?: ProfileCredentialOptions): Promise<ProfileCsrResult>;
  /**
   * `mtlskit cert self-signed --profile NAME` (MT): a key and a self-signed client certificate
   * with the portal's CN. `WRONG_PROGRAM` for a D1 profile.
   */
  createSelfSigned(options?: ProfileSelfSignedOptions): Promise<ProfileSelfSignedResult>;
  /**
   * `mtlskit cert install FILE --profile NAME`: checks the certificate Thales returned against the
   * profile's key, CSR, program and environment, and installs it (the previous one is kept as a
   * dated backup); a certificate for a D1 renewal's key makes the renewal active.
   */
  installCertificate(file: string, options?: InstallOptions): Promise<InstallResult>;
  /** `mtlskit cert activate --profile NAME` (MT): makes the renewed certificate, once Thales endorsed it, the active one. */
  activateCertificate(options?: InstallOptions): Promise<InstallResult>;
  /**
   * `mtlskit renew --profile NAME`: a new key and a CSR (D1) or self-signed certificate (MT) in
   * `pending/`; the current credentials stay active until the new certificate is installed or
   * activated.
   */
  renew(options?: RenewOptions): Promise<RenewResult>;
  /**
   * `mtlskit assets import SOURCE --profile NAME`: a bundle folder from Thales (`manifest.json`)
   * or one PEM file; everything is checked against the profile's program and environment before
   * anything is written.
   */
  importAssets(source: string, options?: ImportAssetsOptions): Promise<ImportAssetsResult>;
  /**
   * `mtlskit assets export --profile NAME --out DIR`: what the customer sends to Thales, as a
   * bundle with a README. Never a private key.
   */
  exportAssets(outDir: string, options?: ExportAssetsOptions): Promise<ExportAssetsResult>;
  /** `mtlskit assets status --profile NAME`: each asset from Thales and for Thales, present, missing or wrong. */
  assetsStatus(options?: AssetsStatusOptions): Promise<AssetsStatusResult>;
  /**
   * `mtlskit server-cert set --profile NAME`: the certificate, key and chain of the endpoint
   * Thales calls, checked against ISSUER_HOST; says whether the chain reaches a Mozilla root.
   */
  setServerCertificate(options: SetServerCertificateOptions): Promise<SetServerCertificateResult>;
}

/**
 * The workspace in `dir` (`./.mtlskit` is the CLI's default), as a {@link Workspace}. Reads
 * nothing: the folder may not exist yet.
 *
 * @example
 * const ws = openWorkspace(".mtlskit");
 * for (const p of await ws.listProfiles()) console.log(p.name, p.paths.folder);
 */
export function openWorkspace(dir: string): Workspace {
  return {
    dir,
    addProfile: (name, options) => addProfile(dir, name, options),
    removeProfile: (name, options) => removeProfile(dir, name, options),
    listProfiles: () => listProfiles(dir),
    profile: (name) => profileHandle(dir, name),
    status: (options) => workspaceStatus(dir, options),
    assertExists: () => requireWorkspace(dir),
  };
}

function profileHandle(dir: string, name: string): ProfileHandle {
  return {
    dir,
    name,
    open: () => openProfile(dir, name),
    show: (options) => showProfile(dir, name, options),
    createCsr: (options) => createProfileCsr(dir, name, options),
    createSelfSigned: (options) => createProfileSelfSigned(dir, name, options),
    installCertificate: (file, options) => installCertificate(dir, name, file, options),
    activateCertificate: (options) => activateCertificate(dir, name, options),
    renew: (options) => renewProfile(dir, name, options),
    importAssets: (source, options) => importAssets(dir, name, source, options),
    exportAssets: (outDir, options) => exportAssets(dir, name, outDir, options),
    assetsStatus: (options) => assetsStatus(dir, name, options),
    setServerCertificate: (options) => setServerCertificate(dir, name, options),
  };
}
