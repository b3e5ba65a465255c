/**
 * mtlskit: mutual TLS with the Thales payment platform (D1 eCom, Merchant Tokenization).
 *
 * The public API of the `mtlskit` entry point: the names a library user needs, chosen one by
 * one (the layers export more, for the CLI and the tests, which import the layer modules and
 * never this file). Nothing here has side effects on import. `etc/mtlskit.api.md` is the
 * report of this surface (`npm run api` writes it; `npm test` fails when it is stale), so a
 * change to it shows in review. The emulator is `mtlskit/emulator`, the test PKI
 * `mtlskit/testing`.
 *
 * @packageDocumentation
 */

// Errors: one class, one table of stable codes.
export { MtlsError, isMtlsError, ERROR_CODES, type MtlsErrorOptions, type ErrorCode, type ErrorCodeInfo } from "./errors/index.js";

// The programs' rules.
export { d1, mt, PROGRAMS, getProgram, type ProgramId, type ProgramPolicy, type EnvironmentPolicy, type KeyType, type HashName } from "./policy/index.js";

// PKI: read, parse, create.
export {
  readPkiObjects,
  decodePkiObjects,
  readCertificates,
  parseCertificate,
  parseCsr,
  isSignedBy,
  generateKey,
  loadPrivateKey,
  createKeyFile,
  createClientCsr,
  createSelfSignedClientCertificate,
  inspectFile,
  type PkiItem,
  type PrivateKeyItem,
  type CertificateInfo,
  type CsrInfo,
  type KeyPair,
  type CreateKeyFileOptions,
  type CreateKeyFileResult,
  type CreateClientCsrOptions,
  type CreateClientCsrResult,
  type CreateSelfSignedOptions,
  type CreateSelfSignedResult,
  type FileInspection,
  type InspectFileOptions,
  type ReadObjectsOptions,
} from "./pki/index.js";

// Lint.
export { lintItems, lintFiles, LINT_RULES, type LintOptions, type LintFilesOptions, type LintResult, type Finding, type LintCode, type Severity } from "./lint/index.js";

// TLS credentials read from files, reloadable.
export { ReloadableCredentials, type CredentialFiles, type CredentialSet, type CredentialRules, type ReloadResult } from "./credentials/index.js";

// The workspace (`mtlskit.yaml` and its profiles): one object, `openWorkspace(dir)`.
export {
  openWorkspace,
  loadConfig,
  type Workspace,
  type ProfileHandle,
  type LoadedConfig,
  type ProfileConfig,
  type Profile,
  type AddProfileOptions,
  type RemoveProfileResult,
  type StoreWriteOptions,
  type ShowProfileOptions,
  type ProfileReport,
  type ProfileFile,
  type ProfileCredentialOptions,
  type ProfileCsrResult,
  type ProfileSelfSignedOptions,
  type ProfileSelfSignedResult,
  type InstallOptions,
  type InstallResult,
  type ImportAssetsOptions,
  type ImportAssetsResult,
  type ExportAssetsOptions,
  type ExportAssetsResult,
  type AssetsStatusOptions,
  type AssetsStatusResult,
  type WorkspaceStatusOptions,
  type WorkspaceStatus,
  type ProfileStatus,
  type StatusRequirement,
  type RenewOptions,
  type RenewResult,
  type SetServerCertificateOptions,
  type SetServerCertificateResult,
} from "./store/index.js";

// Inbound: the endpoint Thales calls.
export { createInboundServer, type InboundServer, type InboundServerOptions, type InboundReloadResult } from "./server/index.js";

// Outbound: the mTLS dispatcher for calls to Thales.
export {
  createThalesDispatcher,
  ThalesDispatcher,
  TtlResolver,
  OAuthClient,
  type ThalesDispatcherOptions,
  type ThalesDispatcherFileOptions,
  type ThalesDispatcherStats,
  type PoolOptions,
  type TimeoutOptions,
  type RetryOptions,
  type RetryInfo,
  type TtlResolverOptions,
  type OAuthClientOptions,
} from "./client/index.js";
