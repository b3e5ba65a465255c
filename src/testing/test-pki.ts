import { createPublicKey, type KeyObject } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { generateKey, privateKeyToPem } from "../pki/keys.js";
import { OID, type KeyUsageName } from "../pki/oids.js";
import { toPem } from "../pki/pem.js";
import { parseSubject, type Rdn } from "../pki/subject.js";
import { createCertificate } from "../pki/x509-build.js";
import { parseCertificate, type CertificateInfo } from "../pki/x509-parse.js";
import type { HashName, KeyType } from "../policy/index.js";

/** A certificate made by the test PKI, with its key, in every form a test needs. */
export interface TestCertificate {
  readonly info: CertificateInfo;
  readonly der: Uint8Array;
  readonly certPem: string;
  readonly privateKey: KeyObject;
  readonly keyPem: string;
  /** This certificate followed by its issuers up to (not including) the root. */
  readonly chainPem: string;
  /** The issuer, undefined for a root. */
  readonly issuer: TestCertificate | undefined;
}

/** Options of a leaf. Missing fields are filled in, minica style. */
export interface LeafOptions {
  /** Subject in openssl -subj syntax, or RDNs. Default `/CN=<cn>`. */
  subject?: string | Rdn[];
  /** Common Name when no subject is given. Default `leaf.test`. */
  cn?: string;
  /** Default ecdsa-p256. */
  keyType?: KeyType;
  /** Reuse an existing key pair instead of generating one. */
  privateKey?: KeyObject;
  /** Default: one minute ago. */
  notBefore?: Date;
  /** Default: `validityHours` after notBefore. */
  notAfter?: Date;
  /** Default 24 hours. */
  validityHours?: number;
  /** `client` (clientAuth), `server` (serverAuth), or `both`. Default `client`. */
  usage?: "client" | "server" | "both";
  /** DNS names for the SAN; servers default to `localhost`. */
  dns?: string[];
  /** IP addresses for the SAN; servers default to 127.0.0.1. */
  ip?: string[];
  /** Which CA signs: `intermediate` (default), `root`, `self` (self-signed), or another test certificate. */
  issuer?: "root" | "intermediate" | "self" | TestCertificate;
  hash?: HashName;
  /** Make it a CA (basicConstraints CA:true, keyCertSign). Default false. */
  ca?: boolean;
}

/** Options of {@link createTestPki}. */
export interface TestPkiOptions {
  /** Key type of the two CAs. Default ecdsa-p256. */
  keyType?: KeyType;
  /** CN of the root. Default `mtlskit Test Root CA`. */
  rootCn?: string;
  /** CN of the intermediate. Default `mtlskit Test Intermediate CA`. */
  intermediateCn?: string;
  /** Validity of the CAs in hours. Default 48. */
  validityHours?: number;
}

const HOUR = 3_600_000;

async function make(opts: LeafOptions, signer: TestCertificate | undefined): Promise<TestCertificate> {
  const privateKey = opts.privateKey ?? (await generateKey(opts.keyType ?? "ecdsa-p256")).privateKey;
  const publicKey = createPublicKey(privateKey);
  const subject = typeof opts.subject === "string" ? parseSubject(opts.subject) : opts.subject ?? [[{ type: "CN", oid: "2.5.4.3", value: opts.cn ?? "leaf.test" }]];
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + (opts.validityHours ?? 24) * HOUR);
  const usage = opts.usage ?? "client";
  const isRsa = publicKey.asymmetricKeyType === "rsa";
  const keyUsage: KeyUsageName[] = opts.ca ? ["digitalSignature", "keyCertSign", "cRLSign"] : isRsa ? ["digitalSignature", "keyEncipherment"] : ["digitalSignature"];
  const eku = opts.ca ? undefined : usage === "client" ? [OID.clientAuth] : usage === "server" ? [OID.serverAuth] : [OID.serverAuth, OID.clientAuth];
  const isServer = usage !== "client";
  const dns = opts.dns ?? (isServer ? ["localhost"] : undefined);
  const ip = opts.ip ?? (isServer ? ["127.0.0.1"] : undefined);
  const ski = signer?.info.subjectKeyIdentifier;
  const der = createCertificate({
    subject,
    publicKey,
    signingKey: signer ? signer.privateKey : privateKey,
    ...(signer ? { issuer: { subjectDer: signer.info.subjectDer, subjectKeyIdentifier: ski ? new Uint8Array(Buffer.from(ski.replace(/:/g, ""), "hex")) : undefined } } : {}),
    notBefore,
    notAfter,
    hash: opts.hash ?? "sha256",
    extensions: {
      basicConstraints: { ca: !!opts.ca },
      keyUsage,
      ...(eku ? { extKeyUsage: eku } : {}),
      ...(dns || ip ? { subjectAltNames: { ...(dns ? { dns } : {}), ...(ip ? { ip } : {}) } } : {}),
    },
  });
  const info = parseCertificate(der);
  const certPem = toPem("CERTIFICATE", der);
  const chainPem = certPem + (signer && signer.issuer ? signer.chainPem : "");
  return { info, der, certPem, privateKey, keyPem: privateKeyToPem(privateKey), chainPem, issuer: signer };
}

