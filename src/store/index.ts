/**
 * The workspace: `mtlskit.yaml` and one folder per profile, with atomic writes, a lock between
 * processes, dated backups and a trash. Everything the profile, cert install, assets,
 * server-cert, status and renew commands do. Callers above the store go through
 * `openWorkspace(dir)` (`workspace-api.ts`); the positional `(dir, name, ...)` functions are
 * the store's own, for the layers that read a profile (client, server) and the store's tests.
 */
export { CONFIG_FILE, CONFIG_VERSION, PROFILE_NAME_PATTERN, loadConfig, parseConfig, validateConfig, type LoadedConfig, type ProfileConfig, type WorkspaceConfig } from "./config.js";
export { withWorkspaceLock, waitForUnlock, lockHolder, LOCK_FILE, DEFAULT_LOCK_WAIT_MS, type LockInfo, type LockOptions } from "./lock.js";
export { profileFolderName, profilePaths, type ProfilePaths } from "./layout.js";
export { onRecovery, recoveriesSoFar, describeRecovery, type Recovery } from "./journal.js";
export { openProfile, listProfiles, resolveProfile, writeWorkspace, TRASH_DIR, type Profile, type WorkspaceTxn } from "./workspace.js";
export { backupName, backupFile, replaceFile, stamp } from "./fs-ops.js";
export { addProfile, removeProfile, assertProfileName, buildProfileConfig, type AddProfileOptions, type RemoveProfileResult } from "./profiles.js";
export { showProfile, type ShowProfileOptions, type ProfileReport, type ProfileFile } from "./profile-show.js";
export { createProfileCsr, createProfileSelfSigned, type ProfileCredentialOptions, type ProfileSelfSignedOptions, type ProfileCsrResult, type ProfileSelfSignedResult } from "./profile-credentials.js";
export { installCertificate, activateCertificate, type InstallOptions, type InstallResult, type StoreWriteOptions } from "./cert-install.js";
export type { CredentialSlot } from "./client-cert.js";
export { importAssets, expectedFromThales, type ImportAssetsOptions, type ImportAssetsResult, type ImportedAsset, type CertificateSummary, type AssetManifest } from "./assets-import.js";
export { exportAssets, type ExportAssetsOptions, type ExportAssetsResult, type ExportedAsset } from "./assets-export.js";
export { assetsStatus, type AssetsStatusOptions, type AssetState, type AssetsStatusResult } from "./assets-status.js";
export { ASSET_NAMES, BUNDLE_FORMAT, MANIFEST_FILE, type AssetNames } from "./asset-names.js";
export { setServerCertificate, hostCovered, type SetServerCertificateOptions, type SetServerCertificateResult } from "./server-cert.js";
export { workspaceStatus, inspectProfile, requireWorkspace, STATUS_RENEWAL_DAYS, type WorkspaceStatusOptions, type StatusRequirement, type WorkspaceStatus, type ProfileStatus, type CertificateStatus, type StatusProblem, type MissingItem, type CertificateRole } from "./status.js";
export { renewProfile, type RenewOptions, type RenewResult } from "./renew.js";
export { hostEnvironment, assertHostName, assertHostEnvironment, assertCertificateEnvironment, nameEnvironment } from "./environment-guard.js";
export { profilePkcs11Options, withTokenAccess, profileClientKeyUri, readTokenPublicKey, renewalLabel } from "./token-keys.js";
export { openWorkspace, type Workspace, type ProfileHandle } from "./workspace-api.js";
