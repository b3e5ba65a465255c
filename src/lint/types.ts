import type { Pkcs11Options } from "../pki/index.js";
import type { KeyObject } from "node:crypto";
import type { Severity } from "./rules.js";

/** What to lint against. */
export interface LintOptions {
  /** Program id: `d1` or `mt`. Unknown: `UNKNOWN_PROGRAM`. */
  program: string;
  /** Environment id (`preprod`, `production`, `sandbox`); when given, the CN must be for it. */
  environment?: string;
  /** D1 merchantGatewayId the CN must carry. */
  gatewayId?: string;
  /** The exact Common Name expected (MT: the value of the Thales portal). */
  cn?: string;
  /** The private key the client certificate or CSR must match (`--key`); the public key of a key in a token. */
  privateKey?: KeyObject;
  /** How to name `privateKey` in messages. Default `the private key given (--key)`. */
  privateKeySource?: string;
  /** The time to check validity against. Default: now. */
  now?: Date;
  /** Warn when a certificate expires within this many days. Default 30. */
  expiryWarningDays?: number;
}

/** Options of `lintFiles`: {@link LintOptions} plus the files of `--key` and `--passphrase-file`. */
export interface LintFilesOptions extends LintOptions {
  /** File of the private key the certificate or CSR must match, or a `pkcs11:` URI of a key in a token. */
  keyFile?: string;
  /** Module and PIN of a key in a token. */
  pkcs11?: Pkcs11Options;
  /** File whose first line is the passphrase of encrypted keys (in `keyFile` or in the inputs). */
  passphraseFile?: string;
}

/** One thing the linter found. */
export interface Finding {
  /** Stable code, a key of `LINT_RULES`. */
  code: string;
  severity: Severity;
  /** What is wrong, as a sentence. */
  message: string;
  /** What to do, as a sentence. */
  hint: string;
  /** Which file (and PEM block) it is about: `chain.pem (block 2)`. */
  source: string;
}

/** The outcome of a lint run. */
export interface LintResult {
  findings: Finding[];
  /** Findings of severity `error`: when above 0 the lint failed (exit 1). */
  errors: number;
  warnings: number;
  /** Certificates, CSRs and private keys linted. */
  objects: number;
  /** When `--key` named a key in a token: `key in token T, object O, ..., non-extractable`. */
  keyInToken?: string;
}
