import { X509Certificate } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestCertificate, type TestPki } from "../testing/index.js";
import { chainTrusted, x509s } from "./client-trust.js";

let pki: TestPki;
let other: TestPki;
let leaf: TestCertificate;
const x = (c: TestCertificate) => new X509Certificate(c.certPem);

beforeAll(async () => {
  pki = await createTestPki({ intermediateCn: "Thales Client CA (test)" });
  other = await createTestPki({ rootCn: "Other Root", intermediateCn: "Other CA" });
  leaf = await pki.issue({ cn: "thales-client.test" });
});

describe("client trust of kept-alive connections", () => {
  it("reads every certificate of a PEM text, in order", () => {
    const certs = x509s(`${pki.intermediate.certPem}\n${pki.root.certPem}`);
    expect(certs.map((c) => c.fingerprint256)).toEqual([x(pki.intermediate).fingerprint256, x(pki.root).fingerprint256]);
    expect(x509s("no certificate here")).toEqual([]);
  });

  it("trusts a chain issued by a trusted CA, at the leaf or higher up", () => {
    expect(chainTrusted([x(leaf)], [x(pki.intermediate)])).toBe(true);
    // The root alone: trusted through the intermediate the peer presented.
    expect(chainTrusted([x(leaf), x(pki.intermediate)], [x(pki.root)])).toBe(true);
    // A trusted certificate presented as such.
    expect(chainTrusted([x(pki.intermediate)], [x(pki.intermediate)])).toBe(true);
  });

  it("does not trust a chain once its CA is no longer in the set", () => {
    expect(chainTrusted([x(leaf), x(pki.intermediate)], [x(other.intermediate), x(other.root)])).toBe(false);
    // Without the intermediate presented, the root alone cannot vouch for the leaf.
    expect(chainTrusted([x(leaf)], [x(pki.root)])).toBe(false);
    expect(chainTrusted([], [x(pki.root)])).toBe(false);
  });

  it("does not trust a certificate from another CA of the same name", async () => {
    const sameName = await createTestPki({ rootCn: "Another Root", intermediateCn: "Thales Client CA (test)" });
    const impostor = await sameName.issue({ cn: "thales-client.test" });
    expect(sameName.intermediate.info.subjectText).toBe(pki.intermediate.info.subjectText);
    expect(chainTrusted([x(impostor), x(sameName.intermediate)], [x(pki.intermediate), x(pki.root)])).toBe(false);
  });
});
