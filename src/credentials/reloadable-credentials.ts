import { createPublicKey, type KeyObject } from "node:crypto";
import { MtlsError } from "../errors/index.js";
import {
  isPkcs11Uri,
  isSignedBy,
  keysMatch,
  openTokenKey,
  readCertificates,
  readPrivateKeyFile,
  readPassphraseFile,
  tlsTokenKeyOptions,
  type CertificateInfo,
  type Pkcs11Options,
  type TlsTokenKeyOptions,
} from "../pki/index.js";

/** Where a TLS identity's files are. Every path is read again at each reload. */
export interface CredentialFiles {
  /** PEM (or DER) certificate, optionally followed by its chain; or a PKCS#12 (with `passphraseFile`). */
  certFile: string;
  /** Private key (PKCS#8, PKCS#1 or SEC1, PEM or DER; or a PKCS#12), or a `pkcs11:` URI of a key in a token. */
  keyFile: string;
  /** Module and PIN of a key in a token (else MTLSKIT_PKCS11_MODULE / MTLSKIT_PKCS11_PIN). */
  pkcs11?: Pkcs11Options;
  /** Passphrase file of an encrypted key, or of the PKCS#12 files among these. */
  passphraseFile?: string;
  /** Extra chain certificates, when not in certFile. */
  chainFile?: string;
  /** CA certificates to trust for the peer (a client CA for a server, server CAs for a client). */
  caFile?: string;
}

/** One complete, validated set of TLS material, ready for `tls.createSecureContext`. */
export interface CredentialSet {
  /** Leaf followed by its chain, PEM, in order. */
  readonly certChainPem: string;
  /** The private key as PKCS#8 PEM (memory only; never logged). Empty for a key in a token. */
  readonly keyPem: string;
  /**
   * The key as TLS options take it: `{ key }` for a key file, OpenSSL's pkcs11 engine options
   * for a key in a token. Spread it into `tls`/`https` options. Never logged: it may carry a PIN.
   */
  readonly tlsKey: { readonly key: string } | TlsTokenKeyOptions;
  /** Where the key is, for messages: the file, or `key in token ..., non-extractable`. */
  readonly keyLocation: string;
  /** Trusted CA certificates, PEM; empty when no caFile. */
  readonly caPem: string;
  readonly leaf: CertificateInfo;
  readonly chain: readonly CertificateInfo[];
  readonly cas: readonly CertificateInfo[];
  /** When it was loaded. */
  readonly loadedAt: Date;
  /** Increases by one at each successful load. */
  readonly version: number;
}

/** The result of a reload. */
export type ReloadResult = { ok: true; changed: boolean; set: CredentialSet } | { ok: false; error: MtlsError; kept: CredentialSet };

/** Validation rules applied to a set before it is accepted. */
export interface CredentialRules {
  /** Refuse a leaf that has expired or is not yet valid. Default true. */
  requireCurrentLeaf?: boolean;
  /** Refuse a CA file containing a non-CA certificate (a leaf pinned as trust). Default true. */
  refuseLeafAsCa?: boolean;
}

function sameSpki(a: KeyObject, b: KeyObject): boolean {
  return a.export({ type: "spki", format: "der" }).equals(b.export({ type: "spki", format: "der" }));
}

function pemOf(c: CertificateInfo): string {
  const b64 = Buffer.from(c.der).toString("base64").match(/.{1,64}/g)?.join("\n") ?? "";
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/**
 * Reads and validates a whole set: the key matches the leaf, each chain link is signed by the
 * next, the leaf is current, the CA file holds CAs only. Throws a coded `MtlsError` naming the
 * file at the first problem.
 */
export async function loadCredentialSet(files: CredentialFiles, rules: CredentialRules = {}, version = 1, now = new Date()): Promise<CredentialSet> {
  const passphrase = files.passphraseFile ? await readPassphraseFile(files.passphraseFile) : undefined;
  const withPass = passphrase !== undefined ? { passphrase } : {};
  const certs = await readCertificates(files.certFile, withPass);
  const extra = files.chainFile ? await readCertificates(files.chainFile, withPass) : [];
  const chain = [...certs, ...extra];
  const leaf = chain[0]!;
  let tlsKey: CredentialSet["tlsKey"];
  let keyPem = "";
  let keyLocation = files.keyFile;
  let matches: boolean;
  if (isPkcs11Uri(files.keyFile)) {
    // The key stays in the token: check it is there and belongs to the leaf, then hand TLS the engine.
    const tokenKey = openTokenKey(files.keyFile, files.pkcs11);
    try {
      matches = sameSpki(tokenKey.publicKey, leaf.publicKey);
      keyLocation = tokenKey.info.summary;
    } finally {
      tokenKey.close();
    }
    tlsKey = tlsTokenKeyOptions(files.keyFile, files.pkcs11);
  } else {
    const key: KeyObject = await readPrivateKeyFile(files.keyFile, withPass);
    matches = keysMatch(key, leaf.publicKey);
    keyPem = key.export({ type: "pkcs8", format: "pem" }).toString();
    tlsKey = { key: keyPem };
  }
  if (!matches) {
    throw new MtlsError("KEY_MISMATCH", `${files.keyFile}: the private key does not belong to the certificate in ${files.certFile}`, { subject: files.keyFile });
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!isSignedBy(chain[i]!, chain[i + 1]!)) {
      throw new MtlsError("CHAIN_INVALID", `${files.chainFile ?? files.certFile}: certificate ${i + 1} (${chain[i]!.subjectText}) is not signed by the next one (${chain[i + 1]!.subjectText})`, { subject: files.certFile });
    }
  }
  if (rules.requireCurrentLeaf !== false) {
    if (now < leaf.notBefore) throw new MtlsError("CERTIFICATE_NOT_CURRENT", `${files.certFile}: the certificate is not valid before ${leaf.notBefore.toISOString()}`, { subject: files.certFile });
    if (now > leaf.notAfter) throw new MtlsError("CERTIFICATE_NOT_CURRENT", `${files.certFile}: the certificate expired on ${leaf.notAfter.toISOString()}`, { subject: files.certFile });
  }
  const cas = files.caFile ? await readCertificates(files.caFile) : [];
  if (rules.refuseLeafAsCa !== false) {
    const leafInCa = cas.find((c) => !c.basicConstraints?.ca);
    if (leafInCa) {
      throw new MtlsError("LEAF_AS_CA", `${files.caFile}: ${leafInCa.subjectText} is not a CA certificate; trusting it would pin a leaf, which Thales may rotate at any time`, { subject: files.caFile });
    }
  }
  return {
    certChainPem: chain.map(pemOf).join(""),
    keyPem,
    tlsKey,
    keyLocation,
    caPem: cas.map(pemOf).join(""),
    leaf,
    chain,
    cas,
    loadedAt: now,
    version,
  };
}

