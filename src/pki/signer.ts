import { sign as cryptoSign, type KeyObject } from "node:crypto";
import type { HashName } from "../policy/index.js";

/**
 * Whatever signs for a certificate, a CSR or an OAuth assertion: a private key in a file (a
 * node:crypto `KeyObject`) or a key that never leaves a PKCS#11 token. Creation code takes a
 * `Signer`, so both produce the same DER.
 */
export interface Signer {
  /** The public half of the signing key. */
  readonly publicKey: KeyObject;
  /**
   * Signs `data` with `hash`. ECDSA signatures come back DER-encoded (as X.509 and PKCS#10
   * carry them) unless `encoding` is `ieee-p1363` (raw r||s, as JOSE wants).
   */
  sign(hash: HashName, data: Uint8Array, encoding?: "der" | "ieee-p1363"): Uint8Array;
  /** Where the key lives, for messages: a file or a token object. Never key material. */
  readonly description: string;
}

/** True when `k` is a {@link Signer} rather than a node:crypto key. */
export function isSigner(k: KeyObject | Signer): k is Signer {
  return typeof (k as Signer).sign === "function" && "publicKey" in k;
}

/** A {@link Signer} over a private key held in memory. */
export function keyObjectSigner(privateKey: KeyObject, publicKey: KeyObject, description = "a key file"): Signer {
  return {
    publicKey,
    description,
    sign(hash, data, encoding = "der") {
      const dsaEncoding = privateKey.asymmetricKeyType === "ec" ? encoding : undefined;
      return new Uint8Array(cryptoSign(hash, data, dsaEncoding ? { key: privateKey, dsaEncoding } : privateKey));
    },
  };
}

/** Raw r||s (IEEE P1363) to the DER `ECDSA-Sig-Value` SEQUENCE { r INTEGER, s INTEGER }. */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  const int = (b: Uint8Array): number[] => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = [...b.subarray(i)];
    if (v[0]! & 0x80) v.unshift(0);
    return [0x02, ...derLength(v.length), ...v];
  };
  const body = [...int(raw.subarray(0, half)), ...int(raw.subarray(half))];
  return Uint8Array.from([0x30, ...derLength(body.length), ...body]);
}

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0x81, n];
  return [0x82, n >> 8, n & 0xff];
}
