import { rootCertificates } from "node:tls";
import { describe, expect, it } from "vitest";
import { parseCertificate, parsePem } from "../pki/index.js";
import { createTestPki } from "../testing/index.js";
import { chainUp, isCa, mozillaRootFor, orderChain, verifyLinks } from "./chains.js";

describe("chains", () => {
  it("orders a shuffled chain leaf first and follows it up", async () => {
    const pki = await createTestPki();
    const leaf = await pki.issue({ cn: "leaf" });
    const ordered = orderChain([pki.root.info, leaf.info, pki.intermediate.info]);
    expect(ordered.map((c) => c.commonName)).toEqual(["leaf", "mtlskit Test Intermediate CA", "mtlskit Test Root CA"]);
    expect(chainUp(leaf.info, [pki.root.info, pki.intermediate.info]).map((c) => c.commonName)).toEqual(["leaf", "mtlskit Test Intermediate CA", "mtlskit Test Root CA"]);
    expect(isCa(pki.intermediate.info)).toBe(true);
    expect(isCa(leaf.info)).toBe(false);
  });

  it("refuses a link whose named issuer did not sign", async () => {
    const a = await createTestPki();
    const b = await createTestPki();
    expect(() => verifyLinks([a.intermediate.info, b.root.info], "X")).toThrow(expect.objectContaining({ code: "CHAIN_INVALID" }));
    expect(() => verifyLinks([a.intermediate.info, a.root.info], "X")).not.toThrow();
  });

  it("recognises node's bundled (Mozilla) roots, and not a private one", async () => {
    const pem = rootCertificates.find((r) => r.includes("BEGIN CERTIFICATE"))!;
    const root = parseCertificate(parsePem(pem, "root")[0]!.der);
    expect(mozillaRootFor(root)).toBeDefined();
    expect(mozillaRootFor((await createTestPki()).root.info)).toBeUndefined();
  });
});