/**
 * TLS material that can be reloaded while in use. The contract (as ghostunnel's): `reload()`
 * validates the whole new set and swaps it in one step, or keeps the old set and says why.
 * Readers call `current()` at each handshake; listeners hear of each successful swap.
 * After `close()`, `reload()` rejects with `ALREADY_CLOSED` and no listener is called again.
 *
 * @example
 * const creds = await ReloadableCredentials.load({ certFile: "server.crt", keyFile: "server.key", caFile: "thales-client-ca.pem" });
 * const r = await creds.reload(); // after the files changed
 * if (!r.ok) log.warn(r.error.message); // still serving with the old set
 */
export class ReloadableCredentials {
  private set: CredentialSet;
  private readonly listeners = new Set<(set: CredentialSet, previous: CredentialSet) => void>();
  private reloading: Promise<ReloadResult> | undefined;
  private closed = false;

  private constructor(
    readonly files: CredentialFiles,
    readonly rules: CredentialRules,
    initial: CredentialSet,
  ) {
    this.set = initial;
  }

  /** Loads the first set; throws when it is not valid (there is no old set to keep). */
  static async load(files: CredentialFiles, rules: CredentialRules = {}): Promise<ReloadableCredentials> {
    return new ReloadableCredentials(files, rules, await loadCredentialSet(files, rules));
  }

  /** The set in force. */
  current(): CredentialSet {
    return this.set;
  }

  /** Calls `fn` after every successful swap; returns a function that removes it. Once closed, `fn` is never called. */
  onChange(fn: (set: CredentialSet, previous: CredentialSet) => void): () => void {
    if (this.closed) return () => false;
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** True once {@link close} has been called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Ends the reloads: listeners are dropped and are never called again (not even by a reload
   * already running), `reload()` rejects with `ALREADY_CLOSED`. `current()` still returns the
   * last set, for connections that are finishing. Calling it again does nothing.
   */
  close(): void {
    this.closed = true;
    this.listeners.clear();
  }

  /**
   * Reads the files again. A valid new set replaces the current one (listeners are called);
   * an invalid one is refused and the current set stays. Concurrent calls share one reload.
   */
  reload(): Promise<ReloadResult> {
    if (this.closed) {
      return Promise.reject(new MtlsError("ALREADY_CLOSED", "reload() after close(): these credentials are closed and are not read again", { hint: "Load a new set: ReloadableCredentials.load(files)." }));
    }
    this.reloading ??= this.doReload().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async doReload(): Promise<ReloadResult> {
    let next: CredentialSet;
    try {
      next = await loadCredentialSet(this.files, this.rules, this.set.version + 1);
    } catch (e) {
      const error = e instanceof MtlsError ? e : new MtlsError("INTERNAL", `reload failed: ${(e as Error).message}`, { cause: e });
      return { ok: false, error, kept: this.set };
    }
    const same = next.certChainPem === this.set.certChainPem && next.caPem === this.set.caPem && next.keyLocation === this.set.keyLocation && samePublicKey(next.keyPem, this.set.keyPem);
    if (same) return { ok: true, changed: false, set: this.set };
    // Closed while the files were read: the swap is not made (nobody listens any more).
    if (this.closed) return { ok: true, changed: false, set: this.set };
    const previous = this.set;
    this.set = next;
    for (const fn of this.listeners) fn(next, previous);
    return { ok: true, changed: true, set: next };
  }
}

function samePublicKey(a: string, b: string): boolean {
  if (a === b) return true; // also two keys in a token (no PEM): keyLocation tells them apart
  if (a === "" || b === "") return false;
  const pa = createPublicKey(a).export({ type: "spki", format: "der" });
  const pb = createPublicKey(b).export({ type: "spki", format: "der" });
  return Buffer.compare(pa, pb) === 0;
}
