import { describe, expect, it } from "vitest";
import { isMtlsError, type ErrorCode } from "../errors/index.js";
import {
  assertCustomerId,
  assertKeyAccepted,
  COMMON_NAME_MAX_LENGTH,
  d1,
  deriveCommonName,
  getEnvironment,
  getProgram,
  keyFamily,
  KEY_TYPES,
  mt,
  MT_MAX_VALIDITY_DAYS,
  parseKeyType,
  foldHeaderName,
  isStrippedHeader,
  STRIPPED_HEADERS,
  type KeyType,
} from "./index.js";

function error(fn: () => unknown): { code: ErrorCode; message: string; hint: string } {
  try {
    fn();
  } catch (e) {
    if (isMtlsError(e)) return { code: e.code, message: e.message, hint: e.hint };
    throw e;
  }
  throw new Error("expected an MtlsError");
}

const preprod = getEnvironment(d1, "preprod");
const production = getEnvironment(d1, "production");

describe("programs as data", () => {
  it("D1: PreProd (PPR) and Production (PRD), CSR signed by Thales, DN policy C ST L O OU", () => {
    expect(d1.environments.map((e) => [e.id, e.cnCode])).toEqual([
      ["preprod", "PPR"],
      ["production", "PRD"],
    ]);
    expect(d1.clientCertificate.issuance).toBe("thales-signed-csr");
    expect(d1.clientCertificate.requiredSubjectAttributes).toEqual(["C", "ST", "L", "O", "OU"]);
    expect(d1.clientCertificate.defaultKeyType).toBe("ecdsa-p256");
    expect(d1.clientCertificate.issuedValidityDays).toBe(5 * 365);
  });

  it("MT: Sandbox and Production, self-signed, at most 730 days, CN from the portal", () => {
    expect(mt.environments.map((e) => e.id)).toEqual(["sandbox", "production"]);
    expect(mt.clientCertificate.issuance).toBe("self-signed-endorsed");
    expect(mt.clientCertificate.maxValidityDays).toBe(730);
    expect(MT_MAX_VALIDITY_DAYS).toBe(730);
    expect(mt.clientCertificate.commonName.kind).toBe("portal-value");
    expect(mt.environments.map((e) => e.baseUrl)).toEqual(["https://tmg.dbp-stg.thalescloud.io:443/1/sandbox-v2/", "https://tmg.dbp.thalescloud.io:443/1/mg/"]);
  });
});

describe("lookups", () => {
  it("finds programs and environments, ignoring case", () => {
    expect(getProgram("d1")).toBe(d1);
    expect(getProgram("MT")).toBe(mt);
    expect(getEnvironment(d1, "PreProd").cnCode).toBe("PPR");
    expect(getEnvironment(mt, "sandbox").production).toBe(false);
    expect(getEnvironment(mt, "production").production).toBe(true);
  });

  it("refuses an unknown program", () => {
    const e = error(() => getProgram("d2"));
    expect(e.code).toBe("UNKNOWN_PROGRAM");
    expect(e.message).toBe("unknown program 'd2'");
  });

  it("refuses an environment of the other program, naming the valid ones", () => {
    const e = error(() => getEnvironment(d1, "sandbox"));
    expect(e.code).toBe("UNKNOWN_ENVIRONMENT");
    expect(e.hint).toContain("preprod, production");
    expect(error(() => getEnvironment(mt, "preprod")).hint).toContain("sandbox, production");
  });

  it("parses key types and their families", () => {
    for (const t of KEY_TYPES) expect(parseKeyType(t.toUpperCase())).toBe(t);
    expect(error(() => parseKeyType("rsa-1024")).code).toBe("UNKNOWN_KEY_TYPE");
    expect(error(() => parseKeyType("")).code).toBe("UNKNOWN_KEY_TYPE");
    expect(keyFamily("ecdsa-p256")).toBe("ec");
    expect(keyFamily("ecdsa-p384")).toBe("ec");
    expect(keyFamily("rsa-2048")).toBe("rsa");
    expect(keyFamily("rsa-4096")).toBe("rsa");
  });
});

