/**
 * PKCS#12 (RFC 7292) writing and reading. The ASN.1 structures (PFX, AuthenticatedSafe,
 * SafeContents, SafeBag, CertBag, EncryptedData, PBES2 parameters) are pkijs/asn1js objects;
 * the cryptography (PBKDF2, AES-CBC, 3DES-CBC, the PKCS#12 key derivation, HMAC) is node:crypto,
 * so that the legacy 3DES files old runtimes need can be written and read too (WebCrypto has no
 * 3DES, and pkijs's own PBE only does PBES2).
 *
 * Default: what `openssl pkcs12 -export` writes in OpenSSL 3 (PBES2, PBKDF2-HMAC-SHA-256,
 * AES-256-CBC for the key bag and the certificates; HMAC-SHA-256 MAC). Legacy:
 * pbeWithSHAAnd3-KeyTripleDES-CBC with a SHA-1 MAC. RC2 is never written, but it is read: OpenSSL
 * before 3 and `openssl pkcs12 -export -legacy` encrypt the certificates with RC2-40, and Node's
 * OpenSSL 3 has no RC2 (it lives in the legacy provider), so the RC2 block cipher comes from
 * node-forge (loaded only for such files). RC4 gives `PKCS12_UNSUPPORTED_CIPHER` naming the
 * cipher and the openssl command that converts it.
 */
