/**
 * Subjects (X.501 Distinguished Names) written in `openssl req -subj` syntax, and their DER.
 *
 * The DER written here is byte-identical to what `openssl req -new -utf8 -subj S` writes with
 * OpenSSL 3.0 and its stock `string_mask = utf8only`, for every subject openssl accepts. The
 * rules, checked against the openssl CLI by `subject.test.ts`:
 * - order kept; each attribute gets the string type of openssl's string table: C, jurisdictionC
 *   and c3 PrintableString (exactly 2, 2 and 3 characters), serialNumber (at most 64) and
 *   dnQualifier PrintableString, emailAddress and mail IA5String (at most 128), DC IA5String,
 *   n3, INN, OGRN and SNILS NumericString, friendlyName and CSPName BMPString, every other type
 *   (CN, O, OU, L, ST, UID, dotted OIDs...) UTF8String; CN, O and OU take at most 64
 *   characters, L and ST at most 128 (characters, not bytes). A value that does not fit is
 *   refused, as openssl refuses it.
 * - the members of a multi-valued RDN (`/OU=B+OU=A`) are written in DER SET OF order, sorted by
 *   their encodings (`OU=A` before `OU=B`, a shorter member before a longer one).
 * - an attribute with an empty value (`/O=/CN=x`) is skipped, as openssl skips it (with a
 *   warning through {@link ParseSubjectOptions.onWarning}).
 * - spaces are part of the value; nothing is trimmed.
 *
 * Where mtlskit is stricter than openssl: an attribute type it does not know is refused
 * (openssl skips it with a warning, silently losing a part of the subject), and so is an empty
 * value whose removal would merge the next `+` member into the previous RDN. Any dotted OID is
 * accepted and written as UTF8String (openssl writes the same bytes for the OIDs it knows and
 * skips the others).
 */
import * as asn1js from "asn1js";
import { MtlsError, printable } from "../errors/index.js";
import { children, contentBytes, oidOf, parseDer as readDer, rawBytes, universalTag, type Node } from "./asn1.js";
import { BY_OID, DOTTED_OID, lookupType, quote, specForOid, unknownType, valueProblem, type AttributeSpec, type StringKind } from "./subject-attributes.js";

/** One attribute of a subject, such as `CN=example`. */
export interface SubjectAttribute {
  /** openssl's short name (`CN`, `O`, `emailAddress`, `DC`...), or the dotted OID when mtlskit has no name for it. */
  type: string;
  /** The attribute type's OID in dotted form, such as `2.5.4.3`. It decides how the attribute is encoded. */
  oid: string;
  /** The value, as Unicode text. */
  value: string;
}

/** One Relative Distinguished Name: one attribute, or several for a multi-valued RDN (`OU=A+OU=B`). */
export type Rdn = SubjectAttribute[];

/** Options of {@link parseSubject}. */
export interface ParseSubjectOptions {
  /**
   * Called with a one-line message for each attribute skipped because its value is empty
   * (openssl prints the same warning). Default: nothing is reported.
   */
  onWarning?: (message: string) => void;
}

/**
 * The spec of an attribute built by a caller: `oid` decides; `type` must name the same OID.
 * Throws SUBJECT_SYNTAX or SUBJECT_ATTRIBUTE_UNKNOWN.
 */
function specOfAttribute(attribute: SubjectAttribute): AttributeSpec {
  if (!DOTTED_OID.test(attribute.oid)) {
    throw new MtlsError("SUBJECT_SYNTAX", `attribute ${quote(attribute.type)} has OID ${quote(attribute.oid)}, which is not a dotted OID; give it as digits and dots, such as 2.5.4.3`);
  }
  const byType = lookupType(attribute.type);
  if (byType === undefined) throw unknownType(attribute.type, "");
  if (byType.oid !== attribute.oid) {
    throw new MtlsError("SUBJECT_SYNTAX", `attribute type ${quote(attribute.type)} is OID ${byType.oid}, not ${attribute.oid}; make type and oid agree`);
  }
  return byType;
}

