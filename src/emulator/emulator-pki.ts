/**
 * The emulator's PKI (docs/architecture.md, "The emulator"): every CA and certificate the Thales side
 * holds, created on first start under `<dir>/pki/` and reloaded afterwards, so that a restart
 * keeps the CAs the customer already trusts.
 *
 * Layout (ECDSA P-256 keys unless a name says RSA):
 * - per D1 environment, a self-signed **Thales Business PKI** CA
 *   (`/C=FR/O=Thales DIS/OU=Business PKI/CN=Thales Business PKI CA PPR`, `... PRD`) that signs
 *   D1 CSRs for 5 years ({@link EmulatorPki.signD1Csr}). One CA per environment, so a
 *   certificate of one environment fails the other environment's handshake.
 * - one self-signed **Thales Client CA** (`/C=FR/O=Thales DIS/OU=Client PKI/CN=Thales Client CA`)
 *   issuing the emulator's own client certificate per program and environment
 *   (`CN=thales-notifier.<program>-<env>.thalescloud.test`), rotatable on demand. A single
 *   self-signed CA rather than root + intermediate: the reference pages tell the customer to
 *   trust "the Thales Client CA", one certificate; and a receiver that trusts only an
 *   intermediate fails with Node 20 and `openssl s_server` unless partial chains are allowed,
 *   so a two-level layout would force customers to trust a root the pages never name.
 * - server chains named like the real ones: MT `DigiCert High Assurance EV Root CA (mtlskit
 *   emulator)` -> `DigiCert SHA2 High Assurance Server CA` (the CN the MT page names, taken from
 *   the policy) -> a leaf per environment; D1 `Amazon Root CA 1` -> `Amazon RSA 2048 M02` (both
 *   RSA 2048, as their names say) -> a leaf per environment. Leaves carry one SAN, the
 *   environment's `.test` host ({@link emulatorHost}); no IP address, as at Thales.
 *
 * Files: `<name>.key` (PKCS#8 PEM, 0600) and `<name>.crt` (PEM), written atomically, the key
 * first. On load a pair is reused when both files are there, match, and (for a leaf) it is
 * still signed by its CA, names the expected host and has more than 30 days left; otherwise it
 * is issued again. A damaged file is an `EMULATOR_STATE_INVALID` error naming it: the
 * emulator never silently replaces a CA a customer may trust.
 *
 * @module
 */
import { createPublicKey, sign as cryptoSign, type KeyObject } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { MtlsError } from "../errors/index.js";
import {
  createCertificate,
  generateKey,
  isSignedBy,
  keysMatch,
  loadPrivateKey,
  OID,
  parseCertificate,
  parseCsr,
  parsePem,
  parseSubject,
  privateKeyToPem,
  toPem,
  writeFileAtomic,
  type CertificateInfo,
  type KeyUsageName,
} from "../pki/index.js";
import { assertCustomerId, d1, getEnvironment, getProgram, mt, PROGRAMS, type KeyType, type ProgramId } from "../policy/index.js";
import { emulatorHost } from "./hosts.js";

const DAY = 86_400_000;
/** Validity of every CA: long enough to outlive any certificate it signs (D1: 5 years). */
const CA_VALIDITY_DAYS = 25 * 365;
/** Validity of the emulator's server leaves (the CA/Browser Forum maximum). */
const SERVER_LEAF_VALIDITY_DAYS = 397;
/** Validity of the emulator's client leaves. */
const CLIENT_LEAF_VALIDITY_DAYS = 365;
/** A leaf closer to its end than this is issued again on load. */
const LEAF_RENEW_BEFORE_DAYS = 30;
/** Validity of a D1 client certificate signed by the Business PKI: the policy's 5 years. */
const D1_ISSUED_VALIDITY_DAYS = d1.clientCertificate.issuedValidityDays ?? 5 * 365;