/**
 * A throwaway PKI for tests, in the spirit of minica: a root, an intermediate, and leaves of
 * any key type, expired or not yet valid on demand. Certificates live for hours.
 *
 * @example
 * const pki = await createTestPki();
 * const client = await pki.issue({ cn: "TLSMA-ECDSA/123456/D1.PPR" });
 * const expired = await pki.expired({ cn: "old" });
 */
export class TestPki {
  private constructor(
    readonly root: TestCertificate,
    readonly intermediate: TestCertificate,
  ) {}

  /** Creates a root and an intermediate CA. */
  static async create(options: TestPkiOptions = {}): Promise<TestPki> {
    const hours = options.validityHours ?? 48;
    const keyType = options.keyType ?? "ecdsa-p256";
    const root = await make({ cn: options.rootCn ?? "mtlskit Test Root CA", keyType, ca: true, validityHours: hours }, undefined);
    const intermediate = await make({ cn: options.intermediateCn ?? "mtlskit Test Intermediate CA", keyType, ca: true, validityHours: hours, issuer: "root" }, root);
    return new TestPki(root, intermediate);
  }

  /** Issues a certificate (a client leaf by default, signed by the intermediate). */
  async issue(options: LeafOptions = {}): Promise<TestCertificate> {
    const issuer = options.issuer ?? "intermediate";
    const signer = issuer === "self" ? undefined : issuer === "root" ? this.root : issuer === "intermediate" ? this.intermediate : issuer;
    return make(options, signer);
  }

  /** A self-signed leaf (as MT client certificates are). */
  async selfSigned(options: LeafOptions = {}): Promise<TestCertificate> {
    return make({ ...options, issuer: "self" }, undefined);
  }

  /** A leaf that expired yesterday. */
  async expired(options: LeafOptions = {}): Promise<TestCertificate> {
    const notBefore = new Date(Date.now() - 3 * 24 * HOUR);
    return this.issue({ ...options, notBefore, notAfter: new Date(Date.now() - 24 * HOUR) });
  }

  /** A leaf that becomes valid tomorrow. */
  async notYetValid(options: LeafOptions = {}): Promise<TestCertificate> {
    const notBefore = new Date(Date.now() + 24 * HOUR);
    return this.issue({ ...options, notBefore, notAfter: new Date(notBefore.getTime() + 24 * HOUR) });
  }

  /** Root and intermediate as one PEM bundle (a CA file for TLS peers). */
  get caBundlePem(): string {
    return this.intermediate.certPem + this.root.certPem;
  }
}

/** Shorthand for {@link TestPki.create}. */
export function createTestPki(options: TestPkiOptions = {}): Promise<TestPki> {
  return TestPki.create(options);
}

/**
 * Writes a test certificate to `dir` as `<name>.crt`, `<name>.key` (0600) and
 * `<name>.chain.pem`; returns the paths.
 */
export async function writeTestCertificate(dir: string, name: string, c: TestCertificate): Promise<{ cert: string; key: string; chain: string }> {
  await fs.mkdir(dir, { recursive: true });
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const chain = path.join(dir, `${name}.chain.pem`);
  await fs.writeFile(cert, c.certPem);
  await fs.writeFile(key, c.keyPem, { mode: 0o600 });
  await fs.writeFile(chain, c.chainPem);
  return { cert, key, chain };
}