function checkRdns(rdns: readonly Rdn[]): AttributeSpec[][] {
  return rdns.map((rdn, index) => {
    if (rdn.length === 0) {
      throw new MtlsError("SUBJECT_SYNTAX", `RDN number ${index + 1} of the subject has no attribute; every RDN needs at least one TYPE=value`);
    }
    return rdn.map((attribute) => {
      const spec = specOfAttribute(attribute);
      const problem = valueProblem(spec, attribute.value);
      if (problem !== undefined) throw new MtlsError("SUBJECT_SYNTAX", problem);
      return spec;
    });
  });
}

/**
 * Parses a subject written in `openssl req -subj` syntax, exactly as openssl 3.0 reads it:
 * `/TYPE=value/TYPE=value...`, `\` escapes the next character (`\/`, `\+`, `\\`), an unescaped
 * `+` starts another member of the same (multi-valued) RDN, types are openssl's case-sensitive
 * short or long names or dotted OIDs, values are kept verbatim (spaces included), and an
 * attribute with an empty value is skipped as openssl skips it. `/` alone is the empty subject.
 *
 * @param text - The subject, e.g. `/C=FR/O=Example SA/CN=TLSMA-ECDSA\/123456\/D1.PPR`.
 * @param options - See {@link ParseSubjectOptions}.
 * @returns The RDNs in order; each member keeps the order it was written in.
 * @throws MtlsError SUBJECT_SYNTAX when the text is not in that syntax or a value does not fit
 *   its type (C not 2 characters, CN over 64, a non-ASCII emailAddress...), and
 *   SUBJECT_ATTRIBUTE_UNKNOWN for a type mtlskit does not know.
 *
 * @example
 * parseSubject("/C=FR/O=Example SA/CN=TLSMA-ECDSA\\/123456\\/D1.PPR");
 * // [[{ type: "C", oid: "2.5.4.6", value: "FR" }],
 * //  [{ type: "O", oid: "2.5.4.10", value: "Example SA" }],
 * //  [{ type: "CN", oid: "2.5.4.3", value: "TLSMA-ECDSA/123456/D1.PPR" }]]
 * parseSubject("/O=Acme/OU=A+OU=B/CN=x"); // the second RDN holds OU=A and OU=B
 */