/** Subjects of the emulator's CAs, in `openssl -subj` syntax. */
export const EMULATOR_CA_SUBJECTS = {
  /** Business PKI CA of a D1 environment; `{envCode}` is PPR or PRD. */
  businessCa: "/C=FR/O=Thales DIS/OU=Business PKI/CN=Thales Business PKI CA {envCode}",
  clientCa: "/C=FR/O=Thales DIS/OU=Client PKI/CN=Thales Client CA",
  mtServerRoot: "/C=US/O=DigiCert Inc/OU=www.digicert.com/CN=DigiCert High Assurance EV Root CA (mtlskit emulator)",
  /** The CN is the one the MT page names (`mt.serverTrust`). */
  mtServerIntermediate: `/C=US/O=DigiCert Inc/OU=www.digicert.com/CN=${mt.serverTrust.kind === "ca-in-chain" ? mt.serverTrust.caCommonName : "DigiCert SHA2 High Assurance Server CA"}`,
  d1ServerRoot: "/C=US/O=Amazon/CN=Amazon Root CA 1",
  d1ServerIntermediate: "/C=US/O=Amazon/CN=Amazon RSA 2048 M02",
} as const;

/** The Common Name of the emulator's client certificate for a program and environment. */
export function emulatorClientCommonName(program: ProgramId, environmentId: string): string {
  return `thales-notifier.${program}-${environmentId}.thalescloud.test`;
}

/** A key and certificate of the emulator. */
export interface EmulatorCredential {
  /** The leaf certificate, PEM. */
  readonly certPem: string;
  /** Its private key, PKCS#8 PEM. Never log it. */
  readonly keyPem: string;
  /** The leaf followed by its issuing CA chain (see each credential for where it stops). */
  readonly chainPem: string;
  /** The parsed leaf (subject, serial, fingerprint, validity...). */
  readonly info: CertificateInfo;
}

/** The emulator's client certificate of a program and environment (what the notifier presents). */
export interface ClientCredential extends EmulatorCredential {
  /**
   * The leaf followed by the Thales Client CA that issued it: what the notifier presents, and
   * the content of the `TSH_TLS_CLIENT_CERTIFICATE` / `D1_TLS_CLIENT_CA` assets. The Client CA
   * is self-signed, so this is also the whole chain.
   */
  readonly chainPem: string;
  /** The Thales Client CA: what the customer's endpoint trusts (never the leaf). */
  readonly caPem: string;
}

/** The emulator's TLS server certificate of a program and environment. */
export interface ServerCredential extends EmulatorCredential {
  /** The leaf followed by the intermediate CA (the root is left out, as real servers do). */
  readonly chainPem: string;
}

/** A D1 client certificate signed by the Business PKI CA of an environment. */
export interface SignedD1Certificate {
  /** The signed certificate, PEM. */
  readonly certificatePem: string;
  /** The signed certificate followed by the Business PKI CA that signed it. */
  readonly chainPem: string;
  readonly info: CertificateInfo;
  readonly environment: string;
  readonly gatewayId: string;
}

