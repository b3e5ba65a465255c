import { createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { isMtlsError, type ErrorCode } from "../errors/index.js";
import type { KeyType } from "../policy/index.js";
import { describeKey, generateKey, keysMatch, loadPrivateKey, privateKeyToPem } from "./keys.js";
import { toPem } from "./pem.js";
import { parseSubject } from "./subject.js";
import { createCertificate, createCsr } from "./x509-build.js";

const PASS = "correct horse battery staple";

function loadError(data: Uint8Array | string, options: { passphrase?: string; source?: string } = {}): { code: ErrorCode; message: string } {
  try {
    loadPrivateKey(typeof data === "string" ? Buffer.from(data) : data, options);
  } catch (e) {
    if (isMtlsError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error("loadPrivateKey accepted the input");
}

function same(a: KeyObject, b: KeyObject): boolean {
  return keysMatch(a, createPublicKey(b));
}

describe("generateKey and describeKey", () => {
  const cases: Array<[KeyType, string, string, number]> = [
    ["ecdsa-p256", "ECDSA P-256", "EC", 256],
    ["ecdsa-p384", "ECDSA P-384", "EC", 384],
    ["rsa-2048", "RSA 2048", "RSA", 2048],
    ["rsa-4096", "RSA 4096", "RSA", 4096],
  ];
  it.each(cases)("%s is %s", async (type, label, algorithm, bits) => {
    const pair = await generateKey(type);
    expect(pair.type).toBe(type);
    for (const k of [pair.privateKey, pair.publicKey]) {
      expect(describeKey(k)).toMatchObject({ type, label, algorithm, bits });
    }
    expect(keysMatch(pair.privateKey, pair.publicKey)).toBe(true);
    const pem = privateKeyToPem(pair.privateKey);
    expect(pem.startsWith("-----BEGIN PRIVATE KEY-----\n")).toBe(true);
    expect(same(loadPrivateKey(Buffer.from(pem)), pair.privateKey)).toBe(true);
  });

  it("gives curves their NIST names", () => {
    expect(describeKey(generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey).curve).toBe("P-256");
    expect(describeKey(generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey).curve).toBe("P-384");
  });

  it("labels keys mtlskit does not create, with no key type", () => {
    expect(describeKey(generateKeyPairSync("ec", { namedCurve: "secp521r1" }).privateKey)).toMatchObject({ type: undefined, label: "ECDSA P-521", bits: 521 });
    expect(describeKey(generateKeyPairSync("ec", { namedCurve: "secp256k1" }).privateKey)).toMatchObject({ type: undefined, label: "ECDSA secp256k1" });
    expect(describeKey(generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey)).toMatchObject({ type: undefined, label: "RSA 1024", bits: 1024 });
    expect(describeKey(generateKeyPairSync("rsa-pss", { modulusLength: 2048 }).privateKey)).toMatchObject({ type: undefined, label: "RSA-PSS 2048" });
    expect(describeKey(generateKeyPairSync("ed25519").privateKey)).toMatchObject({ type: undefined, algorithm: "ED25519" });
  });
});

describe("keysMatch", () => {
  it("tells the two halves of a pair from halves of different pairs", () => {
    const a = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const b = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const r = generateKeyPairSync("rsa", { modulusLength: 2048 });
    expect(keysMatch(a.privateKey, a.publicKey)).toBe(true);
    expect(keysMatch(a.privateKey, b.publicKey)).toBe(false);
    expect(keysMatch(a.privateKey, r.publicKey)).toBe(false);
    expect(keysMatch(r.privateKey, r.publicKey)).toBe(true);
  });
});

describe("loadPrivateKey", () => {
  let ec: KeyObject;
  let rsa: KeyObject;
  beforeAll(() => {
    ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  });

  const encodings = (): Array<[string, KeyObject, Uint8Array, string | undefined]> => [
    ["EC PKCS#8 PEM", ec, Buffer.from(ec.export({ type: "pkcs8", format: "pem" })), undefined],
    ["EC PKCS#8 DER", ec, ec.export({ type: "pkcs8", format: "der" }), undefined],
    ["EC SEC1 PEM", ec, Buffer.from(ec.export({ type: "sec1", format: "pem" })), undefined],
    ["EC SEC1 DER", ec, ec.export({ type: "sec1", format: "der" }), undefined],
    [
      "EC SEC1 PEM after EC PARAMETERS (openssl ecparam -genkey)",
      ec,
      Buffer.from(toPem("EC PARAMETERS", Buffer.from("06082a8648ce3d030107", "hex")) + ec.export({ type: "sec1", format: "pem" }).toString()),
      undefined,
    ],
    ["RSA PKCS#8 PEM", rsa, Buffer.from(rsa.export({ type: "pkcs8", format: "pem" })), undefined],
    ["RSA PKCS#8 DER", rsa, rsa.export({ type: "pkcs8", format: "der" }), undefined],
    ["RSA PKCS#1 PEM", rsa, Buffer.from(rsa.export({ type: "pkcs1", format: "pem" })), undefined],
    ["RSA PKCS#1 DER", rsa, rsa.export({ type: "pkcs1", format: "der" }), undefined],
    ["EC encrypted PKCS#8 PEM", ec, Buffer.from(ec.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: PASS })), PASS],
    ["EC encrypted PKCS#8 DER", ec, ec.export({ type: "pkcs8", format: "der", cipher: "aes-256-cbc", passphrase: PASS }), PASS],
    ["RSA encrypted PKCS#8 PEM", rsa, Buffer.from(rsa.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: PASS })), PASS],
    ["RSA legacy-encrypted PKCS#1 PEM", rsa, Buffer.from(rsa.export({ type: "pkcs1", format: "pem", cipher: "aes-256-cbc", passphrase: PASS })), PASS],
    ["EC legacy-encrypted SEC1 PEM", ec, Buffer.from(ec.export({ type: "sec1", format: "pem", cipher: "aes-256-cbc", passphrase: PASS })), PASS],
  ];

  it("reads every encoding of a private key", () => {
    for (const [name, key, data, passphrase] of encodings()) {
      const loaded = loadPrivateKey(data, { source: name, ...(passphrase !== undefined ? { passphrase } : {}) });
      expect(same(loaded, key), name).toBe(true);
    }
  });

  it("ignores a passphrase given for a key that is not encrypted", () => {
    expect(same(loadPrivateKey(Buffer.from(privateKeyToPem(ec)), { passphrase: "unused" }), ec)).toBe(true);
  });

  it("asks for the passphrase of an encrypted key, and names the file", () => {
    for (const [name, , data, passphrase] of encodings()) {
      if (passphrase === undefined) continue;
      const e = loadError(data, { source: "client.key" });
      expect(e.code, name).toBe("KEY_ENCRYPTED");
      expect(e.message, name).toBe("client.key: the private key is encrypted and no passphrase was given");
    }
  });

  it("refuses a wrong passphrase", () => {
    for (const [name, , data, passphrase] of encodings()) {
      if (passphrase === undefined) continue;
      const e = loadError(data, { source: "client.key", passphrase: "wrong" });
      expect(e.code, name).toBe("KEY_BAD_PASSPHRASE");
      expect(e.message.startsWith("client.key: "), name).toBe(true);
    }
  });

  it("refuses a certificate, a CSR and a public key, saying what the file holds", () => {
    const subject = parseSubject("/CN=not a key");
    const certDer = createCertificate({ subject, publicKey: createPublicKey(ec), signingKey: ec, notAfter: new Date(Date.now() + 3_600_000) });
    const csrDer = createCsr({ subject, privateKey: ec });
    const cases: Array<[Uint8Array, RegExp]> = [
      [Buffer.from(toPem("CERTIFICATE", certDer)), /holds a certificate, not a private key/],
      [Buffer.from(toPem("CERTIFICATE REQUEST", csrDer)), /holds a certificate signing request/],
      [Buffer.from(createPublicKey(ec).export({ type: "spki", format: "pem" })), /holds a public key/],
      [certDer, /holds a certificate or CSR \(DER\)/],
      [csrDer, /holds a certificate or CSR \(DER\)/],
    ];
    for (const [data, message] of cases) {
      const e = loadError(data, { source: "client.key" });
      expect(e.code).toBe("KEY_EXPECTED");
      expect(e.message).toMatch(/^client\.key: /);
      expect(e.message).toMatch(message);
    }
  });

  it("refuses a file with two private keys", () => {
    const two = privateKeyToPem(ec) + privateKeyToPem(rsa);
    expect(loadError(two, { source: "both.pem" })).toEqual({ code: "KEY_EXPECTED", message: "both.pem: holds 2 private keys; give a file with exactly one" });
  });

  it("refuses random bytes and a damaged key", () => {
    const random = new Uint8Array(Array.from({ length: 300 }, (_, i) => (i * 131 + 17) & 0xff));
    expect(loadError(random, { source: "noise.bin" }).code).toBe("INPUT_NOT_RECOGNIZED");
    const pkcs8 = ec.export({ type: "pkcs8", format: "der" });
    const damaged = Buffer.from(pkcs8);
    damaged.fill(0x41, 20, 40);
    const e = loadError(toPem("PRIVATE KEY", damaged), { source: "damaged.key" });
    expect(e.code).toBe("INPUT_NOT_RECOGNIZED");
    expect(e.message).toMatch(/^damaged\.key: /);
  });

  it("refuses a truncated PEM key as malformed PEM", () => {
    const cut = privateKeyToPem(ec).split("\n").slice(0, 2).join("\n");
    expect(loadError(cut, { source: "cut.key" }).code).toBe("PEM_MALFORMED");
  });
});
