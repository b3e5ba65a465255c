/**
 * The outbound side (customer -> Thales): the mTLS undici dispatcher, DNS with TTLs,
 * retries, correlation ids, coded errors, the D1 OAuth 2.0 client, and the connectivity doctor.
 */
export { createThalesDispatcher, ThalesDispatcher, type ThalesDispatcherOptions, type ThalesDispatcherFileOptions, type ThalesDispatcherStats, type PoolOptions, type TimeoutOptions } from "./thales-dispatcher.js";
export { thalesTlsOptions, DEFAULT_CIPHERS, type ThalesTlsOptionsInput } from "./tls-options.js";
export { checkTrustRule, chainFromPeer, describeTrustRule, serverIdentityChecker, type ChainLink, type TrustVerdict } from "./server-trust.js";
export { TtlResolver, type ResolvedAddress, type TtlResolverOptions } from "./dns-resolver.js";
export { retryInterceptor, parseRetryAfter, IDEMPOTENT_METHODS, RETRYABLE_STATUSES, RETRYABLE_ERROR_CODES, type RetryOptions, type RetryInfo } from "./retry.js";
export { correlationIdInterceptor, correlationIdPattern, newCorrelationId, assertCorrelationId, CORRELATION_ID_HEADER } from "./correlation-id.js";
export { toMtlsError, receivedAlert, clientCertRefusal, watchHandshakeStage, type ErrorContext, type TlsFailureStage } from "./client-errors.js";
export { OAuthClient, AccessToken, oauthInterceptor, JWT_BEARER_GRANT, DEFAULT_ASSERTION_LIFETIME_SECONDS, DEFAULT_REFRESH_BEFORE_SECONDS, type OAuthClientOptions, type OAuthInterceptorOptions } from "./oauth-client.js";
export { createProfileDispatcher, openThalesDispatcher, profileEndpoints, profileCredentialFiles, loadProfileCredentials, loadOAuthKey, type ProfileEndpoints, type ProfileDispatcherOptions } from "./profile-client.js";
export { createOAuthKey, type CreateOAuthKeyOptions, type CreateOAuthKeyResult } from "./oauth-key.js";
export { runDoctor, checkProfile, diagnose, doctorSteps, DIAGNOSIS_NAMES, type Diagnosis, type DoctorStep, type DoctorStepEvent, type DoctorStepId, type DoctorReport, type DoctorOptions } from "./doctor.js";
export { callThales, callProfile, obtainToken, obtainProfileToken, resolveCallUrl, type CallOptions, type CallResult, type TokenResult } from "./call.js";
