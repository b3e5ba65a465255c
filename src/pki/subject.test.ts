import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as asn1js from "asn1js";
import { AttributeTypeAndValue, CertificationRequest, RelativeDistinguishedNames } from "pkijs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isMtlsError, type ErrorCode } from "../errors/index.js";
import { requireTool } from "../../test/support/tools.js";
import {
  decodeName,
  encodeSubject,
  formatSubject,
  formatSubjectOneLine,
  getAttribute,
  parseSubject,
  type Rdn,
} from "./subject.js";

const hex = (bytes: Uint8Array | ArrayBuffer): string => Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString("hex");

/** The error code `fn` throws, or "no error". */
function codeOf(fn: () => unknown): ErrorCode | "no error" | "not an MtlsError" {
  try {
    fn();
    return "no error";
  } catch (e) {
    return isMtlsError(e) ? e.code : "not an MtlsError";
  }
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  return "";
}

/** Member order inside an RDN carries no meaning (DER sorts the SET): compare RDNs as multisets. */
function unordered(rdns: Rdn[]): string[][] {
  return rdns.map((rdn) => rdn.map((a) => JSON.stringify([a.type, a.oid, a.value])).sort());
}

const rep = (n: number, s: string): string => s.repeat(n);

/** Subjects checked byte for byte against `openssl req -new -utf8 -subj`. */
const SUBJECTS: Record<string, string> = {
  "D1 ECDSA CN with escaped slashes": "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments/CN=TLSMA-ECDSA\\/123456\\/D1.PPR",
  "D1 RSA, German": "/C=DE/ST=Bayern/L=München/O=Zahlungsdienste GmbH & Co. KG/OU=Zahlungsverkehr/CN=TLSMA-RSA\\/GW_42-x\\/D1.PRD",
  "multi-valued RDN, members given out of order": "/O=Acme/OU=B+OU=A/CN=x",
  "multi-valued RDN, mixed types and lengths": "/O=Acme/OU=Bb+OU=B+CN=A/CN=x",
  "escaped plus and backslash": "/O=Acme \\+ Co/CN=a\\+b\\\\c\\d",
  "Japanese, Greek and Swiss German": "/C=CH/L=Zürich/O=株式会社テスト/CN=Ελληνικά",
  emoji: "/O=Emoji 😀 Ltd/OU=🔐+OU=🧾/CN=client 🚀",
  emailAddress: "/C=FR/O=Example/CN=ops/emailAddress=ops\\+mtls@example.com",
  "domain components": "/DC=com/DC=example/CN=host.example.com",
  "serialNumber and dnQualifier": "/serialNumber=ABC-123 (1)/dnQualifier=q.1:2/CN=x",
  "dotted OIDs, known and not in the table": "/2.5.4.97=VATFR-123456789/2.5.4.3=dotted/0.9.2342.19200300.100.1.5=tea",
  "spaces inside and around values": "/O=  leading and trailing  /OU=a  b/CN= x ",
  "long names": "/countryName=FR/stateOrProvinceName=IDF/organizationName=Example/commonName=long names",
  "EV jurisdiction": "/jurisdictionC=FR/jurisdictionST=IDF/businessCategory=Private Organization/serialNumber=552 100 554/O=Ex/CN=ev",
  "empty value skipped as openssl does": "/O=/OU=Payments/CN=x",
  "trailing slash and tab": "/O=tab\there/CN=x/",
  "values at the length limits (long-form DER lengths)": `/C=FR/L=${rep(128, "a")}/ST=${rep(128, "é")}/O=${rep(64, "x")}/OU=${rep(64, "株")}/CN=${rep(64, "😀")}/emailAddress=${rep(128, "m")}/serialNumber=${rep(64, "9")}`,
  "every attribute of the table":
    "/CN=cn/SN=sn é/serialNumber=S 1/C=fr/L=l/ST=st/street=1 rue/O=o/OU=ou/title=t/description=d/businessCategory=b" +
    "/postalCode=75001/postOfficeBox=BP 1/physicalDeliveryOfficeName=p/telephoneNumber=\\+33 1/name=n/GN=gn/initials=i" +
    "/generationQualifier=Jr/dnQualifier=dq/houseIdentifier=h/dmdName=dmd/pseudonym=ps/role=r/organizationIdentifier=NTRFR-1" +
    "/c3=FRA/n3=250/dnsName=a.example/emailAddress=e@x/unstructuredName=un/challengePassword=cp/unstructuredAddress=ua" +
    "/friendlyName=fn é/UID=u1/mail=m@x/DC=dc/uid=unique/jurisdictionL=jl/jurisdictionST=js/jurisdictionC=FR" +
    "/CSPName=csp/INN=123456789012/OGRN=1234567890123/SNILS=12345678901/OGRNIP=og",
  "aliases: long names of short-named types": "/userId=u/rfc822Mailbox=m@x/domainComponent=d/givenName=g/surname=s/streetAddress=st/countryCode3c=FRA/countryCode3n=250",
};