import { createRequire } from "node:module";
import { createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, pbkdf2Sync, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { MtlsError } from "../errors/index.js";

const OID = {
  data: "1.2.840.113549.1.7.1",
  encryptedData: "1.2.840.113549.1.7.6",
  keyBag: "1.2.840.113549.1.12.10.1.1",
  shroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  certBag: "1.2.840.113549.1.12.10.1.3",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  friendlyName: "1.2.840.113549.1.9.20",
  localKeyId: "1.2.840.113549.1.9.21",
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  pbeSha3Des: "1.2.840.113549.1.12.1.3",
  pbeSha2Des: "1.2.840.113549.1.12.1.4",
  pbeShaRc2_128: "1.2.840.113549.1.12.1.5",
  pbeShaRc2_40: "1.2.840.113549.1.12.1.6",
  pbeShaRc4_128: "1.2.840.113549.1.12.1.1",
  pbeShaRc4_40: "1.2.840.113549.1.12.1.2",
  /** Oracle's trusted-key-usage attribute: what makes keytool list a certificate as trustedCertEntry. */
  javaTrustedKeyUsage: "2.16.840.1.113894.746875.1.1",
  anyExtendedKeyUsage: "2.5.29.37.0",
} as const;

const HASHES: Record<string, { name: string; len: number; block: number }> = {
  "1.3.14.3.2.26": { name: "sha1", len: 20, block: 64 },
  "2.16.840.1.101.3.4.2.1": { name: "sha256", len: 32, block: 64 },
  "2.16.840.1.101.3.4.2.2": { name: "sha384", len: 48, block: 128 },
  "2.16.840.1.101.3.4.2.3": { name: "sha512", len: 64, block: 128 },
};
const HMACS: Record<string, string> = {
  "1.2.840.113549.2.7": "sha1",
  "1.2.840.113549.2.9": "sha256",
  "1.2.840.113549.2.10": "sha384",
  "1.2.840.113549.2.11": "sha512",
};
const AES: Record<string, { cipher: string; keyLen: number }> = {
  "2.16.840.1.101.3.4.1.2": { cipher: "aes-128-cbc", keyLen: 16 },
  "2.16.840.1.101.3.4.1.22": { cipher: "aes-192-cbc", keyLen: 24 },
  "2.16.840.1.101.3.4.1.42": { cipher: "aes-256-cbc", keyLen: 32 },
};
const LEGACY_NAMES: Record<string, string> = {
  [OID.pbeShaRc2_40]: "pbeWithSHAAnd40BitRC2-CBC (RC2-40)",
  [OID.pbeShaRc2_128]: "pbeWithSHAAnd128BitRC2-CBC (RC2-128)",
  [OID.pbeShaRc4_40]: "pbeWithSHAAnd40BitRC4",
  [OID.pbeShaRc4_128]: "pbeWithSHAAnd128BitRC4",
};

/** Default PBKDF2 / MAC iteration count (OpenSSL 3's). */
export const PKCS12_ITERATIONS = 2048;

/** One certificate to put in a PKCS#12. */
export interface Pkcs12CertEntry {
  /** DER of the certificate. */
  der: Uint8Array;
  friendlyName?: string;
  /** Local key id (the key bag carries the same); set on the leaf that goes with the key. */
  localKeyId?: Uint8Array;
  /** Java truststore: carries the trusted-key-usage attribute (keytool's trustedCertEntry). */
  javaTrusted?: boolean;
}

/** What {@link writePkcs12} puts in the file. */
export interface WritePkcs12Options {
  password: string;
  /** A private key (with `friendlyName` and `localKeyId` of its certificate). Absent: a certificate-only store. */
  key?: { key: KeyObject; friendlyName?: string; localKeyId: Uint8Array };
  certificates: readonly Pkcs12CertEntry[];
  /** pbeWithSHAAnd3-KeyTripleDES-CBC and a SHA-1 MAC, for old runtimes. Default: PBES2 AES-256 + HMAC-SHA-256. */
  legacy?: boolean;
  iterations?: number;
}

/** What a PKCS#12 holds, as read. */
export interface Pkcs12Contents {
  keys: Array<{ key: KeyObject; friendlyName?: string; localKeyId?: string; encryption: string }>;
  certificates: Array<{ der: Uint8Array; friendlyName?: string; localKeyId?: string; javaTrusted: boolean; encryption: string }>;
  /** The MAC, e.g. `HMAC-SHA-256, 2048 iterations`, or `none`. */
  mac: string;
  /** Every encryption used, e.g. `PBES2 (PBKDF2-HMAC-SHA-256, AES-256-CBC, 2048 iterations)`. */
  encryptions: string[];
  /** Set when the file uses 3DES or a SHA-1 MAC: fine for old runtimes, not what new files should use. */
  legacyWarning?: string;
}

// ---- key derivation and ciphers ----

function bmpPassword(password: string): Buffer {
  const b = Buffer.alloc(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) b.writeUInt16BE(password.charCodeAt(i), i * 2);
  return b;
}

/** RFC 7292 appendix B.2: the PKCS#12 key derivation (MAC keys and the legacy PBE ciphers). */
export function pkcs12Kdf(hash: string, password: string, salt: Uint8Array, iterations: number, id: 1 | 2 | 3, n: number): Buffer {
  const info = Object.values(HASHES).find((h) => h.name === hash);
  if (!info) throw new MtlsError("PKCS12_UNSUPPORTED_CIPHER", `the PKCS#12 key derivation with ${hash} is not supported`);
  const { len: u, block: v } = info;
  const fill = (src: Buffer): Buffer => {
    if (src.length === 0) return Buffer.alloc(0);
    const out = Buffer.alloc(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([fill(Buffer.from(salt)), fill(bmpPassword(password))]);
  const out: Buffer[] = [];
  for (let got = 0; got < n; got += u) {
    let A = createHash(hash).update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash(hash).update(A).digest();
    out.push(A);
    const B = fill(A);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const s = I[j + k]! + B[k]! + carry;
        I[j + k] = s & 0xff;
        carry = s >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, n);
}

function pbes2Params(salt: Buffer, iterations: number, iv: Buffer): asn1js.Sequence {
  return new pkijs.PBES2Params({
    keyDerivationFunc: new pkijs.AlgorithmIdentifier({
      algorithmId: OID.pbkdf2,
      algorithmParams: new pkijs.PBKDF2Params({
        salt: new asn1js.OctetString({ valueHex: salt }),
        iterationCount: iterations,
        prf: new pkijs.AlgorithmIdentifier({ algorithmId: "1.2.840.113549.2.9", algorithmParams: new asn1js.Null() }),
      }).toSchema(),
    }),
    encryptionScheme: new pkijs.AlgorithmIdentifier({ algorithmId: "2.16.840.1.101.3.4.1.42", algorithmParams: new asn1js.OctetString({ valueHex: iv }) }),
  }).toSchema() as asn1js.Sequence;
}

function encrypt(data: Uint8Array, password: string, legacy: boolean, iterations: number): { algorithm: pkijs.AlgorithmIdentifier; encrypted: Buffer } {
  if (legacy) {
    const salt = randomBytes(8);
    const key = pkcs12Kdf("sha1", password, salt, iterations, 1, 24);
    const iv = pkcs12Kdf("sha1", password, salt, iterations, 2, 8);
    const c = createCipheriv("des-ede3-cbc", key, iv);
    const encrypted = Buffer.concat([c.update(data), c.final()]);
    const params = new asn1js.Sequence({ value: [new asn1js.OctetString({ valueHex: salt }), new asn1js.Integer({ value: iterations })] });
    return { algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.pbeSha3Des, algorithmParams: params }), encrypted };
  }
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const key = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
  const c = createCipheriv("aes-256-cbc", key, iv);
  const encrypted = Buffer.concat([c.update(data), c.final()]);
  return { algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.pbes2, algorithmParams: pbes2Params(salt, iterations, iv) }), encrypted };
}

