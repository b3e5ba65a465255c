/**
 * The bad input corpus (issue 7, "Bad input corpus"): hostile or broken inputs, each with a
 * name and a one-line reason, generated at test time in a temporary folder (nothing here is
 * checked in). The test files run them through every CLI command and portal endpoint that
 * takes them:
 *
 * - {@link buildFileCorpus}: files offered as a certificate, CSR, key or chain: malformed PEM
 *   and DER, wrong object types, huge and deeply nested ASN.1, certificates with odd or missing
 *   extensions (made with the openssl CLI and `-extfile`), CSRs with a bad signature, hostile
 *   subjects inside certificates, and mismatched key/certificate pairs.
 * - {@link hostileSubjects}: `-subj` strings and Common Names given on the command line.
 * - {@link brokenConfigs}: `mtlskit.yaml` files.
 * - {@link brokenBundles}: asset bundle folders (`manifest.json` and its files).
 * - {@link hostileHttpRequests}: raw HTTP/1.1 requests to the emulator's portal.
 *
 * Each input says what a correct program does with it: `refuse` (a coded error, exit 2 / a
 * 4xx) or `tolerate` (it may also succeed), and never more than that: the tests add the
 * invariants common to all (no crash, no hang, no stack trace, no partial file).
 */
import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from "node:crypto";
import { promises as fs, writeFileSync } from "node:fs";
import * as path from "node:path";
import { MAX_INPUT_BYTES } from "../../src/pki/files.js";
import { createCsr, parseSubject, toPem } from "../../src/pki/index.js";
import { createTestPki, type TestCertificate, type TestPki } from "../../src/testing/index.js";
import type { ErrorCode } from "../../src/errors/index.js";

// ---------------------------------------------------------------------------------------------
// DER helpers (written here, independent of src/pki/asn1.ts, so a reader bug cannot hide)

/** DER length octets of `n`. */
export function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** One DER value: identifier octet `tag`, definite length, contents. */
export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(content);
  return new Uint8Array(Buffer.concat([Uint8Array.of(tag), derLength(body.length), body]));
}

/** `depth` SEQUENCEs, each holding the next, around a NULL (definite lengths). */
export function nestedSequences(depth: number, tag = 0x30): Uint8Array {
  // Built from the inside out on one buffer: O(depth * header) instead of O(depth^2) copies.
  const headers: Uint8Array[] = [];
  let len = 2;
  for (let i = 0; i < depth; i++) {
    const h = Buffer.concat([Uint8Array.of(tag), derLength(len)]);
    headers.push(h);
    len += h.length;
  }
  const out = new Uint8Array(len);
  let at = 0;
  for (let i = headers.length - 1; i >= 0; i--) {
    out.set(headers[i]!, at);
    at += headers[i]!.length;
  }
  out.set([0x05, 0x00], at);
  return out;
}

/** One TLV header found by {@link derHeaders} or {@link tlvAt}. */
export interface DerHeader {
  /** Offset of the identifier octet. */
  readonly start: number;
  /** Offset of the first length octet. */
  readonly lengthAt: number;
  /** Number of length octets (1 for the short form). */
  readonly lengthOctets: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset just past the contents (as declared: may lie past the end of broken data). */
  readonly end: number;
}

/** The TLV header at `at` (definite lengths only). */
export function tlvAt(der: Uint8Array, at: number): DerHeader {
  let p = at;
  const id = der[p++] ?? 0;
  if ((id & 0x1f) === 0x1f) while (p < der.length && (der[p++]! & 0x80) !== 0);
  const lengthAt = p;
  let len = der[p++] ?? 0;
  let lengthOctets = 1;
  if (len & 0x80) {
    const n = len & 0x7f;
    lengthOctets += n;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[p++] ?? 0);
  }
  return { start: at, lengthAt, lengthOctets, contentStart: p, end: p + len };
}

/** The TLVs directly inside the constructed value at `at`. */
export function childrenAt(der: Uint8Array, at: number): DerHeader[] {
  const parent = tlvAt(der, at);
  const out: DerHeader[] = [];
  for (let p = parent.contentStart; p < Math.min(parent.end, der.length); ) {
    const h = tlvAt(der, p);
    out.push(h);
    p = h.end;
  }
  return out;
}

/** Every TLV header of well-formed DER, depth first (used to aim mutations at lengths). */
export function derHeaders(der: Uint8Array, from = 0, to = der.length, out: DerHeader[] = [], depth = 0): DerHeader[] {
  for (let p = from; p < to && depth < 64; ) {
    const h = tlvAt(der, p);
    out.push(h);
    if (h.end > to) break;
    if ((der[p]! & 0x20) !== 0) derHeaders(der, h.contentStart, h.end, out, depth + 1);
    p = h.end;
  }
  return out;
}

/** The contents of the outer SEQUENCE re-wrapped with an indefinite length (BER, not DER). */
export function withIndefiniteLength(der: Uint8Array): Uint8Array {
  const h = tlvAt(der, 0);
  return new Uint8Array(Buffer.concat([Uint8Array.of(der[0]!, 0x80), der.subarray(h.contentStart), Uint8Array.of(0, 0)]));
}

/** A copy with one bit flipped. */
export function flipBit(data: Uint8Array, bit: number): Uint8Array {
  const out = new Uint8Array(data);
  const i = Math.floor(bit / 8) % out.length;
  out[i] = out[i]! ^ (1 << (bit % 8));
  return out;
}

/** Deterministic pseudo-random bytes (a corpus must be the same at every run). */
export function pseudoRandomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let block = Buffer.alloc(0);
  for (let i = 0, counter = 0; i < length; i++) {
    if (i % 32 === 0) block = createHash("sha256").update(`${seed}:${counter++}`).digest();
    out[i] = block[i % 32]!;
  }
  return out;
}

/** Replaces the first occurrence of `from` in `data` by `to` (same length keeps every DER length right). */
function patch(data: Uint8Array, from: string | Uint8Array, to: string | Uint8Array): Uint8Array {
  const buf = Buffer.from(data);
  const f = typeof from === "string" ? Buffer.from(from, "latin1") : Buffer.from(from);
  const t = typeof to === "string" ? Buffer.from(to, "latin1") : Buffer.from(to);
  const at = buf.indexOf(f);
  if (at < 0) throw new Error(`corpus: '${f.toString("latin1")}' not found to patch`);
  return new Uint8Array(Buffer.concat([buf.subarray(0, at), t, buf.subarray(at + f.length)]));
}

/** The DER of the one PEM block in `pem`. */
export function pemBody(pem: string): Uint8Array {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return new Uint8Array(Buffer.from(b64, "base64"));
}

/** The DER of a certificate's subject Name (TBSCertificate field 6, or 5 for v1). */
export function subjectNameOf(certDer: Uint8Array): Uint8Array {
  const tbs = childrenAt(certDer, 0)[0]!;
  const fields = childrenAt(certDer, tbs.start);
  const versioned = certDer[fields[0]!.start] === 0xa0;
  const f = fields[versioned ? 5 : 4]!;
  return certDer.subarray(f.start, f.end);
}

// ---------------------------------------------------------------------------------------------
// File inputs

/** What a well-formed file holds; an empty list means nothing mtlskit may accept. */
export type ObjectKind = "certificate" | "csr" | "key" | "public-key";

/** What a file is offered as: the command argument it is aimed at. */
export type Aim = "certificate" | "csr" | "key" | "any";

/** One hostile file. */
export interface FileInput {
  /** Unique, kebab-case; also the file name (with `ext`). */
  readonly name: string;
  /** Why it is hostile, in a few words. */
  readonly why: string;
  /** What it pretends to be: certificate arguments take `certificate` and `any`, key arguments `key` and `any`. */
  readonly aim: Aim;
  /** The well-formed objects it holds (a command may accept the file); empty: every command must refuse it. */
  readonly kinds: readonly ObjectKind[];
  /** Linting it must never pass (exit 1 or 2, not 0): a broken signature, a mismatch. */
  readonly lintMustFail?: boolean;
  /** A key a client certificate or CSR must never be made with (wrong algorithm or size). */
  readonly refusedAsClientKey?: boolean;
  /** File name extension. */
  readonly ext: string;
  readonly data: Uint8Array;
}

/** A private key file and a certificate or CSR that does not go with it. */
export interface MismatchedPair {
  readonly name: string;
  readonly why: string;
  /** Certificate or CSR (PEM). */
  readonly object: Uint8Array;
  readonly objectKind: "certificate" | "csr";
  /** A private key (PEM) that is not the object's. */
  readonly key: Uint8Array;
}

/** Materials the tests need besides the corpus itself: sound objects to pair with hostile ones. */
export interface Materials {
  /** ECDSA P-256 key (PKCS#8 PEM) and a D1 preprod-shaped CSR and self-signed certificate made with it. */
  readonly keyPem: string;
  readonly privateKey: KeyObject;
  readonly csrPem: string;
  readonly certPem: string;
  readonly certDer: Uint8Array;
  readonly csrDer: Uint8Array;
  /** PKCS#8 DER of the key. */
  readonly keyDer: Uint8Array;
  /** A leaf and its chain issued by a test CA. */
  readonly pki: TestPki;
  readonly leaf: TestCertificate;
  /** A server certificate (CN and SAN notify.example.com) with its key and chain, for `server-cert set`. */
  readonly server: TestCertificate;
}

/** The openssl CLI, or undefined when it is not on PATH. */
export interface OpenSsl {
  (args: string[], input?: string): Buffer;
}