describe("deriveCommonName: D1", () => {
  const cases: Array<[KeyType, "preprod" | "production", string]> = [
    ["ecdsa-p256", "preprod", "TLSMA-ECDSA/123456/D1.PPR"],
    ["ecdsa-p256", "production", "TLSMA-ECDSA/123456/D1.PRD"],
    ["rsa-4096", "preprod", "TLSMA-RSA/123456/D1.PPR"],
    ["rsa-4096", "production", "TLSMA-RSA/123456/D1.PRD"],
  ];
  it.each(cases)("%s in %s: %s", (keyType, env, cn) => {
    const environment = env === "preprod" ? preprod : production;
    const derived = deriveCommonName(d1, { environment, customerId: "123456", keyType });
    expect(derived).toBe(cn);
    const rule = d1.clientCertificate.commonName;
    if (rule.kind !== "template") throw new Error("D1 CN is a template");
    expect(rule.pattern.exec(derived)?.groups).toEqual({ keyAlg: keyType.startsWith("ecdsa") ? "ECDSA" : "RSA", id: "123456", envCode: environment.cnCode });
  });

  it("takes ids of letters, digits, '.', '_' and '-'", () => {
    expect(deriveCommonName(d1, { environment: preprod, customerId: "Gw_01.a-B", keyType: "ecdsa-p256" })).toBe("TLSMA-ECDSA/Gw_01.a-B/D1.PPR");
  });

  it.each(["", "a/b", "a b", " 123", "123\n", "é123", "a\\b", "a+b", "a,b", "a=b", "*"])("refuses the id %j", (id) => {
    const e = error(() => deriveCommonName(d1, { environment: preprod, customerId: id, keyType: "ecdsa-p256" }));
    expect(e.code).toBe("GATEWAY_ID_INVALID");
    expect(e.message).toContain("merchantGatewayId");
  });

  it("refuses a missing id", () => {
    expect(error(() => deriveCommonName(d1, { environment: preprod, keyType: "ecdsa-p256" })).code).toBe("GATEWAY_ID_INVALID");
  });

  it("refuses an id that would make the CN longer than 64 characters", () => {
    // "TLSMA-ECDSA/" + id + "/D1.PPR": 19 characters around the id; "TLSMA-RSA/...": 17.
    expect(COMMON_NAME_MAX_LENGTH).toBe(64);
    expect(deriveCommonName(d1, { environment: preprod, customerId: "x".repeat(45), keyType: "ecdsa-p256" })).toHaveLength(64);
    const e = error(() => deriveCommonName(d1, { environment: preprod, customerId: "x".repeat(46), keyType: "ecdsa-p256" }));
    expect(e.code).toBe("GATEWAY_ID_INVALID");
    expect(e.message).toContain("65 characters");
    expect(deriveCommonName(d1, { environment: production, customerId: "x".repeat(47), keyType: "rsa-4096" })).toHaveLength(64);
    expect(error(() => deriveCommonName(d1, { environment: production, customerId: "x".repeat(48), keyType: "rsa-4096" })).code).toBe("GATEWAY_ID_INVALID");
  });

  it("assertCustomerId names the program's label for the id", () => {
    expect(() => assertCustomerId(d1, "123456")).not.toThrow();
    expect(error(() => assertCustomerId(mt, "a/b")).message).toContain("customer identifier");
  });
});