/** The emulator's CAs and certificates; made by {@link loadOrCreateEmulatorPki}. */
export interface EmulatorPki {
  /** The folder holding the key and certificate files (`<dir>/pki`). */
  readonly pkiDir: string;
  /** The Business PKI CA of a D1 environment (`preprod`, `production`), PEM. */
  businessCaPem(environmentId: string): string;
  /** The Business PKI CA of a D1 environment, parsed (for chain checks in the API listener). */
  businessCa(environmentId: string): CertificateInfo;
  /**
   * Signs a D1 CSR with the environment's Business PKI CA: the CSR's subject copied byte for
   * byte, its public key, CA:false, keyUsage digitalSignature (+ keyEncipherment for RSA),
   * extendedKeyUsage clientAuth, valid for exactly the policy's 5 years (1825 days) from now.
   * It checks only that the CSR is well formed and self-signed and that the gateway id is
   * valid: the DN and key policy is the portal's job.
   *
   * @throws MtlsError UNKNOWN_ENVIRONMENT, INPUT_NOT_RECOGNIZED (not a CSR, or its signature
   *   does not verify), GATEWAY_ID_INVALID.
   */
  signD1Csr(environmentId: string, csrDer: Uint8Array, gatewayId: string): SignedD1Certificate;
  /** The Thales Client CA, PEM. */
  clientCaPem(): string;
  /** The emulator's current client certificate for a program and environment. */
  clientCredential(program: ProgramId, environmentId: string): ClientCredential;
  /**
   * Replaces the client certificate of a program and environment with a new one from the same
   * Thales Client CA (new key, new serial), written to disk before it is returned.
   */
  rotateClientCertificate(program: ProgramId, environmentId: string): Promise<ClientCredential>;
  /** The emulator's TLS server certificate for a program and environment. */
  serverCredential(program: ProgramId, environmentId: string): ServerCredential;
  /** The CA chain the customer trusts for that server: intermediate then root, PEM. */
  serverTrustPem(program: ProgramId, environmentId: string): string;
}

/** A key and certificate held in memory, as on disk. */
interface Pair {
  readonly name: string;
  readonly key: KeyObject;
  readonly keyPem: string;
  readonly certPem: string;
  readonly info: CertificateInfo;
}

/** What to issue for a pair. */
interface PairSpec {
  readonly name: string;
  readonly subject: string;
  readonly keyType: KeyType;
  readonly validityDays: number;
  readonly kind: "ca" | "intermediate" | "server" | "client";
  /** DNS SAN of a server leaf. */
  readonly host?: string;
}

function ski(info: CertificateInfo): Uint8Array | undefined {
  return info.subjectKeyIdentifier ? new Uint8Array(Buffer.from(info.subjectKeyIdentifier.replace(/:/g, ""), "hex")) : undefined;
}

function invalid(file: string, why: string, cause?: unknown): MtlsError {
  return new MtlsError("EMULATOR_STATE_INVALID", `${file}: ${why}`, { subject: file, cause });
}

async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw invalid(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, e);
  }
}