export function parseSubject(text: string, options: ParseSubjectOptions = {}): Rdn[] {
  if (!text.startsWith("/")) {
    throw new MtlsError("SUBJECT_SYNTAX", `subject ${quote(text)} does not start with "/"; write it as /TYPE=value/TYPE=value..., e.g. /C=FR/O=Example/CN=name`);
  }
  const rdns: Rdn[] = [];
  let pos = 1;
  let nextIsMulti = false;
  while (pos < text.length) {
    const isMulti = nextIsMulti;
    nextIsMulti = false;
    const start = pos;
    const equals = text.indexOf("=", pos);
    // openssl's hint too: a "+" meant inside a value starts a new RDN member unless escaped.
    const plusAdvice = isMulti ? '; if the "+" before it belongs to the previous value, escape it as \\+' : "";
    if (equals === -1) {
      const type = text.slice(start);
      throw new MtlsError("SUBJECT_SYNTAX", `subject ${quote(text)}: missing "=" after attribute type ${quote(type)}; write ${type}=value${plusAdvice}`);
    }
    const type = text.slice(start, equals);
    const stray = /[/+]/.exec(type);
    if (type === "" || stray !== null) {
      const what = type === "" ? "an empty attribute type" : `${quote(type.slice(0, stray?.index))} followed by ${quote(stray?.[0] ?? "")} with no "="`;
      throw new MtlsError("SUBJECT_SYNTAX", `subject ${quote(text)} has ${what} near ${quote(text.slice(start, equals + 1))}; every part must be TYPE=value, and a / or + inside a value must be escaped as \\/ or \\+`);
    }
    pos = equals + 1;
    let value = "";
    while (pos < text.length && text[pos] !== "/") {
      if (text[pos] === "+") {
        nextIsMulti = true;
        break;
      }
      if (text[pos] === "\\") {
        pos += 1;
        if (pos === text.length) {
          throw new MtlsError("SUBJECT_SYNTAX", `subject ${quote(text)} ends with a lone backslash; write \\\\ for a literal backslash`);
        }
      }
      value += text[pos];
      pos += 1;
    }
    if (pos < text.length) pos += 1;

    const spec = lookupType(type);
    if (spec === undefined) throw unknownType(type, ` in subject ${quote(text)}`, plusAdvice);
    if (value === "") {
      const last = rdns[rdns.length - 1];
      if (!isMulti && nextIsMulti && last !== undefined) {
        throw new MtlsError("SUBJECT_SYNTAX", `subject ${quote(text)}: ${type} has an empty value and is followed by "+"; openssl would drop it and merge the next attribute into the previous RDN, so give ${type} a value or remove "${type}=+"`);
      }
      options.onWarning?.(`no value provided for subject attribute ${quote(type)}, skipped (as openssl does)`);
      continue;
    }
    const problem = valueProblem(spec, value);
    if (problem !== undefined) throw new MtlsError("SUBJECT_SYNTAX", `subject ${quote(text)}: ${problem}`);
    const attribute: SubjectAttribute = { type: spec.name, oid: spec.oid, value };
    const last = rdns[rdns.length - 1];
    if (isMulti && last !== undefined) last.push(attribute);
    else rdns.push([attribute]);
  }
  return rdns;
}

function escapeValue(value: string): string {
  return value.replace(/[\\/+]/g, (c) => `\\${c}`);
}

/**
 * Writes RDNs back in `openssl req -subj` syntax, escaping `/`, `+` and `\` in values and naming
 * each type by openssl's short name (or its dotted OID). `parseSubject(formatSubject(r))` gives
 * `r` back for every `r` that {@link parseSubject} returns.
 *
 * @throws MtlsError SUBJECT_SYNTAX for an RDN without attributes, an empty value (openssl would
 *   skip it) or a type that does not match its OID; SUBJECT_ATTRIBUTE_UNKNOWN for an unknown type.
 *
 * @example
 * formatSubject([[{ type: "O", oid: "2.5.4.10", value: "Acme" }],
 *                [{ type: "CN", oid: "2.5.4.3", value: "TLSMA-ECDSA/1/D1.PPR" }]]);
 * // "/O=Acme/CN=TLSMA-ECDSA\\/1\\/D1.PPR"
 */
export function formatSubject(rdns: Rdn[]): string {
  return rdns
    .map((rdn, index) => {
      if (rdn.length === 0) {
        throw new MtlsError("SUBJECT_SYNTAX", `RDN number ${index + 1} of the subject has no attribute; every RDN needs at least one TYPE=value`);
      }
      return "/" + rdn
        .map((attribute) => {
          const spec = specOfAttribute(attribute);
          if (attribute.value === "") {
            throw new MtlsError("SUBJECT_SYNTAX", `${spec.name} has an empty value, which openssl would skip; give a value or leave the attribute out`);
          }
          return `${spec.name}=${escapeValue(attribute.value)}`;
        })
        .join("+");
    })
    .join("");
}

/**
 * A one-line, human-readable form: `C=FR, O=Example SA, CN=TLSMA-ECDSA/123456/D1.PPR`, in
 * order, with `+` between the members of a multi-valued RDN. Nothing is escaped: it is for
 * people, not for parsing (use {@link formatSubject} for that).
 *
 * @example
 * formatSubjectOneLine(parseSubject("/O=Acme/OU=A+OU=B/CN=x")); // "O=Acme, OU=A+OU=B, CN=x"
 */
