/**
 * The attribute types of subjects (subject.ts) and the rule each value must meet: openssl's
 * names, OIDs, string types and length limits, looked up by name, long name or dotted OID.
 */
import { hasUnsafeCharacters, MtlsError, printable } from "../errors/index.js";

/** The ASN.1 string type openssl gives an attribute. */
export type StringKind = "utf8" | "printable" | "ia5" | "numeric" | "bmp";

export interface AttributeSpec {
  /** openssl's short name, used as {@link SubjectAttribute.type}. */
  readonly name: string;
  /** openssl's long name, accepted as an alias when it differs from the short name. */
  readonly longName?: string;
  readonly oid: string;
  readonly kind: StringKind;
  /** Length limits in characters, from openssl's string table (crypto/asn1/a_strnid.c). */
  readonly min?: number;
  readonly max?: number;
}

/**
 * The attribute types mtlskit knows: openssl's names (case-sensitive, as in openssl) and the
 * string type and length limits openssl applies with `-utf8` and `string_mask = utf8only`.
 * Types absent from openssl's string table are UTF8String without limits.
 */
export const ATTRIBUTES: readonly AttributeSpec[] = [
  { name: "CN", longName: "commonName", oid: "2.5.4.3", kind: "utf8", max: 64 },
  { name: "SN", longName: "surname", oid: "2.5.4.4", kind: "utf8", max: 32768 },
  { name: "serialNumber", oid: "2.5.4.5", kind: "printable", max: 64 },
  { name: "C", longName: "countryName", oid: "2.5.4.6", kind: "printable", min: 2, max: 2 },
  { name: "L", longName: "localityName", oid: "2.5.4.7", kind: "utf8", max: 128 },
  { name: "ST", longName: "stateOrProvinceName", oid: "2.5.4.8", kind: "utf8", max: 128 },
  { name: "street", longName: "streetAddress", oid: "2.5.4.9", kind: "utf8" },
  { name: "O", longName: "organizationName", oid: "2.5.4.10", kind: "utf8", max: 64 },
  { name: "OU", longName: "organizationalUnitName", oid: "2.5.4.11", kind: "utf8", max: 64 },
  { name: "title", oid: "2.5.4.12", kind: "utf8" },
  { name: "description", oid: "2.5.4.13", kind: "utf8" },
  { name: "businessCategory", oid: "2.5.4.15", kind: "utf8" },
  { name: "postalCode", oid: "2.5.4.17", kind: "utf8" },
  { name: "postOfficeBox", oid: "2.5.4.18", kind: "utf8" },
  { name: "physicalDeliveryOfficeName", oid: "2.5.4.19", kind: "utf8" },
  { name: "telephoneNumber", oid: "2.5.4.20", kind: "utf8" },
  { name: "name", oid: "2.5.4.41", kind: "utf8", max: 32768 },
  { name: "GN", longName: "givenName", oid: "2.5.4.42", kind: "utf8", max: 32768 },
  { name: "initials", oid: "2.5.4.43", kind: "utf8", max: 32768 },
  { name: "generationQualifier", oid: "2.5.4.44", kind: "utf8" },
  { name: "dnQualifier", oid: "2.5.4.46", kind: "printable" },
  { name: "houseIdentifier", oid: "2.5.4.51", kind: "utf8" },
  { name: "dmdName", oid: "2.5.4.54", kind: "utf8" },
  { name: "pseudonym", oid: "2.5.4.65", kind: "utf8" },
  { name: "role", oid: "2.5.4.72", kind: "utf8" },
  { name: "organizationIdentifier", oid: "2.5.4.97", kind: "utf8" },
  { name: "c3", longName: "countryCode3c", oid: "2.5.4.98", kind: "printable", min: 3, max: 3 },
  { name: "n3", longName: "countryCode3n", oid: "2.5.4.99", kind: "numeric", min: 3, max: 3 },
  { name: "dnsName", oid: "2.5.4.100", kind: "utf8" },
  { name: "emailAddress", oid: "1.2.840.113549.1.9.1", kind: "ia5", max: 128 },
  { name: "unstructuredName", oid: "1.2.840.113549.1.9.2", kind: "utf8" },
  { name: "challengePassword", oid: "1.2.840.113549.1.9.7", kind: "utf8" },
  { name: "unstructuredAddress", oid: "1.2.840.113549.1.9.8", kind: "utf8" },
  { name: "friendlyName", oid: "1.2.840.113549.1.9.20", kind: "bmp" },
  { name: "UID", longName: "userId", oid: "0.9.2342.19200300.100.1.1", kind: "utf8" },
  { name: "mail", longName: "rfc822Mailbox", oid: "0.9.2342.19200300.100.1.3", kind: "ia5", max: 128 },
  { name: "DC", longName: "domainComponent", oid: "0.9.2342.19200300.100.1.25", kind: "ia5" },
  // openssl's "uid" (lower case) is uniqueIdentifier, not userId ("UID").
  { name: "uid", longName: "uniqueIdentifier", oid: "0.9.2342.19200300.100.1.44", kind: "utf8" },
  { name: "jurisdictionL", longName: "jurisdictionLocalityName", oid: "1.3.6.1.4.1.311.60.2.1.1", kind: "utf8" },
  { name: "jurisdictionST", longName: "jurisdictionStateOrProvinceName", oid: "1.3.6.1.4.1.311.60.2.1.2", kind: "utf8" },
  { name: "jurisdictionC", longName: "jurisdictionCountryName", oid: "1.3.6.1.4.1.311.60.2.1.3", kind: "printable", min: 2, max: 2 },
  { name: "CSPName", longName: "Microsoft CSP Name", oid: "1.3.6.1.4.1.311.17.1", kind: "bmp" },
  { name: "INN", oid: "1.2.643.3.131.1.1", kind: "numeric", max: 12 },
  { name: "OGRN", oid: "1.2.643.100.1", kind: "numeric", max: 13 },
  { name: "SNILS", oid: "1.2.643.100.3", kind: "numeric", max: 11 },
  { name: "OGRNIP", oid: "1.2.643.100.5", kind: "utf8" },
];