/** Decrypts with the algorithm of a bag or EncryptedData; returns the plaintext and a description. */
function decrypt(alg: pkijs.AlgorithmIdentifier, data: Uint8Array, password: string, where: string): { plain: Buffer; description: string } {
  const id = alg.algorithmId;
  const fail = (): never => {
    throw new MtlsError("PKCS12_BAD_PASSPHRASE", `${where}: the passphrase does not decrypt the PKCS#12`, { hint: "Give the passphrase the file was exported with (--passphrase-file)." });
  };
  if (id === OID.pbeSha3Des || id === OID.pbeSha2Des) {
    const p = alg.algorithmParams as asn1js.Sequence;
    const salt = (p.valueBlock.value[0] as asn1js.OctetString).getValue();
    const iterations = (p.valueBlock.value[1] as asn1js.Integer).valueBlock.valueDec;
    const three = id === OID.pbeSha3Des;
    let key = pkcs12Kdf("sha1", password, new Uint8Array(salt), iterations, 1, three ? 24 : 16);
    if (!three) key = Buffer.concat([key, key.subarray(0, 8)]);
    const iv = pkcs12Kdf("sha1", password, new Uint8Array(salt), iterations, 2, 8);
    try {
      const d = createDecipheriv("des-ede3-cbc", key, iv);
      return { plain: Buffer.concat([d.update(data), d.final()]), description: `pbeWithSHAAnd${three ? 3 : 2}-KeyTripleDES-CBC, ${iterations} iterations` };
    } catch {
      return fail();
    }
  }
  if (id === OID.pbes2) {
    const params = new pkijs.PBES2Params({ schema: alg.algorithmParams });
    if (params.keyDerivationFunc.algorithmId !== OID.pbkdf2) throw new MtlsError("PKCS12_UNSUPPORTED_CIPHER", `${where}: PBES2 with the key derivation ${params.keyDerivationFunc.algorithmId} is not supported (PBKDF2 is)`);
    const kdf = new pkijs.PBKDF2Params({ schema: params.keyDerivationFunc.algorithmParams });
    const prfOid = kdf.prf?.algorithmId ?? "1.2.840.113549.2.7";
    const prf = HMACS[prfOid];
    const aes = AES[params.encryptionScheme.algorithmId];
    if (!prf || !aes) throw new MtlsError("PKCS12_UNSUPPORTED_CIPHER", `${where}: PBES2 with ${aes ? `the PRF ${prfOid}` : `the cipher ${params.encryptionScheme.algorithmId}`} is not supported (AES-CBC with HMAC-SHA-1/256/384/512 are)`);
    const salt = (kdf.salt as asn1js.OctetString).getValue();
    const iv = (params.encryptionScheme.algorithmParams as asn1js.OctetString).getValue();
    const key = pbkdf2Sync(Buffer.from(password, "utf8"), new Uint8Array(salt), kdf.iterationCount, aes.keyLen, prf);
    try {
      const d = createDecipheriv(aes.cipher, key, new Uint8Array(iv));
      return { plain: Buffer.concat([d.update(data), d.final()]), description: `PBES2 (PBKDF2-HMAC-${prf.toUpperCase().replace("SHA", "SHA-")}, ${aes.cipher.toUpperCase()}, ${kdf.iterationCount} iterations)` };
    } catch {
      return fail();
    }
  }
  if (id === OID.pbeShaRc2_40 || id === OID.pbeShaRc2_128) {
    const p = alg.algorithmParams as asn1js.Sequence;
    const salt = new Uint8Array((p.valueBlock.value[0] as asn1js.OctetString).getValue());
    const iterations = (p.valueBlock.value[1] as asn1js.Integer).valueBlock.valueDec;
    const bits = id === OID.pbeShaRc2_40 ? 40 : 128;
    const key = pkcs12Kdf("sha1", password, salt, iterations, 1, bits / 8);
    const iv = pkcs12Kdf("sha1", password, salt, iterations, 2, 8);
    const plain = rc2CbcDecrypt(key, iv, data, bits);
    if (!plain) return fail();
    return { plain, description: `${LEGACY_NAMES[id]}, ${iterations} iterations` };
  }
  const legacy = LEGACY_NAMES[id];
  throw new MtlsError("PKCS12_UNSUPPORTED_CIPHER", `${where}: the PKCS#12 is encrypted with ${legacy ?? `the algorithm ${id}`}, which mtlskit does not read${legacy ? " (a legacy cipher OpenSSL 3 dropped)" : ""}`, {
    hint: "Convert it: openssl pkcs12 -legacy -in OLD.p12 -nodes -out tmp.pem && openssl pkcs12 -export -in tmp.pem -out NEW.p12 (then delete tmp.pem).",
  });
}

