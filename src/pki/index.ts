export { readInputFile, writeFileAtomic, exists, readPassphraseFile, MAX_INPUT_BYTES, type WriteOptions } from "./files.js";
export { parsePem, toPem, looksLikePem, type PemBlock } from "./pem.js";
export { generateKey, loadPrivateKey, privateKeyToPem, describeKey, keysMatch, type KeyPair, type KeyDescription, type LoadKeyOptions } from "./keys.js";
export { parseSubject, formatSubject, formatSubjectOneLine, encodeSubject, decodeName, getAttribute, type Rdn, type SubjectAttribute } from "./subject.js";
export {
  parseCertificate,
  parseCsr,
  isSignedBy,
  verifySignature,
  spkiPin,
  colonHex,
  type CertificateInfo,
  type CsrInfo,
  type ExtensionInfo,
  type SignatureAlgorithmInfo,
  type ParsedSubjectKey,
} from "./x509-parse.js";
export { createCertificate, createCsr, keyIdentifier, type CreateCertificateParams, type CertificateExtensions, type CreateCsrParams } from "./x509-build.js";
export { decodePkiObjects, readPkiObjects, readPrivateKeyFile, readCertificates, type PkiItem, type PrivateKeyItem, type ReadObjectsOptions } from "./read-objects.js";
export { OID, OID_NAMES, KEY_USAGE_BITS, SIGNATURE_ALGORITHMS, type KeyUsageName } from "./oids.js";
export { createKeyFile, type CreateKeyFileOptions, type CreateKeyFileResult } from "./key-create.js";
export { createClientCsr, type CreateClientCsrOptions, type CreateClientCsrResult } from "./csr-create.js";
export { createSelfSignedClientCertificate, type CreateSelfSignedOptions, type CreateSelfSignedResult } from "./self-signed-create.js";
export type { KeySource } from "./client-identity.js";
export { needsRenewal, parseRenewalWindow, DEFAULT_RENEWAL_WINDOW, type RenewalWindow, type RenewalStatus } from "./renewal.js";
