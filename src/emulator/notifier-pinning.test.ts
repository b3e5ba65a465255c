import type { PeerCertificate } from "node:tls";
import { beforeAll, describe, expect, it } from "vitest";
import { fingerprint } from "../pki/index.js";
import { createTestPki, type TestCertificate, type TestPki } from "../testing/index.js";
import { checkApiKey, checkIssuerHost, checkPin, ConfigurationError, pinnedTrust } from "./notifier-pinning.js";
import { describeError, presentedChain } from "./notifier-transport.js";

let pki: TestPki;
let server: TestCertificate;
let sibling: TestCertificate;
const peer = (c: TestCertificate) => ({ raw: Buffer.from(c.der), subject: { CN: c.info.subjectText.replace(/^CN=/, "") } as PeerCertificate["subject"] });

beforeAll(async () => {
  pki = await createTestPki({ intermediateCn: "Customer CA" });
  server = await pki.issue({ cn: "notify.customer.test", usage: "server", dns: ["notify.customer.test"] });
  sibling = await pki.issue({ cn: "other.customer.test", usage: "server", dns: ["notify.customer.test"] });
});

describe("registration checks", () => {
  it("normalises ISSUER_HOST and refuses an IP address, as a usage error or at attempt time", () => {
    expect(checkIssuerHost("Notify.Customer.Test.", undefined)).toBe("notify.customer.test");
    expect(checkIssuerHost("notify.customer.test:443", undefined)).toBe("notify.customer.test");
    expect(checkIssuerHost("notify.customer.test:8443", undefined)).toBe("notify.customer.test:8443");
    expect(() => checkIssuerHost("127.0.0.1", undefined)).toThrow(expect.objectContaining({ code: "USAGE", message: expect.stringMatching(/^ISSUER_HOST /) }));
    expect(() => checkIssuerHost("127.0.0.1", ConfigurationError)).toThrow(ConfigurationError);
  });

  it("requires an MT API key that fits in a header", () => {
    expect(checkApiKey("k-123", undefined)).toBe("k-123");
    expect(() => checkApiKey(undefined, undefined)).toThrow(expect.objectContaining({ code: "USAGE" }));
    expect(() => checkApiKey("", ConfigurationError)).toThrow(ConfigurationError);
    expect(() => checkApiKey("two words", ConfigurationError)).toThrow(/cannot go in a header/);
  });
});

describe("pinning the registered chain", () => {
  it("pins the registered leaf: another certificate of the same CA is refused with ERR_SERVER_CERT_NOT_PINNED", () => {
    const trust = pinnedTrust("k", `${server.certPem}${pki.intermediate.certPem}`);
    expect(trust.caPem).toHaveLength(2);
    expect([...trust.leafFingerprints]).toEqual([fingerprint(server.der, "hex")]);
    expect(checkPin("notify.customer.test", peer(server), trust)).toBeUndefined();
    const refused = checkPin("notify.customer.test", peer(sibling), trust) as Error & { code: string };
    expect(refused.code).toBe("ERR_SERVER_CERT_NOT_PINNED");
    expect(refused.message).toContain("is not one the customer registered");
  });

  it("pins at the CA when the registration holds CA certificates only", () => {
    const trust = pinnedTrust("k", `${pki.intermediate.certPem}${pki.root.certPem}`);
    expect(trust.leafFingerprints.size).toBe(0);
    expect(checkPin("notify.customer.test", peer(sibling), trust)).toBeUndefined();
  });

  it("refuses a registration with no certificate, or one that cannot be read, as a configuration problem", () => {
    expect(() => pinnedTrust("k", "")).toThrow(ConfigurationError);
    expect(() => pinnedTrust("k", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")).toThrow(ConfigurationError);
  });
});

describe("the transport's pure parts", () => {
  it("presents the leaf then its chain, once", () => {
    const c = { certPem: server.certPem, keyPem: server.keyPem, chainPem: "" };
    expect(presentedChain(c)).toBe(`${server.certPem.trim()}\n`);
    expect(presentedChain({ ...c, chainPem: server.chainPem })).toBe(`${server.chainPem.trim()}\n`);
    expect(presentedChain({ ...c, chainPem: pki.intermediate.certPem })).toBe(`${server.certPem.trim()}\n${pki.intermediate.certPem.trim()}\n`);
  });

  it("describes an error by its codes and messages down its causes", () => {
    const inner = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
    const outer = Object.assign(new Error("fetch failed", { cause: inner }), { code: "UND_ERR_SOCKET" });
    expect(describeError(outer)).toBe("UND_ERR_SOCKET: fetch failed <- connect ECONNREFUSED 127.0.0.1:9");
    expect(describeError(new AggregateError([new Error("a"), new Error("b")]))).toBe("a; b");
    expect(describeError(undefined)).toBe("unknown error");
  });
});