export const BY_NAME = new Map<string, AttributeSpec>();
export const BY_OID = new Map<string, AttributeSpec>();
for (const spec of ATTRIBUTES) {
  BY_NAME.set(spec.name, spec);
  if (spec.longName !== undefined) BY_NAME.set(spec.longName, spec);
  BY_OID.set(spec.oid, spec);
}

export const DOTTED_OID_SYNTAX = /^[0-2](\.(0|[1-9][0-9]*))+$/;

/** A dotted OID that DER can carry: arcs within safe integers, the second below 40 under 0 and 1. */
export const DOTTED_OID = {
  test(oid: string): boolean {
    if (!DOTTED_OID_SYNTAX.test(oid) || oid.length > 200) return false;
    const arcs = oid.split(".").map(Number);
    if (arcs.some((a) => !Number.isSafeInteger(a))) return false;
    return arcs[0] === 2 || (arcs[1] ?? 0) < 40;
  },
};

/** ASN.1 PrintableString's alphabet (X.680), the one openssl checks. */
export const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]$/;

export const KIND_LABEL: Record<StringKind, string> = {
  utf8: "UTF8String",
  printable: "PrintableString",
  ia5: "IA5String",
  numeric: "NumericString",
  bmp: "BMPString",
};

export const KIND_ALPHABET: Record<StringKind, string> = {
  utf8: "any Unicode character",
  printable: "only A-Z a-z 0-9 space ' ( ) + , - . / : = ?",
  ia5: "only ASCII characters",
  numeric: "only digits and spaces",
  bmp: "only characters up to U+FFFF",
};

/** A value quoted for a one-line message: JSON quoting escapes line breaks; long values are cut. */
export function quote(text: string, max = 80): string {
  const chars = [...text];
  return JSON.stringify(chars.length > max ? `${chars.slice(0, max).join("")}…` : text);
}

export function specForOid(oid: string): AttributeSpec {
  return BY_OID.get(oid) ?? { name: oid, oid, kind: "utf8" };
}

/** The spec of a type written by a user (short name, long name or dotted OID), or undefined. */
export function lookupType(type: string): AttributeSpec | undefined {
  const known = BY_NAME.get(type);
  if (known !== undefined) return known;
  return DOTTED_OID.test(type) ? specForOid(type) : undefined;
}

export function unknownType(type: string, where: string, extra = ""): MtlsError {
  const trimmed = type.trim();
  let advice: string;
  if (trimmed !== type && lookupType(trimmed) !== undefined) {
    advice = `remove the spaces around ${quote(trimmed)}`;
  } else {
    const lower = trimmed.toLowerCase();
    const near = ATTRIBUTES.find((s) => s.name.toLowerCase() === lower || s.longName?.toLowerCase() === lower);
    advice = near === undefined
      ? "use a short name such as CN, O, OU, L, ST, C, emailAddress, serialNumber, DC, UID, or a dotted OID such as 2.5.4.97"
      : `names are case-sensitive: did you mean ${quote(near.name)}?`;
  }
  return new MtlsError("SUBJECT_ATTRIBUTE_UNKNOWN", `unknown attribute type ${quote(type)}${where}; ${advice}${extra}`);
}

/** The message of a value openssl would refuse for this type, or undefined when it fits. */
export function valueProblem(spec: AttributeSpec, value: string): string | undefined {
  const label = `${spec.name}=${quote(value)}`;
  if (value === "") return `${spec.name} has an empty value, which openssl never writes; give a value or leave the attribute out`;
  const chars = [...value];
  for (const ch of chars) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp >= 0xd800 && cp <= 0xdfff) return `${label} holds a lone UTF-16 surrogate, which is not valid Unicode; fix the text`;
    if (cp === 0) return `${label} holds a NUL character, which openssl -subj cannot carry; remove it`;
    if (ch !== "\t" && hasUnsafeCharacters(ch)) {
      return `${label} holds the control or invisible character ${printable(ch)}, which would make the name read differently from what it is; remove it`;
    }
    const fits =
      spec.kind === "utf8" ||
      (spec.kind === "printable" && PRINTABLE.test(ch)) ||
      (spec.kind === "ia5" && cp < 0x80) ||
      (spec.kind === "numeric" && /^[0-9 ]$/.test(ch)) ||
      (spec.kind === "bmp" && cp <= 0xffff);
    if (!fits) {
      return `${label} contains ${quote(ch)}, which a ${KIND_LABEL[spec.kind]} cannot hold (openssl refuses it: illegal characters); ${spec.name} takes ${KIND_ALPHABET[spec.kind]}`;
    }
  }
  const { min, max } = spec;
  if (min !== undefined && min === max && chars.length !== min) {
    const what = spec.oid === "2.5.4.6" || spec.oid === "1.3.6.1.4.1.311.60.2.1.3" ? " (an ISO 3166 code such as FR)" : "";
    return `${label} is ${chars.length} characters long; ${spec.name} takes exactly ${min}${what}`;
  }
  if (min !== undefined && chars.length < min) return `${label} is ${chars.length} characters long; ${spec.name} takes at least ${min}`;
  if (max !== undefined && chars.length > max) return `${label} is ${chars.length} characters long; ${spec.name} takes at most ${max}`;
  return undefined;
}