/** How x509-build hands our subject to pkijs: parsed from our DER, so the bytes are kept. */
function encodeSubjectAsn1(rdns: Rdn[]): RelativeDistinguishedNames {
  return RelativeDistinguishedNames.fromBER(encodeSubject(rdns));
}

describe("parseSubject", () => {
  it("reads the D1 subject, unescaping the slashes of the CN", () => {
    expect(parseSubject("/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments/CN=TLSMA-ECDSA\\/123456\\/D1.PPR")).toEqual([
      [{ type: "C", oid: "2.5.4.6", value: "FR" }],
      [{ type: "ST", oid: "2.5.4.8", value: "Paris" }],
      [{ type: "L", oid: "2.5.4.7", value: "Paris" }],
      [{ type: "O", oid: "2.5.4.10", value: "Example SA" }],
      [{ type: "OU", oid: "2.5.4.11", value: "Payments" }],
      [{ type: "CN", oid: "2.5.4.3", value: "TLSMA-ECDSA/123456/D1.PPR" }],
    ]);
  });

  it("groups + members into one RDN, keeps an escaped \\+ in the value, escapes any character", () => {
    expect(parseSubject("/O=Acme/OU=A+OU=B/CN=x\\+y\\\\z\\q")).toEqual([
      [{ type: "O", oid: "2.5.4.10", value: "Acme" }],
      [
        { type: "OU", oid: "2.5.4.11", value: "A" },
        { type: "OU", oid: "2.5.4.11", value: "B" },
      ],
      [{ type: "CN", oid: "2.5.4.3", value: "x+y\\zq" }],
    ]);
  });

  it("names types by openssl's short name, whatever alias was written, and dotted OIDs it has no name for", () => {
    expect(parseSubject("/commonName=a/2.5.4.10=b/1.2.3.4=c/emailAddress=d/GN=e")).toEqual([
      [{ type: "CN", oid: "2.5.4.3", value: "a" }],
      [{ type: "O", oid: "2.5.4.10", value: "b" }],
      [{ type: "1.2.3.4", oid: "1.2.3.4", value: "c" }],
      [{ type: "emailAddress", oid: "1.2.840.113549.1.9.1", value: "d" }],
      [{ type: "GN", oid: "2.5.4.42", value: "e" }],
    ]);
  });

  it("keeps spaces and an = inside values, and '/' alone is the empty subject", () => {
    expect(parseSubject("/CN= a=b ")).toEqual([[{ type: "CN", oid: "2.5.4.3", value: " a=b " }]]);
    expect(parseSubject("/")).toEqual([]);
  });

  it("skips an empty value with a warning, as openssl does", () => {
    const warnings: string[] = [];
    expect(parseSubject("/O=/OU=A+OU=/CN=x", { onWarning: (m) => warnings.push(m) })).toEqual([
      [{ type: "OU", oid: "2.5.4.11", value: "A" }],
      [{ type: "CN", oid: "2.5.4.3", value: "x" }],
    ]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('"O"');
  });
});

describe("subject errors", () => {
  const cases: [string, ErrorCode, RegExp][] = [
    ["CN=x", "SUBJECT_SYNTAX", /does not start with "\/"/],
    ["", "SUBJECT_SYNTAX", /does not start with "\/"/],
    ["/CN", "SUBJECT_SYNTAX", /missing "=" after attribute type "CN"/],
    ["/CN=x/O", "SUBJECT_SYNTAX", /missing "=" after attribute type "O"/],
    ["/CN=x\\", "SUBJECT_SYNTAX", /lone backslash/],
    ["//CN=x", "SUBJECT_SYNTAX", /"\/CN="/],
    ["/CN/O=x", "SUBJECT_SYNTAX", /"CN" followed by "\/"/],
    ["/=x", "SUBJECT_SYNTAX", /empty attribute type/],
    ["/C=FRA/CN=x", "SUBJECT_SYNTAX", /C="FRA" is 3 characters long; C takes exactly 2 \(an ISO 3166 code/],
    ["/C=F", "SUBJECT_SYNTAX", /C takes exactly 2/],
    ["/C=F*", "SUBJECT_SYNTAX", /"\*", which a PrintableString cannot hold/],
    [`/CN=${rep(65, "é")}`, "SUBJECT_SYNTAX", /65 characters long; CN takes at most 64/],
    [`/O=${rep(65, "o")}`, "SUBJECT_SYNTAX", /O takes at most 64/],
    [`/L=${rep(129, "l")}`, "SUBJECT_SYNTAX", /L takes at most 128/],
    ["/emailAddress=é@example.com", "SUBJECT_SYNTAX", /"é", which a IA5String cannot hold/],
    ["/serialNumber=a_b", "SUBJECT_SYNTAX", /"_", which a PrintableString cannot hold/],
    ["/DC=exämple", "SUBJECT_SYNTAX", /IA5String/],
    ["/O=A/OU=+OU=B", "SUBJECT_SYNTAX", /merge the next attribute into the previous RDN/],
    ["/cn=x", "SUBJECT_ATTRIBUTE_UNKNOWN", /did you mean "CN"\?/],
    ["/EmailAddress=x", "SUBJECT_ATTRIBUTE_UNKNOWN", /did you mean "emailAddress"\?/],
    ["/ CN=x", "SUBJECT_ATTRIBUTE_UNKNOWN", /remove the spaces around "CN"/],
    ["/CN=x/foo=bar", "SUBJECT_ATTRIBUTE_UNKNOWN", /unknown attribute type "foo" in subject/],
    ["/+CN=x", "SUBJECT_SYNTAX", /"" followed by "\+"/],
    ["/CN=ops+mtls@example.com", "SUBJECT_SYNTAX", /missing "=" after attribute type "mtls@example.com".*escape it as \\\+/],
    ["/CN=a+b=c", "SUBJECT_ATTRIBUTE_UNKNOWN", /unknown attribute type "b".*escape it as \\\+/],
  ];
  it.each(cases)("%s -> %s", (subject, code, message) => {
    expect(codeOf(() => parseSubject(subject))).toBe(code);
    const text = messageOf(() => parseSubject(subject));
    expect(text).toMatch(message);
    expect(text).not.toContain("\n");
  });

  it("refuses attributes built by hand that openssl cannot write", () => {
    const cn = (value: string): Rdn[] => [[{ type: "CN", oid: "2.5.4.3", value }]];
    expect(codeOf(() => encodeSubject(cn("")))).toBe("SUBJECT_SYNTAX");
    expect(codeOf(() => encodeSubject(cn("a\u0000b")))).toBe("SUBJECT_SYNTAX");
    expect(codeOf(() => encodeSubject(cn("a\ud800b")))).toBe("SUBJECT_SYNTAX");
    expect(codeOf(() => encodeSubject([[]]))).toBe("SUBJECT_SYNTAX");
    expect(codeOf(() => encodeSubject([[{ type: "CN", oid: "2.5.4.10", value: "x" }]]))).toBe("SUBJECT_SYNTAX");
    expect(codeOf(() => encodeSubject([[{ type: "CN", oid: "CN", value: "x" }]]))).toBe("SUBJECT_SYNTAX");
    expect(codeOf(() => encodeSubject([[{ type: "nope", oid: "1.2.3", value: "x" }]]))).toBe("SUBJECT_ATTRIBUTE_UNKNOWN");
    expect(codeOf(() => encodeSubjectAsn1([[{ type: "C", oid: "2.5.4.6", value: "FRA" }]]))).toBe("SUBJECT_SYNTAX");
    expect(codeOf(() => formatSubject(cn("")))).toBe("SUBJECT_SYNTAX");
    expect(codeOf(() => formatSubject([[]]))).toBe("SUBJECT_SYNTAX");
    expect(codeOf(() => getAttribute(cn("x"), "cn"))).toBe("SUBJECT_ATTRIBUTE_UNKNOWN");
  });

  it("refuses bytes that are not a Name", () => {
    expect(codeOf(() => decodeName(new Uint8Array([0x30, 0x05, 0x31])))).toBe("INPUT_NOT_RECOGNIZED");
    expect(codeOf(() => decodeName(new Uint8Array([0x04, 0x00])))).toBe("INPUT_NOT_RECOGNIZED");
    expect(codeOf(() => decodeName(new Uint8Array([0x30, 0x00, 0x00])))).toBe("INPUT_NOT_RECOGNIZED");
    expect(codeOf(() => decodeName(new Uint8Array([0x30, 0x02, 0x31, 0x00])))).toBe("INPUT_NOT_RECOGNIZED");
    expect(codeOf(() => decodeName(new Uint8Array([0x30, 0x04, 0x31, 0x02, 0x30, 0x00])))).toBe("INPUT_NOT_RECOGNIZED");
  });
});

describe("formatSubject, formatSubjectOneLine, getAttribute", () => {
  it("escapes /, + and \\ and round-trips with parseSubject", () => {
    const rdns: Rdn[] = [
      [{ type: "O", oid: "2.5.4.10", value: "A/B+C\\D" }],
      [
        { type: "OU", oid: "2.5.4.11", value: "x" },
        { type: "CN", oid: "2.5.4.3", value: " y " },
      ],
    ];
    const text = formatSubject(rdns);
    expect(text).toBe("/O=A\\/B\\+C\\\\D/OU=x+CN= y ");
    expect(parseSubject(text)).toEqual(rdns);
  });

  it.each(Object.entries(SUBJECTS))("round-trips %s", (_name, subject) => {
    const rdns = parseSubject(subject);
    expect(parseSubject(formatSubject(rdns))).toEqual(rdns);
    expect(hex(encodeSubject(parseSubject(formatSubject(rdns))))).toBe(hex(encodeSubject(rdns)));
  });

  it("writes a one-line form in order, + between members", () => {
    expect(formatSubjectOneLine(parseSubject("/C=FR/O=Example SA/OU=A+OU=B/CN=TLSMA-ECDSA\\/1\\/D1.PPR"))).toBe(
      "C=FR, O=Example SA, OU=A+OU=B, CN=TLSMA-ECDSA/1/D1.PPR",
    );
    expect(formatSubjectOneLine([])).toBe("");
  });

  it("gets every value of a type, by short name, long name or OID", () => {
    const rdns = parseSubject("/O=Acme/OU=A+OU=B/OU=C/CN=x");
    expect(getAttribute(rdns, "OU")).toEqual(["A", "B", "C"]);
    expect(getAttribute(rdns, "organizationalUnitName")).toEqual(["A", "B", "C"]);
    expect(getAttribute(rdns, "2.5.4.3")).toEqual(["x"]);
    expect(getAttribute(rdns, "emailAddress")).toEqual([]);
  });
});

describe("encodeSubject without openssl", () => {
  it("writes C as PrintableString, the rest as UTF8String, in order", () => {
    expect(hex(encodeSubject(parseSubject("/C=FR/CN=é")))).toBe(
      "301a" + "310b300906035504061302" + "4652" + "310b300906035504030c02" + "c3a9",
    );
  });

  it("sorts the members of a multi-valued RDN in DER order", () => {
    const a = encodeSubject(parseSubject("/OU=Bb+OU=B+CN=A"));
    const b = encodeSubject(parseSubject("/CN=A+OU=B+OU=Bb"));
    expect(hex(a)).toBe(hex(b));
    expect(decodeName(a)[0]?.map((m) => m.value)).toEqual(["A", "B", "Bb"]);
  });

  it("gives pkijs the exact bytes, also once embedded in a CSR", () => {
    const rdns = parseSubject("/O=Acme/OU=B+OU=A/CN=x");
    const asn1 = encodeSubjectAsn1(rdns);
    expect(hex(asn1.toSchema().toBER())).toBe(hex(encodeSubject(rdns)));
    expect(asn1.typesAndValues.map((t) => t.type)).toEqual(["2.5.4.10", "2.5.4.11", "2.5.4.11", "2.5.4.3"]);
    const wrapped = new asn1js.Sequence({ value: [asn1.toSchema()] }).toBER();
    expect(hex(wrapped)).toContain(hex(encodeSubject(rdns)));
  });

  it("decodes every string type", () => {
    const atv = (oid: string, value: asn1js.BaseBlock): asn1js.Set =>
      new asn1js.Set({ value: [new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid }), value] })] });
    const teletex = new asn1js.TeletexString();
    teletex.valueBlock.valueHexView = new Uint8Array([0x5a, 0xfc, 0x72, 0x69, 0x63, 0x68]);
    const universal = new asn1js.UniversalString({ value: "Ωx😀" });
    const der = new asn1js.Sequence({
      value: [
        atv("2.5.4.6", new asn1js.PrintableString({ value: "FR" })),
        atv("2.5.4.7", teletex),
        atv("2.5.4.10", new asn1js.BmpString({ value: "株式会社" })),
        atv("2.5.4.11", universal),
        atv("0.9.2342.19200300.100.1.25", new asn1js.IA5String({ value: "example" })),
        atv("2.5.4.3", new asn1js.VisibleString({ value: "visible" })),
        atv("1.2.3.4", new asn1js.OctetString({ valueHex: new Uint8Array([1, 2]).buffer })),
      ],
    }).toBER();
    expect(decodeName(der)).toEqual([
      [{ type: "C", oid: "2.5.4.6", value: "FR" }],
      [{ type: "L", oid: "2.5.4.7", value: "Zürich" }],
      [{ type: "O", oid: "2.5.4.10", value: "株式会社" }],
      [{ type: "OU", oid: "2.5.4.11", value: "Ωx😀" }],
      [{ type: "DC", oid: "0.9.2342.19200300.100.1.25", value: "example" }],
      [{ type: "CN", oid: "2.5.4.3", value: "visible" }],
      [{ type: "1.2.3.4", oid: "1.2.3.4", value: "#04020102" }],
    ]);
  });

  it("reads a pkijs AttributeTypeAndValue the same way", () => {
    const rdns = decodeName(encodeSubject([[{ type: "friendlyName", oid: "1.2.840.113549.1.9.20", value: "né" }]]));
    expect(rdns).toEqual([[{ type: "friendlyName", oid: "1.2.840.113549.1.9.20", value: "né" }]]);
    const parsed = new AttributeTypeAndValue({ schema: asn1js.fromBER(encodeSubjectAsn1(rdns).typesAndValues[0]?.toSchema().toBER() ?? new ArrayBuffer(0)).result });
    expect(parsed.value).toBeInstanceOf(asn1js.BmpString);
  });
});