/** Runs the openssl CLI in `dir` (throws on failure, never waits more than 30 s). */
export function opensslIn(dir: string): OpenSsl {
  return (args, input) => execFileSync("openssl", args, { cwd: dir, input: input ?? "", timeout: 30_000, stdio: ["pipe", "pipe", "pipe"] });
}

export const D1_SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
export const D1_CN = "TLSMA-ECDSA/123456/D1.PPR";

/** Builds the sound materials the corpus is derived from. */
export async function buildMaterials(): Promise<Materials> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const keyDer = new Uint8Array(privateKey.export({ type: "pkcs8", format: "der" }));
  const subject = parseSubject(`${D1_SUBJECT}/CN=${D1_CN.replace(/\//g, "\\/")}`);
  const csrDer = createCsr({ subject, privateKey });
  const pki = await createTestPki();
  const leaf = await pki.issue({ subject, privateKey, validityHours: 24 * 30 });
  const server = await pki.issue({ cn: "notify.example.com", usage: "server", dns: ["notify.example.com"], ip: [] });
  return { keyPem, privateKey, keyDer, csrDer, csrPem: toPem("CERTIFICATE REQUEST", csrDer), certPem: leaf.certPem, certDer: leaf.der, pki, leaf, server };
}

/**
 * A certificate made by the openssl CLI: a self-signed `x509 -req` of a CSR with `subj`, and
 * the extensions of `extfile` (section `[ext]`), or none. PEM.
 */
function opensslCertificate(openssl: OpenSsl, dir: string, name: string, subj: string, extfile: string | undefined): string {
  const key = path.join(dir, "openssl.key");
  const csr = path.join(dir, `${name}.csr`);
  openssl(["req", "-new", "-utf8", "-key", key, "-subj", subj, "-out", csr]);
  const args = ["x509", "-req", "-in", csr, "-signkey", key, "-days", "30", "-set_serial", "0x1234"];
  if (extfile !== undefined) {
    const ext = path.join(dir, `${name}.ext.cnf`);
    writeFileSync(ext, `[ext]\n${extfile}\n`);
    args.push("-extfile", ext, "-extensions", "ext");
  }
  return openssl(args).toString("latin1");
}

