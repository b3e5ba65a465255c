/**
 * A small, zero-copy DER reader for the hot read path (`inspect`, `lint`).
 *
 * Why not asn1js here: asn1js builds an object graph per value and parses a certificate in
 * about a millisecond on this machine; lint is benchmarked at thousands of certificates per
 * second and inspect at a cold start under 150 ms. This reader only walks tag-length-value
 * headers over the original bytes (a few microseconds a certificate). Creating ASN.1 stays
 * with asn1js/pkijs (x509-build.ts, subject.ts encoding), where correctness of the encoder
 * matters more than speed.
 */

import { MtlsError } from "../errors/index.js";

/** A malformed DER value: callers name the file; the code is always INPUT_NOT_RECOGNIZED. */
function malformed(what: string): MtlsError {
  return new MtlsError("INPUT_NOT_RECOGNIZED", `malformed DER: ${what}`);
}

/** One DER value: where it sits in the buffer and what its tag is. */
export interface Node {
  readonly buf: Uint8Array;
  /** Tag class: 0 universal, 1 application, 2 context-specific, 3 private. */
  readonly cls: number;
  readonly constructed: boolean;
  readonly tag: number;
  /** Offset of the identifier octet. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly cstart: number;
  /** Offset just past the last content octet. */
  readonly end: number;
}

function readNode(buf: Uint8Array, offset: number, limit: number): Node {
  if (offset >= limit) throw malformed("unexpected end of data");
  const id = buf[offset]!;
  const cls = id >> 6;
  const constructed = (id & 0x20) !== 0;
  let tag = id & 0x1f;
  let p = offset + 1;
  if (tag === 0x1f) {
    tag = 0;
    for (let i = 0; ; i++) {
      if (p >= limit || i > 3) throw malformed("bad tag");
      const b = buf[p++]!;
      tag = (tag << 7) | (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
  }
  if (p >= limit) throw malformed("missing length");
  let len = buf[p++]!;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw malformed("indefinite length is not DER");
    if (n > 4) throw malformed("length too large");
    len = 0;
    for (let i = 0; i < n; i++) {
      if (p >= limit) throw malformed("truncated length");
      len = len * 256 + buf[p++]!;
    }
  }
  const end = p + len;
  if (end > limit) throw malformed("value runs past the end of its container");
  return { buf, cls, constructed, tag, start: offset, cstart: p, end };
}

/** Parses one whole DER value; throws when bytes are missing or trail. */
export function parseDer(der: Uint8Array): Node {
  const n = readNode(der, 0, der.length);
  if (n.end !== der.length) throw malformed("trailing bytes after the DER value");
  return n;
}

/** Children of a constructed node (empty for a primitive or an absent node). */
export function children(n: Node | undefined): Node[] {
  if (!n || !n.constructed) return [];
  const out: Node[] = [];
  let p = n.cstart;
  while (p < n.end) {
    const c = readNode(n.buf, p, n.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

/** The exact DER bytes of a node (identifier, length and contents). */
export function rawBytes(n: Node): Uint8Array {
  return n.buf.subarray(n.start, n.end);
}

/** The content octets of a node. */
export function contentBytes(n: Node): Uint8Array {
  return n.buf.subarray(n.cstart, n.end);
}

/** True for a context-specific `[tag]` node. */
export function isContext(n: Node | undefined, tag: number): boolean {
  return !!n && n.cls === 2 && n.tag === tag;
}

/** Universal tag number of a node, or undefined for other classes. */
export function universalTag(n: Node | undefined): number | undefined {
  return n && n.cls === 0 ? n.tag : undefined;
}

function expect(n: Node | undefined, tag: number, what: string): Node {
  if (!n || n.cls !== 0 || n.tag !== tag) throw malformed(`expected ${what}`);
  return n;
}

/** Dotted string of an OBJECT IDENTIFIER. */
export function oidOf(n: Node | undefined): string {
  const node = expect(n, 6, "an OBJECT IDENTIFIER");
  const { buf, cstart, end } = node;
  if (cstart === end) throw malformed("empty OBJECT IDENTIFIER");
  // Built as a string directly: OIDs are read many times per certificate (issue 11).
  let out = "";
  let v = 0;
  for (let i = cstart; i < end; i++) {
    const b = buf[i]!;
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (out === "") {
        const first = v < 40 ? 0 : v < 80 ? 1 : 2;
        out = `${first}.${v - first * 40}`;
      } else out += `.${v}`;
      v = 0;
    }
  }
  return out;
}

/** Date of a UTCTime or GeneralizedTime (whole seconds, Z). */
export function timeOf(n: Node | undefined): Date {
  if (!n || n.cls !== 0 || (n.tag !== 23 && n.tag !== 24)) throw malformed("expected a time");
  const fast = plainTime(n);
  if (fast !== undefined) return fast;
  const s = Buffer.from(contentBytes(n)).toString("latin1");
  const m = n.tag === 23 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(s) : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?Z$/.exec(s);
  if (!m) throw malformed(`bad time '${s}'`);
  let year = Number(m[1]);
  if (n.tag === 23) year += year < 50 ? 2000 : 1900;
  const [month, day, hour, minute, second] = [Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? "0")];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const bad =
    month < 1 || month > 12 ? `month ${month}` : day < 1 || day > daysInMonth ? `day ${day}` : hour > 23 ? `hour ${hour}` : minute > 59 ? `minute ${minute}` : second > 59 ? `second ${second}` : undefined;
  if (bad) {
    throw new MtlsError("TIME_INVALID", `malformed DER: the ${n.tag === 23 ? "UTCTime" : "GeneralizedTime"} '${s}' has ${bad}, out of range`);
  }
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second));
}

