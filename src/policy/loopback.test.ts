import { describe, expect, it } from "vitest";
import { isLoopback, isLoopbackAddress } from "./loopback.js";

describe("isLoopback", () => {
  it.each(["127.0.0.1", "127.255.0.9", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "localhost", "LOCALHOST", "localhost."])("%s is loopback", (h) => {
    expect(isLoopback(h)).toBe(true);
  });
  it.each(["127.evil.com", "localhost.evil.com", "evil-localhost", "128.0.0.1", "10.0.0.1", "::2", "::ffff:10.0.0.1", "0.0.0.0", "::", "", "127.0.0.1.nip.io", "[127.0.0.1"])("%s is not loopback", (h) => {
    expect(isLoopback(h)).toBe(false);
  });
  it("isLoopbackAddress refuses names, localhost included", () => {
    expect(isLoopbackAddress("localhost")).toBe(false);
    expect(isLoopbackAddress("127.0.0.2")).toBe(true);
    expect(isLoopbackAddress("::ffff:127.0.0.1")).toBe(true);
  });
});