describe("deriveCommonName: MT", () => {
  const sandbox = getEnvironment(mt, "sandbox");
  it("is the portal's value, whatever the key", () => {
    expect(deriveCommonName(mt, { environment: sandbox, keyType: "ecdsa-p384", portalValue: "MT-123456-SBX" })).toBe("MT-123456-SBX");
    expect(deriveCommonName(mt, { environment: sandbox, keyType: "rsa-2048", portalValue: "  cn with spaces around  " })).toBe("cn with spaces around");
  });

  it("needs the portal's value", () => {
    expect(error(() => deriveCommonName(mt, { environment: sandbox, keyType: "ecdsa-p256" })).code).toBe("USAGE");
    expect(error(() => deriveCommonName(mt, { environment: sandbox, keyType: "ecdsa-p256", portalValue: "   " })).code).toBe("USAGE");
  });

  it("refuses a CN over 64 characters", () => {
    expect(deriveCommonName(mt, { environment: sandbox, keyType: "ecdsa-p256", portalValue: "c".repeat(64) })).toHaveLength(64);
    expect(error(() => deriveCommonName(mt, { environment: sandbox, keyType: "ecdsa-p256", portalValue: "c".repeat(65) })).message).toContain("65 characters");
  });
});

describe("assertKeyAccepted", () => {
  it("D1 takes ECDSA P-256 and RSA 4096 with SHA-256", () => {
    expect(() => assertKeyAccepted(d1, "ecdsa-p256", "sha256")).not.toThrow();
    expect(() => assertKeyAccepted(d1, "rsa-4096", "sha256")).not.toThrow();
    expect(() => assertKeyAccepted(d1, "rsa-4096")).not.toThrow();
  });

  it("D1 refuses RSA 2048 with a sentence citing the rule", () => {
    const e = error(() => assertKeyAccepted(d1, "rsa-2048", "sha256"));
    expect(e.code).toBe("KEY_TYPE_REFUSED");
    expect(e.message).toContain("RSA 2048");
    expect(e.message).toContain("No, it is not possible.");
    expect(e.hint).toBe("Use one of: ecdsa-p256, rsa-4096.");
  });

  it("D1 refuses ECDSA P-384 and SHA-384", () => {
    expect(error(() => assertKeyAccepted(d1, "ecdsa-p384")).code).toBe("KEY_TYPE_REFUSED");
    expect(error(() => assertKeyAccepted(d1, "ecdsa-p256", "sha384")).code).toBe("HASH_REFUSED");
    expect(error(() => assertKeyAccepted(d1, "rsa-4096", "sha1")).code).toBe("HASH_REFUSED");
  });

  it("MT takes P-256, P-384 (also with SHA-384) and RSA 2048, and refuses RSA 4096", () => {
    expect(() => assertKeyAccepted(mt, "ecdsa-p256", "sha256")).not.toThrow();
    expect(() => assertKeyAccepted(mt, "ecdsa-p384", "sha256")).not.toThrow();
    expect(() => assertKeyAccepted(mt, "ecdsa-p384", "sha384")).not.toThrow();
    expect(() => assertKeyAccepted(mt, "rsa-2048", "sha256")).not.toThrow();
    expect(error(() => assertKeyAccepted(mt, "ecdsa-p256", "sha384")).code).toBe("HASH_REFUSED");
    expect(error(() => assertKeyAccepted(mt, "rsa-2048", "sha384")).code).toBe("HASH_REFUSED");
    const e = error(() => assertKeyAccepted(mt, "rsa-4096"));
    expect(e.code).toBe("KEY_TYPE_REFUSED");
    expect(e.message).toContain("RSA 4096");
  });
});

describe("identity headers", () => {
  it("folds names as WSGI/CGI do, and strips every documented one in any spelling", () => {
    expect(foldHeaderName("X_Client_Cert-Subject")).toBe("x-client-cert-subject");
    for (const h of STRIPPED_HEADERS) {
      const name = h.name.endsWith("*") ? `${h.name.slice(0, -1)}anything` : h.name;
      for (const spelling of [name, name.toUpperCase(), name.replace(/-/g, "_"), name.toUpperCase().replace(/-/g, "_")]) expect(isStrippedHeader(spelling), spelling).toBe(true);
    }
    for (const kept of ["content-type", "authorization", "x-api-key", "user-agent", "content-length"]) expect(isStrippedHeader(kept)).toBe(false);
  });

  it("never takes a name of Object.prototype for a program", () => {
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) expect(error(() => getProgram(name)).code).toBe("UNKNOWN_PROGRAM");
  });
});
