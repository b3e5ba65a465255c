import { describe, expect, it } from "vitest";
import { requestRefusal, type RequestFacts } from "./request-handler.js";

const facts = (f: Partial<RequestFacts> = {}): RequestFacts => ({
  closing: false,
  connection: { overLimit: false, trustGeneration: 0 },
  contentLength: undefined,
  maxBodyBytes: 1024,
  trustGeneration: 0,
  stillTrusted: () => {
    throw new Error("asked whether the peer is still trusted although the trust did not change");
  },
  ...f,
});

describe("request refusals", () => {
  it("lets a request through on an accepted connection under the same trust", () => {
    expect(requestRefusal(facts())).toBeUndefined();
    expect(requestRefusal(facts({ contentLength: "1024" }))).toBeUndefined();
  });

  it("refuses every request while shutting down, first", () => {
    expect(requestRefusal(facts({ closing: true, connection: undefined, contentLength: "99999" }))).toBe("shutting_down");
  });

  it("refuses requests on a connection over maxConnections, or never accepted", () => {
    expect(requestRefusal(facts({ connection: { overLimit: true, trustGeneration: 0 }, contentLength: "99999" }))).toBe("max_connections");
    expect(requestRefusal(facts({ connection: undefined }))).toBe("max_connections");
  });

  it("refuses a declared body over the limit before reading it", () => {
    expect(requestRefusal(facts({ contentLength: "1025" }))).toBe("body_size");
  });

  it("asks about the trust only after it changed, and refuses when the peer's CA is gone", () => {
    let asked = 0;
    const changed = (trusted: boolean) => facts({ trustGeneration: 1, stillTrusted: () => (asked++, trusted) });
    expect(requestRefusal(changed(true))).toBeUndefined();
    expect(requestRefusal(changed(false))).toBe("trust_removed");
    expect(asked).toBe(2);
    // A body over the limit is refused without the trust check.
    expect(requestRefusal({ ...changed(false), contentLength: "2048" })).toBe("body_size");
    expect(asked).toBe(2);
  });
});