/** A CSR made by `openssl req` with `subj` and optional `-addext` extensions. PEM. */
function opensslCsr(openssl: OpenSsl, dir: string, subj: string, addext: string[] = []): string {
  const key = path.join(dir, "openssl.key");
  return openssl(["req", "-new", "-utf8", "-key", key, "-subj", subj, ...addext.flatMap((e) => ["-addext", e])]).toString("latin1");
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/**
 * Builds the file corpus in memory. `workDir` is a scratch folder for the openssl CLI; when
 * `openssl` is undefined (the tool is missing), the inputs it makes are left out.
 */
export async function buildFileCorpus(m: Materials, workDir: string, openssl: OpenSsl | undefined): Promise<{ files: FileInput[]; pairs: MismatchedPair[] }> {
  const files: FileInput[] = [];
  const add = (f: Omit<FileInput, "ext" | "data"> & { ext?: string; data: Uint8Array | string }): void => {
    files.push({ ...f, ext: f.ext ?? "pem", data: typeof f.data === "string" ? new Uint8Array(Buffer.from(f.data, "latin1")) : f.data });
  };
  const { certPem, certDer, csrPem, csrDer, keyPem, keyDer } = m;
  const garbage = pseudoRandomBytes(700, 7);
  const garbagePem = (label: string) => toPem(label, garbage);

  // --- Malformed PEM ----------------------------------------------------------------------
  add({ name: "pem-truncated-certificate", why: "a certificate PEM cut in the middle of its base64", aim: "certificate", kinds: [], data: certPem.slice(0, Math.floor(certPem.length / 2)) });
  add({ name: "pem-missing-end-line", why: "a certificate PEM without its END line", aim: "certificate", kinds: [], data: certPem.replace(/-----END CERTIFICATE-----\n$/, "") });
  add({ name: "pem-bad-base64-character", why: "'%' and '*' inside the base64 body", aim: "certificate", kinds: [], data: certPem.replace(/\n([A-Za-z0-9+/]{8})/, "\n%*$1") });
  add({ name: "pem-base64-not-multiple-of-4", why: "one base64 character removed", aim: "certificate", kinds: [], data: certPem.replace(/\n([A-Za-z0-9+/])/, "\n") });
  add({ name: "pem-empty-block", why: "BEGIN and END lines with nothing between", aim: "certificate", kinds: [], data: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n" });
  add({ name: "pem-mismatched-end-label", why: "BEGIN CERTIFICATE closed by END PRIVATE KEY", aim: "certificate", kinds: [], data: certPem.replace("END CERTIFICATE", "END PRIVATE KEY") });
  add({ name: "pem-damaged-begin-line", why: "a BEGIN line with four dashes", aim: "certificate", kinds: [], data: certPem.replace("-----BEGIN CERTIFICATE-----", "----BEGIN CERTIFICATE-----") });
  add({ name: "pem-lowercase-label", why: "BEGIN certificate in lower case", aim: "certificate", kinds: [], data: certPem.replace(/CERTIFICATE/g, "certificate") });
  add({ name: "pem-nested-begin", why: "a second BEGIN before the first END", aim: "certificate", kinds: [], data: `-----BEGIN CERTIFICATE-----\n${certPem}-----END CERTIFICATE-----\n` });
  add({ name: "pem-ten-thousand-begin-lines", why: "10,000 BEGIN lines and no END", aim: "certificate", kinds: [], data: "-----BEGIN CERTIFICATE-----\n".repeat(10_000) });
  add({ name: "pem-unknown-label", why: "a block labelled MTLSKIT GARBAGE", aim: "any", kinds: [], data: garbagePem("MTLSKIT GARBAGE") });
  add({ name: "pem-x509-crl", why: "a CRL block (not a certificate, CSR or key)", aim: "any", kinds: [], data: garbagePem("X509 CRL") });
  add({ name: "pem-certificate-garbage-der", why: "valid base64 of random bytes under CERTIFICATE", aim: "certificate", kinds: [], data: garbagePem("CERTIFICATE") });
  add({ name: "pem-csr-garbage-der", why: "random bytes under CERTIFICATE REQUEST", aim: "csr", kinds: [], data: garbagePem("CERTIFICATE REQUEST") });
  add({ name: "pem-private-key-garbage-der", why: "random bytes under PRIVATE KEY", aim: "key", kinds: [], data: garbagePem("PRIVATE KEY") });
  add({ name: "pem-ec-private-key-garbage-der", why: "random bytes under EC PRIVATE KEY", aim: "key", kinds: [], data: garbagePem("EC PRIVATE KEY") });
  // Without the passphrase nothing can tell junk from an encrypted key: inspect may say "encrypted".
  add({ name: "pem-encrypted-key-garbage-der", why: "random bytes under ENCRYPTED PRIVATE KEY", aim: "key", kinds: ["key"], refusedAsClientKey: true, data: garbagePem("ENCRYPTED PRIVATE KEY") });
  add({
    name: "pem-legacy-encrypted-bad-dek-info",
    why: "RSA PRIVATE KEY with Proc-Type ENCRYPTED and a DEK-Info naming no cipher",
    aim: "key",
    kinds: ["key"],
    refusedAsClientKey: true,
    data: `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: NOT-A-CIPHER,00\n\n${Buffer.from(garbage).toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END RSA PRIVATE KEY-----\n`,
  });
  add({ name: "pem-public-key-garbage-der", why: "random bytes under PUBLIC KEY", aim: "any", kinds: [], data: garbagePem("PUBLIC KEY") });
  add({ name: "pem-public-key-truncated-der", why: "a PUBLIC KEY block whose SPKI is cut short", aim: "any", kinds: [], data: "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----\n" });
  add({ name: "pem-utf16le-with-bom", why: "a certificate PEM saved as UTF-16LE", aim: "certificate", kinds: [], data: new Uint8Array(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(certPem, "utf16le")])) });
  add({ name: "pem-nul-bytes-in-body", why: "NUL bytes inside the base64 lines", aim: "certificate", kinds: [], data: certPem.replace(/\n([A-Za-z0-9+/]{10})/, "\n$1\u0000\u0000") });
  add({ name: "pem-certificate-then-truncated-block", why: "a sound certificate followed by a block cut short", aim: "certificate", kinds: [], data: certPem + certPem.slice(0, 200) });
  add({ name: "pem-huge-block-3mib", why: "one 3 MiB block of base64 'A's (all-zero DER)", aim: "certificate", kinds: [], data: `-----BEGIN CERTIFICATE-----\n${"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n".repeat(49_152)}-----END CERTIFICATE-----\n` });
  const overLimit = certPem.repeat(Math.ceil((MAX_INPUT_BYTES + 1) / certPem.length)).slice(0, MAX_INPUT_BYTES + 1);
  add({ name: "pem-just-over-input-limit", why: `${MAX_INPUT_BYTES + 1} bytes of repeated certificates`, aim: "certificate", kinds: [], data: overLimit });
  add({ name: "pem-crlf-and-trailing-spaces", why: "CRLF line ends and trailing spaces (still sound)", aim: "certificate", kinds: ["certificate"], data: certPem.replace(/\n/g, "  \r\n") });
  add({ name: "pem-text-around-blocks", why: "openssl 'Bag Attributes' and shell noise around the block", aim: "certificate", kinds: ["certificate"], data: `Bag Attributes\n    localKeyID: 01 00 00 00\nsubject=/CN=x\n$ cat cert.pem\n${certPem}\n# trailing comment \u0007\u001b[2J\n` });
  add({ name: "pem-thousand-copies-of-a-certificate", why: "the same certificate 1,000 times (~0.7 MiB)", aim: "certificate", kinds: ["certificate"], data: certPem.repeat(1000) });
  add({ name: "pem-chain-with-private-key", why: "a certificate with its private key in the same file", aim: "certificate", kinds: ["certificate", "key"], data: certPem + keyPem });
  add({ name: "pem-base64-line-of-1mib", why: "a CERTIFICATE block whose body is one 1 MiB base64 line of junk", aim: "certificate", kinds: [], data: `-----BEGIN CERTIFICATE-----\n${"QUJD".repeat(262_144)}\n-----END CERTIFICATE-----\n` });

  // --- Malformed DER ----------------------------------------------------------------------
  add({ name: "file-empty", why: "zero bytes", aim: "any", kinds: [], ext: "der", data: new Uint8Array(0) });
  add({ name: "file-blank-lines", why: "spaces and line breaks only", aim: "any", kinds: [], data: "\n  \r\n\t\n" });
  add({ name: "file-text-not-pem", why: "UTF-8 prose with emoji, no PEM", aim: "any", kinds: [], ext: "txt", data: Buffer.from("Bonjour 😀, this is the certificate you asked for.\n", "utf8").toString("latin1") });
  add({ name: "file-just-over-input-limit", why: `${MAX_INPUT_BYTES + 1} random bytes`, aim: "any", kinds: [], ext: "der", data: pseudoRandomBytes(MAX_INPUT_BYTES + 1, 11) });
  add({ name: "der-random-bytes", why: "2 KiB of random bytes", aim: "any", kinds: [], ext: "der", data: pseudoRandomBytes(2048, 3) });
  add({ name: "der-all-zero", why: "1 KiB of zero bytes", aim: "any", kinds: [], ext: "der", data: new Uint8Array(1024) });
  add({ name: "der-lone-sequence-octet", why: "a single 0x30 octet", aim: "any", kinds: [], ext: "der", data: Uint8Array.of(0x30) });
  add({ name: "der-truncated-certificate", why: "a DER certificate cut in half", aim: "certificate", kinds: [], ext: "der", data: certDer.slice(0, Math.floor(certDer.length / 2)) });
  add({ name: "der-certificate-trailing-garbage", why: "a DER certificate followed by 64 random bytes", aim: "certificate", kinds: [], ext: "der", data: new Uint8Array(Buffer.concat([certDer, pseudoRandomBytes(64, 5)])) });
  const longer = new Uint8Array(certDer);
  const outer = tlvAt(certDer, 0);
  longer[outer.contentStart - 1] = longer[outer.contentStart - 1]! + 1;
  add({ name: "der-certificate-length-past-end", why: "the outer length one more than the bytes there are", aim: "certificate", kinds: [], ext: "der", data: longer });
  add({ name: "der-certificate-indefinite-length", why: "the outer SEQUENCE re-encoded with an indefinite length (BER)", aim: "certificate", kinds: [], ext: "der", data: withIndefiniteLength(certDer) });
  add({ name: "der-five-length-octets", why: "a length of 5 octets (over 4 GiB declared)", aim: "any", kinds: [], ext: "der", data: Uint8Array.of(0x30, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00) });
  add({ name: "der-huge-declared-length", why: "a SEQUENCE declaring 2 GiB of contents, holding 4 bytes", aim: "any", kinds: [], ext: "der", data: Uint8Array.of(0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x05, 0x00, 0x05, 0x00) });
  add({ name: "der-nested-sequences-10000", why: "10,000 nested SEQUENCEs (definite lengths)", aim: "any", kinds: [], ext: "der", data: nestedSequences(10_000) });
  add({ name: "der-nested-indefinite-50000", why: "50,000 nested indefinite-length SEQUENCEs, never closed", aim: "any", kinds: [], ext: "der", data: new Uint8Array(Buffer.alloc(100_000, Buffer.from([0x30, 0x80]))) });
  add({ name: "der-nested-sets-100000", why: "100,000 nested SETs (a Name's shape, gone mad)", aim: "any", kinds: [], ext: "der", data: nestedSequences(100_000, 0x31) });
  add({ name: "der-high-tag-number", why: "a high-tag-number identifier that never ends", aim: "any", kinds: [], ext: "der", data: Uint8Array.of(0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00) });
  add({ name: "der-certificate-in-octet-string", why: "a certificate wrapped in an OCTET STRING", aim: "certificate", kinds: [], ext: "der", data: tlv(0x04, certDer) });
  add({ name: "der-csr", why: "a DER CSR (a CSR where a key or certificate is expected)", aim: "key", kinds: ["csr"], ext: "der", data: csrDer });
  add({ name: "der-public-key", why: "a DER SubjectPublicKeyInfo", aim: "key", kinds: ["public-key"], ext: "der", data: new Uint8Array(createPublicKey(m.privateKey).export({ type: "spki", format: "der" })) });

  // --- Wrong object types -----------------------------------------------------------------
  add({ name: "csr-where-key-expected", why: "a CSR given as the private key", aim: "key", kinds: ["csr"], data: csrPem });
  add({ name: "certificate-where-key-expected", why: "a certificate given as the private key", aim: "key", kinds: ["certificate"], data: certPem });
  add({ name: "public-key-where-key-expected", why: "the public half given as the private key", aim: "key", kinds: ["public-key"], data: createPublicKey(m.privateKey).export({ type: "spki", format: "pem" }).toString() });
  add({ name: "key-where-certificate-expected", why: "a private key given as the certificate", aim: "certificate", kinds: ["key"], data: keyPem });
  add({ name: "der-key-where-certificate-expected", why: "a DER private key given as the certificate", aim: "certificate", kinds: ["key"], ext: "der", data: keyDer });
  add({ name: "csr-where-certificate-expected", why: "a CSR given as the certificate", aim: "certificate", kinds: ["csr"], data: csrPem });
  add({ name: "encrypted-key-without-passphrase", why: "an encrypted PKCS#8 key and no --passphrase-file", aim: "key", kinds: ["key"], refusedAsClientKey: true, data: m.privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "secret" }).toString() });
  const ed = generateKeyPairSync("ed25519").privateKey;
  add({ name: "ed25519-key", why: "an Ed25519 key (no program takes it)", aim: "key", kinds: ["key"], refusedAsClientKey: true, data: ed.export({ type: "pkcs8", format: "pem" }).toString() });
  const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;
  add({ name: "rsa-1024-key", why: "an RSA 1024 key (too weak for any program)", aim: "key", kinds: ["key"], refusedAsClientKey: true, data: rsa1024.export({ type: "pkcs1", format: "pem" }).toString() });
  const k1 = generateKeyPairSync("ec", { namedCurve: "secp256k1" }).privateKey;
  add({ name: "secp256k1-key", why: "an EC key on secp256k1 (not P-256/P-384)", aim: "key", kinds: ["key"], refusedAsClientKey: true, data: k1.export({ type: "sec1", format: "pem" }).toString() });
  const sec1 = m.privateKey.export({ type: "sec1", format: "der" });
  // SEC1: SEQUENCE { INTEGER 1, OCTET STRING (32) d, [0] curve, [1] public key }: d set to all 0xFF (above the group order).
  const dAt = Buffer.from(sec1).indexOf(Buffer.from([0x04, 0x20]), 2) + 2;
  const badScalar = Buffer.from(sec1);
  badScalar.fill(0xff, dAt, dAt + 32);
  add({ name: "ec-key-scalar-above-order", why: "a SEC1 key whose private scalar is above the curve order", aim: "key", kinds: [], ext: "der", data: new Uint8Array(badScalar) });
  const zeroScalar = Buffer.from(sec1);
  zeroScalar.fill(0x00, dAt, dAt + 32);
  add({ name: "ec-key-scalar-zero", why: "a SEC1 key whose private scalar is zero", aim: "key", kinds: [], ext: "der", data: new Uint8Array(zeroScalar) });
  add({ name: "two-private-keys", why: "two private keys in one key file", aim: "key", kinds: ["key"], refusedAsClientKey: true, data: keyPem + ed.export({ type: "pkcs8", format: "pem" }).toString() });

  // --- CSRs with a bad signature ----------------------------------------------------------
  add({ name: "csr-flipped-signature-bit", why: "one bit of the CSR's signature flipped", aim: "csr", kinds: ["csr"], lintMustFail: true, data: toPem("CERTIFICATE REQUEST", flipBit(csrDer, (csrDer.length - 3) * 8)) });
  add({ name: "csr-flipped-subject-bit", why: "one bit of the signed subject flipped (the signature no longer matches)", aim: "csr", kinds: ["csr"], lintMustFail: true, data: toPem("CERTIFICATE REQUEST", patch(csrDer, "Payments", "Paymentt")) });
  add({ name: "csr-truncated-der", why: "a CSR block whose DER is cut short", aim: "csr", kinds: [], data: toPem("CERTIFICATE REQUEST", csrDer.slice(0, csrDer.length - 40)) });
  add({ name: "csr-signature-bit-string-empty", why: "a CSR whose signature BIT STRING is empty", aim: "csr", kinds: [], data: toPem("CERTIFICATE REQUEST", csrWithSignature(csrDer, new Uint8Array(0))) });
  add({ name: "csr-signature-random", why: "a CSR carrying 72 random bytes as its signature", aim: "csr", kinds: ["csr"], lintMustFail: true, data: toPem("CERTIFICATE REQUEST", csrWithSignature(csrDer, Uint8Array.of(0, ...pseudoRandomBytes(72, 9)))) });
  add({ name: "certificate-flipped-signature-bit", why: "a self-signed certificate with one signature bit flipped", aim: "certificate", kinds: ["certificate"], data: toPem("CERTIFICATE", flipBit(certDer, (certDer.length - 3) * 8)) });

  // --- Hostile subjects inside certificates (DER patched; the signature breaks, parsing must not)
  const cnCert = await m.pki.issue({ cn: "AAAAAAAAAAAAAAAA", validityHours: 24 });
  add({ name: "certificate-subject-with-nul", why: "a CN holding NUL bytes (A\\0A...)", aim: "certificate", kinds: ["certificate"], data: toPem("CERTIFICATE", patch(cnCert.der, "AAAAAAAAAAAAAAAA", "AA\u0000A.example.com\u0000")) });
  add({ name: "certificate-subject-with-escape-sequence", why: "a CN holding ESC[2J (clears the terminal) and BEL", aim: "certificate", kinds: ["certificate"], data: toPem("CERTIFICATE", patch(cnCert.der, "AAAAAAAAAAAAAAAA", "\u001b[2J\u001b[31mEVIL\u0007AAAA")) });
  add({ name: "certificate-subject-utf8-invalid", why: "a UTF8String CN holding invalid UTF-8", aim: "certificate", kinds: ["certificate"], data: toPem("CERTIFICATE", patch(cnCert.der, "AAAAAAAAAAAAAAAA", Uint8Array.of(0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc, 0x41, 0x41, 0x41))) });
  const cnTag = Buffer.from(cnCert.der).indexOf(Buffer.from("AAAAAAAAAAAAAAAA", "latin1")) - 2;
  const bmp = new Uint8Array(cnCert.der);
  bmp[cnTag] = 0x1e; // BMPString (UTF-16BE): two high surrogates in a row, then a lone low one
  bmp.set([0xd8, 0x00, 0xd8, 0x00, 0xdc, 0x00, 0x00, 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0x41], cnTag + 2);
  add({ name: "certificate-subject-bmpstring-lone-surrogates", why: "a BMPString CN with unpaired surrogates", aim: "certificate", kinds: ["certificate"], data: toPem("CERTIFICATE", bmp) });
  const notString = new Uint8Array(cnCert.der);
  notString[cnTag] = 0x30; // the CN value becomes a SEQUENCE of garbage
  add({ name: "certificate-subject-value-not-a-string", why: "a CN whose value is a SEQUENCE of junk, not a string", aim: "certificate", kinds: ["certificate"], data: toPem("CERTIFICATE", notString) });
  const badTime = (() => {
    const der = Buffer.from(cnCert.der);
    // eslint-disable-next-line no-control-regex -- the DER header of a UTCTime is two control octets
    const at = der.toString("latin1").search(/\x17\x0d\d{12}Z/); // the first UTCTime: notBefore
    if (at < 0) throw new Error("corpus: no UTCTime found in the certificate");
    der[at + 14] = 0x58; // its 'Z' becomes 'X'
    return new Uint8Array(der);
  })();
  add({ name: "certificate-time-garbled", why: "notBefore's UTCTime ends in 'X' instead of 'Z'", aim: "certificate", kinds: [], data: toPem("CERTIFICATE", badTime) });

  // --- Certificates with odd dates ----------------------------------------------------------
  add({ name: "certificate-expired", why: "a leaf that expired yesterday", aim: "certificate", kinds: ["certificate"], data: (await m.pki.expired({ cn: "expired.example.com" })).certPem });
  add({ name: "certificate-not-yet-valid", why: "a leaf valid from tomorrow", aim: "certificate", kinds: ["certificate"], data: (await m.pki.notYetValid({ cn: "future.example.com" })).certPem });
  add({ name: "certificate-valid-until-9999", why: "notAfter 9999-12-31 (GeneralizedTime)", aim: "certificate", kinds: ["certificate"], data: (await m.pki.issue({ cn: "forever.example.com", notAfter: new Date(Date.UTC(9999, 11, 31, 23, 59, 59)) })).certPem });
  add({ name: "certificate-valid-before-1950", why: "notBefore 1900-01-01, notAfter 1949-12-31", aim: "certificate", kinds: ["certificate"], data: (await m.pki.issue({ cn: "old.example.com", notBefore: new Date(Date.UTC(1900, 0, 1)), notAfter: new Date(Date.UTC(1949, 11, 31)) })).certPem });

  // --- Certificates with odd or missing extensions (openssl CLI, -extfile) ----------------
  if (openssl) {
    await fs.mkdir(workDir, { recursive: true });
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path.join(workDir, "openssl.key")]);
    const odd = (name: string, why: string, ext: string | undefined, subj = "/CN=odd.example.com", kinds: readonly ObjectKind[] = ["certificate"]) =>
      add({ name, why, aim: "certificate", kinds, data: opensslCertificate(openssl, workDir, name, subj, ext) });
    odd("openssl-certificate-without-extensions", "an x509 -req certificate with no extensions at all", undefined);
    odd("openssl-certificate-unknown-critical-extension", "a critical extension nobody knows (1.2.3.4)", "1.2.3.4=critical,ASN1:UTF8String:surprise");
    odd("openssl-certificate-basic-constraints-null", "basicConstraints holding a NULL instead of a SEQUENCE", "2.5.29.19=critical,DER:0500");
    odd("openssl-certificate-key-usage-empty-bit-string", "keyUsage as an empty BIT STRING", "2.5.29.15=critical,DER:0300");
    odd("openssl-certificate-pathlen-2-pow-63", "basicConstraints CA:TRUE with pathlen 2^63-1", "2.5.29.19=critical,DER:300d0101ff02087fffffffffffffff");
    odd("openssl-certificate-pathlen-negative", "basicConstraints with pathlen -1", "2.5.29.19=critical,DER:30060101ff0201ff");
    odd("openssl-certificate-san-empty", "a subjectAltName with no names", "2.5.29.17=DER:3000");
    odd("openssl-certificate-san-dns-with-nul", "a SAN DNS name with a NUL (good.example\\0.evil)", `2.5.29.17=DER:${hex(tlv(0x30, tlv(0x82, Buffer.from("good.example\u0000.evil.test", "latin1"))))}`);
    odd("openssl-certificate-san-ip-of-5-bytes", "a SAN iPAddress of 5 octets", `2.5.29.17=DER:${hex(tlv(0x30, tlv(0x87, Uint8Array.of(10, 0, 0, 1, 9))))}`);
    odd("openssl-certificate-san-dirname-garbage", "a SAN directoryName holding garbage", `2.5.29.17=DER:${hex(tlv(0x30, tlv(0xa4, Uint8Array.of(0x30, 0x03, 0x31, 0x01, 0x00))))}`);
    odd("openssl-certificate-eku-not-oids", "extendedKeyUsage listing a NULL", "2.5.29.37=DER:30020500");
    odd("openssl-certificate-aki-empty", "an authorityKeyIdentifier with nothing in it", "2.5.29.35=DER:3000");
    odd("openssl-certificate-ski-not-octet-string", "a subjectKeyIdentifier holding a NULL", "2.5.29.14=DER:0500");
    odd("openssl-certificate-name-constraints-garbage", "critical nameConstraints that do not parse", "2.5.29.30=critical,DER:3003800100");
    odd("openssl-certificate-ca-leaf-mix", "CA:TRUE with clientAuth only and no keyCertSign", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth");
    odd("openssl-certificate-duplicate-san", "two subjectAltName extensions", `subjectAltName=DNS:a.example.com\n2.5.29.17=DER:${hex(tlv(0x30, tlv(0x82, Buffer.from("b.example.com"))))}`);
    odd("openssl-certificate-extension-nested-5000", "an unknown extension holding 5,000 nested SEQUENCEs", `1.2.3.4=DER:${hex(nestedSequences(5000))}`);
    odd("openssl-certificate-san-nested-2000", "a subjectAltName holding 2,000 nested SEQUENCEs", `2.5.29.17=DER:${hex(nestedSequences(2000))}`);
    odd("openssl-certificate-aia-garbage", "authorityInfoAccess with a NULL location", "1.3.6.1.5.5.7.1.1=DER:3009300706062b060105050730");
    odd("openssl-certificate-policies-garbage", "certificatePolicies holding a BOOLEAN", "2.5.29.32=DER:30030101ff");
    odd("openssl-certificate-crl-dp-nested", "crlDistributionPoints 300 levels deep", `2.5.29.31=DER:${hex(nestedSequences(300))}`);
    odd("openssl-certificate-subject-escape-sequence", "a CN with ESC[2J and BEL (terminal control)", undefined, "/CN=\u001b[2J\u001b[31mevil\u0007.example.com");
    odd("openssl-certificate-subject-rtl-override", "an O with U+202E (displays reversed)", undefined, "/O=Payments\u202Egnp.exe/CN=rtl.example.com");
    odd("openssl-certificate-subject-newline", "a CN with a line break and a fake field after it", undefined, "/CN=real.example.com\n  Issuer: Trusted Root CA");
    odd("openssl-certificate-subject-10kib-street", "a 10 KiB streetAddress", undefined, `/street=${"x".repeat(10_240)}/CN=long.example.com`);
    odd("openssl-certificate-subject-empty", "an empty subject", undefined, "/");
    odd("openssl-certificate-subject-300-rdns", "300 OU attributes", undefined, `${"/OU=unit".repeat(300)}/CN=many.example.com`);
    add({ name: "openssl-csr-unknown-critical-extension", why: "a CSR requesting a critical unknown extension", aim: "csr", kinds: ["csr"], data: opensslCsr(openssl, workDir, `${D1_SUBJECT}/CN=${D1_CN.replace(/\//g, "\\/")}`, ["1.2.3.4=critical,DER:0500"]) });
    add({ name: "openssl-csr-subject-rtl-and-escape", why: "a CSR subject with U+202E and ESC", aim: "csr", kinds: ["csr"], data: opensslCsr(openssl, workDir, "/C=FR/ST=Paris/L=Paris/O=Evil\u202Egnp.exe\u001b[0m/OU=Payments/CN=TLSMA-ECDSA\\/123456\\/D1.PPR") });
    add({ name: "openssl-csr-cn-with-leading-bom", why: "a D1 CSR whose CN starts with an invisible U+FEFF", aim: "csr", kinds: ["csr"], lintMustFail: true, data: opensslCsr(openssl, workDir, `${D1_SUBJECT}/CN=\uFEFF${D1_CN.replace(/\//g, "\\/")}`) });
    const params = openssl(["ecparam", "-name", "prime256v1"]).toString("latin1");
    add({ name: "pem-ec-parameters-only", why: "an EC PARAMETERS block and no key", aim: "key", kinds: [], data: params });
    add({ name: "pem-ec-parameters-and-key", why: "EC PARAMETERS then an EC PRIVATE KEY (openssl ecparam -genkey)", aim: "key", kinds: ["key"], data: openssl(["ecparam", "-name", "prime256v1", "-genkey"]).toString("latin1") });
  }

  // --- Mismatched keys ----------------------------------------------------------------------
  const other = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const pairs: MismatchedPair[] = [
    { name: "certificate-with-another-key", why: "a certificate and a key that is not its own", object: Buffer.from(certPem), objectKind: "certificate", key: Buffer.from(other) },
    { name: "csr-with-another-key", why: "a CSR and a key that is not its own", object: Buffer.from(csrPem), objectKind: "csr", key: Buffer.from(other) },
    { name: "server-certificate-with-another-key", why: "a server certificate and the client key", object: Buffer.from(m.server.certPem + m.pki.intermediate.certPem), objectKind: "certificate", key: Buffer.from(keyPem) },
  ];

  const names = new Set<string>();
  for (const f of files) {
    if (names.has(f.name)) throw new Error(`corpus: duplicate name ${f.name}`);
    names.add(f.name);
  }
  return { files, pairs };
}