/** Keeps async operations on the PKI files one after the other. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

class PkiStore {
  constructor(readonly dir: string) {}

  private files(name: string): { key: string; cert: string } {
    return { key: path.join(this.dir, `${name}.key`), cert: path.join(this.dir, `${name}.crt`) };
  }

  /** The pair on disk, or undefined when it was never completed (no certificate file). */
  async load(name: string): Promise<Pair | undefined> {
    const f = this.files(name);
    const certData = await readIfExists(f.cert);
    if (certData === undefined) return undefined; // the key is written first: no certificate means creation never finished
    const keyData = await readIfExists(f.key);
    if (keyData === undefined) throw invalid(f.key, `is missing, but its certificate ${path.basename(f.cert)} is there`);
    let info: CertificateInfo;
    let key: KeyObject;
    try {
      const blocks = parsePem(certData.toString("latin1"), f.cert);
      if (blocks.length !== 1 || blocks[0]!.label !== "CERTIFICATE") throw new Error("not exactly one PEM certificate");
      info = parseCertificate(blocks[0]!.der, f.cert);
    } catch (e) {
      throw invalid(f.cert, "is not a PEM certificate written by the emulator", e);
    }
    try {
      key = loadPrivateKey(keyData, { source: f.key });
    } catch (e) {
      throw invalid(f.key, "is not an unencrypted PEM private key written by the emulator", e);
    }
    if (!keysMatch(key, info.publicKey)) throw invalid(f.key, `does not belong to the certificate ${path.basename(f.cert)}`);
    return { name, key, keyPem: keyData.toString("utf8"), certPem: toPem("CERTIFICATE", info.der), info };
  }

  async issue(spec: PairSpec, signer: Pair | undefined): Promise<Pair> {
    const { privateKey } = await generateKey(spec.keyType);
    const publicKey = createPublicKey(privateKey);
    const isCa = spec.kind === "ca" || spec.kind === "intermediate";
    const isRsa = publicKey.asymmetricKeyType === "rsa";
    const keyUsage: KeyUsageName[] = isCa ? ["digitalSignature", "keyCertSign", "cRLSign"] : isRsa ? ["digitalSignature", "keyEncipherment"] : ["digitalSignature"];
    const notBefore = new Date(Date.now() - 60_000);
    const der = createCertificate({
      subject: parseSubject(spec.subject),
      publicKey,
      signingKey: signer ? signer.key : privateKey,
      ...(signer ? { issuer: { subjectDer: signer.info.subjectDer, subjectKeyIdentifier: ski(signer.info) } } : {}),
      notBefore,
      notAfter: new Date(notBefore.getTime() + spec.validityDays * DAY),
      hash: "sha256",
      extensions: {
        basicConstraints: isCa ? { ca: true, ...(spec.kind === "intermediate" ? { pathLength: 0 } : {}) } : { ca: false },
        keyUsage,
        ...(spec.kind === "server" ? { extKeyUsage: [OID.serverAuth] } : spec.kind === "client" ? { extKeyUsage: [OID.clientAuth] } : {}),
        ...(spec.host ? { subjectAltNames: { dns: [spec.host] } } : {}),
      },
    });
    const info = parseCertificate(der, spec.name);
    const keyPem = privateKeyToPem(privateKey);
    const certPem = toPem("CERTIFICATE", der);
    const f = this.files(spec.name);
    await writeFileAtomic(f.key, keyPem, { mode: 0o600, overwrite: true });
    await writeFileAtomic(f.cert, certPem, { mode: 0o644, overwrite: true });
    return { name: spec.name, key: privateKey, keyPem, certPem, info };
  }

  /** The pair of `spec`: reloaded when still good, issued (again) otherwise. */
  async ensure(spec: PairSpec, signer: Pair | undefined): Promise<Pair> {
    const current = await this.load(spec.name);
    if (current && this.stillGood(current, spec, signer)) return current;
    return this.issue(spec, signer);
  }

  private stillGood(p: Pair, spec: PairSpec, signer: Pair | undefined): boolean {
    if (signer ? !isSignedBy(p.info, signer.info) : !p.info.selfIssued) return false;
    if (spec.kind === "ca") return true; // a CA is kept as long as it can be read: customers trust it
    if (spec.host && !(p.info.subjectAltNames ?? []).includes(`DNS:${spec.host}`)) return false;
    return p.info.notAfter.getTime() - Date.now() > LEAF_RENEW_BEFORE_DAYS * DAY;
  }
}

function pemOf(...pairs: Pair[]): string {
  return pairs.map((p) => p.certPem).join("");
}

function key(program: ProgramId, environmentId: string): string {
  return `${program}-${environmentId}`;
}

/**
 * Loads the emulator's PKI from `<dir>/pki/`, creating what is missing (first start: a few
 * hundred milliseconds, most of it the two RSA keys of the Amazon-like chain).
 *
 * @throws MtlsError EMULATOR_STATE_INVALID when a file there is damaged; WRITE_FAILED when the
 *   folder cannot be written.
 *
 * @example
 * const pki = await loadOrCreateEmulatorPki(".mtlskit-emulator");
 * const { certificatePem } = pki.signD1Csr("preprod", csrDer, "123456");
 */
