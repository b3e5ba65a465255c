/**
 * The one home of fingerprint formats (issue 11, item 3): each format of `fingerprint` equals
 * what openssl prints for the same real certificate, `formatFingerprint` converts between the
 * digest forms, and the old helpers still give the same bytes.
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, X509Certificate, type KeyObject } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { requireTool } from "../../test/support/tools.js";
import { isMtlsError } from "../errors/index.js";
import { colonHex, fingerprint, formatFingerprint, spkiPin } from "./fingerprint.js";
import { toPem } from "./pem.js";
import { parseSubject } from "./subject.js";
import { createCertificate } from "./x509-build.js";
import { parseCertificate } from "./x509-parse.js";

const KINDS: Array<[string, () => { publicKey: KeyObject; privateKey: KeyObject }]> = [
  ["EC P-256", () => generateKeyPairSync("ec", { namedCurve: "prime256v1" })],
  ["RSA 2048", () => generateKeyPairSync("rsa", { modulusLength: 2048 })],
  ["EC P-384", () => generateKeyPairSync("ec", { namedCurve: "secp384r1" })],
];

const certs = KINDS.map(([name, make]) => {
  const pair = make();
  const der = createCertificate({ subject: parseSubject(`/CN=fingerprint ${name}`), publicKey: pair.publicKey, signingKey: pair.privateKey, notAfter: new Date(Date.now() + 86_400_000) });
  return { name, der, publicKey: pair.publicKey };
});

const dir = mkdtempSync(join(tmpdir(), "mtlskit-fingerprint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openssl(args: string[], input?: Buffer | string): Buffer {
  return execFileSync("openssl", args, { input, stdio: ["pipe", "pipe", "pipe"] });
}

describe.skipIf(!requireTool("openssl"))("fingerprint: each format as openssl prints it", () => {
  it.each(certs.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const file = join(dir, `${c.name.replace(/\W/g, "-")}.pem`);
    writeFileSync(file, toPem("CERTIFICATE", c.der));
    // `sha256 Fingerprint=AB:CD:...` (the label's case differs between OpenSSL versions)
    const printed = openssl(["x509", "-in", file, "-noout", "-fingerprint", "-sha256"]).toString().trim();
    const colon = printed.slice(printed.indexOf("=") + 1);
    expect(colon).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(fingerprint(c.der, "colon-hex")).toBe(colon);
    // `openssl dgst -sha256 -r` prints `<lower-case hex> *stdin`
    const hex = openssl(["dgst", "-sha256", "-r"], Buffer.from(c.der)).toString().split(" ")[0];
    expect(fingerprint(c.der, "hex")).toBe(hex);
    expect(fingerprint(c.der, "short")).toBe(`${colon.slice(0, 11)}:…:${colon.slice(-5)}`);
    // the HPKP pin: the public key's DER, hashed, in base64
    const pubDer = openssl(["pkey", "-pubin", "-outform", "DER"], openssl(["x509", "-in", file, "-noout", "-pubkey"]));
    const pin = openssl(["dgst", "-sha256", "-binary"], pubDer).toString("base64");
    expect(fingerprint(c.der, "spki-pin")).toBe(`sha256/${pin}`);
    expect(fingerprint(new Uint8Array(pubDer), "spki-pin")).toBe(`sha256/${pin}`);
  });
});

describe("fingerprint: the same as before its move", () => {
  it.each(certs.map((c) => [c.name, c] as const))("%s: Node's fingerprint256, the parsed certificate's fields, spkiPin of the key", (_name, c) => {
    const node = new X509Certificate(c.der);
    const info = parseCertificate(c.der);
    expect(fingerprint(c.der, "colon-hex")).toBe(node.fingerprint256);
    expect(info.sha256Fingerprint).toBe(node.fingerprint256);
    expect(fingerprint(c.der, "hex")).toBe(node.fingerprint256.replace(/:/g, "").toLowerCase());
    expect(fingerprint(c.der, "spki-pin")).toBe(spkiPin(c.publicKey));
    expect(info.spkiPin).toBe(fingerprint(c.der, "spki-pin"));
  });

  it("refuses a spki-pin of bytes that are neither a certificate nor a public key, with a coded error", () => {
    for (const der of [new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), new Uint8Array([1, 2, 3])]) {
      let caught: unknown;
      try {
        fingerprint(der, "spki-pin");
      } catch (e) {
        caught = e;
      }
      expect(isMtlsError(caught) && caught.code).toBe("INPUT_NOT_RECOGNIZED");
    }
  });
});

describe("formatFingerprint", () => {
  const colon = fingerprint(certs[0]!.der, "colon-hex");
  const hex = fingerprint(certs[0]!.der, "hex");

  it("converts between the digest forms, from either", () => {
    for (const from of [colon, hex, colon.toLowerCase(), hex.toUpperCase()]) {
      expect(formatFingerprint(from, "hex")).toBe(hex);
      expect(formatFingerprint(from, "colon-hex")).toBe(colon);
      expect(formatFingerprint(from, "short")).toBe(fingerprint(certs[0]!.der, "short"));
    }
  });

  it("leaves short inputs whole and converts, not checks", () => {
    expect(formatFingerprint("", "hex")).toBe("");
    expect(formatFingerprint("", "short")).toBe("");
    expect(formatFingerprint("ab:cd:ef", "short")).toBe("AB:CD:EF");
    expect(formatFingerprint("AB:CD:EF", "hex")).toBe("abcdef");
  });

  it("colonHex is the colon-hex form of any bytes (serials, key identifiers)", () => {
    expect(colonHex(new Uint8Array([0x0a, 0xbc, 0xff]))).toBe("0A:BC:FF");
    expect(colonHex(new Uint8Array([]))).toBe("");
  });
});
