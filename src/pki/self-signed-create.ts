import { MtlsError } from "../errors/index.js";
import { getEnvironment, getProgram, keyFamily, MT_MAX_VALIDITY_DAYS, type HashName, type KeyType } from "../policy/index.js";
import { madeWith, makeClientObject, publicOf, writeKeyThenOutput, type KeySource } from "./client-identity.js";
import { OID } from "./oids.js";
import { toPem } from "./pem.js";
import { createCertificate } from "./x509-build.js";
import { parseCertificate } from "./x509-parse.js";

/** Options of {@link createSelfSignedClientCertificate}. */
export interface CreateSelfSignedOptions {
  /** Program id; only `mt` uses self-signed client certificates. */
  program: string;
  /** `sandbox` or `production`. */
  environment: string;
  /** The exact Common Name given by the Thales portal for this environment. */
  cn: string;
  /** Other subject attributes in openssl -subj syntax (optional). */
  subject?: string;
  key: KeySource;
  /** Validity in days; default and maximum 730 (2 years). */
  days?: number;
  out: string;
  force?: boolean;
  /** sha256 (default), or sha384 with an ECDSA P-384 key. */
  hash?: HashName;
}

/** What {@link createSelfSignedClientCertificate} made. */
export interface CreateSelfSignedResult {
  certificateFile: string;
  keyFile: string | undefined;
  /** Set when the key is in a PKCS#11 token: its URI (no PIN) and a one-line description. */
  keyUri?: string;
  keyInToken?: string;
  commonName: string;
  subject: string;
  keyType: KeyType;
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the certificate, colon hex: what Thales pins. */
  sha256Fingerprint: string;
  /** `sha256/<base64>` of the public key. */
  spkiPin: string;
  nextSteps: string[];
}

/**
 * Creates an MT self-signed client certificate: the portal's CN, an accepted key type,
 * at most 730 days, basicConstraints CA:false, keyUsage digitalSignature (plus
 * keyEncipherment for RSA), extendedKeyUsage clientAuth, a subject key identifier, no SAN.
 *
 * @example
 * await createSelfSignedClientCertificate({ program: "mt", environment: "sandbox", cn: "MT-123456-SBX",
 *   key: { keyType: "ecdsa-p256", keyOut: "client.key" }, out: "client.crt" });
 */
export async function createSelfSignedClientCertificate(options: CreateSelfSignedOptions): Promise<CreateSelfSignedResult> {
  const program = getProgram(options.program);
  if (program.clientCertificate.issuance !== "self-signed-endorsed") {
    throw new MtlsError("WRONG_PROGRAM", `${program.name} client certificates are signed by the Thales CA from a CSR, not self-signed`, {
      hint: "Use: mtlskit csr create --program d1 --env preprod --id <id> --subject \"/C=../ST=../L=../O=../OU=..\" --type ecdsa-p256 --out client.csr",
    });
  }
  const environment = getEnvironment(program, options.environment);
  const max = program.clientCertificate.maxValidityDays ?? MT_MAX_VALIDITY_DAYS;
  const days = options.days ?? max;
  if (!Number.isInteger(days) || days <= 0) throw new MtlsError("VALIDITY_INVALID", `--days must be a positive whole number, not ${days}`);
  if (days > max) {
    throw new MtlsError("VALIDITY_TOO_LONG", `${days} days is more than the ${max} days (2 years) ${program.name} allows for a client certificate`);
  }
  const hash = options.hash ?? program.clientCertificate.defaultHash;
  const force = !!options.force;
  const made = await makeClientObject(program, environment, { key: options.key, out: options.out, force, hash, subject: options.subject, cn: { cn: options.cn } }, (subject, key) => {
    const now = Math.floor(Date.now() / 1000) * 1000;
    return createCertificate({
      subject,
      publicKey: publicOf(key.privateKey),
      signingKey: key.privateKey,
      notBefore: new Date(now),
      notAfter: new Date(now + days * 86_400_000),
      hash,
      extensions: {
        basicConstraints: { ca: false },
        keyUsage: keyFamily(key.keyType) === "rsa" ? ["digitalSignature", "keyEncipherment"] : ["digitalSignature"],
        extKeyUsage: [OID.clientAuth],
      },
    });
  });
  const info = parseCertificate(made.der);
  await writeKeyThenOutput(made.key, options.out, toPem("CERTIFICATE", made.der), force);
  return {
    certificateFile: options.out,
    ...madeWith(made),
    notBefore: info.notBefore.toISOString(),
    notAfter: info.notAfter.toISOString(),
    sha256Fingerprint: info.sha256Fingerprint,
    spkiPin: info.spkiPin,
    nextSteps: [
      `Upload ${options.out} (the certificate only, never the key) in the Thales portal for the MT ${environment.label} environment, or send it to your Thales contact: Thales endorses (pins) it.`,
      `Check with Thales that the fingerprint they register is SHA-256 ${info.sha256Fingerprint}.`,
      `Renew before ${info.notAfter.toISOString().slice(0, 10)}: mtlskit cert needs-renewal ${options.out}`,
    ],
  };
}