describe.skipIf(!requireTool("openssl"))("against openssl req -new -utf8 -subj", () => {
  let dir = "";
  let key = "";

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "mtlskit-subject-"));
    key = join(dir, "k.pem");
    execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], { stdio: "pipe" });
  });

  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  function opensslCsr(subject: string): CertificationRequest {
    const der = execFileSync("openssl", ["req", "-new", "-utf8", "-subj", subject, "-key", key, "-outform", "DER"], { stdio: "pipe" });
    return CertificationRequest.fromBER(new Uint8Array(der));
  }

  it.each(Object.entries(SUBJECTS))("%s: byte-identical subject", (_name, subject) => {
    const csr = opensslCsr(subject);
    const expected = hex(csr.subject.valueBeforeDecode);
    const rdns = parseSubject(subject);

    expect(hex(encodeSubject(rdns))).toBe(expected);
    const asn1 = encodeSubjectAsn1(rdns);
    expect(hex(asn1.toSchema().toBER())).toBe(expected);

    // The whole certificationRequestInfo pkijs writes with our subject is openssl's, byte for byte.
    const ours = new CertificationRequest({ version: 0, subject: asn1, subjectPublicKeyInfo: csr.subjectPublicKeyInfo, attributes: [] });
    const tbs = ours.toSchema(true).valueBlock.value[0];
    expect(hex(tbs?.toBER() ?? new ArrayBuffer(0))).toBe(hex(csr.tbsView));

    expect(unordered(decodeName(csr.subject.valueBeforeDecode))).toEqual(unordered(rdns));
    expect(hex(encodeSubject(decodeName(csr.subject.valueBeforeDecode)))).toBe(expected);
  });

  it("writes the empty subject '/' as openssl does", () => {
    expect(hex(encodeSubject(parseSubject("/")))).toBe(hex(opensslCsr("/").subject.valueBeforeDecode));
  });

  it.each([
    "CN=x",
    "/CN",
    "/CN=x\\",
    "/C=FRA",
    "/C=F",
    "/C=É1",
    `/CN=${rep(65, "é")}`,
    `/ST=${rep(129, "s")}`,
    `/emailAddress=${rep(129, "e")}`,
    `/serialNumber=${rep(65, "1")}`,
    "/emailAddress=é@example.com",
    "/serialNumber=a_b",
    "/DC=exämple",
    "/dnQualifier=a&b",
    "/jurisdictionC=FRA",
    "/INN=12a",
  ])("refuses %s, as openssl does", (subject) => {
    expect(codeOf(() => parseSubject(subject))).toBe("SUBJECT_SYNTAX");
    const run = spawnSync("openssl", ["req", "-new", "-utf8", "-subj", subject, "-key", key, "-outform", "DER"], { stdio: "pipe" });
    expect(run.status).not.toBe(0);
  });

  it("refuses unknown types, which openssl skips with a warning", () => {
    const run = spawnSync("openssl", ["req", "-new", "-utf8", "-subj", "/CN=x/foo=bar", "-key", key, "-outform", "DER"], { stdio: "pipe" });
    expect(run.status).toBe(0);
    expect(run.stderr.toString()).toContain('Skipping unknown subject name attribute "foo"');
    expect(codeOf(() => parseSubject("/CN=x/foo=bar"))).toBe("SUBJECT_ATTRIBUTE_UNKNOWN");
  });
});
