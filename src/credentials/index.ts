export { ReloadableCredentials, loadCredentialSet, type CredentialFiles, type CredentialSet, type CredentialRules, type ReloadResult } from "./reloadable-credentials.js";
