import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { closeNow, listenOn, notReadyReasons, portNotThales, urlOf } from "./listeners.js";

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) if (s.listening) await closeNow(s);
});

const v4 = (port: number): AddressInfo => ({ address: "0.0.0.0", family: "IPv4", port });

describe("listeners", () => {
  it("names a listener by the host asked for, or loopback when it listens on every interface", () => {
    expect(urlOf("https", v4(8443), undefined)).toBe("https://127.0.0.1:8443");
    expect(urlOf("https", v4(8443), "0.0.0.0")).toBe("https://127.0.0.1:8443");
    expect(urlOf("https", { address: "::", family: "IPv6", port: 8443 }, "::")).toBe("https://[::1]:8443");
    expect(urlOf("http", v4(9464), "10.1.2.3")).toBe("http://10.1.2.3:9464");
    expect(urlOf("http", { address: "::1", family: "IPv6", port: 9464 }, "::1")).toBe("http://[::1]:9464");
  });

  it("says why it is not ready", () => {
    const now = Date.parse("2026-12-06T00:00:00Z");
    const valid = { notAfter: new Date(now + 1000) };
    const expired = { notAfter: new Date(now - 1000) };
    expect(notReadyReasons({ closing: false, listening: true, set: { leaf: valid, cas: [valid] }, now })).toEqual([]);
    expect(notReadyReasons({ closing: true, listening: false, set: { leaf: expired, cas: [expired, expired] }, now })).toEqual([
      "shutting down",
      "not listening",
      `the server certificate expired on ${expired.notAfter.toISOString()}`,
      "every trusted client CA has expired",
    ]);
    expect(notReadyReasons({ closing: false, listening: true, set: { leaf: valid, cas: [expired, valid] }, now })).toEqual([]);
  });

  it("names the ports Thales calls when the listener is on another one, unless port 0 was asked for", () => {
    expect(portNotThales(8443, 8443, [443, 8443])).toBeUndefined();
    expect(portNotThales(9443, 9443, [443, 8443])).toEqual([443, 8443]);
    expect(portNotThales(40123, 0, [443, 8443])).toBeUndefined();
  });

  it("fails with LISTEN_FAILED naming the address when the port is in use", async () => {
    const first = http.createServer();
    servers.push(first);
    await listenOn(first, { host: "127.0.0.1", port: 0 }, "test listener");
    const port = (first.address() as AddressInfo).port;
    const second = http.createServer();
    servers.push(second);
    await expect(listenOn(second, { host: "127.0.0.1", port }, "admin listener")).rejects.toMatchObject({
      code: "LISTEN_FAILED",
      message: `the admin listener cannot listen on 127.0.0.1:${port}: the port is in use`,
    });
  });
});
