/**
 * The one table of lint rules: code -> severity, meaning and default hint. `docs/errors.md` (or
 * a page of its own) can be generated from it; `lint.test.ts` keeps it in step with the codes
 * the linter emits and with the codes the program policies name (`clientCertificate.refused`).
 *
 * Meanings and hints here are generic on purpose: the rules of each program (which key types,
 * which hashes, which CN) live in src/policy, and the findings' own hints are built from there.
 */

/** How bad a finding is: `error` fails the lint (exit 1), `warning` and `info` do not. */
export type Severity = "error" | "warning" | "info";

/** One lint rule. */
export interface LintRule {
  /** The usual severity. */
  readonly severity: Severity;
  /** A second severity the rule takes in a narrower case, and when. */
  readonly alsoAs?: { readonly severity: Severity; readonly when: string };
  /** What the objects it applies to are: `client` (client certificate, CSR), `chain`, `key`. */
  readonly appliesTo: readonly ("client" | "chain" | "key")[];
  /** What is wrong, in one sentence. */
  readonly meaning: string;
  /** What to do, in one sentence; findings usually carry a more precise one. */
  readonly hint: string;
}

/**
 * Every lint rule by its stable code.
 *
 * @example
 * LINT_RULES.D1_RSA_2048_REFUSED.severity; // "error"
 * for (const [code, r] of Object.entries(LINT_RULES)) console.log(`| ${code} | ${r.severity} | ${r.meaning} | ${r.hint} |`);
 */