/** RC2-CBC decryption (RFC 2268) with node-forge's RC2; undefined when the padding is wrong. */
function rc2CbcDecrypt(key: Buffer, iv: Buffer, data: Uint8Array, bits: number): Buffer | undefined {
  const forge = createRequire(import.meta.url)("node-forge") as typeof import("node-forge");
  const d = forge.rc2.createDecryptionCipher(forge.util.createBuffer(key.toString("binary")), bits);
  d.start(forge.util.createBuffer(iv.toString("binary")));
  d.update(forge.util.createBuffer(Buffer.from(data).toString("binary")));
  if (!d.finish()) return undefined;
  return Buffer.from(d.output.getBytes(), "binary");
}

// ---- writing ----

function attributes(friendlyName: string | undefined, localKeyId: Uint8Array | undefined, javaTrusted = false): pkijs.Attribute[] {
  const out: pkijs.Attribute[] = [];
  if (javaTrusted) out.push(new pkijs.Attribute({ type: OID.javaTrustedKeyUsage, values: [new asn1js.ObjectIdentifier({ value: OID.anyExtendedKeyUsage })] }));
  if (friendlyName !== undefined) out.push(new pkijs.Attribute({ type: OID.friendlyName, values: [new asn1js.BmpString({ value: friendlyName })] }));
  if (localKeyId) out.push(new pkijs.Attribute({ type: OID.localKeyId, values: [new asn1js.OctetString({ valueHex: localKeyId })] }));
  return out;
}

function withAttrs(bag: pkijs.SafeBag, attrs: pkijs.Attribute[]): pkijs.SafeBag {
  if (attrs.length) bag.bagAttributes = attrs;
  return bag;
}

