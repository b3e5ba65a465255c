export { ERROR_CODES, type ErrorCode, type ErrorCodeInfo } from "./codes.js";
export { MtlsError, isMtlsError, type MtlsErrorOptions } from "./mtls-error.js";
export { printable, hasUnsafeCharacters } from "./printable.js";
