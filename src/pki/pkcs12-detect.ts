/**
 * Recognises a PKCS#12 by its first bytes, without a passphrase and without loading pkijs (the
 * inspect path stays light): SEQUENCE { INTEGER 3, SEQUENCE { OID data (1.2.840.113549.1.7.1) ... } }.
 */
const DATA_OID = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];

function skipHeader(d: Uint8Array, at: number): number {
  // tag at `at`, returns the offset of the content (definite or indefinite length)
  const l = d[at + 1];
  if (l === undefined) return -1;
  if (l < 0x80 || l === 0x80) return at + 2;
  return at + 2 + (l & 0x7f);
}

/** True when the bytes are a DER/BER PKCS#12 (PFX). */
export function isPkcs12Der(d: Uint8Array): boolean {
  if (d.length < 20 || d[0] !== 0x30) return false;
  let i = skipHeader(d, 0);
  if (i < 0 || d[i] !== 0x02 || d[i + 1] !== 0x01 || d[i + 2] !== 0x03) return false;
  i += 3;
  if (d[i] !== 0x30) return false;
  i = skipHeader(d, i);
  return DATA_OID.every((b, k) => d[i + k] === b);
}