export function formatSubjectOneLine(rdns: Rdn[]): string {
  return rdns.map((rdn) => rdn.map((a) => `${printable(BY_OID.get(a.oid)?.name ?? a.type)}=${printable(a.value)}`).join("+")).join(", ");
}

function stringBlock(kind: StringKind, value: string): asn1js.BaseBlock {
  switch (kind) {
    case "printable":
      return new asn1js.PrintableString({ value });
    case "ia5":
      return new asn1js.IA5String({ value });
    case "numeric":
      return new asn1js.NumericString({ value });
    case "bmp":
      return new asn1js.BmpString({ value });
    case "utf8":
      return new asn1js.Utf8String({ value });
  }
}

/** DER order of SET OF (X.690 11.6): by encoding, a prefix before the longer one, as openssl sorts. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function encode(rdns: Rdn[]): Uint8Array {
  const specs = checkRdns(rdns);
  const sets = rdns.map((rdn, i) => {
    const members = rdn.map((attribute, j) => {
      const spec = specs[i]?.[j] ?? specForOid(attribute.oid);
      const atv = new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: spec.oid }), stringBlock(spec.kind, attribute.value)] });
      return { atv, der: new Uint8Array(atv.toBER()) };
    });
    members.sort((a, b) => compareBytes(a.der, b.der));
    return new asn1js.Set({ value: members.map((m) => m.atv) });
  });
  return new Uint8Array(new asn1js.Sequence({ value: sets }).toBER());
}

/**
 * The DER of the Name (SEQUENCE OF SET OF AttributeTypeAndValue), byte-identical to the subject
 * `openssl req -new -utf8 -subj` writes: openssl's string type per attribute, order kept, the
 * members of a multi-valued RDN in DER SET OF order.
 *
 * @throws MtlsError SUBJECT_SYNTAX when a value does not fit its type or an RDN is empty;
 *   SUBJECT_ATTRIBUTE_UNKNOWN for an unknown type.
 *
 * @example
 * const der = encodeSubject(parseSubject("/C=FR/O=Example SA/CN=TLSMA-ECDSA\\/123456\\/D1.PPR"));
 * // 30 4c 31 0b 30 09 06 03 55 04 06 13 02 46 52 ... (C as PrintableString, the rest UTF8String)
 */
export function encodeSubject(rdns: Rdn[]): Uint8Array {
  return encode(rdns);
}

function notAName(reason: string): MtlsError {
  return new MtlsError("INPUT_NOT_RECOGNIZED", `the bytes are not a DER-encoded X.501 Name: ${reason}`, {
    hint: "Give the DER of a Name (SEQUENCE OF SET OF AttributeTypeAndValue), such as a certificate's subject or issuer.",
  });
}

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const utf16be = new TextDecoder("utf-16be", { ignoreBOM: true });

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The text of bytes that are all ASCII (each byte its character, as every decoder below reads
 * it), or undefined. Most names are ASCII: this spares a decoder call per attribute (issue 11).
 */
function asciiText(buf: Uint8Array, start: number, end: number): string | undefined {
  let text = "";
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b >= 0x80) return undefined;
    text += String.fromCharCode(b);
  }
  return text;
}