/** The CSR `csrDer` with its signature BIT STRING replaced by `bits` (first octet: unused bits). */
function csrWithSignature(csrDer: Uint8Array, bits: Uint8Array): Uint8Array {
  const [info, alg] = childrenAt(csrDer, 0);
  return tlv(0x30, csrDer.subarray(info!.start, info!.end), csrDer.subarray(alg!.start, alg!.end), tlv(0x03, bits));
}

/** A CSR without the attributes field, really signed (to reach the code behind the signature check). */
export function csrWithoutAttributes(privateKey: KeyObject): Uint8Array {
  const spki = new Uint8Array(createPublicKey(privateKey).export({ type: "spki", format: "der" }));
  const name = tlv(0x30, tlv(0x31, tlv(0x30, tlv(0x06, Uint8Array.of(0x55, 0x04, 0x03)), tlv(0x0c, Buffer.from("no-attributes")))));
  const info = tlv(0x30, tlv(0x02, Uint8Array.of(0)), name, spki);
  const alg = tlv(0x30, tlv(0x06, Uint8Array.of(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02)));
  const sig = cryptoSign("sha256", info, privateKey);
  return tlv(0x30, info, alg, tlv(0x03, Uint8Array.of(0), sig));
}

/** Re-reads a private key from PEM (materials for fuzzing). */
export function keyFromPem(pem: string): KeyObject {
  return createPrivateKey(pem);
}