export const LINT_RULES = {
  KEY_TYPE_NOT_ALLOWED: {
    severity: "error",
    appliesTo: ["client", "key"],
    meaning: "The key type is not one the program accepts for a client certificate.",
    hint: "Create a new key of a type the program accepts (mtlskit key create) and a new CSR or certificate with it.",
  },
  D1_RSA_2048_REFUSED: {
    severity: "error",
    appliesTo: ["client", "key"],
    meaning: "D1 refuses RSA 2048 client keys: its FAQ answers \"Can I use an RSA 2048 client certificate?\" with \"No\".",
    hint: "Create a new key of a type D1 accepts and a new CSR with it (mtlskit csr create --type ecdsa-p256).",
  },
  KEY_MISMATCH: {
    severity: "error",
    appliesTo: ["client", "key"],
    meaning: "A private key does not belong to the certificate or CSR it goes with.",
    hint: "Use the private key created together with the CSR or certificate; a certificate cannot be used with another key.",
  },
  WEAK_SIGNATURE: {
    severity: "error",
    appliesTo: ["client", "chain"],
    meaning: "The signature uses SHA-1 or MD5, which TLS peers refuse.",
    hint: "Sign again with SHA-256.",
  },
  HASH_NOT_ALLOWED: {
    severity: "error",
    appliesTo: ["client"],
    meaning: "The client key signed with a hash the program does not accept with that key type (CSRs and self-signed certificates).",
    hint: "Sign again with a hash the program accepts for that key type.",
  },
  CSR_SIGNATURE_INVALID: {
    severity: "error",
    appliesTo: ["client"],
    meaning: "The CSR's signature does not verify with its own public key: it was altered or damaged.",
    hint: "Create the CSR again from its private key; never edit a CSR by hand.",
  },
  SELF_SIGNATURE_INVALID: {
    severity: "error",
    appliesTo: ["client", "chain"],
    meaning: "A self-issued certificate's signature does not verify with its own key: it was altered or damaged.",
    hint: "Get or create the certificate again; never edit a certificate by hand.",
  },
  CN_MISSING: {
    severity: "error",
    appliesTo: ["client"],
    meaning: "The subject has no Common Name (CN), and Thales identifies the client by it.",
    hint: "Create the CSR or certificate again with the Common Name the program requires.",
  },
  CN_MULTIPLE: {
    severity: "error",
    appliesTo: ["client"],
    meaning: "The subject has more than one Common Name (CN); Thales checks exactly one.",
    hint: "Create the CSR or certificate again with a single CN.",
  },
  CN_PATTERN: {
    severity: "error",
    appliesTo: ["client"],
    meaning: "The Common Name does not follow the program's template (D1: TLSMA-{keyAlg}/{id}/D1.{envCode}).",
    hint: "Create the CSR again with mtlskit csr create, which derives the Common Name.",
  },
  CN_KEY_TYPE: {
    severity: "error",
    appliesTo: ["client"],
    meaning: "The key type written in the Common Name (ECDSA or RSA) is not the type of the key.",
    hint: "Write the key's type in the Common Name, or let mtlskit csr create derive it.",
  },
  CN_ENVIRONMENT: {
    severity: "error",
    appliesTo: ["client"],
    meaning: "The environment code in the Common Name is not the environment linted (--env), or no environment's code at all.",
    hint: "Environments are isolated: create a CSR per environment with that environment's code.",
  },
  CN_GATEWAY_ID: {
    severity: "error",
    appliesTo: ["client"],
    meaning: "The merchantGatewayId in the Common Name is not the one given with --id.",
    hint: "Use the merchantGatewayId exactly as Thales gave it.",
  },
  CN_MISMATCH: {
    severity: "error",
    appliesTo: ["client"],
    meaning: "The Common Name differs from the one given with --cn (MT: the exact value of the Thales portal).",
    hint: "Use the exact Common Name the Thales portal shows for this environment.",
  },
  CN_NOT_CHECKED: {
    severity: "info",
    appliesTo: ["client"],
    meaning: "Part of the Common Name could not be compared because --cn, --env or --id was not given.",
    hint: "Add the missing option to compare it too.",
  },
  SUBJECT_INCOMPLETE: {
    severity: "error",
    appliesTo: ["client"],
    meaning: "The subject lacks attributes the program's DN policy requires besides the CN.",
    hint: "Create the CSR again with every attribute the DN policy requires (mtlskit csr create --subject ...).",
  },
  VALIDITY_TOO_LONG: {
    severity: "error",
    alsoAs: {
      severity: "warning",
      when: "the program sets no limit of its own but Thales issues a fixed validity (D1: issuedValidityDays) and the certificate is valid for much longer",
    },
    appliesTo: ["client"],
    meaning: "The client certificate is valid for longer than the program allows (MT: its maxValidityDays).",
    hint: "Create the certificate again with a validity within the limit (mtlskit cert self-signed --days N).",
  },
  EXPIRED: {
    severity: "error",
    appliesTo: ["client", "chain"],
    meaning: "The certificate's notAfter date has passed: TLS peers refuse it.",
    hint: "Renew it: a new CSR for Thales (D1) or a new self-signed certificate to have endorsed (MT).",
  },
  NOT_YET_VALID: {
    severity: "error",
    appliesTo: ["client", "chain"],
    meaning: "The certificate's notBefore date has not come yet: TLS peers refuse it until then.",
    hint: "Check the clock of the machine that made it, or wait until notBefore.",
  },
  EXPIRING_SOON: {
    severity: "warning",
    appliesTo: ["client", "chain"],
    meaning: "The certificate expires within the warning window (30 days unless told otherwise).",
    hint: "Start the renewal now: Thales needs time to sign or endorse the new certificate.",
  },
  NOT_SELF_SIGNED: {
    severity: "error",
    appliesTo: ["client"],
    meaning: "The program pins a self-signed client certificate (MT), but this one is issued by a CA.",
    hint: "Create a self-signed certificate (mtlskit cert self-signed) and have Thales endorse it.",
  },
  SELF_SIGNED_NOT_ALLOWED: {
    severity: "error",
    appliesTo: ["client"],
    meaning: "The program's client certificates are issued by the Thales CA (D1), but this one is self-signed.",
    hint: "Send a CSR to Thales (mtlskit csr create) and use the certificate Thales signs.",
  },
  CA_AS_CLIENT: {
    severity: "error",
    appliesTo: ["client"],
    meaning: "The certificate taken as the client certificate is a CA certificate (basicConstraints CA:TRUE); the other client rules are not applied to it.",
    hint: "Lint the client certificate itself (the leaf), followed by its CA chain; a CA certificate is only part of the chain.",
  },
  SELF_SIGNED_CA_FLAG: {
    severity: "info",
    appliesTo: ["client"],
    meaning: "The self-signed client certificate says CA:TRUE (openssl req -x509's default): it works once pinned, but could sign other certificates.",
    hint: "Add -addext basicConstraints=critical,CA:FALSE to openssl req -x509, or create it with mtlskit cert self-signed.",
  },
  CLIENT_AUTH_MISSING: {
    severity: "error",
    appliesTo: ["client"],
    meaning: "The certificate or CSR has an extended key usage without clientAuth: TLS servers refuse it as a client certificate.",
    hint: "Add clientAuth to the extended key usage (openssl: -addext extendedKeyUsage=clientAuth).",
  },
  EKU_ABSENT: {
    severity: "info",
    appliesTo: ["client"],
    meaning: "The client certificate has no extended key usage: it is usable for any purpose, clientAuth included.",
    hint: "Nothing to do; a certificate limited to clientAuth is tidier.",
  },
  KEY_USAGE_MISSING: {
    severity: "error",
    appliesTo: ["client"],
    meaning: "The key usage does not include digitalSignature, which TLS client authentication needs.",
    hint: "Create the certificate or CSR again with keyUsage digitalSignature.",
  },
  CHAIN_ORDER: {
    severity: "error",
    appliesTo: ["chain"],
    meaning: "The certificates of a file are not in chain order: the leaf first, each certificate followed by its issuer.",
    hint: "Reorder the file: the client certificate first, then the CA that signed it, then that CA's issuer.",
  },
  CHAIN_INCOMPLETE: {
    severity: "error",
    appliesTo: ["chain"],
    meaning: "A certificate in a file is followed by a certificate that did not issue it, and its issuer is missing from the file.",
    hint: "Insert the missing intermediate CA certificate right after the certificate it signed.",
  },
  CHAIN_SIGNATURE: {
    severity: "error",
    appliesTo: ["chain"],
    meaning: "A certificate's signature does not verify with the key of the CA named as its issuer.",
    hint: "Get the chain again from the CA (for D1, the Thales delivery team); one of the certificates is not the one that signed.",
  },
} as const satisfies Record<string, LintRule>;

/** A stable lint finding code: a key of {@link LINT_RULES}. */
export type LintCode = keyof typeof LINT_RULES;

/** True when `code` is a known lint code. */
export function isLintCode(code: string): code is LintCode {
  return Object.prototype.hasOwnProperty.call(LINT_RULES, code);
}
