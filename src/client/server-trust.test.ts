import { describe, expect, it } from "vitest";
import { d1, mt } from "../policy/index.js";
import { checkTrustRule, type ChainLink } from "./server-trust.js";

const link = (subjectCn: string, issuerCn: string): ChainLink => ({ subjectCn, issuerCn, subject: `CN=${subjectCn}` });

describe("the programs' server trust rules", () => {
  it("MT: the chain must contain the CA named by the policy, not as the leaf", () => {
    const good = [link("tmg.dbp-stg.thalescloud.io", "DigiCert SHA2 High Assurance Server CA"), link("DigiCert SHA2 High Assurance Server CA", "DigiCert High Assurance EV Root CA"), link("DigiCert High Assurance EV Root CA", "DigiCert High Assurance EV Root CA")];
    expect(checkTrustRule(mt, good)).toMatchObject({ ok: true, matched: "DigiCert SHA2 High Assurance Server CA" });
    const other = [link("tmg.dbp-stg.thalescloud.io", "Proxy CA"), link("Proxy CA", "Proxy CA")];
    const v = checkTrustRule(mt, other);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.message).toContain('does not contain the CA "DigiCert SHA2 High Assurance Server CA"');
    expect(checkTrustRule(mt, [link("DigiCert SHA2 High Assurance Server CA", "x")]).ok).toBe(false);
  });

  it("D1: the chain must reach one of the Amazon roots, named or as the top's issuer", () => {
    expect(checkTrustRule(d1, [link("api.d1-stg.thalescloud.io", "Amazon RSA 2048 M02"), link("Amazon RSA 2048 M02", "Amazon Root CA 1"), link("Amazon Root CA 1", "Amazon Root CA 1")])).toMatchObject({ ok: true, matched: "Amazon Root CA 1" });
    expect(checkTrustRule(d1, [link("api.d1-stg.thalescloud.io", "Amazon RSA 2048 M02"), link("Amazon RSA 2048 M02", "Starfield Services Root Certificate Authority - G2")])).toMatchObject({ ok: true });
    const v = checkTrustRule(d1, [link("api.d1-stg.thalescloud.io", "Let's Encrypt R3"), link("Let's Encrypt R3", "ISRG Root X1")]);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.message).toContain("Amazon Trust Services root");
  });
});
