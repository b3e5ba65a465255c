/**
 * mtlskit: mutual TLS with the Thales payment platform (D1 eCom, Merchant Tokenization).
 * The public API; nothing here has side effects on import.
 */
export * from "./errors/index.js";
export * from "./policy/index.js";
export * from "./pki/index.js";
export * from "./lint/index.js";
export * from "./store/index.js";
export * from "./server/index.js";
export * from "./client/index.js";