/** The text of a string value; a value that is not a string becomes `#` and its DER in hex (RFC 4514). */
function decodeValue(block: Node): string {
  if (block.cls !== 0 || block.constructed) return `#${hex(rawBytes(block))}`;
  switch (block.tag) {
    case 12: // UTF8String
    case 18: // NumericString
    case 19: // PrintableString
    case 20: // TeletexString
    case 21: // VideotexString
    case 22: // IA5String
    case 25: // GraphicString
    case 26: // VisibleString
    case 27: {
      // GeneralString
      const ascii = asciiText(block.buf, block.cstart, block.end);
      if (ascii !== undefined) return ascii;
    }
  }
  const bytes = contentBytes(block);
  switch (block.tag) {
    case 12: // UTF8String
      return utf8.decode(bytes);
    case 18: // NumericString
    case 19: // PrintableString
    case 20: // TeletexString (T61), read as Latin-1 like most software
    case 21: // VideotexString
    case 22: // IA5String
    case 25: // GraphicString
    case 26: // VisibleString
    case 27: // GeneralString
      return latin1.decode(bytes);
    case 28: {
      // UniversalString: UTF-32BE
      let text = "";
      for (let i = 0; i + 3 < bytes.length; i += 4) {
        const cp = (((bytes[i] ?? 0) << 24) | ((bytes[i + 1] ?? 0) << 16) | ((bytes[i + 2] ?? 0) << 8) | (bytes[i + 3] ?? 0)) >>> 0;
        text += cp <= 0x10ffff ? String.fromCodePoint(cp) : "\ufffd";
      }
      return text;
    }
    case 30: // BMPString: UTF-16BE
      return utf16be.decode(bytes);
    default:
      return `#${hex(rawBytes(block))}`;
  }
}

/**
 * Reads a DER Name (a certificate's or CSR's subject or issuer) into RDNs, in the order encoded.
 * Values of any string type are read: UTF8String, PrintableString, IA5String, NumericString,
 * VisibleString, TeletexString/T61String (as Latin-1), BMPString and UniversalString; a value
 * that is not a string is given as `#` followed by its DER in hex. Types mtlskit knows get
 * openssl's short name, others their dotted OID.
 *
 * @param der - The Name's DER, e.g. `certificationRequest.subject.valueBeforeDecode`.
 * @throws MtlsError INPUT_NOT_RECOGNIZED when the bytes are not a Name.
 *
 * @example
 * formatSubjectOneLine(decodeName(encodeSubject(parseSubject("/C=FR/CN=x")))); // "C=FR, CN=x"
 */
export function decodeName(der: Uint8Array | ArrayBuffer): Rdn[] {
  const bytes = der instanceof Uint8Array ? der : new Uint8Array(der);
  let name: Node;
  let sets: Node[];
  try {
    name = readDer(bytes);
    sets = children(name);
  } catch (e) {
    throw notAName((e as Error).message || "the DER is malformed");
  }
  if (universalTag(name) !== 16) throw notAName("it does not start with a SEQUENCE");
  return sets.map((set, i) => {
    let members: Node[];
    try {
      members = children(set);
    } catch (e) {
      throw notAName((e as Error).message);
    }
    if (universalTag(set) !== 17 || members.length === 0) throw notAName(`RDN number ${i + 1} is not a non-empty SET`);
    return members.map((atv, j): SubjectAttribute => {
      let parts: Node[] = [];
      let oid = "";
      try {
        parts = universalTag(atv) === 16 ? children(atv) : [];
        if (parts.length === 2) oid = oidOf(parts[0]);
      } catch {
        parts = [];
      }
      const value = parts[1];
      if (parts.length !== 2 || oid === "" || value === undefined) {
        throw notAName(`attribute ${j + 1} of RDN number ${i + 1} is not a SEQUENCE of an OID and a value`);
      }
      return { type: BY_OID.get(oid)?.name ?? oid, oid, value: decodeValue(value) };
    });
  });
}

/**
 * All values of one attribute type, in order (RDN after RDN, then within a multi-valued RDN).
 *
 * @param type - A short name (`CN`), long name (`commonName`) or dotted OID (`2.5.4.3`).
 * @throws MtlsError SUBJECT_ATTRIBUTE_UNKNOWN for a type mtlskit does not know.
 *
 * @example
 * getAttribute(parseSubject("/O=Acme/OU=A+OU=B/CN=x"), "OU"); // ["A", "B"]
 */
export function getAttribute(rdns: Rdn[], type: string): string[] {
  const spec = lookupType(type);
  if (spec === undefined) throw unknownType(type, "");
  return rdns.flatMap((rdn) => rdn.filter((a) => a.oid === spec.oid).map((a) => a.value));
}
