/**
 * The lazy parts of a parsed certificate (issue 11, item 7): `x509`, `publicKey`, `spkiPin`
 * and `sha256Fingerprint` are made when first read, and equal what Node computes; the key
 * description read from the SPKI DER equals describeKey's on every kind; the signature check
 * without X509Certificate gives X509Certificate.verify's verdict, tampered certificates included.
 */
import { createHash, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import { describeKey, describeSpki } from "./keys.js";
import { decodePkiObjects } from "./read-objects.js";
import { parseSubject } from "./subject.js";
import { createCertificate } from "./x509-build.js";
import { parseCertificate, spkiPin, verifyCertificateSignature } from "./x509-parse.js";
import { toPem } from "./pem.js";

const KINDS: Array<[string, () => { publicKey: KeyObject; privateKey: KeyObject }]> = [
  ["P-256", () => generateKeyPairSync("ec", { namedCurve: "prime256v1" })],
  ["P-384", () => generateKeyPairSync("ec", { namedCurve: "secp384r1" })],
  ["P-521", () => generateKeyPairSync("ec", { namedCurve: "secp521r1" })],
  ["secp256k1", () => generateKeyPairSync("ec", { namedCurve: "secp256k1" })],
  ["RSA 2048", () => generateKeyPairSync("rsa", { modulusLength: 2048 })],
  ["RSA 1024", () => generateKeyPairSync("rsa", { modulusLength: 1024 })],
  ["RSA 2047", () => generateKeyPairSync("rsa", { modulusLength: 2047 })],
  ["Ed25519", () => generateKeyPairSync("ed25519")],
  ["RSA-PSS 2048", () => generateKeyPairSync("rsa-pss", { modulusLength: 2048 })],
];

function selfSigned(pair: { publicKey: KeyObject; privateKey: KeyObject }, cn = "lazy.test"): Uint8Array {
  return createCertificate({ subject: parseSubject(`/CN=${cn}`), publicKey: pair.publicKey, signingKey: pair.privateKey, notAfter: new Date(Date.now() + 86_400_000) });
}

describe("describeSpki", () => {
  it.each(KINDS)("%s: the same description as describeKey on the KeyObject (or none)", (_name, make) => {
    const { publicKey } = make();
    const spki = publicKey.export({ type: "spki", format: "der" });
    const fast = describeSpki(spki);
    if (fast !== undefined) expect(fast).toEqual(describeKey(publicKey));
  });

  it("reads EC and RSA keys itself, and leaves other kinds to node", () => {
    for (const [name, make] of KINDS) {
      const spki = make().publicKey.export({ type: "spki", format: "der" });
      expect(describeSpki(spki) !== undefined, name).toBe(!name.startsWith("Ed") && !name.startsWith("RSA-PSS"));
    }
    expect(describeSpki(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]))).toBeUndefined();
  });
});

describe("parseCertificate: lazy parts", () => {
  const pairs = KINDS.filter(([n]) => n === "P-256" || n === "RSA 2048").map(([, make]) => make());

  it("makes x509, publicKey, spkiPin and the fingerprint on first read, equal to what node computes", () => {
    for (const pair of pairs) {
      const der = selfSigned(pair);
      const cert = parseCertificate(der, "lazy.pem");
      const node = new X509Certificate(der);
      expect(cert.sha256Fingerprint).toBe(node.fingerprint256);
      expect(cert.publicKey.export({ type: "spki", format: "der" }).equals(node.publicKey.export({ type: "spki", format: "der" }))).toBe(true);
      expect(cert.spkiPin).toBe(spkiPin(node.publicKey));
      expect(cert.spkiPin).toBe(`sha256/${createHash("sha256").update(node.publicKey.export({ type: "spki", format: "der" })).digest("base64")}`);
      expect(cert.x509.fingerprint256).toBe(node.fingerprint256);
      // Made once and kept.
      expect(cert.x509).toBe(cert.x509);
      expect(cert.publicKey).toBe(cert.publicKey);
      expect(cert.key).toEqual(describeKey(node.publicKey));
    }
  });

  it("a spread and JSON.stringify still see every field", () => {
    const der = selfSigned(pairs[0]!);
    const cert = parseCertificate(der, "lazy.pem");
    const copy = { ...cert };
    expect(copy.sha256Fingerprint).toBe(cert.sha256Fingerprint);
    expect(copy.spkiPin).toBe(cert.spkiPin);
    expect(copy.x509).toBe(cert.x509);
    expect(JSON.parse(JSON.stringify({ pin: cert.spkiPin, ...cert })) as Record<string, unknown>).toMatchObject({ spkiPin: cert.spkiPin, sha256Fingerprint: cert.sha256Fingerprint });
  });

  it("decodePkiObjects adds source and index without reading the lazy parts", () => {
    const der = selfSigned(pairs[0]!);
    const [item] = decodePkiObjects(new TextEncoder().encode(toPem("CERTIFICATE", der)), "lazy.pem");
    expect(item).toMatchObject({ kind: "certificate", source: "lazy.pem", index: 0 });
    const d = Object.getOwnPropertyDescriptor(item, "x509");
    expect(typeof d?.get).toBe("function");
  });
});

// The kinds createCertificate signs with (ECDSA and RSA PKCS#1 v1.5).
const SIGNABLE = KINDS.filter(([n]) => !n.startsWith("Ed") && !n.startsWith("RSA-PSS"));

describe("verifyCertificateSignature", () => {
  it.each(SIGNABLE)("%s: the verdict of X509Certificate.verify, for the right key, another key and a tampered certificate", (_name, make) => {
    const pair = make();
    const other = make();
    const der = selfSigned(pair);
    const tampered = Uint8Array.from(der);
    // Flip a byte of the subject CN ("lazy.test"), inside the signed part.
    const at = Buffer.from(der).indexOf("lazy.test");
    tampered[at] = tampered[at]! ^ 0x01;
    const rsaKey = createPublicKey(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }));
    for (const [bytes, key] of [
      [der, pair.publicKey],
      [der, other.publicKey],
      [tampered, pair.publicKey],
      [der, rsaKey],
    ] as const) {
      const cert = parseCertificate(bytes, "sig.pem");
      expect(verifyCertificateSignature(cert, key)).toBe(new X509Certificate(bytes).verify(key));
    }
    expect(verifyCertificateSignature(parseCertificate(der), pair.publicKey)).toBe(true);
  });
});