// ---------------------------------------------------------------------------------------------
// Subjects and names on the command line

/** A subject (or CN, or id) given on the command line. */
export interface SubjectInput {
  readonly name: string;
  readonly why: string;
  /** Which option it goes to: a D1 `--subject`, an MT `--cn`, or a customer/gateway `--id`. */
  readonly option: "subject" | "cn" | "id";
  readonly value: string;
  /** `refuse`: exit 2 with a coded error; `tolerate`: it may also be accepted. */
  readonly expect: "refuse" | "tolerate";
  /** When refused, the codes it may carry (when they are clearly right). */
  readonly codes?: readonly ErrorCode[];
}

const S = "/C=FR/ST=Paris/L=Paris";

/** Hostile `-subj` strings, Common Names and identifiers. */
export function hostileSubjects(): SubjectInput[] {
  return [
    { name: "subject-escape-sequence", why: "ESC[2J ESC[31m in O (clears and colours a terminal)", option: "subject", value: `${S}/O=Evil\u001b[2J\u001b[31mCorp/OU=Payments`, expect: "refuse", codes: ["SUBJECT_SYNTAX"] },
    { name: "subject-bell-and-backspace", why: "BEL and backspaces in OU", option: "subject", value: `${S}/O=Example/OU=Pay\u0007\u0008\u0008ments`, expect: "refuse", codes: ["SUBJECT_SYNTAX"] },
    { name: "subject-newline", why: "a line break in O, with a forged line after it", option: "subject", value: `${S}/O=Example\nCN=admin/OU=Payments`, expect: "refuse", codes: ["SUBJECT_SYNTAX"] },
    { name: "subject-carriage-return", why: "a carriage return in O (overwrites the line on a terminal)", option: "subject", value: `${S}/O=Example\rTrusted Bank/OU=Payments`, expect: "refuse", codes: ["SUBJECT_SYNTAX"] },
    { name: "subject-delete-character", why: "DEL (0x7f) in O", option: "subject", value: `${S}/O=Exa\u007fmple/OU=Payments`, expect: "refuse", codes: ["SUBJECT_SYNTAX"] },
    { name: "subject-c1-control", why: "U+009B (the 8-bit CSI) in O", option: "subject", value: `${S}/O=Exa\u009b2Jmple/OU=Payments`, expect: "refuse", codes: ["SUBJECT_SYNTAX"] },
    { name: "subject-rtl-override", why: "U+202E RIGHT-TO-LEFT OVERRIDE in O", option: "subject", value: `${S}/O=Payments\u202Egnp.exe/OU=Payments`, expect: "refuse", codes: ["SUBJECT_SYNTAX"] },
    { name: "subject-bidi-isolate", why: "U+2067 RIGHT-TO-LEFT ISOLATE in OU", option: "subject", value: `${S}/O=Example/OU=\u2067Payments\u2069`, expect: "refuse", codes: ["SUBJECT_SYNTAX"] },
    { name: "subject-10kib-organization", why: "a 10 KiB O (the limit is 64 characters)", option: "subject", value: `${S}/O=${"x".repeat(10_240)}/OU=Payments`, expect: "refuse", codes: ["SUBJECT_SYNTAX"] },
    { name: "subject-10kib-street", why: "a 10 KiB streetAddress (openssl sets no limit)", option: "subject", value: `${S}/O=Example/OU=Payments/street=${"x".repeat(10_240)}`, expect: "tolerate" },
    { name: "subject-empty-values", why: "every attribute present but empty", option: "subject", value: "/C=/ST=/L=/O=/OU=", expect: "refuse", codes: ["SUBJECT_INCOMPLETE"] },
    { name: "subject-only-slashes", why: "five slashes", option: "subject", value: "/////", expect: "refuse", codes: ["SUBJECT_SYNTAX"] },
    { name: "subject-2000-rdns", why: "2,000 OU attributes", option: "subject", value: `${S}/O=Example${"/OU=unit".repeat(2000)}`, expect: "tolerate" },
    { name: "subject-oid-arc-beyond-2-pow-53", why: "a dotted OID whose arc does not fit a double (1.99999999999999999999)", option: "subject", value: `${S}/O=Example/OU=Payments/1.99999999999999999999=x`, expect: "refuse", codes: ["SUBJECT_SYNTAX", "SUBJECT_ATTRIBUTE_UNKNOWN"] },
    { name: "subject-zero-width-and-bom", why: "U+FEFF and U+200B inside O", option: "subject", value: `${S}/O=\uFEFFExam\u200Bple/OU=Payments`, expect: "tolerate" },
    { name: "subject-unpaired-surrogate", why: "an unpaired UTF-16 surrogate (arrives as U+FFFD in argv)", option: "subject", value: `${S}/O=Exa\uD800mple/OU=Payments`, expect: "tolerate" },
    { name: "cn-escape-sequence", why: "an MT --cn with ESC and BEL", option: "cn", value: "MT-123456\u001b]0;pwned\u0007-SBX", expect: "refuse" },
    { name: "cn-10kib", why: "a 10 KiB MT --cn", option: "cn", value: "C".repeat(10_240), expect: "refuse" },
    { name: "cn-rtl-override", why: "an MT --cn with U+202E", option: "cn", value: "MT-123456-\u202EXBS", expect: "refuse" },
    { name: "cn-empty", why: "an empty MT --cn", option: "cn", value: "", expect: "refuse" },
    { name: "id-path-traversal", why: "a customer id of ../../etc (becomes a folder name)", option: "id", value: "../../etc", expect: "refuse", codes: ["GATEWAY_ID_INVALID"] },
    { name: "id-newline", why: "a customer id with a line break", option: "id", value: "123456\nevil", expect: "refuse", codes: ["GATEWAY_ID_INVALID"] },
    { name: "id-10kib", why: "a 10 KiB customer id", option: "id", value: "9".repeat(10_240), expect: "refuse", codes: ["GATEWAY_ID_INVALID"] },
  ];
}

