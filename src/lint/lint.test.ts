import { createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { isMtlsError } from "../errors/index.js";
import { createCertificate, createCsr, decodePkiObjects, generateKey, OID, parseSubject, privateKeyToPem, toPem, type PkiItem } from "../pki/index.js";
import { d1, PROGRAMS } from "../policy/index.js";
import { createTestPki, type LeafOptions, type TestCertificate, type TestPki } from "../testing/index.js";
import { LINT_RULES, lintItems, type LintOptions, type LintResult } from "./index.js";

const DAY = 86_400_000;
const D1_DN = "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments";
const d1Subject = (cn: string): string => `${D1_DN}/CN=${cn.replace(/\//g, "\\/")}`;
const D1_OPTS: LintOptions = { program: "d1", environment: "preprod", gatewayId: "123456" };
const MT_CN = "mt-client-sandbox-42";
const MT_OPTS: LintOptions = { program: "mt", environment: "sandbox", cn: MT_CN };

let pki: TestPki;
const keys: Record<"p256" | "p384" | "p521" | "rsa2048" | "rsa4096", KeyObject> = {} as never;

beforeAll(async () => {
  pki = await createTestPki({ validityHours: 24 * 400 });
  keys.p256 = (await generateKey("ecdsa-p256")).privateKey;
  keys.p384 = (await generateKey("ecdsa-p384")).privateKey;
  keys.rsa2048 = (await generateKey("rsa-2048")).privateKey;
  keys.rsa4096 = (await generateKey("rsa-4096")).privateKey;
  keys.p521 = generateKeyPairSync("ec", { namedCurve: "secp521r1" }).privateKey;
});

/** Lints and checks that every finding is of a known rule, with that rule's severity. */
function lint(items: PkiItem[], options: LintOptions): LintResult {
  const r = lintItems(items, options);
  for (const f of r.findings) {
    const rule = LINT_RULES[f.code as keyof typeof LINT_RULES];
    expect(rule, f.code).toBeDefined();
    expect([rule.severity, "alsoAs" in rule ? rule.alsoAs.severity : undefined]).toContain(f.severity);
    expect(f.message.length).toBeGreaterThan(10);
    expect(f.hint.length).toBeGreaterThan(10);
  }
  expect(r.errors).toBe(r.findings.filter((f) => f.severity === "error").length);
  return r;
}

const codes = (r: LintResult): string[] => r.findings.map((f) => f.code);

function pem(name: string, ...blocks: Array<TestCertificate | string>): PkiItem[] {
  const text = blocks.map((b) => (typeof b === "string" ? b : b.certPem)).join("");
  return decodePkiObjects(Buffer.from(text), name);
}

function csrPem(subject: string, key: KeyObject, hash: "sha256" | "sha384" | "sha1" = "sha256"): string {
  return toPem("CERTIFICATE REQUEST", createCsr({ subject: parseSubject(subject), privateKey: key, hash }));
}

/** A D1 client certificate as Thales issues it: from the intermediate, 5 years. */
function d1Leaf(options: LeafOptions = {}): Promise<TestCertificate> {
  return pki.issue({ subject: d1Subject("TLSMA-ECDSA/123456/D1.PPR"), privateKey: keys.p256, validityHours: 24 * 5 * 365, ...options });
}

/** An MT client certificate: self-signed, 730 days. */
function mtCert(options: LeafOptions = {}): Promise<TestCertificate> {
  return pki.selfSigned({ cn: MT_CN, privateKey: keys.p256, validityHours: 24 * 730, ...options });
}

/** Flips a bit in the last byte (inside the signature) of a DER object. */
function tamper(der: Uint8Array): Uint8Array {
  const copy = new Uint8Array(der);
  copy[copy.length - 1]! ^= 0x01;
  return copy;
}

describe("clean inputs", () => {
  it("a D1 CSR made the way the D1 page says has no findings", () => {
    const r = lint(pem("client.csr", csrPem(d1Subject("TLSMA-ECDSA/123456/D1.PPR"), keys.p256)), D1_OPTS);
    expect(r.findings).toEqual([]);
    expect(r).toMatchObject({ errors: 0, warnings: 0, objects: 1 });
  });

  it("a D1 certificate with its chain, leaf first, and its key has no findings", async () => {
    const leaf = await d1Leaf();
    const r = lint(pem("client.pem", leaf, pki.intermediate, pki.root, privateKeyToPem(keys.p256)), { ...D1_OPTS, privateKey: keys.p256 });
    expect(r.findings).toEqual([]);
    expect(r.objects).toBe(4);
  });

  it("an MT self-signed certificate of 730 days with the portal CN has no findings", async () => {
    const r = lint(pem("mt.crt", await mtCert()), MT_OPTS);
    expect(r.findings).toEqual([]);
  });
});

describe("options", () => {
  it("refuses an unknown program or environment before linting", () => {
    expect(() => lintItems([], { program: "visa" })).toThrow(expect.objectContaining({ code: "UNKNOWN_PROGRAM" }));
    expect(() => lintItems([], { program: "d1", environment: "sandbox" })).toThrow(expect.objectContaining({ code: "UNKNOWN_ENVIRONMENT" }));
  });

  it("refuses --gateway-id for a program whose CN is the portal's value, and a bad id", () => {
    try {
      lintItems([], { program: "mt", gatewayId: "123456" });
      expect.unreachable();
    } catch (e) {
      expect(isMtlsError(e, "USAGE")).toBe(true);
    }
    expect(() => lintItems([], { program: "d1", gatewayId: "12/34" })).toThrow(expect.objectContaining({ code: "GATEWAY_ID_INVALID" }));
  });
});

describe("rule table", () => {
  it("holds every refusal code the programs name", () => {
    for (const p of Object.values(PROGRAMS)) for (const r of p.clientCertificate.refused) expect(LINT_RULES).toHaveProperty(r.code);
  });

  it("gives every rule a severity, a meaning and a hint", () => {
    for (const [code, rule] of Object.entries(LINT_RULES)) {
      expect(code).toMatch(/^[A-Z0-9_]+$/);
      expect(["error", "warning", "info"]).toContain(rule.severity);
      expect(rule.meaning).toMatch(/\.$/);
      expect(rule.hint).toMatch(/\.$/);
    }
  });
});

describe("key type", () => {
  it("KEY_TYPE_NOT_ALLOWED: a key type the program does not list", () => {
    const r = lint(pem("c.csr", csrPem(d1Subject("TLSMA-ECDSA/123456/D1.PPR"), keys.p384)), D1_OPTS);
    expect(codes(r)).toEqual(["KEY_TYPE_NOT_ALLOWED"]);
    expect(r.findings[0]!.message).toContain("ECDSA P-384");
    expect(r.findings[0]!.hint).toContain("ECDSA P-256 (preferred) or RSA 4096");
    expect(codes(lint(pem("c.csr", csrPem(d1Subject("TLSMA-ECDSA/123456/D1.PPR"), keys.p256)), D1_OPTS))).toEqual([]);
  });

  it("KEY_TYPE_NOT_ALLOWED: a curve mtlskit does not know, and MT's refusal of RSA 4096", async () => {
    expect(codes(lint(pem("mt.crt", await mtCert({ privateKey: keys.p521 })), MT_OPTS))).toEqual(["KEY_TYPE_NOT_ALLOWED"]);
    const r = lint(pem("mt.crt", await mtCert({ privateKey: keys.rsa4096 })), MT_OPTS);
    expect(codes(r)).toEqual(["KEY_TYPE_NOT_ALLOWED"]);
    expect(r.findings[0]!.message).toContain(PROGRAMS.mt.clientCertificate.refused[0]!.rule);
    expect(codes(lint(pem("mt.crt", await mtCert({ privateKey: keys.rsa2048 })), MT_OPTS))).toEqual([]);
  });

  it("D1_RSA_2048_REFUSED: the sentence of the D1 policy", () => {
    const r = lint(pem("client.csr", csrPem(d1Subject("TLSMA-RSA/123456/D1.PPR"), keys.rsa2048)), D1_OPTS);
    expect(codes(r)).toEqual(["D1_RSA_2048_REFUSED"]);
    expect(r.findings[0]).toMatchObject({ severity: "error", source: "client.csr" });
    expect(r.findings[0]!.message).toContain(d1.clientCertificate.refused[0]!.rule);
    expect(codes(lint(pem("client.csr", csrPem(d1Subject("TLSMA-RSA/123456/D1.PPR"), keys.rsa4096)), D1_OPTS))).toEqual([]);
  });

  it("checks a lone private key's type", () => {
    expect(codes(lint(pem("k.pem", privateKeyToPem(keys.rsa2048)), { program: "d1" }))).toEqual(["D1_RSA_2048_REFUSED"]);
    expect(codes(lint(pem("k.pem", privateKeyToPem(keys.p256)), { program: "d1" }))).toEqual([]);
  });
});

describe("signatures", () => {
  it("WEAK_SIGNATURE: SHA-1", async () => {
    expect(codes(lint(pem("mt.crt", await mtCert({ hash: "sha1" })), MT_OPTS))).toEqual(["WEAK_SIGNATURE"]);
    expect(codes(lint(pem("c.csr", csrPem(d1Subject("TLSMA-ECDSA/123456/D1.PPR"), keys.p256, "sha1")), D1_OPTS))).toEqual(["WEAK_SIGNATURE"]);
  });

  it("WEAK_SIGNATURE: an intermediate signed with SHA-1", async () => {
    const weakCa = await pki.issue({ cn: "Weak CA", ca: true, hash: "sha1", issuer: "root", validityHours: 24 * 400 });
    const leaf = await d1Leaf({ issuer: weakCa });
    const r = lint(pem("chain.pem", leaf, weakCa), D1_OPTS);
    expect(codes(r)).toEqual(["WEAK_SIGNATURE"]);
    expect(r.findings[0]!.source).toBe("chain.pem (block 2)");
  });

  it("HASH_NOT_ALLOWED: a hash the program does not take with that key, made by the client key", async () => {
    expect(codes(lint(pem("mt.crt", await mtCert({ hash: "sha384" })), MT_OPTS))).toEqual(["HASH_NOT_ALLOWED"]);
    expect(codes(lint(pem("mt.crt", await mtCert({ hash: "sha384", privateKey: keys.p384 })), MT_OPTS))).toEqual([]);
    expect(codes(lint(pem("c.csr", csrPem(d1Subject("TLSMA-ECDSA/123456/D1.PPR"), keys.p256, "sha384")), D1_OPTS))).toEqual(["HASH_NOT_ALLOWED"]);
  });

  it("HASH_NOT_ALLOWED: not for a CA-issued certificate, whose hash is the CA's choice", async () => {
    expect(codes(lint(pem("client.crt", await d1Leaf({ hash: "sha384" })), D1_OPTS))).toEqual([]);
  });

  it("CSR_SIGNATURE_INVALID", () => {
    const der = createCsr({ subject: parseSubject(d1Subject("TLSMA-ECDSA/123456/D1.PPR")), privateKey: keys.p256 });
    expect(codes(lint(decodePkiObjects(tamper(der), "client.csr"), D1_OPTS))).toEqual(["CSR_SIGNATURE_INVALID"]);
    expect(codes(lint(decodePkiObjects(der, "client.csr"), D1_OPTS))).toEqual([]);
  });

  it("SELF_SIGNATURE_INVALID", async () => {
    const cert = await mtCert();
    expect(codes(lint(decodePkiObjects(tamper(cert.der), "mt.der"), MT_OPTS))).toEqual(["SELF_SIGNATURE_INVALID"]);
    expect(codes(lint(decodePkiObjects(cert.der, "mt.der"), MT_OPTS))).toEqual([]);
  });

  it("CHAIN_SIGNATURE: a link that does not verify", async () => {
    const leaf = await d1Leaf();
    const text = toPem("CERTIFICATE", tamper(leaf.der)) + pki.intermediate.certPem + pki.root.certPem;
    const r = lint(decodePkiObjects(Buffer.from(text), "chain.pem"), D1_OPTS);
    expect(codes(r)).toEqual(["CHAIN_SIGNATURE"]);
    expect(r.findings[0]!.source).toBe("chain.pem (block 1)");
    expect(r.findings[0]!.message).toContain("chain.pem (block 2)");
  });

  it("CHAIN_SIGNATURE: also when the issuer is in another file", async () => {
    const leaf = await d1Leaf();
    const items = [...decodePkiObjects(tamper(leaf.der), "client.der"), ...pem("ca.pem", pki.intermediate)];
    expect(codes(lint(items, D1_OPTS))).toEqual(["CHAIN_SIGNATURE"]);
    expect(codes(lint([...pem("client.pem", leaf), ...pem("ca.pem", pki.intermediate)], D1_OPTS))).toEqual([]);
  });
});

describe("common name", () => {
  it("CN_MISSING and CN_MULTIPLE", () => {
    expect(codes(lint(pem("c.csr", csrPem(D1_DN, keys.p256)), D1_OPTS))).toEqual(["CN_MISSING"]);
    expect(codes(lint(pem("c.csr", csrPem(`${d1Subject("TLSMA-ECDSA/123456/D1.PPR")}/CN=other`, keys.p256)), D1_OPTS))).toEqual(["CN_MULTIPLE"]);
  });

  it("CN_PATTERN: D1's template, with the expected CN in the hint", () => {
    const r = lint(pem("c.csr", csrPem(d1Subject("client.example.com"), keys.p256)), D1_OPTS);
    expect(codes(r)).toEqual(["CN_PATTERN"]);
    expect(r.findings[0]!.hint).toContain("TLSMA-ECDSA/123456/D1.PPR");
    expect(codes(lint(pem("c.csr", csrPem(d1Subject("TLSMA-ECDSA/123456/D1.PPR"), keys.p256)), D1_OPTS))).toEqual([]);
  });

  it("CN_KEY_TYPE: ECDSA or RSA in the CN must be the key's", () => {
    expect(codes(lint(pem("c.csr", csrPem(d1Subject("TLSMA-RSA/123456/D1.PPR"), keys.p256)), D1_OPTS))).toEqual(["CN_KEY_TYPE"]);
    expect(codes(lint(pem("c.csr", csrPem(d1Subject("TLSMA-ECDSA/123456/D1.PPR"), keys.rsa4096)), D1_OPTS))).toEqual(["CN_KEY_TYPE"]);
  });

  it("CN_ENVIRONMENT: the CN's code against --env, or against every code", () => {
    const prd = pem("c.csr", csrPem(d1Subject("TLSMA-ECDSA/123456/D1.PRD"), keys.p256));
    const r = lint(prd, D1_OPTS);
    expect(codes(r)).toEqual(["CN_ENVIRONMENT"]);
    expect(r.findings[0]!.message).toMatch(/Production \(PRD\).*PreProd \(PPR\)/);
    expect(codes(lint(prd, { ...D1_OPTS, environment: "production" }))).toEqual([]);
    const xyz = pem("c.csr", csrPem(d1Subject("TLSMA-ECDSA/123456/D1.XYZ"), keys.p256));
    expect(codes(lint(xyz, { program: "d1", gatewayId: "123456" }))).toEqual(["CN_ENVIRONMENT"]);
  });

  it("CN_GATEWAY_ID", () => {
    const r = lint(pem("c.csr", csrPem(d1Subject("TLSMA-ECDSA/654321/D1.PPR"), keys.p256)), D1_OPTS);
    expect(codes(r)).toEqual(["CN_GATEWAY_ID"]);
    expect(r.findings[0]!.message).toContain("654321");
  });

  it("CN_MISMATCH: MT's CN against --cn", async () => {
    const cert = pem("mt.crt", await mtCert());
    expect(codes(lint(cert, { ...MT_OPTS, cn: "another-cn" }))).toEqual(["CN_MISMATCH"]);
    expect(codes(lint(cert, MT_OPTS))).toEqual([]);
  });

  it("CN_NOT_CHECKED: info when the options do not say what to compare", async () => {
    const r = lint(pem("mt.crt", await mtCert()), { program: "mt" });
    expect(r.findings).toMatchObject([{ code: "CN_NOT_CHECKED", severity: "info" }]);
    expect(r.errors).toBe(0);
    const d = lint(pem("c.csr", csrPem(d1Subject("TLSMA-ECDSA/123456/D1.PPR"), keys.p256)), { program: "d1" });
    expect(codes(d)).toEqual(["CN_NOT_CHECKED"]);
    expect(d.findings[0]!.hint).toContain("--env and --id");
  });
});

describe("subject", () => {
  it("SUBJECT_INCOMPLETE: D1's DN policy", () => {
    const r = lint(pem("c.csr", csrPem("/C=FR/O=Example/CN=TLSMA-ECDSA\\/123456\\/D1.PPR", keys.p256)), D1_OPTS);
    expect(codes(r)).toEqual(["SUBJECT_INCOMPLETE"]);
    expect(r.findings[0]!.message).toContain("ST, L and OU");
  });

  it("MT requires no DN attribute besides the CN", async () => {
    expect(codes(lint(pem("mt.crt", await mtCert()), MT_OPTS))).toEqual([]);
  });
});

describe("validity", () => {
  it("VALIDITY_TOO_LONG: MT's 730 days, an error", async () => {
    const r = lint(pem("mt.crt", await mtCert({ validityHours: 24 * 731 })), MT_OPTS);
    expect(r.findings).toMatchObject([{ code: "VALIDITY_TOO_LONG", severity: "error" }]);
    expect(r.findings[0]!.message).toContain("731 days");
  });

  it("VALIDITY_TOO_LONG: a D1 certificate far beyond the 5 years Thales issues, a warning", async () => {
    const r = lint(pem("client.crt", await d1Leaf({ validityHours: 24 * 6 * 365 })), D1_OPTS);
    expect(r.findings).toMatchObject([{ code: "VALIDITY_TOO_LONG", severity: "warning" }]);
    expect(r.errors).toBe(0);
    expect(codes(lint(pem("client.crt", await d1Leaf({ validityHours: 24 * (5 * 365 + 2) })), D1_OPTS))).toEqual([]);
  });

  it("EXPIRED and NOT_YET_VALID", async () => {
    expect(codes(lint(pem("mt.crt", await mtCert()), { ...MT_OPTS, now: new Date(Date.now() + 800 * DAY) }))).toEqual(["EXPIRED"]);
    expect(codes(lint(pem("mt.crt", await mtCert()), { ...MT_OPTS, now: new Date(Date.now() - DAY) }))).toEqual(["NOT_YET_VALID"]);
    const expired = lint(pem("c.crt", await pki.expired({ subject: d1Subject("TLSMA-ECDSA/123456/D1.PPR") })), D1_OPTS);
    expect(codes(expired)).toEqual(["EXPIRED"]);
    expect(expired.findings[0]!.hint).toContain("mtlskit csr create");
  });

  it("EXPIRING_SOON: within 30 days by default, a warning", async () => {
    const cert = pem("mt.crt", await mtCert({ validityHours: 24 * 20 }));
    expect(lint(cert, MT_OPTS).findings).toMatchObject([{ code: "EXPIRING_SOON", severity: "warning" }]);
    expect(codes(lint(cert, { ...MT_OPTS, expiryWarningDays: 10 }))).toEqual([]);
    expect(codes(lint(pem("mt.crt", await mtCert({ validityHours: 24 * 40 })), MT_OPTS))).toEqual([]);
  });

  it("EXPIRED: for chain members too", async () => {
    const r = lint(pem("chain.pem", await d1Leaf(), pki.intermediate, pki.root), { ...D1_OPTS, now: new Date(Date.now() + 401 * DAY) });
    expect(r.findings.map((f) => `${f.code} ${f.source}`)).toEqual(["EXPIRED chain.pem (block 2)", "EXPIRED chain.pem (block 3)"]);
  });
});

describe("issuance and usage", () => {
  it("NOT_SELF_SIGNED: MT pins a self-signed certificate", async () => {
    const r = lint(pem("mt.crt", await pki.issue({ cn: MT_CN, validityHours: 24 * 365 })), MT_OPTS);
    expect(codes(r)).toEqual(["NOT_SELF_SIGNED"]);
  });

  it("SELF_SIGNED_NOT_ALLOWED: D1 certificates are issued by Thales", async () => {
    expect(codes(lint(pem("c.crt", await d1Leaf({ issuer: "self" })), D1_OPTS))).toEqual(["SELF_SIGNED_NOT_ALLOWED"]);
    expect(codes(lint(pem("c.crt", await d1Leaf()), D1_OPTS))).toEqual([]);
  });

  it("CA_AS_CLIENT: a CA linted as the client certificate", () => {
    // Only CA_AS_CLIENT: the client rules (CN, DN policy...) say nothing useful about a CA.
    expect(codes(lint(pem("ca.pem", pki.intermediate), D1_OPTS))).toEqual(["CA_AS_CLIENT"]);
    expect(codes(lint(pem("ca.pem", pki.intermediate, pki.root), D1_OPTS))).toEqual(["CA_AS_CLIENT"]);
    expect(codes(lint(pem("ca.pem", pki.intermediate), MT_OPTS))).toEqual(["CA_AS_CLIENT"]);
  });

  it("CA_AS_CLIENT: not for CAs beside a client certificate or a CSR", async () => {
    expect(codes(lint([...pem("client.crt", await d1Leaf()), ...pem("ca.pem", pki.intermediate, pki.root)], D1_OPTS))).toEqual([]);
    expect(codes(lint([...pem("c.csr", csrPem(d1Subject("TLSMA-ECDSA/123456/D1.PPR"), keys.p256)), ...pem("ca.pem", pki.intermediate)], D1_OPTS))).toEqual([]);
  });

  it("SELF_SIGNED_CA_FLAG: an MT self-signed certificate with CA:TRUE is only an info", async () => {
    const r = lint(pem("mt.crt", await mtCert({ ca: true })), MT_OPTS);
    // The test PKI gives CAs no EKU, hence EKU_ABSENT.
    expect(r.findings).toMatchObject([
      { code: "SELF_SIGNED_CA_FLAG", severity: "info" },
      { code: "EKU_ABSENT", severity: "info" },
    ]);
    expect(r.errors + r.warnings).toBe(0);
  });

  it("CLIENT_AUTH_MISSING: an EKU without clientAuth", async () => {
    expect(codes(lint(pem("mt.crt", await mtCert({ usage: "server" })), MT_OPTS))).toEqual(["CLIENT_AUTH_MISSING"]);
    expect(codes(lint(pem("mt.crt", await mtCert({ usage: "both" })), MT_OPTS))).toEqual([]);
  });

  it("EKU_ABSENT and KEY_USAGE_MISSING", () => {
    const make = (keyUsage: Array<"digitalSignature" | "keyEncipherment"> | undefined, eku: string[] | undefined): PkiItem[] => {
      const der = createCertificate({
        subject: parseSubject(`/CN=${MT_CN}`),
        publicKey: createPublicKey(keys.p256),
        signingKey: keys.p256,
        notAfter: new Date(Date.now() + 365 * DAY),
        extensions: { basicConstraints: { ca: false }, ...(keyUsage ? { keyUsage } : {}), ...(eku ? { extKeyUsage: eku } : {}) },
      });
      return decodePkiObjects(der, "mt.der");
    };
    expect(lint(make(["digitalSignature"], undefined), MT_OPTS).findings).toMatchObject([{ code: "EKU_ABSENT", severity: "info" }]);
    expect(codes(lint(make(["keyEncipherment"], [OID.clientAuth]), MT_OPTS))).toEqual(["KEY_USAGE_MISSING"]);
    expect(codes(lint(make(["digitalSignature"], [OID.clientAuth]), MT_OPTS))).toEqual([]);
  });
});

describe("keys", () => {
  it("KEY_MISMATCH: --key against the certificate or CSR", async () => {
    const cert = pem("mt.crt", await mtCert());
    const r = lint(cert, { ...MT_OPTS, privateKey: keys.p384, privateKeySource: "other.key" });
    expect(r.findings).toMatchObject([{ code: "KEY_MISMATCH", source: "mt.crt" }]);
    expect(r.findings[0]!.message).toContain("other.key");
    expect(codes(lint(cert, { ...MT_OPTS, privateKey: keys.p256 }))).toEqual([]);
    const csr = pem("c.csr", csrPem(d1Subject("TLSMA-ECDSA/123456/D1.PPR"), keys.p256));
    expect(codes(lint(csr, { ...D1_OPTS, privateKey: keys.rsa4096 }))).toEqual(["KEY_MISMATCH"]);
  });

  it("KEY_MISMATCH: a private key in the input that matches nothing", async () => {
    const items = [...pem("mt.crt", await mtCert()), ...pem("old.key", privateKeyToPem(keys.p384))];
    const r = lint(items, MT_OPTS);
    expect(r.findings).toMatchObject([{ code: "KEY_MISMATCH", source: "old.key" }]);
    expect(codes(lint([...pem("mt.crt", await mtCert()), ...pem("mt.key", privateKeyToPem(keys.p256))], MT_OPTS))).toEqual([]);
  });

  it("checks --key's type when there is nothing to match it with", () => {
    expect(codes(lint([], { program: "d1", privateKey: keys.rsa2048 }))).toEqual(["D1_RSA_2048_REFUSED"]);
  });
});

describe("chains", () => {
  it("CHAIN_ORDER: the issuer must follow each certificate, the leaf first", async () => {
    const leaf = await d1Leaf();
    const r = lint(pem("chain.pem", leaf, pki.root, pki.intermediate), D1_OPTS);
    expect(codes(r)).toEqual(["CHAIN_ORDER"]);
    expect(r.findings[0]!.source).toBe("chain.pem");
    expect(r.findings[0]!.hint).toMatch(/block 1 .*block 3 .*block 2 /);
    expect(codes(lint(pem("chain.pem", pki.root, pki.intermediate, leaf), D1_OPTS))).toEqual(["CHAIN_ORDER"]);
    expect(codes(lint(pem("chain.pem", leaf, pki.intermediate, pki.root), D1_OPTS))).toEqual([]);
  });

  it("issue 10: the leaf twice (leaf, chain, leaf): one CHAIN_ORDER naming the copy, the right order proposed", async () => {
    const leaf = await d1Leaf();
    const r = lint(pem("chain.pem", leaf, pki.intermediate, pki.root, leaf), D1_OPTS);
    expect(codes(r).filter((c) => c === "CHAIN_ORDER")).toHaveLength(1);
    const f = r.findings.find((x) => x.code === "CHAIN_ORDER")!;
    expect(f.message).toMatch(/same certificate more than once: block 1 .* again as block 4/);
    expect(f.hint).toMatch(/block 1 .*block 2 .*block 3 /);
    expect(f.hint).not.toContain("block 4");
    expect(new Set(r.findings.map((x) => `${x.code} ${x.message}`)).size).toBe(r.findings.length);
  });

  it("a bundle of CAs after the leaf's chain is not out of order", async () => {
    const other = await createTestPki({ validityHours: 24 * 400, rootCn: "Other Root" });
    expect(codes(lint(pem("chain.pem", await d1Leaf(), pki.intermediate, pki.root, other.root), D1_OPTS))).toEqual([]);
  });

  it("CHAIN_INCOMPLETE: a missing intermediate", async () => {
    const r = lint(pem("chain.pem", await d1Leaf(), pki.root), D1_OPTS);
    expect(codes(r)).toEqual(["CHAIN_INCOMPLETE"]);
    expect(r.findings[0]!.source).toBe("chain.pem (block 1)");
    expect(r.findings[0]!.message).toContain("mtlskit Test Intermediate CA");
  });

  it("the first non-CA certificate of each file is its client certificate", async () => {
    const a = await mtCert();
    const b = await mtCert({ cn: "another-cn" });
    const r = lint([...pem("a.crt", a), ...pem("b.crt", b)], MT_OPTS);
    expect(r.findings.map((f) => `${f.code} ${f.source}`)).toEqual(["CN_MISMATCH b.crt"]);
  });
});
