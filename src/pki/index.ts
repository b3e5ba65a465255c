// The pki part of the public API: every export of these modules.
//
// `export *`, not named re-exports, on purpose: with `"sideEffects": false` (package.json),
// esbuild then binds each import straight to its module, and code splitting follows only the
// modules a command really uses. A named runtime re-export here makes this file part of the
// importer's graph, and with it every module below, so `mtlskit inspect` would load pkijs
// (x509-build.ts, ~300 KB, ~30 ms of start-up). test/inspect-cli.test.ts checks it does not.
// Helpers that are not public stay in modules not listed here (asn1.ts, client-identity.ts).
export * from "./files.js";
export * from "./pem.js";
export * from "./keys.js";
export * from "./subject.js";
export * from "./fingerprint.js";
export * from "./x509-parse.js";
export * from "./x509-build.js";
export * from "./read-objects.js";
export * from "./oids.js";
export * from "./key-create.js";
export * from "./csr-create.js";
export * from "./self-signed-create.js";
export type { KeySource } from "./client-identity.js";
export * from "./renewal.js";
export * from "./inspect.js";
export * from "./inspect-url.js";
export * from "./signer.js";
export * from "./pkcs11/uri.js";
export * from "./pkcs11/token.js";
export * from "./pkcs11/tls-engine.js";
