import { describe, expect, it } from "vitest";
import { parseHostPort } from "./host-port.js";

describe("parseHostPort: the one host[:port] rule", () => {
  it("accepts DNS names of two labels or more, with an optional port, normalised", () => {
    expect(parseHostPort("api.d1-stg.thalescloud.io")).toEqual({ ok: true, host: "api.d1-stg.thalescloud.io" });
    expect(parseHostPort(" Notify.Example.COM.:8443 ")).toEqual({ ok: true, host: "notify.example.com", port: 8443 });
    expect(parseHostPort("tmg.dbp-stg.thalescloud.test:40003")).toEqual({ ok: true, host: "tmg.dbp-stg.thalescloud.test", port: 40003 });
  });

  it("refuses IP addresses in every form a client reads as one", () => {
    for (const v of ["127.0.0.1", "127.0.0.1:8443", "[::1]:8443", "::1", "10.0.0.1", "2130706433", "0x7f.1:443", "[2001:db8::1]"]) {
      expect(parseHostPort(v), v).toMatchObject({ ok: false, problem: "ip" });
    }
  });

  it("refuses single-label names such as localhost: Thales calls a name on the internet (store, portal and notifier agree)", () => {
    for (const v of ["localhost", "localhost:8443", "issuer"]) expect(parseHostPort(v), v).toMatchObject({ ok: false, problem: "name" });
  });

  it("names each other problem", () => {
    expect(parseHostPort("https://issuer.example.test")).toMatchObject({ ok: false, problem: "url" });
    for (const v of ["issuer.example.test/path", "exa mple.com", "user@issuer.example.test", "[issuer]:443", "a:b:c"]) expect(parseHostPort(v), v).toMatchObject({ ok: false, problem: "syntax" });
    for (const v of ["-bad-.test", "host.123", "", "a..b.test", `${"x".repeat(64)}.test`]) expect(parseHostPort(v), v).toMatchObject({ ok: false, problem: "name" });
    for (const v of ["issuer.example.test:99999", "issuer.example.test:0", "issuer.example.test:", "issuer.example.test:8x"]) expect(parseHostPort(v), v).toMatchObject({ ok: false, problem: "port" });
    const r = parseHostPort("10.0.0.1");
    expect(!r.ok && r.message).toContain("'10.0.0.1' is an IP address");
  });
});
