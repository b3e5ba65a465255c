import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { d1, getEnvironment, mt } from "../policy/index.js";
import { createTestPki, type TestCertificate, type TestPki } from "../testing/index.js";
import { judgeClient, opensslVerdict, type ParsedTrust, type Verdict, type VerdictInput } from "./client-verdict.js";
import { ALERT } from "./handshake-gate.js";

const fingerprint = (c: TestCertificate): string => createHash("sha256").update(c.der).digest("hex");
const client = (c: TestCertificate): VerdictInput["client"] => ({ cert: c.info, fingerprint: fingerprint(c) });

/** The refusal of a verdict, failing the test on an acceptance. */
function refusal(v: Verdict): { code: string; reason: string; alert: number } {
  if (v.ok) throw new Error(`expected a refusal, got an acceptance of '${v.identity.subject}'`);
  return { code: v.code, reason: v.reason, alert: v.alert };
}

describe("client verdict, D1 preprod (issuing CA)", () => {
  const environment = getEnvironment(d1, "preprod");
  let pki: TestPki;
  let otherPki: TestPki;
  let trust: ParsedTrust;
  let good: TestCertificate;

  const judge = (input: Partial<VerdictInput>): Verdict =>
    judgeClient({ program: d1, environment, trust, client: client(good), authorizationError: undefined, version: "TLSv1.3", now: Date.now(), ...input });

  beforeAll(async () => {
    pki = await createTestPki({ intermediateCn: "Thales Business PKI CA (test)" });
    otherPki = await createTestPki({ rootCn: "Other Root", intermediateCn: "Other CA" });
    const anchors = [pki.root.info, pki.intermediate.info];
    trust = { kind: "ca", anchors, pems: [pki.root.certPem, pki.intermediate.certPem] };
    good = await pki.issue({ cn: "TLSMA-ECDSA/gw123/D1.PPR" });
  });

  it("accepts the right certificate, with its merchantGatewayId", () => {
    const v = judge({});
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.identity).toEqual({ subject: good.info.subjectText, fingerprint: fingerprint(good), serialNumber: good.info.serialNumber, gatewayId: "gw123" });
    expect(v.cert).toBe(good.info);
  });

  it("NO_CLIENT_CERTIFICATE: handshake_failure in TLS 1.2, certificate_required in TLS 1.3", () => {
    const v12 = refusal(judge({ client: undefined, version: "TLSv1.2" }));
    expect(v12).toMatchObject({ code: "NO_CLIENT_CERTIFICATE", alert: ALERT.handshake_failure });
    expect(v12.reason).toContain("signed by the Thales Business PKI CA");
    expect(refusal(judge({ client: undefined, version: "TLSv1.3" }))).toMatchObject({ code: "NO_CLIENT_CERTIFICATE", alert: ALERT.certificate_required });
  });

  it("WRONG_ENVIRONMENT comes first, whatever else is wrong (here another CA too)", async () => {
    const prd = await otherPki.issue({ cn: "TLSMA-ECDSA/gw123/D1.PRD" });
    const r = refusal(judge({ client: client(prd) }));
    expect(r).toMatchObject({ code: "WRONG_ENVIRONMENT", alert: ALERT.access_denied });
    expect(r.reason).toContain("Production (D1.PRD)");
    expect(r.reason).toContain("requires D1.PPR");
  });

  it("UNKNOWN_CA: another CA, with OpenSSL's word when it has one", async () => {
    const foreign = await otherPki.issue({ cn: "TLSMA-ECDSA/gw123/D1.PPR" });
    const r = refusal(judge({ client: client(foreign), authorizationError: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY" }));
    expect(r).toMatchObject({ code: "UNKNOWN_CA", alert: ALERT.unknown_ca });
    expect(r.reason).toContain("issued by 'CN=Other CA'");
    expect(r.reason).toContain("(OpenSSL: UNABLE_TO_GET_ISSUER_CERT_LOCALLY)");
  });

  it("CERTIFICATE_EXPIRED and CERTIFICATE_NOT_YET_VALID, by the leaf's dates against `now`", () => {
    const after = refusal(judge({ now: good.info.notAfter.getTime() + 1 }));
    expect(after).toMatchObject({ code: "CERTIFICATE_EXPIRED", alert: ALERT.certificate_expired });
    expect(after.reason).toContain(`expired on ${good.info.notAfter.toISOString()}`);
    const before = refusal(judge({ now: good.info.notBefore.getTime() - 1 }));
    expect(before).toMatchObject({ code: "CERTIFICATE_NOT_YET_VALID", alert: ALERT.bad_certificate });
    expect(before.reason).toContain(`valid only from ${good.info.notBefore.toISOString()}`);
  });

  it("the rest of OpenSSL's verification of the chain (a CA expired, a purpose...)", () => {
    const cases: Array<[string, string, number]> = [
      ["CERT_HAS_EXPIRED", "CERTIFICATE_EXPIRED", ALERT.certificate_expired],
      ["CERT_NOT_YET_VALID", "CERTIFICATE_NOT_YET_VALID", ALERT.bad_certificate],
      ["INVALID_PURPOSE", "WRONG_KEY_USAGE", ALERT.unsupported_certificate],
      ["SELF_SIGNED_CERT_IN_CHAIN", "UNKNOWN_CA", ALERT.unknown_ca],
      ["CERT_SIGNATURE_FAILURE", "BAD_CERTIFICATE", ALERT.bad_certificate],
    ];
    for (const [error, code, alert] of cases) {
      expect(opensslVerdict(error)).toMatchObject({ code, alert });
      const r = refusal(judge({ authorizationError: error }));
      expect(r).toMatchObject({ code, alert });
      expect(r.reason).toContain(`(OpenSSL: ${error})`);
    }
  });

  it("WRONG_KEY_USAGE: no clientAuth extended key usage", async () => {
    const server = await pki.issue({ cn: "TLSMA-ECDSA/gw123/D1.PPR", usage: "server" });
    expect(refusal(judge({ client: client(server) }))).toMatchObject({ code: "WRONG_KEY_USAGE", alert: ALERT.unsupported_certificate });
  });

  it("KEY_TYPE_REFUSED: RSA 2048, with the program's own rule", async () => {
    const rsa = await pki.issue({ cn: "TLSMA-RSA/gw123/D1.PPR", keyType: "rsa-2048" });
    const r = refusal(judge({ client: client(rsa) }));
    expect(r).toMatchObject({ code: "KEY_TYPE_REFUSED", alert: ALERT.unsupported_certificate });
    expect(r.reason).toContain("RSA 2048");
  });

  it("CN_PATTERN: not the template, an unknown environment code, the wrong key label", async () => {
    const plain = refusal(judge({ client: client(await pki.issue({ cn: "merchant.example" })) }));
    expect(plain).toMatchObject({ code: "CN_PATTERN", alert: ALERT.access_denied });
    expect(plain.reason).toContain("does not follow TLSMA-{keyAlg}/{id}/D1.PPR");
    const code = refusal(judge({ client: client(await pki.issue({ cn: "TLSMA-ECDSA/gw123/D1.XYZ" })) }));
    expect(code).toMatchObject({ code: "CN_PATTERN", alert: ALERT.access_denied });
    expect(code.reason).toContain("environment code D1.XYZ");
    const label = refusal(judge({ client: client(await pki.issue({ cn: "TLSMA-RSA/gw123/D1.PPR" })) }));
    expect(label).toMatchObject({ code: "CN_PATTERN", alert: ALERT.access_denied });
    expect(label.reason).toContain("must start with TLSMA-ECDSA/");
  });
});

describe("client verdict, MT sandbox (pinned certificates)", () => {
  const environment = getEnvironment(mt, "sandbox");
  let pki: TestPki;
  let endorsed: TestCertificate;
  let trust: ParsedTrust;

  const judge = (input: Partial<VerdictInput>): Verdict =>
    judgeClient({ program: mt, environment, trust, client: client(endorsed), authorizationError: undefined, version: "TLSv1.2", now: Date.now(), ...input });

  beforeAll(async () => {
    pki = await createTestPki();
    endorsed = await pki.selfSigned({ cn: "mt-customer-1-sandbox" });
    trust = { kind: "pinned", pins: new Map([[fingerprint(endorsed), endorsed.info]]), pems: [endorsed.certPem] };
  });

  it("accepts an endorsed certificate whatever OpenSSL says of a self-signed chain; no gateway id", () => {
    const v = judge({ authorizationError: "DEPTH_ZERO_SELF_SIGNED_CERT" });
    expect(v.ok).toBe(true);
    if (v.ok) expect(v.identity).toMatchObject({ fingerprint: fingerprint(endorsed), gatewayId: undefined });
  });

  it("NO_CLIENT_CERTIFICATE asks for the endorsed certificate", () => {
    const r = refusal(judge({ client: undefined }));
    expect(r).toMatchObject({ code: "NO_CLIENT_CERTIFICATE", alert: ALERT.handshake_failure });
    expect(r.reason).toContain("the self-signed certificate endorsed for this environment");
  });

  it("NOT_ENDORSED, saying when the certificate is not even self-signed", async () => {
    const other = await pki.selfSigned({ cn: "mt-customer-2-sandbox" });
    const r = refusal(judge({ client: client(other) }));
    expect(r).toMatchObject({ code: "NOT_ENDORSED", alert: ALERT.unknown_ca });
    expect(r.reason).toContain(`sha256 ${fingerprint(other)}`);
    expect(r.reason).not.toContain("not self-signed");
    const issued = refusal(judge({ client: client(await pki.issue({ cn: "mt-customer-3-sandbox" })) }));
    expect(issued).toMatchObject({ code: "NOT_ENDORSED", alert: ALERT.unknown_ca });
    expect(issued.reason).toContain("it is not self-signed");
  });

  it("KEY_TYPE_REFUSED: RSA 4096 is not in MT's list", async () => {
    const rsa = await pki.selfSigned({ cn: "mt-customer-4-sandbox", keyType: "rsa-4096" });
    const pinned: ParsedTrust = { kind: "pinned", pins: new Map([[fingerprint(rsa), rsa.info]]), pems: [rsa.certPem] };
    const r = refusal(judge({ trust: pinned, client: client(rsa) }));
    expect(r).toMatchObject({ code: "KEY_TYPE_REFUSED", alert: ALERT.unsupported_certificate });
    expect(r.reason).toContain("RSA 4096");
  }, 60_000); // an RSA 4096 key takes seconds to generate on a busy machine
});
