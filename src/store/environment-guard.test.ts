import { describe, expect, it } from "vitest";
import { d1, mt } from "../policy/index.js";
import { assertHostEnvironment, assertHostName, hostEnvironment, nameEnvironment } from "./environment-guard.js";

const preprod = { program: d1, environment: d1.environments[0]! };

describe("hosts", () => {
  it("accepts DNS names with or without a port, refuses IP addresses and non-names", () => {
    expect(assertHostName("api.d1-stg.thalescloud.io", "D1_API_HOST")).toBe("api.d1-stg.thalescloud.io");
    expect(assertHostName("tmg.dbp-stg.thalescloud.test:40003", "TSH_INBOUND_HOST")).toBe("tmg.dbp-stg.thalescloud.test:40003");
    for (const bad of ["127.0.0.1", "10.0.0.1:443", "[::1]:443", "::1"]) {
      expect(() => assertHostName(bad, "D1_API_HOST")).toThrow(expect.objectContaining({ code: "HOST_INVALID", message: expect.stringContaining("IP address") }));
    }
    for (const bad of ["localhost", "exa mple.com", "-bad.example.com", "host.example.com:99999", "https://x.example.com"]) {
      expect(() => assertHostName(bad, "D1_API_HOST")).toThrow(expect.objectContaining({ code: "HOST_INVALID" }));
    }
  });

  it("knows each environment's Thales host, real or mirrored under .test", () => {
    expect(hostEnvironment("api.d1.thalescloud.io")?.environment.id).toBe("production");
    expect(hostEnvironment("api.d1-stg.thalescloud.test:40003")?.environment.id).toBe("preprod");
    expect(hostEnvironment("tmg.dbp.thalescloud.test")?.program.id).toBe("mt");
    expect(hostEnvironment("partner.example.com")).toBeUndefined();
  });

  it("refuses the host of another environment or program", () => {
    expect(() => assertHostEnvironment(preprod, "api.d1.thalescloud.test:40004", "D1_API_HOST")).toThrow(
      expect.objectContaining({ code: "ENVIRONMENT_MISMATCH", message: expect.stringContaining("D1 eCom Production") }),
    );
    expect(() => assertHostEnvironment(preprod, "tmg.dbp-stg.thalescloud.io", "D1_API_HOST")).toThrow(expect.objectContaining({ code: "ENVIRONMENT_MISMATCH" }));
    expect(() => assertHostEnvironment(preprod, "api.d1-stg.thalescloud.io", "D1_API_HOST")).not.toThrow();
    expect(() => assertHostEnvironment(preprod, "gateway.example.com", "D1_API_HOST")).not.toThrow();
  });
});

describe("names of certificates", () => {
  it("reads the environment a name speaks of, from the policy's codes and labels", () => {
    expect(nameEnvironment(d1, "Thales Business PKI CA PRD")?.id).toBe("production");
    expect(nameEnvironment(d1, "TLSMA-ECDSA/123456/D1.PPR")?.id).toBe("preprod");
    expect(nameEnvironment(d1, "thales-notifier.d1-production.thalescloud.test")?.id).toBe("production");
    expect(nameEnvironment(mt, "thales-notifier.mt-sandbox.thalescloud.test")?.id).toBe("sandbox");
    // Ambiguous or silent names decide nothing.
    expect(nameEnvironment(d1, "Thales Pre-Production CA")).toBeUndefined();
    expect(nameEnvironment(d1, "Thales Client CA")).toBeUndefined();
    expect(nameEnvironment(d1, "Sprdx Corp")).toBeUndefined();
  });
});
