// The inbound side: the endpoint Thales calls (`mtlskit serve`). `export *` for the same
// reason as src/pki/index.ts: commands that do not serve never load this code.
export * from "./inbound-server.js";
export * from "./options.js";
export * from "./profile.js";
export * from "./tls-options.js";
export * from "./handshake-errors.js";
export * from "./identity.js";
export * from "./logger.js";
export * from "./metrics.js";
export * from "./admin.js";
export type { UpstreamFailureStatus, UpstreamFailure } from "./forward.js";
export type { ReloadTrigger } from "./reloader.js";
// What the inbound server's options name; the same declarations as src/credentials'.
export type { CredentialFiles, CredentialSet } from "../credentials/index.js";
export { ReloadableCredentials } from "../credentials/index.js";