/**
 * Writes a PKCS#12 (DER): certificates in an encrypted SafeContents, the key (if any) in a
 * shrouded key bag, a password MAC over everything.
 *
 * @example
 * const der = writePkcs12({ password, key: { key, friendlyName: "client", localKeyId }, certificates: [{ der: leaf, friendlyName: "client", localKeyId }] });
 */
export function writePkcs12(options: WritePkcs12Options): Uint8Array {
  const legacy = options.legacy === true;
  const iterations = options.iterations ?? PKCS12_ITERATIONS;
  const { password } = options;
  const certBags = options.certificates.map((c) =>
    withAttrs(
      new pkijs.SafeBag({
        bagId: OID.certBag,
        bagValue: new pkijs.CertBag({ certId: OID.x509Certificate, certValue: new asn1js.OctetString({ valueHex: c.der }) }),
      }),
      attributes(c.friendlyName, c.localKeyId, c.javaTrusted),
    ),
  );
  const contentInfos: pkijs.ContentInfo[] = [];
  if (certBags.length) {
    const plain = new pkijs.SafeContents({ safeBags: certBags }).toSchema().toBER(false);
    const { algorithm, encrypted } = encrypt(new Uint8Array(plain), password, legacy, iterations);
    const ed = new pkijs.EncryptedData({
      version: 0,
      encryptedContentInfo: new pkijs.EncryptedContentInfo({ contentType: OID.data, contentEncryptionAlgorithm: algorithm, encryptedContent: new asn1js.OctetString({ valueHex: encrypted }) }),
    });
    contentInfos.push(new pkijs.ContentInfo({ contentType: OID.encryptedData, content: ed.toSchema() }));
  }
  if (options.key) {
    const pkcs8 = options.key.key.export({ type: "pkcs8", format: "der" });
    const { algorithm, encrypted } = encrypt(pkcs8, password, legacy, iterations);
    const shrouded = new pkijs.PKCS8ShroudedKeyBag({ encryptionAlgorithm: algorithm, encryptedData: new asn1js.OctetString({ valueHex: encrypted }) });
    const bag = withAttrs(new pkijs.SafeBag({ bagId: OID.shroudedKeyBag, bagValue: shrouded }), attributes(options.key.friendlyName, options.key.localKeyId));
    const sc = new pkijs.SafeContents({ safeBags: [bag] }).toSchema().toBER(false);
    contentInfos.push(new pkijs.ContentInfo({ contentType: OID.data, content: new asn1js.OctetString({ valueHex: sc }) }));
  }
  const authSafe = new Uint8Array(new pkijs.AuthenticatedSafe({ safeContents: contentInfos }).toSchema().toBER(false));
  const hash = legacy ? { name: "sha1", oid: "1.3.14.3.2.26", len: 20 } : { name: "sha256", oid: "2.16.840.1.101.3.4.2.1", len: 32 };
  const macSalt = randomBytes(legacy ? 8 : 16);
  const macKey = pkcs12Kdf(hash.name, password, macSalt, iterations, 3, hash.len);
  const mac = createHmac(hash.name, macKey).update(authSafe).digest();
  const pfx = new pkijs.PFX({
    version: 3,
    authSafe: new pkijs.ContentInfo({ contentType: OID.data, content: new asn1js.OctetString({ valueHex: authSafe }) }),
    macData: new pkijs.MacData({
      mac: new pkijs.DigestInfo({ digestAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: hash.oid, algorithmParams: new asn1js.Null() }), digest: new asn1js.OctetString({ valueHex: mac }) }),
      macSalt: new asn1js.OctetString({ valueHex: macSalt }),
      iterations,
    }),
  });
  return new Uint8Array(pfx.toSchema().toBER(false));
}

// ---- reading ----

/**
 * True when the bytes look like a PKCS#12 (a DER SEQUENCE { INTEGER 3, ContentInfo ... }),
 * without a passphrase. Used to recognise a PKCS#12 given where a PEM or a key was expected.
 */
