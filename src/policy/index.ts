export * from "./types.js";
export { d1, mt, PROGRAMS, COMMON_NAME_MAX_LENGTH, MT_MAX_VALIDITY_DAYS } from "./programs.js";
export { getProgram, getEnvironment, parseKeyType, keyFamily, assertKeyAccepted, assertCustomerId, deriveCommonName } from "./lookup.js";
export { AEAD_FORWARD_SECRET_CIPHERS } from "./tls.js";
