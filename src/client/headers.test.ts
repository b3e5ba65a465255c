import { describe, expect, it } from "vitest";
import { getHeader, withHeader } from "./headers.js";

describe("request headers in every shape undici accepts", () => {
  it("reads a header case-insensitively from records, flat lists, pair lists and iterables", () => {
    expect(getHeader({ "X-Correlation-Id": "a" }, "x-correlation-id")).toBe("a");
    expect(getHeader(["accept", "*/*", "x-correlation-id", "b"], "X-Correlation-ID")).toBe("b");
    expect(getHeader([["X-Correlation-Id", "c"]] as unknown as string[], "x-correlation-id")).toBe("c");
    expect(getHeader(new Map([["x-correlation-id", "d"]]), "x-correlation-id")).toBe("d");
    expect(getHeader({ "x-correlation-id": ["e", "f"] }, "x-correlation-id")).toBe("e");
    expect(getHeader(null, "x")).toBeUndefined();
    expect(getHeader({ a: "1" }, "x")).toBeUndefined();
  });

  it("sets a header in the same shape, replacing any case of it, without touching the input", () => {
    const record = { Accept: "*/*", "X-Correlation-Id": "old" };
    expect(withHeader(record, "x-correlation-id", "new")).toEqual({ Accept: "*/*", "x-correlation-id": "new" });
    expect(record["X-Correlation-Id"]).toBe("old");
    expect(withHeader(["accept", "*/*", "X-Correlation-Id", "old"], "x-correlation-id", "new")).toEqual(["accept", "*/*", "x-correlation-id", "new"]);
    expect(withHeader([["accept", "*/*"]] as unknown as string[], "authorization", "Bearer t")).toEqual([
      ["accept", "*/*"],
      ["authorization", "Bearer t"],
    ]);
    expect(withHeader(new Map([["a", "1"]]), "b", "2")).toEqual([
      ["a", "1"],
      ["b", "2"],
    ]);
    expect(withHeader(undefined, "b", "2")).toEqual({ b: "2" });
  });
});