export function looksLikePkcs12(data: Uint8Array): boolean {
  if (data.length < 16 || data[0] !== 0x30) return false;
  try {
    const asn = asn1js.fromBER(data);
    if (asn.offset === -1) return false;
    const seq = asn.result as asn1js.Sequence;
    const v = seq.valueBlock.value;
    return v.length >= 2 && v[0] instanceof asn1js.Integer && v[0].valueBlock.valueDec === 3 && v[1] instanceof asn1js.Sequence && (v[1].valueBlock.value[0] as asn1js.ObjectIdentifier | undefined)?.valueBlock?.toString?.() === OID.data;
  } catch {
    return false;
  }
}

function damaged(where: string, why: string): MtlsError {
  return new MtlsError("PKCS12_INVALID", `${where}: not a readable PKCS#12 (${why})`, { hint: "The file is damaged or not PKCS#12: export it again from its source (openssl pkcs12 -export, keytool)." });
}

function readAttrs(bag: pkijs.SafeBag): { friendlyName?: string; localKeyId?: string; javaTrusted: boolean } {
  const out: { friendlyName?: string; localKeyId?: string; javaTrusted: boolean } = { javaTrusted: false };
  for (const a of bag.bagAttributes ?? []) {
    const v = a.values[0];
    if (a.type === OID.friendlyName && v instanceof asn1js.BmpString) out.friendlyName = v.valueBlock.value;
    else if (a.type === OID.localKeyId && v instanceof asn1js.OctetString) out.localKeyId = Buffer.from(v.getValue()).toString("hex");
    else if (a.type === OID.javaTrustedKeyUsage) out.javaTrusted = true;
  }
  return out;
}

/**
 * Reads a PKCS#12: checks the MAC (wrong passphrase: `PKCS12_BAD_PASSPHRASE`), decrypts every
 * bag, returns keys and certificates with their names. `PKCS12_INVALID` for a damaged file,
 * `PKCS12_UNSUPPORTED_CIPHER` for RC2/RC4 and other ciphers mtlskit does not read.
 */