export async function loadOrCreateEmulatorPki(dir: string): Promise<EmulatorPki> {
  const pkiDir = path.join(path.resolve(dir), "pki");
  try {
    await fs.mkdir(pkiDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new MtlsError("WRITE_FAILED", `${pkiDir}: the emulator's PKI folder cannot be created (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { subject: pkiDir, cause: e });
  }
  const store = new PkiStore(pkiDir);

  const businessCas = new Map<string, Pair>();
  const clientLeaves = new Map<string, Pair>();
  const serverLeaves = new Map<string, Pair>();
  const serverCas = new Map<ProgramId, { root: Pair; intermediate: Pair }>();

  const clientLeafSpec = (program: ProgramId, environmentId: string): PairSpec => ({
    name: `client-${program}-${environmentId}`,
    subject: `/C=FR/O=Thales DIS/OU=Client PKI/CN=${emulatorClientCommonName(program, environmentId)}`,
    keyType: "ecdsa-p256",
    validityDays: CLIENT_LEAF_VALIDITY_DAYS,
    kind: "client",
  });

  const business = Promise.all(
    d1.environments.map(async (env) => {
      const ca = await store.ensure(
        { name: `business-ca-d1-${env.id}`, subject: EMULATOR_CA_SUBJECTS.businessCa.replace("{envCode}", env.cnCode ?? env.id.toUpperCase()), keyType: "ecdsa-p256", validityDays: CA_VALIDITY_DAYS, kind: "ca" },
        undefined,
      );
      businessCas.set(env.id, ca);
    }),
  );

  const clientCaReady = store.ensure({ name: "client-ca", subject: EMULATOR_CA_SUBJECTS.clientCa, keyType: "ecdsa-p256", validityDays: CA_VALIDITY_DAYS, kind: "ca" }, undefined);
  const clients = clientCaReady.then((ca) =>
    Promise.all(
      Object.values(PROGRAMS).flatMap((program) =>
        program.environments.map(async (env) => {
          clientLeaves.set(key(program.id, env.id), await store.ensure(clientLeafSpec(program.id, env.id), ca));
        }),
      ),
    ),
  );

  const serverChain = async (program: ProgramId, rootSubject: string, intermediateSubject: string, caKeyType: KeyType): Promise<void> => {
    const root = await store.ensure({ name: `server-${program}-root`, subject: rootSubject, keyType: caKeyType, validityDays: CA_VALIDITY_DAYS, kind: "ca" }, undefined);
    const intermediate = await store.ensure(
      { name: `server-${program}-intermediate`, subject: intermediateSubject, keyType: caKeyType, validityDays: CA_VALIDITY_DAYS, kind: "intermediate" },
      root,
    );
    serverCas.set(program, { root, intermediate });
    await Promise.all(
      getProgram(program).environments.map(async (env) => {
        const host = emulatorHost(env);
        const leaf = await store.ensure(
          { name: `server-${program}-${env.id}`, subject: `/C=FR/O=Thales DIS/CN=${host}`, keyType: "ecdsa-p256", validityDays: SERVER_LEAF_VALIDITY_DAYS, kind: "server", host },
          intermediate,
        );
        serverLeaves.set(key(program, env.id), leaf);
      }),
    );
  };

  await Promise.all([
    business,
    clients,
    serverChain("mt", EMULATOR_CA_SUBJECTS.mtServerRoot, EMULATOR_CA_SUBJECTS.mtServerIntermediate, "ecdsa-p256"),
    serverChain("d1", EMULATOR_CA_SUBJECTS.d1ServerRoot, EMULATOR_CA_SUBJECTS.d1ServerIntermediate, "rsa-2048"),
  ]);
  const clientCa = await clientCaReady;
  const serial = new Serial();

  const envId = (program: ProgramId, environmentId: string): string => getEnvironment(getProgram(program), environmentId).id;

  const businessCaOf = (environmentId: string): Pair => {
    const ca = businessCas.get(getEnvironment(d1, environmentId).id);
    if (!ca) throw new MtlsError("INTERNAL", `no Business PKI CA for D1 ${environmentId}`);
    return ca;
  };

  const clientCredentialOf = (leaf: Pair): ClientCredential => ({
    certPem: leaf.certPem,
    keyPem: leaf.keyPem,
    chainPem: pemOf(leaf, clientCa),
    caPem: clientCa.certPem,
    info: leaf.info,
  });

  const leafOf = (map: Map<string, Pair>, program: ProgramId, environmentId: string): Pair => {
    const leaf = map.get(key(program, envId(program, environmentId)));
    if (!leaf) throw new MtlsError("INTERNAL", `no certificate for ${program} ${environmentId}`);
    return leaf;
  };

  return {
    pkiDir,
    businessCaPem: (environmentId) => businessCaOf(environmentId).certPem,
    businessCa: (environmentId) => businessCaOf(environmentId).info,
    signD1Csr(environmentId, csrDer, gatewayId) {
      const env = getEnvironment(d1, environmentId);
      const ca = businessCaOf(env.id);
      assertCustomerId(d1, gatewayId);
      const csr = parseCsr(csrDer);
      if (!csr.signatureValid) {
        throw new MtlsError("INPUT_NOT_RECOGNIZED", "the CSR's signature does not verify with its own public key: it was altered or damaged", {
          hint: "Create the CSR again from its private key; never edit a CSR by hand.",
        });
      }
      const isRsa = csr.publicKey.asymmetricKeyType === "rsa";
      const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
      const hash = "sha256";
      // createCertificate encodes a subject the way openssl -utf8 does; the CSR's own bytes are
      // put back afterwards, so any encoding the customer's tool chose is kept exactly.
      const draft = createCertificate({
        subject: [[{ type: "CN", oid: "2.5.4.3", value: "subject" }]],
        publicKey: csr.publicKey,
        signingKey: ca.key,
        issuer: { subjectDer: ca.info.subjectDer, subjectKeyIdentifier: ski(ca.info) },
        notBefore,
        notAfter: new Date(notBefore.getTime() + D1_ISSUED_VALIDITY_DAYS * DAY),
        hash,
        extensions: {
          basicConstraints: { ca: false },
          keyUsage: isRsa ? ["digitalSignature", "keyEncipherment"] : ["digitalSignature"],
          extKeyUsage: [OID.clientAuth],
        },
      });
      const der = withSubject(draft, csr.subjectDer, ca.key, hash);
      const info = parseCertificate(der, "signed certificate");
      const certificatePem = toPem("CERTIFICATE", der);
      return { certificatePem, chainPem: certificatePem + ca.certPem, info, environment: env.id, gatewayId };
    },
    clientCaPem: () => clientCa.certPem,
    clientCredential: (program, environmentId) => clientCredentialOf(leafOf(clientLeaves, program, environmentId)),
    rotateClientCertificate: (program, environmentId) =>
      serial.run(async () => {
        const id = envId(program, environmentId);
        const leaf = await store.issue(clientLeafSpec(program, id), clientCa);
        clientLeaves.set(key(program, id), leaf);
        return clientCredentialOf(leaf);
      }),
    serverCredential(program, environmentId) {
      const leaf = leafOf(serverLeaves, program, environmentId);
      const cas = serverCas.get(program)!;
      return { certPem: leaf.certPem, keyPem: leaf.keyPem, chainPem: pemOf(leaf, cas.intermediate), info: leaf.info };
    },
    serverTrustPem(program, environmentId) {
      envId(program, environmentId);
      const cas = serverCas.get(program)!;
      return pemOf(cas.intermediate, cas.root);
    },
  };
}

/** The certificate `der` with its subject replaced by `subjectDer` (kept byte for byte), signed again. */
function withSubject(der: Uint8Array, subjectDer: Uint8Array, signingKey: KeyObject, hash: "sha256"): Uint8Array {
  const cert = pkijs.Certificate.fromBER(der);
  cert.subject = pkijs.RelativeDistinguishedNames.fromBER(subjectDer);
  const tbs = new Uint8Array(cert.encodeTBS().toBER(false));
  cert.tbsView = tbs;
  cert.signatureValue = new asn1js.BitString({ valueHex: cryptoSign(hash, tbs, signingKey) });
  return new Uint8Array(cert.toSchema(false).toBER(false));
}
