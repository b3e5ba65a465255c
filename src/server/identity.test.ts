import { X509Certificate } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestCertificate } from "../testing/index.js";
import { checkAllowList, identityOf, IDENTITY_HEADERS, isIdentityHeader, rfc4514 } from "./identity.js";

let cert: TestCertificate;
beforeAll(async () => {
  const pki = await createTestPki({ intermediateCn: "Thales Client CA" });
  cert = await pki.issue({ subject: "/C=FR/O=Thales, Inc. \\/ é€/OU=a\\+b/CN=TLSMA-ECDSA\\/123\\/D1.PPR" });
});

describe("client identity", () => {
  it("writes subject and issuer as RFC 4514 strings, most specific first, ASCII only", () => {
    const id = identityOf(new X509Certificate(cert.certPem));
    expect(id.subject).toBe("CN=TLSMA-ECDSA/123/D1.PPR,OU=a\\+b,O=Thales\\, Inc. / \\C3\\A9\\E2\\82\\AC,C=FR");
    expect(id.issuer).toBe("CN=Thales Client CA");
    expect(id.subjectAttributes["O"]).toEqual(["Thales, Inc. / é€"]);
    expect(id.subjectAttributes["CN"]).toEqual(["TLSMA-ECDSA/123/D1.PPR"]);
  });

  it("carries fingerprint, serial, not-after, URL-encoded PEM and the RFC 9440 Client-Cert", () => {
    const id = identityOf(new X509Certificate(cert.certPem));
    const h = new Map<string, string>();
    for (let i = 0; i < id.headers.length; i += 2) h.set(id.headers[i]!, id.headers[i + 1]!);
    expect(h.get(IDENTITY_HEADERS.fingerprint)).toBe(cert.info.sha256Fingerprint);
    expect(h.get(IDENTITY_HEADERS.serial)).toBe(cert.info.serialNumber);
    expect(h.get(IDENTITY_HEADERS.notAfter)).toBe(cert.info.notAfter.toISOString().replace(/\.\d{3}Z$/, "Z"));
    expect(decodeURIComponent(h.get(IDENTITY_HEADERS.pem)!)).toBe(cert.certPem);
    expect(h.get(IDENTITY_HEADERS.rfc9440)).toBe(`:${Buffer.from(cert.der).toString("base64")}:`);
    for (const v of h.values()) expect(v).toMatch(/^[\x20-\x7e]*$/);
  });

  it("recognises every name that could pass for an identity", () => {
    for (const n of [...Object.values(IDENTITY_HEADERS), "client-cert-chain", "x-forwarded-client-cert", "x-client-cert-anything", "x-ssl-client-s-dn"]) expect(isIdentityHeader(n)).toBe(true);
    expect(isIdentityHeader("content-type")).toBe(false);
  });

  it("applies the CN / O allow-list on top of verification", () => {
    const id = identityOf(new X509Certificate(cert.certPem));
    expect(checkAllowList(id, undefined)).toBeUndefined();
    expect(checkAllowList(id, { commonNames: ["TLSMA-ECDSA/123/D1.PPR"] })).toBeUndefined();
    expect(checkAllowList(id, { organizations: ["Thales, Inc. / é€"] })).toBeUndefined();
    expect(checkAllowList(id, { commonNames: ["someone else"] })).toMatch(/CN/);
    expect(checkAllowList(id, { commonNames: ["TLSMA-ECDSA/123/D1.PPR"], organizations: ["Evil"] })).toMatch(/O/);
  });

  it("rfc4514 reverses Node's multi-line names", () => {
    expect(rfc4514("C=FR\nO=X\nCN=y")).toBe("CN=y,O=X,C=FR");
  });
});