// ---------------------------------------------------------------------------------------------
// mtlskit.yaml

/** One broken `mtlskit.yaml` (text, or bytes for encodings; `directory` makes it a folder). */
export interface ConfigInput {
  readonly name: string;
  readonly why: string;
  readonly data: Uint8Array | "directory";
  readonly expect: "refuse" | "tolerate";
}

const PROFILE = "  d1-pp:\n    program: d1\n    environment: preprod\n    customerId: \"123456\"\n";

/** Broken workspace configuration files. */
export function brokenConfigs(): ConfigInput[] {
  const t = (name: string, why: string, text: string, expect: "refuse" | "tolerate" = "refuse"): ConfigInput => ({ name, why, data: new Uint8Array(Buffer.from(text, "utf8")), expect });
  const bomb = ["a: &a [x, x, x, x, x, x, x, x, x]", "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]", "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]", "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]", "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]", "version: 1", ""].join("\n");
  const many = Array.from({ length: 70_000 }, (_, i) => `  p${i}: {program: d1, environment: preprod, customerId: "${i}"}`).join("\n");
  return [
    t("yaml-unclosed-flow-sequence", "a '[' never closed", `version: 1\nprofiles:\n${PROFILE}  x: [\n`),
    t("yaml-tab-indentation", "tabs as indentation", `version: 1\nprofiles:\n\td1-pp:\n\t\tprogram: d1\n`),
    t("yaml-duplicate-key", "the same profile twice", `version: 1\nprofiles:\n${PROFILE}${PROFILE}`),
    t("yaml-multiple-documents", "two YAML documents in one file", `version: 1\n---\nversion: 1\n`),
    t("yaml-alias-bomb", "a billion-laughs alias expansion", bomb),
    t("yaml-nested-flow-20000", "20,000 nested flow sequences", `version: 1\nprofiles: ${"[".repeat(20_000)}${"]".repeat(20_000)}\n`),
    t("yaml-custom-tag", "a !!js/function tag", `version: 1\nprofiles: !!js/function 'function () { return 1 }'\n`),
    t("yaml-binary-tag", "a !!binary program", `version: 1\nprofiles:\n  d1-pp:\n    program: !!binary ZDE=\n    environment: preprod\n    customerId: "1"\n`),
    t("yaml-key-is-a-collection", "a profile whose name is a list", `version: 1\nprofiles:\n  ? [a, b]\n  : {program: d1, environment: preprod, customerId: "1"}\n`),
    t("yaml-top-level-scalar", "the file is one string", "hello world\n"),
    t("yaml-top-level-list", "the file is a list", "- version: 1\n- profiles: {}\n"),
    t("yaml-version-2", "a future format version", `version: 2\nprofiles:\n${PROFILE}`),
    t("yaml-version-as-string", "version: \"1\"", `version: "1"\nprofiles:\n${PROFILE}`),
    t("yaml-profiles-is-a-list", "profiles as a list", `version: 1\nprofiles:\n  - d1-pp\n`),
    t("yaml-unknown-top-level-field", "a field mtlskit does not know", `version: 1\nprofils: {}\n`),
    t("yaml-unknown-profile-field", "a typo in a profile field (enviroment)", `version: 1\nprofiles:\n  d1-pp:\n    program: d1\n    enviroment: preprod\n    customerId: "123456"\n`),
    t("yaml-customer-id-as-number", "an unquoted numeric customer id", `version: 1\nprofiles:\n  d1-pp:\n    program: d1\n    environment: preprod\n    customerId: 123456\n`),
    t("yaml-unknown-program", "program: d3", `version: 1\nprofiles:\n  d1-pp:\n    program: d3\n    environment: preprod\n    customerId: "1"\n`),
    t("yaml-environment-of-other-program", "a D1 profile in the MT sandbox", `version: 1\nprofiles:\n  d1-pp:\n    program: d1\n    environment: sandbox\n    customerId: "1"\n`),
    t("yaml-profile-name-path-traversal", "a profile named ../../etc", `version: 1\nprofiles:\n  ../../etc:\n    program: d1\n    environment: preprod\n    customerId: "1"\n`),
    t("yaml-profile-named-proto", "a profile named __proto__ (not a valid name)", `version: 1\nprofiles:\n  __proto__:\n    program: d1\n    environment: preprod\n    customerId: "1"\n`),
    t("yaml-customer-id-path-traversal", "customerId ../../../tmp (a folder name)", `version: 1\nprofiles:\n  d1-pp:\n    program: d1\n    environment: preprod\n    customerId: "../../../tmp"\n`),
    t("yaml-dns-servers-not-addresses", "dns.servers holding a URL", `version: 1\nprofiles:\n${PROFILE}    dns:\n      servers: ["https://evil.example.com"]\n`),
    t("yaml-authz-url-http", "thales.authzUrl over plain http", `version: 1\nprofiles:\n${PROFILE}    thales:\n      authzUrl: http://api.d1-stg.thalescloud.io/authz/v1\n`),
    t("yaml-subject-with-nul", "a subject holding a NUL (escaped in YAML)", `version: 1\nprofiles:\n${PROFILE}    subject: "/C=FR/ST=P/L=P/O=A\\0B/OU=x"\n`, "tolerate"),
    { name: "yaml-nul-bytes", why: "raw NUL bytes in the file", data: new Uint8Array(Buffer.from(`version: 1\u0000\nprofiles: {}\u0000\n`, "latin1")), expect: "refuse" },
    { name: "yaml-invalid-utf8", why: "a customer id of invalid UTF-8 bytes", data: new Uint8Array(Buffer.concat([Buffer.from(`version: 1\nprofiles:\n  d1-pp:\n    program: d1\n    environment: preprod\n    customerId: "`), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(`"\n`)])), expect: "refuse" },
    { name: "yaml-random-bytes", why: "8 KiB of random bytes", data: pseudoRandomBytes(8192, 21), expect: "refuse" },
    { name: "yaml-huge-over-4mib", why: "70,000 profiles (~5 MiB)", data: new Uint8Array(Buffer.from(`version: 1\nprofiles:\n${many}\n`)), expect: "refuse" },
    { name: "yaml-is-a-directory", why: "mtlskit.yaml is a folder", data: "directory", expect: "refuse" },
    t("yaml-bom-and-comments", "a UTF-8 BOM and comments (sound)", `\uFEFF# my workspace\nversion: 1 # yes\nprofiles:\n${PROFILE}`, "tolerate"),
    t("yaml-empty", "an empty file (an empty workspace)", "", "tolerate"),
  ];
}

// ---------------------------------------------------------------------------------------------
// Asset bundles

/** How to break a sound bundle folder. */
export interface BundleInput {
  readonly name: string;
  readonly why: string;
  /** Changes the sound bundle at `dir` (manifest `manifest`, already parsed) in place. */
  readonly mutate: (dir: string, manifest: Record<string, unknown> & { assets: Record<string, string> }) => Promise<void>;
  readonly expect: "refuse" | "tolerate";
  readonly code?: ErrorCode;
}

async function writeManifest(dir: string, manifest: unknown): Promise<void> {
  await fs.writeFile(path.join(dir, "manifest.json"), typeof manifest === "string" ? manifest : JSON.stringify(manifest, null, 2));
}

