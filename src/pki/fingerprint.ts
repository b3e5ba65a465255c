/**
 * Certificate fingerprints: the one home of their formats (issue 11, item 3). Every place that
 * prints, compares or keys by a fingerprint takes it from here, so that the forms cannot drift:
 *
 * | format | example | what prints it elsewhere |
 * | --- | --- | --- |
 * | `colon-hex` | `AB:CD:…:EF` (64 hex digits, upper case, colons) | `openssl x509 -fingerprint -sha256`, Node's `fingerprint256` |
 * | `hex` | `abcd…ef` (64 hex digits, lower case) | `openssl dgst -sha256`, the emulator's endorsement keys |
 * | `short` | `AB:CD:EF:01:…:89:AB` (first four and last two bytes) | one line of text (the demo) |
 * | `spki-pin` | `sha256/<base64>` of the SubjectPublicKeyInfo DER | `openssl pkey -pubout -outform der \| openssl dgst -sha256 -binary \| base64` (HPKP style) |
 *
 * @module
 */
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { MtlsError } from "../errors/index.js";
import { children, isContext, parseDer, rawBytes, universalTag } from "./asn1.js";

/** The forms of a SHA-256 fingerprint (see the table at the top of this module). */
export type FingerprintFormat = "colon-hex" | "hex" | "short" | "spki-pin";

/** The formats of a fingerprint of the whole DER, which {@link formatFingerprint} converts between. */
export type DigestFingerprintFormat = Exclude<FingerprintFormat, "spki-pin">;

const HEX_PAIRS = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0").toUpperCase());

/** Hex with colons, upper case: `AB:CD:...` (fingerprints, serial numbers, key identifiers). */
export function colonHex(bytes: Uint8Array): string {
  // Pair by pair from a table: key identifiers are read from every certificate parsed (issue 11).
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += i === 0 ? HEX_PAIRS[bytes[i]!]! : `:${HEX_PAIRS[bytes[i]!]!}`;
  return out;
}

function colonHexOf(hex: string): string {
  return hex.toUpperCase().replace(/(..)(?!$)/g, "$1:");
}

/** `sha256/<base64>` of a public key's SubjectPublicKeyInfo DER, as OpenSSL encodes it. */
export function spkiPin(publicKey: KeyObject): string {
  const spki = publicKey.export({ type: "spki", format: "der" });
  return `sha256/${createHash("sha256").update(spki).digest("base64")}`;
}

/**
 * The SHA-256 fingerprint of a certificate's DER in `format`. For `spki-pin`, `der` is a
 * certificate or a SubjectPublicKeyInfo (a public key's DER), and the pin is of the key.
 *
 * @throws MtlsError INPUT_NOT_RECOGNIZED (`spki-pin` only) when the DER is neither.
 * @example
 * fingerprint(cert.der, "colon-hex"); // "3A:1F:...:C2", as `openssl x509 -fingerprint -sha256` prints it
 * fingerprint(cert.der, "hex");       // "3a1f...c2"
 */
export function fingerprint(der: Uint8Array, format: FingerprintFormat): string {
  if (format === "spki-pin") return spkiPin(publicKeyOf(der));
  const hex = createHash("sha256").update(der).digest("hex");
  return format === "hex" ? hex : formatFingerprint(hex, format);
}

/**
 * A SHA-256 fingerprint already written in one form (`AB:CD:...` or `abcd...`) in another.
 * It converts, it does not check: what is not hex comes out as it went in, folded in case.
 *
 * @example
 * formatFingerprint("AB:CD:EF", "hex"); // "abcdef"
 */
export function formatFingerprint(text: string, format: DigestFingerprintFormat): string {
  const hex = text.replace(/:/g, "").toLowerCase();
  switch (format) {
    case "hex":
      return hex;
    case "colon-hex":
      return colonHexOf(hex);
    case "short": {
      const pairs = hex.toUpperCase().match(/../g) ?? [];
      return pairs.length > 6 ? `${pairs.slice(0, 4).join(":")}:…:${pairs.slice(-2).join(":")}` : pairs.join(":");
    }
  }
}

/** The public key of a certificate's or SubjectPublicKeyInfo's DER. */
function publicKeyOf(der: Uint8Array): KeyObject {
  try {
    const top = children(parseDer(der));
    const first = children(top[0]);
    // SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier { OID, ... }, BIT STRING }
    if (universalTag(first[0]) === 6) return createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" });
    // Certificate: SEQUENCE { tbs { [0] version?, serial, sigAlg, issuer, validity, subject, spki, ... }, ... }
    const fields = isContext(first[0], 0) ? first.slice(1) : first;
    const spki = fields[5];
    if (universalTag(spki) !== 16) throw new Error("no SubjectPublicKeyInfo");
    return createPublicKey({ key: Buffer.from(rawBytes(spki!)), format: "der", type: "spki" });
  } catch (e) {
    throw new MtlsError("INPUT_NOT_RECOGNIZED", "the DER is neither a certificate nor a public key: no SPKI pin can be made of it", { cause: e });
  }
}
