/**
 * The one table of error codes. Every `MtlsError` carries one of these codes; `docs/errors.md`
 * is generated from this table (`npm run docs`) and a test keeps the two in step.
 *
 * Exit codes follow DESIGN.md: 1 the check ran and failed, 2 bad usage or bad input,
 * 3 internal error (a bug).
 */
export interface ErrorCodeInfo {
  /** Process exit code the CLI uses for this error. */
  readonly exit: 1 | 2 | 3;
  /** What the code means, in one sentence. */
  readonly meaning: string;
  /** What to do about it, in one sentence. Used as the default hint. */
  readonly hint: string;
}

export const ERROR_CODES = {
  USAGE: {
    exit: 2,
    meaning: "The command line is not valid: an unknown option, a missing argument or a value out of range.",
    hint: "Run the command with --help to see its options and an example.",
  },
  UNKNOWN_PROGRAM: {
    exit: 2,
    meaning: "The program name is not one mtlskit knows.",
    hint: "Use --program d1 (D1 eCom) or --program mt (Merchant Tokenization).",
  },
  UNKNOWN_ENVIRONMENT: {
    exit: 2,
    meaning: "The environment is not one of the program's environments.",
    hint: "D1 has preprod and production; MT has sandbox and production.",
  },
  UNKNOWN_KEY_TYPE: {
    exit: 2,
    meaning: "The key type is not one mtlskit can create.",
    hint: "Use one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-4096.",
  },
  KEY_TYPE_REFUSED: {
    exit: 2,
    meaning: "The program does not accept this key type for a client certificate.",
    hint: "D1 takes ECDSA P-256 or RSA 4096; MT takes ECDSA P-256, P-384 or RSA 2048.",
  },
  HASH_REFUSED: {
    exit: 2,
    meaning: "The program does not accept this signature hash with this key type.",
    hint: "Use SHA-256 (SHA-384 is accepted by MT with an ECDSA P-384 key).",
  },
  FILE_NOT_FOUND: {
    exit: 2,
    meaning: "A file named on the command line does not exist.",
    hint: "Check the path; relative paths are taken from the current directory.",
  },
  FILE_IS_DIRECTORY: {
    exit: 2,
    meaning: "A directory was given where a file is expected.",
    hint: "Name the file inside the directory.",
  },
  FILE_UNREADABLE: {
    exit: 2,
    meaning: "A file exists but cannot be read.",
    hint: "Check the file's permissions and that it is not locked by another program.",
  },
  FILE_EMPTY: {
    exit: 2,
    meaning: "A file that should hold a key, certificate or CSR is empty.",
    hint: "Check that the file was written completely; create or download it again.",
  },
  FILE_TOO_LARGE: {
    exit: 2,
    meaning: "A file is far larger than any key, certificate, CSR or chain can be.",
    hint: "Check that the right file was named.",
  },
  FILE_EXISTS: {
    exit: 2,
    meaning: "The output file exists and mtlskit does not overwrite it silently.",
    hint: "Choose another --out path, or add --force to replace it (a private key cannot be recovered once replaced).",
  },
  WRITE_FAILED: {
    exit: 2,
    meaning: "An output file could not be written; nothing was left half-written.",
    hint: "Check that the directory exists and is writable, and that the disk is not full.",
  },
  PEM_MALFORMED: {
    exit: 2,
    meaning: "The file looks like PEM but a block is broken: truncated, missing its END line, or not valid base64.",
    hint: "Copy the whole block again, from -----BEGIN to -----END, without changing a character.",
  },
  INPUT_NOT_RECOGNIZED: {
    exit: 2,
    meaning: "The file is neither a PEM nor a DER key, certificate or CSR.",
    hint: "Give a PEM or DER certificate, certificate signing request or private key.",
  },
  KEY_EXPECTED: {
    exit: 2,
    meaning: "A private key was expected, but the file holds something else (a certificate, a CSR, a public key).",
    hint: "Name the private key file (the one made with the CSR or certificate, usually *.key).",
  },
  CERTIFICATE_EXPECTED: {
    exit: 2,
    meaning: "A certificate was expected, but the file holds something else.",
    hint: "Name a certificate file (PEM 'BEGIN CERTIFICATE' or DER).",
  },
  KEY_ENCRYPTED: {
    exit: 2,
    meaning: "The private key is encrypted and no passphrase was given.",
    hint: "Add --passphrase-file FILE with the passphrase on its first line.",
  },
  KEY_BAD_PASSPHRASE: {
    exit: 2,
    meaning: "The private key could not be decrypted with the passphrase given.",
    hint: "Check the passphrase file: only its first line is used, without the line break.",
  },
  KEY_UNSUPPORTED: {
    exit: 2,
    meaning: "The key is of a kind mtlskit does not use for TLS client authentication.",
    hint: "Use an ECDSA P-256 or P-384 key, or an RSA 2048 or 4096 key, as the program allows.",
  },
  SUBJECT_SYNTAX: {
    exit: 2,
    meaning: "The subject is not in openssl -subj syntax (/TYPE=value/TYPE=value...).",
    hint: "Write it like /C=FR/ST=Paris/L=Paris/O=Example/OU=Payments, escaping a literal / as \\/.",
  },
  SUBJECT_INCOMPLETE: {
    exit: 2,
    meaning: "The subject lacks attributes the program's DN policy requires.",
    hint: "D1 subjects carry C, ST, L, O and OU: /C=FR/ST=Paris/L=Paris/O=Example/OU=Payments (the CN is added for you).",
  },
  WRONG_PROGRAM: {
    exit: 2,
    meaning: "The command does not apply to this program.",
    hint: "D1 client certificates start with a CSR (mtlskit csr create); MT ones are self-signed (mtlskit cert self-signed).",
  },
  SUBJECT_ATTRIBUTE_UNKNOWN: {
    exit: 2,
    meaning: "The subject names an attribute type mtlskit does not know.",
    hint: "Use C, ST, L, O, OU, CN, emailAddress, serialNumber, DC, UID, or a dotted OID.",
  },
  CN_MISMATCH: {
    exit: 2,
    meaning: "The Common Name given differs from the one the program's rules require.",
    hint: "Leave --cn out: mtlskit derives the Common Name Thales expects.",
  },
  GATEWAY_ID_INVALID: {
    exit: 2,
    meaning: "The merchantGatewayId or customer identifier is empty or contains characters that cannot appear in the Common Name.",
    hint: "Use the identifier exactly as Thales gave it (letters, digits, '-', '_', '.').",
  },
  VALIDITY_TOO_LONG: {
    exit: 2,
    meaning: "The requested validity exceeds the program's limit.",
    hint: "MT client certificates are valid for at most 730 days (2 years); ask for fewer days.",
  },
  VALIDITY_INVALID: {
    exit: 2,
    meaning: "The validity or renewal window given is not a valid duration.",
    hint: "Give days as a positive whole number (--days 365), a window as 30d or 20%.",
  },
  TLS_CONNECT_FAILED: {
    exit: 1,
    meaning: "A TLS connection to the server could not be made (DNS, refused, timed out, or handshake failure).",
    hint: "Check the host name and port, that the server is up, and that it speaks TLS 1.2 or later.",
  },
  INTERNAL: {
    exit: 3,
    meaning: "mtlskit hit a bug.",
    hint: "Run again with --debug and report the output (it never contains private keys).",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A stable error code: the key of {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;
