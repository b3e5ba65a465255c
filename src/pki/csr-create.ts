import { MtlsError } from "../errors/index.js";
import { getEnvironment, getProgram, type HashName, type KeyType } from "../policy/index.js";
import { madeWith, makeClientObject, writeKeyThenOutput, type KeySource } from "./client-identity.js";
import { toPem } from "./pem.js";
import { createCsr } from "./x509-build.js";
import { parseCsr } from "./x509-parse.js";

/** Options of {@link createClientCsr}. */
export interface CreateClientCsrOptions {
  /** Program id; only `d1` issues certificates from CSRs. */
  program: string;
  /** `preprod` or `production`. */
  environment: string;
  /** The merchantGatewayId Thales gave. */
  gatewayId: string;
  /** DN without CN in openssl -subj syntax: `/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments`. */
  subject: string;
  /** Optional CN; accepted only when it equals the derived one. */
  cn?: string;
  /** An existing key file, or a key type to generate into `keyOut`. */
  key: KeySource;
  /** Where to write the CSR (PEM). */
  out: string;
  /** Replace existing files. Default false. */
  force?: boolean;
  /** Signature hash; D1 takes SHA-256 only. Default sha256. */
  hash?: HashName;
}

/** What {@link createClientCsr} made. */
export interface CreateClientCsrResult {
  csrFile: string;
  /** Set when a key was generated into a file. */
  keyFile: string | undefined;
  /** Set when the key is in a PKCS#11 token: its URI (no PIN) and a one-line description. */
  keyUri?: string;
  keyInToken?: string;
  commonName: string;
  /** Subject in openssl -subj syntax. */
  subject: string;
  keyType: KeyType;
  /** `sha256/<base64>` of the public key. */
  spkiPin: string;
  /** What to do next, in plain words. */
  nextSteps: string[];
}

/**
 * Creates the CSR of a D1 client certificate: the CN derived from the policy
 * (`TLSMA-ECDSA/<merchantGatewayId>/D1.PPR`), the DN policy checked, the key type checked
 * (RSA 2048 refused), signed with SHA-256. Writes the key (if generated, mode 0600) and CSR.
 *
 * @example
 * await createClientCsr({ program: "d1", environment: "preprod", gatewayId: "123456",
 *   subject: "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments",
 *   key: { keyType: "ecdsa-p256", keyOut: "client.key" }, out: "client.csr" });
 */
export async function createClientCsr(options: CreateClientCsrOptions): Promise<CreateClientCsrResult> {
  const program = getProgram(options.program);
  if (program.clientCertificate.issuance !== "thales-signed-csr") {
    throw new MtlsError("WRONG_PROGRAM", `${program.name} client certificates are self-signed, not issued from a CSR`, {
      hint: "Use: mtlskit cert self-signed --program mt --env sandbox --cn <portal CN> --type ecdsa-p256 --out client.crt",
    });
  }
  const environment = getEnvironment(program, options.environment);
  const hash = options.hash ?? program.clientCertificate.defaultHash;
  const force = !!options.force;
  const made = await makeClientObject(program, environment, { key: options.key, out: options.out, force, hash, subject: options.subject, cn: { customerId: options.gatewayId, ...(options.cn !== undefined ? { cn: options.cn } : {}) } }, (subject, key) =>
    createCsr({ subject, privateKey: key.privateKey, hash }),
  );
  const { der, key } = made;
  const info = parseCsr(der);
  await writeKeyThenOutput(key, options.out, toPem("CERTIFICATE REQUEST", der), force);
  const keyPath = "keyFile" in options.key ? options.key.keyFile : (key.token?.uri ?? key.generatedTo);
  return {
    csrFile: options.out,
    ...madeWith(made),
    spkiPin: info.spkiPin,
    nextSteps: [
      `Send ${options.out} to your Thales representative for the D1 ${environment.label} environment (merchantGatewayId ${options.gatewayId}); Thales Business PKI signs it and returns a certificate valid 5 years.`,
      key.token
        ? `The private key stays in token ${key.token.tokenLabel} (object ${key.token.objectLabel}, non-extractable); nothing of it is sent to Thales.`
        : `Keep ${keyPath ?? "the private key"} on this machine: it never leaves it and is never sent to Thales.`,
      `When the certificate comes back, check it: mtlskit lint <certificate> --program d1 --env ${environment.id} --id ${options.gatewayId}${keyPath ? ` --key ${key.token ? `"${keyPath}"` : keyPath}` : ""}`,
    ],
  };
}
