import * as asn1js from "asn1js";

/**
 * Small reading helpers over asn1js, for the fast parse path (inspect and lint load these
 * instead of pkijs, which costs tens of milliseconds of start-up).
 */
export type Node = asn1js.AsnType;

/** Parses DER; throws when the bytes are not one whole DER value. */
export function parseDer(der: Uint8Array): Node {
  const r = asn1js.fromBER(der);
  if (r.offset === -1 || r.offset !== der.byteLength) throw new Error(r.result.error || "trailing or missing bytes");
  return r.result;
}

/** Children of a constructed node (empty for primitives). */
export function children(n: Node | undefined): Node[] {
  if (!n) return [];
  const v = (n as asn1js.Constructed).valueBlock as { value?: unknown };
  return Array.isArray(v.value) ? (v.value as Node[]) : [];
}

/** The exact DER bytes a node was decoded from. */
export function rawBytes(n: Node): Uint8Array {
  return new Uint8Array((n as asn1js.BaseBlock).valueBeforeDecodeView);
}

/** Contents of a primitive node (the value bytes, without tag and length). */
export function contentBytes(n: Node): Uint8Array {
  return new Uint8Array(((n as asn1js.BaseBlock).valueBlock as unknown as { valueHexView: Uint8Array }).valueHexView);
}

/** True for a context-specific [tag] node. */
export function isContext(n: Node | undefined, tag: number): boolean {
  const id = (n as asn1js.BaseBlock | undefined)?.idBlock;
  return !!id && id.tagClass === 3 && id.tagNumber === tag;
}

/** Universal tag number of a node. */
export function universalTag(n: Node | undefined): number | undefined {
  const id = (n as asn1js.BaseBlock | undefined)?.idBlock;
  return id && id.tagClass === 1 ? id.tagNumber : undefined;
}

/** Dotted string of an OBJECT IDENTIFIER node. */
export function oidOf(n: Node | undefined): string {
  if (!(n instanceof asn1js.ObjectIdentifier)) throw new Error("expected an OBJECT IDENTIFIER");
  return n.valueBlock.toString();
}

/** Date of a UTCTime or GeneralizedTime node. */
export function timeOf(n: Node | undefined): Date {
  if (n instanceof asn1js.UTCTime || n instanceof asn1js.GeneralizedTime) return n.toDate();
  throw new Error("expected a time");
}

/** Boolean value of a BOOLEAN node. */
export function boolOf(n: Node | undefined): boolean {
  return n instanceof asn1js.Boolean ? n.valueBlock.value : false;
}

/** Non-negative INTEGER value as a number (small integers: versions, path lengths). */
export function intOf(n: Node | undefined): number {
  if (!(n instanceof asn1js.Integer)) throw new Error("expected an INTEGER");
  return n.valueBlock.valueDec;
}

/** BIT STRING contents and unused bit count. */
export function bitsOf(n: Node | undefined): { bytes: Uint8Array; unusedBits: number } {
  if (!(n instanceof asn1js.BitString)) throw new Error("expected a BIT STRING");
  return { bytes: new Uint8Array(n.valueBlock.valueHexView), unusedBits: n.valueBlock.unusedBits };
}