/** Two decimal digits at `i`, or -1. */
function twoDigits(buf: Uint8Array, i: number): number {
  const a = buf[i]! - 48;
  const b = buf[i + 1]! - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * The usual forms, read from the bytes: `YYMMDDhhmmssZ` (UTCTime) and `YYYYMMDDhhmmssZ`
 * (GeneralizedTime) with every field in range. Undefined for anything else, which
 * {@link timeOf} reads (and refuses) by its general rules: the same date either way.
 */
function plainTime(n: Node): Date | undefined {
  const { buf, cstart, end } = n;
  const len = end - cstart;
  let p = cstart;
  let year: number;
  if (n.tag === 23) {
    if (len !== 13) return undefined;
    const yy = twoDigits(buf, p);
    if (yy < 0) return undefined;
    year = yy + (yy < 50 ? 2000 : 1900);
    p += 2;
  } else {
    if (len !== 15) return undefined;
    const hi = twoDigits(buf, p);
    const lo = twoDigits(buf, p + 2);
    if (hi < 0 || lo < 0) return undefined;
    year = hi * 100 + lo;
    // Date.UTC reads years 0 to 99 as 1900 to 1999: left to the general rules.
    if (year < 100) return undefined;
    p += 4;
  }
  if (buf[end - 1] !== 0x5a) return undefined; // Z
  const month = twoDigits(buf, p);
  const day = twoDigits(buf, p + 2);
  const hour = twoDigits(buf, p + 4);
  const minute = twoDigits(buf, p + 6);
  const second = twoDigits(buf, p + 8);
  if (month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return undefined;
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second));
}

/** Value of a BOOLEAN. */
export function boolOf(n: Node | undefined): boolean {
  return contentBytes(expect(n, 1, "a BOOLEAN"))[0] !== 0;
}

/** A small non-negative INTEGER (versions, path lengths) as a number. */
export function intOf(n: Node | undefined): number {
  const c = contentBytes(expect(n, 2, "an INTEGER"));
  if (c.length > 6 || (c[0]! & 0x80) !== 0) throw malformed("INTEGER out of range");
  let v = 0;
  for (const b of c) v = v * 256 + b;
  return v;
}

/** Contents of a BIT STRING and its unused bit count. */
export function bitsOf(n: Node | undefined): { bytes: Uint8Array; unusedBits: number } {
  const c = contentBytes(expect(n, 3, "a BIT STRING"));
  if (c.length === 0) throw malformed("empty BIT STRING");
  return { bytes: c.subarray(1), unusedBits: c[0]! };
}