export function readPkcs12(data: Uint8Array, password: string, where = "PKCS#12"): Pkcs12Contents {
  let pfx: pkijs.PFX;
  let authSafeDer: ArrayBuffer;
  let safe: pkijs.AuthenticatedSafe;
  try {
    pfx = pkijs.PFX.fromBER(data);
    if (pfx.authSafe.contentType !== OID.data) throw new Error(`the content type is ${pfx.authSafe.contentType}, not data (public-key integrity is not supported)`);
    authSafeDer = (pfx.authSafe.content as asn1js.OctetString).getValue();
    safe = pkijs.AuthenticatedSafe.fromBER(authSafeDer);
  } catch (e) {
    if (e instanceof MtlsError) throw e;
    throw damaged(where, e instanceof Error ? e.message : String(e));
  }
  let mac = "none";
  const warnings: string[] = [];
  if (pfx.macData) {
    const hashOid = pfx.macData.mac.digestAlgorithm.algorithmId;
    const h = HASHES[hashOid];
    if (!h) throw new MtlsError("PKCS12_UNSUPPORTED_CIPHER", `${where}: the MAC uses the digest ${hashOid}, which mtlskit does not read`);
    const iterations = pfx.macData.iterations ?? 1;
    const key = pkcs12Kdf(h.name, password, new Uint8Array(pfx.macData.macSalt.getValue()), iterations, 3, h.len);
    const want = Buffer.from(pfx.macData.mac.digest.getValue());
    const got = createHmac(h.name, key).update(new Uint8Array(authSafeDer)).digest();
    if (want.length !== got.length || !timingSafeEqual(want, got)) {
      throw new MtlsError("PKCS12_BAD_PASSPHRASE", `${where}: the passphrase does not open the PKCS#12 (its integrity check fails)`, {
        hint: "Give the passphrase the file was exported with (--passphrase-file); if it is right, the file is damaged: export it again.",
      });
    }
    mac = `HMAC-${h.name.toUpperCase().replace("SHA", "SHA-")}, ${iterations} iterations`;
    if (h.name === "sha1") warnings.push("a SHA-1 MAC");
  }
  const out: Pkcs12Contents = { keys: [], certificates: [], mac, encryptions: [] };
  const note = (d: string) => {
    if (!out.encryptions.includes(d)) out.encryptions.push(d);
    if (/TripleDES/.test(d) && !warnings.includes("3DES encryption")) warnings.push("3DES encryption");
    if (/RC2/.test(d) && !warnings.includes("RC2 encryption")) warnings.push("RC2 encryption");
  };
  for (const ci of safe.safeContents) {
    let bags: pkijs.SafeBag[];
    let encryption = "none";
    if (ci.contentType === OID.data) {
      bags = pkijs.SafeContents.fromBER((ci.content as asn1js.OctetString).getValue()).safeBags;
    } else if (ci.contentType === OID.encryptedData) {
      const ed = new pkijs.EncryptedData({ schema: ci.content });
      const enc = ed.encryptedContentInfo.encryptedContent;
      if (!enc) throw damaged(where, "an encrypted part has no content");
      const r = decrypt(ed.encryptedContentInfo.contentEncryptionAlgorithm, new Uint8Array(ed.encryptedContentInfo.getEncryptedContent()), password, where);
      encryption = r.description;
      note(encryption);
      try {
        bags = pkijs.SafeContents.fromBER(r.plain).safeBags;
      } catch {
        throw new MtlsError("PKCS12_BAD_PASSPHRASE", `${where}: the passphrase does not decrypt the PKCS#12`, { hint: "Give the passphrase the file was exported with (--passphrase-file)." });
      }
    } else {
      throw new MtlsError("PKCS12_UNSUPPORTED_CIPHER", `${where}: a part is public-key encrypted (content type ${ci.contentType}); mtlskit reads password-protected PKCS#12 only`);
    }
    for (const bag of bags) {
      const attrs = readAttrs(bag);
      if (bag.bagId === OID.certBag) {
        const cb = bag.bagValue as pkijs.CertBag;
        if (cb.certId !== OID.x509Certificate) continue;
        const der = cb.certValue instanceof asn1js.OctetString ? new Uint8Array(cb.certValue.getValue()) : new Uint8Array((cb.certValue as pkijs.Certificate).toSchema().toBER(false));
        out.certificates.push({ der, ...attrs, encryption });
      } else if (bag.bagId === OID.shroudedKeyBag || bag.bagId === OID.keyBag) {
        let pkcs8: Buffer;
        let keyEnc = encryption;
        if (bag.bagId === OID.shroudedKeyBag) {
          const sk = bag.bagValue as pkijs.PKCS8ShroudedKeyBag;
          const r = decrypt(sk.encryptionAlgorithm, new Uint8Array(sk.encryptedData.getValue()), password, where);
          pkcs8 = r.plain;
          keyEnc = r.description;
          note(keyEnc);
        } else {
          pkcs8 = Buffer.from((bag.bagValue as pkijs.PrivateKeyInfo).toSchema().toBER(false));
        }
        let key: KeyObject;
        try {
          key = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
        } catch {
          throw new MtlsError("PKCS12_BAD_PASSPHRASE", `${where}: the key bag does not decrypt to a private key`, { hint: "Give the passphrase the file was exported with (--passphrase-file)." });
        }
        out.keys.push({ key, ...(attrs.friendlyName !== undefined ? { friendlyName: attrs.friendlyName } : {}), ...(attrs.localKeyId ? { localKeyId: attrs.localKeyId } : {}), encryption: keyEnc });
      }
    }
  }
  if (warnings.length) out.legacyWarning = `legacy protection (${warnings.join(", ")}): fine for old runtimes, but re-export with PBES2/AES-256 and an HMAC-SHA-256 MAC where the reader supports it (OpenSSL 3, JDK 12+, .NET 4.7.2+)`;
  return out;
}

/** OIDs of the PKCS#12 attributes mtlskit writes (for tests and inspection). */
export const PKCS12_OIDS = OID;
