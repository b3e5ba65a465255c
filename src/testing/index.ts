/**
 * `mtlskit/testing`: a minica-style throwaway PKI for tests of code that uses mtlskit.
 * Imports only `pki`.
 */
export { TestPki, createTestPki, writeTestCertificate, type TestCertificate, type LeafOptions, type TestPkiOptions } from "./test-pki.js";
