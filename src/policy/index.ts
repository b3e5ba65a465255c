export * from "./types.js";
export { d1, mt, PROGRAMS, COMMON_NAME_MAX_LENGTH, MT_MAX_VALIDITY_DAYS } from "./programs.js";
export { getProgram, getEnvironment, parseKeyType, keyFamily, assertKeyAccepted, assertCustomerId, deriveCommonName } from "./lookup.js";
export { AEAD_FORWARD_SECRET_CIPHERS } from "./tls.js";
export { IDENTITY_HEADERS, OTHER_CLIENT_CERT_HEADERS, STRIPPED_HEADER_PREFIXES, CLIENT_ADDRESS_HEADERS, FORWARDING_HEADERS, STRIPPED_HEADERS, CORRELATION_ID_PATTERN, foldHeaderName, isIdentityHeader, isForwardingHeader, isStrippedHeader, type StrippedHeader } from "./identity-headers.js";
export { isLoopback, isLoopbackAddress } from "./loopback.js";
export { parseHostPort, type HostPort, type HostPortProblem } from "./host-port.js";
export { parseRetryAfter, formatRetryAfter } from "./retry-after.js";