/** Broken asset bundles for a D1 preprod profile of customer 123456. */
export function brokenBundles(): BundleInput[] {
  const chainName = "D1_TLS_SERVER_CA_CHAIN";
  const caName = "D1_TLS_CLIENT_CA";
  const edit = (fn: (m: Record<string, unknown> & { assets: Record<string, string> }) => void) => async (dir: string, m: Record<string, unknown> & { assets: Record<string, string> }) => {
    fn(m);
    await writeManifest(dir, m);
  };
  return [
    { name: "bundle-without-manifest", why: "no manifest.json", expect: "refuse", code: "ASSETS_INVALID", mutate: (dir) => fs.rm(path.join(dir, "manifest.json")) },
    { name: "bundle-manifest-not-json", why: "manifest.json is YAML-ish text", expect: "refuse", code: "ASSETS_INVALID", mutate: (dir) => writeManifest(dir, "format: mtlskit-assets/1\n{{{") },
    { name: "bundle-manifest-json-array", why: "manifest.json is a JSON list", expect: "refuse", code: "ASSETS_INVALID", mutate: (dir) => writeManifest(dir, "[1, 2, 3]") },
    { name: "bundle-manifest-empty", why: "manifest.json is empty", expect: "refuse", mutate: (dir) => writeManifest(dir, "") },
    { name: "bundle-manifest-nested-json", why: "manifest.json of 500,000 nested lists", expect: "refuse", code: "ASSETS_INVALID", mutate: (dir) => writeManifest(dir, `${"[".repeat(500_000)}${"]".repeat(500_000)}`) },
    { name: "bundle-manifest-over-4mib", why: "a 5 MiB manifest.json", expect: "refuse", mutate: (dir, m) => writeManifest(dir, { ...m, padding: "x".repeat(5 * 1024 * 1024) }) },
    { name: "bundle-wrong-format", why: "format mtlskit-assets/2", expect: "refuse", code: "ASSETS_INVALID", mutate: edit((m) => (m.format = "mtlskit-assets/2")) },
    { name: "bundle-direction-to-thales", why: "a bundle meant for Thales", expect: "refuse", code: "ASSETS_INVALID", mutate: edit((m) => (m.direction = "to-thales")) },
    { name: "bundle-assets-not-an-object", why: "assets is a string", expect: "refuse", code: "ASSETS_INVALID", mutate: async (dir, m) => writeManifest(dir, { ...m, assets: "everything.pem" }) },
    { name: "bundle-asset-value-not-a-string", why: "an asset whose value is a number", expect: "refuse", code: "ASSETS_INVALID", mutate: async (dir, m) => writeManifest(dir, { ...m, assets: { ...m.assets, D1_API_HOST: 443 } }) },
    { name: "bundle-path-traversal", why: "a file asset named ../../etc/passwd", expect: "refuse", code: "ASSETS_INVALID", mutate: edit((m) => (m.assets[chainName] = "../../etc/passwd")) },
    { name: "bundle-absolute-path", why: "a file asset named /etc/passwd", expect: "refuse", code: "ASSETS_INVALID", mutate: edit((m) => (m.assets[chainName] = "/etc/passwd")) },
    { name: "bundle-dot-dot", why: "a file asset named ..", expect: "refuse", code: "ASSETS_INVALID", mutate: edit((m) => (m.assets[caName] = "..")) },
    { name: "bundle-symlink-out-of-bundle", why: "a file asset that is a symlink to /etc/passwd", expect: "refuse", mutate: async (dir, m) => {
      await fs.rm(path.join(dir, m.assets[chainName]!));
      await fs.symlink("/etc/passwd", path.join(dir, m.assets[chainName]!));
    } },
    { name: "bundle-asset-file-missing", why: "a file asset naming a file that is not there", expect: "refuse", mutate: edit((m) => (m.assets[chainName] = "not-here.pem")) },
    { name: "bundle-asset-file-is-directory", why: "a file asset naming a folder", expect: "refuse", mutate: async (dir, m) => {
      await fs.mkdir(path.join(dir, "folder.pem"));
      m.assets[chainName] = "folder.pem";
      await writeManifest(dir, m);
    } },
    { name: "bundle-server-chain-garbage", why: "the server chain file holds random bytes under CERTIFICATE", expect: "refuse", mutate: (dir, m) => fs.writeFile(path.join(dir, m.assets[chainName]!), toPem("CERTIFICATE", pseudoRandomBytes(600, 4))) },
    { name: "bundle-server-chain-holds-private-key", why: "a private key among the server CAs", expect: "refuse", code: "ASSET_INVALID", mutate: async (dir, m) => {
      const key = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
      await fs.appendFile(path.join(dir, m.assets[chainName]!), key);
    } },
    { name: "bundle-client-ca-leaf-only", why: "Thales's client certificate without its CA", expect: "refuse", code: "CA_CERTIFICATE_REQUIRED", mutate: async (dir, m) => {
      const file = path.join(dir, m.assets[caName]!);
      const pem = await fs.readFile(file, "latin1");
      await fs.writeFile(file, pem.slice(0, pem.indexOf("-----END CERTIFICATE-----") + 26));
    } },
    { name: "bundle-api-host-ipv4", why: "D1_API_HOST is an IPv4 address", expect: "refuse", code: "HOST_INVALID", mutate: edit((m) => (m.assets.D1_API_HOST = "127.0.0.1:40003")) },
    { name: "bundle-api-host-ipv6", why: "D1_API_HOST is [::1]:443", expect: "refuse", code: "HOST_INVALID", mutate: edit((m) => (m.assets.D1_API_HOST = "[::1]:443")) },
    { name: "bundle-api-host-decimal-ip", why: "D1_API_HOST is 2130706433 (127.0.0.1 as one number)", expect: "refuse", code: "HOST_INVALID", mutate: edit((m) => (m.assets.D1_API_HOST = "2130706433")) },
    { name: "bundle-api-host-port-not-a-number", why: "D1_API_HOST with the port ':abc'", expect: "refuse", code: "HOST_INVALID", mutate: edit((m) => (m.assets.D1_API_HOST = "api.d1-stg.thalescloud.test:abc")) },
    { name: "bundle-api-host-control-characters", why: "D1_API_HOST with a line break and a forged header", expect: "refuse", code: "HOST_INVALID", mutate: edit((m) => (m.assets.D1_API_HOST = "api.d1-stg.thalescloud.test\r\nx-evil: 1")) },
    { name: "bundle-api-host-production", why: "a production host in a preprod bundle", expect: "refuse", code: "ENVIRONMENT_MISMATCH", mutate: edit((m) => (m.assets.D1_API_HOST = "api.d1.thalescloud.io")) },
    { name: "bundle-authz-url-http", why: "D1_AUTHZ_URL over plain http", expect: "refuse", code: "HOST_INVALID", mutate: edit((m) => (m.assets.D1_AUTHZ_URL = "http://api.d1-stg.thalescloud.test/authz/v1")) },
    { name: "bundle-dns-servers-not-addresses", why: "dnsServers holding a host name and a URL", expect: "refuse", mutate: edit((m) => (m.dnsServers = ["evil.example.com", "https://x"])) },
    { name: "bundle-dns-servers-not-a-list", why: "dnsServers is a string", expect: "refuse", code: "ASSETS_INVALID", mutate: edit((m) => (m.dnsServers = "127.0.0.1:53" as unknown as string[])) },
    { name: "bundle-other-program", why: "an MT bundle for a D1 profile", expect: "refuse", code: "PROFILE_MISMATCH", mutate: edit((m) => (m.program = "mt")) },
    { name: "bundle-other-environment", why: "a production bundle for a preprod profile", expect: "refuse", code: "ENVIRONMENT_MISMATCH", mutate: edit((m) => (m.environment = "production")) },
    { name: "bundle-other-customer", why: "a bundle for customer 999999", expect: "refuse", code: "PROFILE_MISMATCH", mutate: edit((m) => (m.customerId = "999999")) },
    { name: "bundle-proto-keys", why: "__proto__ and constructor keys in the manifest and its assets", expect: "tolerate", mutate: async (dir, m) => {
      const text = JSON.stringify(m).replace(/^\{/, '{"__proto__":{"direction":"to-thales"},"constructor":{"x":1},').replace('"assets":{', '"assets":{"__proto__":"x.pem",');
      await writeManifest(dir, text);
    } },
  ];
}

// ---------------------------------------------------------------------------------------------
// HTTP requests to the portal

/** One raw HTTP/1.1 exchange with the portal. */
export interface HttpInput {
  readonly name: string;
  readonly why: string;
  /** The bytes sent (written in chunks; the server may close early). */
  readonly request: Buffer;
  /** Statuses a correct portal may answer. A 4xx always, never a 5xx. */
  readonly statuses: readonly number[];
  /** The error code the answer must carry, when one is clearly right. */
  readonly code?: string;
}

/** What the portal requests need from the test: sound PEMs to break. */
export interface HttpMaterials {
  readonly csrPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly badSignatureCsrPem: string;
}

function request(method: string, target: string, headers: Record<string, string>, body?: Buffer | string): Buffer {
  const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
  const h = { host: "127.0.0.1", connection: "close", ...(b !== undefined && !("transfer-encoding" in headers) && !("content-length" in headers) ? { "content-length": String(b.length) } : {}), ...headers };
  const head = `${method} ${target} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), b ?? Buffer.alloc(0)]);
}

const JSON_TYPE = { "content-type": "application/json" };

/** Hostile requests to the portal (`limit`: its body limit in bytes). */
export function hostileHttpRequests(m: HttpMaterials, limit: number): HttpInput[] {
  const post = (target: string, body: unknown, headers: Record<string, string> = JSON_TYPE) => request("POST", target, headers, typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body));
  const csrRoute = "/v1/d1/preprod/csr";
  const endorse = "/v1/mt/sandbox/endorsements";
  const customer = "/v1/d1/preprod/customers/123456";
  const put = (target: string, body: unknown) => request("PUT", target, JSON_TYPE, JSON.stringify(body));
  const chunked = (target: string, size: number) => {
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const parts: Buffer[] = [];
    for (let sent = 0; sent < size; sent += chunk.length) parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n"));
    parts.push(Buffer.from("0\r\n\r\n"));
    return request("POST", target, { ...JSON_TYPE, "transfer-encoding": "chunked" }, Buffer.concat(parts));
  };
  return [
    { name: "http-body-over-limit-declared", why: "a body over the limit, with its content-length", request: post(csrRoute, `{"csr":"${"A".repeat(limit + 10)}"}`), statuses: [413], code: "BODY_TOO_LARGE" },
    { name: "http-body-over-limit-chunked", why: "a chunked body over the limit, no content-length", request: chunked(csrRoute, limit + 128 * 1024), statuses: [413], code: "BODY_TOO_LARGE" },
    { name: "http-expect-continue-huge", why: "Expect: 100-continue announcing 10 GB", request: request("POST", csrRoute, { ...JSON_TYPE, expect: "100-continue", "content-length": "10000000000" }), statuses: [413], code: "BODY_TOO_LARGE" },
    { name: "http-garbage-request-line", why: "bytes that are not HTTP", request: Buffer.from("\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u01fc\u0003\u0003GARBAGE\r\n\r\n", "latin1"), statuses: [400], code: "MALFORMED_REQUEST" },
    { name: "http-header-overflow", why: "a 100 KiB header", request: request("GET", "/v1/d1/preprod/deliveries", { "x-big": "a".repeat(100 * 1024) }), statuses: [400, 431] },
    { name: "http-url-100kib", why: "a 100 KiB request target", request: request("GET", `/v1/d1/preprod/${"a".repeat(100 * 1024)}`, {}), statuses: [400, 404, 414, 431] },
    { name: "http-duplicate-content-length", why: "two different content-length headers", request: Buffer.concat([Buffer.from(`POST ${csrRoute} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 2\r\ncontent-length: 40\r\nconnection: close\r\n\r\n{}`)]), statuses: [400] },
    { name: "http-content-length-and-chunked", why: "content-length and transfer-encoding together (smuggling)", request: Buffer.from(`POST ${csrRoute} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n0\r\n\r\nGET /v1/d1/preprod/deliveries HTTP/1.1\r\n\r\n`), statuses: [400] },
    { name: "http-negative-content-length", why: "content-length: -1", request: Buffer.from(`POST ${csrRoute} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: -1\r\nconnection: close\r\n\r\n`), statuses: [400] },
    { name: "http-nul-in-target", why: "a NUL byte in the request target", request: Buffer.from(`GET /v1/d1/preprod/deliveries\u0000x HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n`, "latin1"), statuses: [400, 404] },
    { name: "http-bad-percent-encoding", why: "a path segment of %E0%A4%A", request: request("PUT", "/v1/d1/preprod/customers/%E0%A4%A", JSON_TYPE, "{}"), statuses: [400], code: "INVALID_FIELD" },
    { name: "http-unknown-method", why: "method BREW", request: request("BREW", "/v1/d1/preprod/deliveries", {}), statuses: [400, 405] },
    { name: "http-body-not-json", why: "a body that is not JSON", request: post(csrRoute, "{customerId: 123456, csr: ---"), statuses: [400], code: "MALFORMED_JSON" },
    { name: "http-body-json-array", why: "a JSON list instead of an object", request: post(csrRoute, "[1,2,3]"), statuses: [400], code: "MALFORMED_JSON" },
    { name: "http-body-deeply-nested-json", why: "500,000 nested JSON lists (under the size limit)", request: post(csrRoute, `${"[".repeat(Math.min(500_000, limit / 2 - 10))}${"]".repeat(Math.min(500_000, limit / 2 - 10))}`), statuses: [400], code: "MALFORMED_JSON" },
    { name: "http-body-invalid-utf8", why: "JSON with invalid UTF-8 bytes in a string", request: post(csrRoute, Buffer.concat([Buffer.from('{"customerId":"123456","csr":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')])), statuses: [400, 422] },
    { name: "http-wrong-content-type", why: "a JSON body sent as text/plain", request: post(csrRoute, { customerId: "123456", csr: m.csrPem }, { "content-type": "text/plain" }), statuses: [415], code: "UNSUPPORTED_MEDIA_TYPE" },
    { name: "http-csr-field-number", why: "csr is a number", request: post(csrRoute, { customerId: "123456", csr: 42 }), statuses: [400], code: "INVALID_FIELD" },
    { name: "http-csr-field-object", why: "csr is an object with a __proto__ key", request: post(csrRoute, '{"customerId":"123456","csr":{"__proto__":{"toString":1}}}'), statuses: [400], code: "INVALID_FIELD" },
    { name: "http-proto-pollution-body", why: "a body whose __proto__ carries the fields", request: post(csrRoute, `{"__proto__":{"customerId":"123456","csr":${JSON.stringify(m.csrPem)}}}`), statuses: [400], code: "MISSING_FIELD" },
    { name: "http-csr-garbage-pem", why: "csr holds random bytes under CERTIFICATE REQUEST", request: post(csrRoute, { customerId: "123456", csr: toPem("CERTIFICATE REQUEST", pseudoRandomBytes(500, 2)) }), statuses: [422] },
    { name: "http-csr-truncated-pem", why: "csr cut in the middle", request: post(csrRoute, { customerId: "123456", csr: m.csrPem.slice(0, 200) }), statuses: [422], code: "PEM_MALFORMED" },
    { name: "http-csr-nested-der", why: "csr holds 20,000 nested SEQUENCEs", request: post(csrRoute, { customerId: "123456", csr: toPem("CERTIFICATE REQUEST", nestedSequences(20_000)) }), statuses: [422] },
    { name: "http-csr-bad-signature", why: "a CSR with one signature bit flipped", request: post(csrRoute, { customerId: "123456", csr: m.badSignatureCsrPem }), statuses: [422] },
    { name: "http-csr-is-a-private-key", why: "a private key sent as the CSR", request: post(csrRoute, { customerId: "123456", csr: m.keyPem }), statuses: [422], code: "PRIVATE_KEY_SUBMITTED" },
    { name: "http-csr-is-a-certificate", why: "a certificate sent as the CSR", request: post(csrRoute, { customerId: "123456", csr: m.certPem }), statuses: [422], code: "CSR_EXPECTED" },
    { name: "http-csr-customer-id-control-characters", why: "customerId with ESC and a line break", request: post(csrRoute, { customerId: "123\u001b[2J\n456", csr: m.csrPem }), statuses: [422], code: "GATEWAY_ID_INVALID" },
    { name: "http-csr-customer-id-10kib", why: "a 10 KiB customerId", request: post(csrRoute, { customerId: "1".repeat(10_240), csr: m.csrPem }), statuses: [422], code: "GATEWAY_ID_INVALID" },
    { name: "http-csr-customer-id-rtl", why: "customerId with U+202E", request: post(csrRoute, { customerId: "123\u202E456", csr: m.csrPem }), statuses: [422], code: "GATEWAY_ID_INVALID" },
    { name: "http-endorse-garbage-certificate", why: "a certificate field of random DER", request: post(endorse, { customerId: "654321", certificate: toPem("CERTIFICATE", pseudoRandomBytes(400, 8)) }), statuses: [422] },
    { name: "http-endorse-certificate-huge-chain", why: "the same certificate 1,000 times", request: post(endorse, { customerId: "654321", certificate: m.certPem.repeat(Math.min(1000, Math.floor((limit - 200) / (m.certPem.length + 8)))) }), statuses: [422], code: "CERTIFICATE_EXPECTED" },
    { name: "http-customer-path-traversal", why: "a customer id of ../../etc in the path", request: put("/v1/d1/preprod/customers/..%2F..%2Fetc", { issuerHost: "notify.example.com", serverChain: m.certPem }), statuses: [422], code: "GATEWAY_ID_INVALID" },
    { name: "http-customer-issuer-host-ip", why: "issuerHost is an IP address", request: put(customer, { issuerHost: "10.0.0.1:443", serverChain: m.certPem }), statuses: [422] },
    { name: "http-customer-issuer-host-header-injection", why: "issuerHost with CRLF and a header", request: put(customer, { issuerHost: "notify.example.com\r\nx-evil: 1", serverChain: m.certPem }), statuses: [422] },
    { name: "http-customer-server-chain-garbage", why: "serverChain of random DER", request: put(customer, { issuerHost: "notify.example.com", serverChain: toPem("CERTIFICATE", pseudoRandomBytes(300, 12)) }), statuses: [422] },
    { name: "http-customer-oauth-key-garbage", why: "oauthPublicKey of random DER", request: put(customer, { issuerHost: "notify.example.com", serverChain: m.certPem, oauthPublicKey: toPem("PUBLIC KEY", pseudoRandomBytes(91, 13)), kid: "k1" }), statuses: [422] },
    { name: "http-customer-kid-control-characters", why: "a kid with NUL and newline", request: put(customer, { issuerHost: "notify.example.com", serverChain: m.certPem, oauthPublicKey: "x", kid: "a\u0000\nb" }), statuses: [422] },
    { name: "http-assets-customer-id-traversal", why: "GET assets for customerId=../../etc", request: request("GET", "/v1/d1/preprod/assets?customerId=..%2F..%2Fetc", {}), statuses: [422], code: "GATEWAY_ID_INVALID" },
    { name: "http-notifications-count-huge", why: "count: 1e12", request: post("/v1/d1/preprod/notifications", { customerId: "123456", count: 1e12 }), statuses: [400], code: "INVALID_FIELD" },
    { name: "http-notifications-count-string", why: "count: \"5\"", request: post("/v1/d1/preprod/notifications", { customerId: "123456", count: "5" }), statuses: [400], code: "INVALID_FIELD" },
    { name: "http-endorsement-delete-not-hex", why: "DELETE an endorsement named with 10 KiB of junk", request: request("DELETE", `/v1/mt/sandbox/endorsements/${"zz".repeat(5000)}`, {}), statuses: [400], code: "INVALID_FIELD" },
    { name: "http-unknown-program", why: "/v1/d3/preprod/csr", request: post("/v1/d3/preprod/csr", {}), statuses: [404] },
    { name: "http-program-path-traversal", why: "/v1/../../etc/passwd", request: request("GET", "/v1/%2e%2e/%2e%2e/etc/passwd", {}), statuses: [404] },
  ];
}
