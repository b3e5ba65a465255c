import { describe, expect, it } from "vitest";
import { isMtlsError } from "../errors/index.js";
import { oidOf, parseDer, timeOf } from "./asn1.js";
import { colonHex } from "./fingerprint.js";

/** A DER TLV with a short length. */
function tlv(tag: number, content: Uint8Array | string): Uint8Array {
  const bytes = typeof content === "string" ? Buffer.from(content, "latin1") : content;
  return new Uint8Array([tag, bytes.length, ...bytes]);
}

const utc = (s: string) => timeOf(parseDer(tlv(23, s)));
const gen = (s: string) => timeOf(parseDer(tlv(24, s)));

function timeError(read: () => Date): string {
  try {
    read();
  } catch (e) {
    if (isMtlsError(e)) return e.code;
    throw e;
  }
  return "accepted";
}

describe("timeOf", () => {
  it("reads the usual UTCTime and GeneralizedTime forms", () => {
    expect(utc("260506070809Z").toISOString()).toBe("2026-05-06T07:08:09.000Z");
    expect(utc("500101000000Z").toISOString()).toBe("1950-01-01T00:00:00.000Z");
    expect(utc("491231235959Z").toISOString()).toBe("2049-12-31T23:59:59.000Z");
    expect(gen("20500101000000Z").toISOString()).toBe("2050-01-01T00:00:00.000Z");
    expect(gen("99991231235959Z").toISOString()).toBe("9999-12-31T23:59:59.000Z");
  });

  it("reads the other forms by the general rules", () => {
    expect(utc("2605060708Z").toISOString()).toBe("2026-05-06T07:08:00.000Z");
    expect(gen("20260506070809.5Z").toISOString()).toBe("2026-05-06T07:08:09.000Z");
    expect(gen("00500101000000Z").getUTCFullYear()).toBe(1950);
    expect(timeError(() => utc("260506070809+0100"))).toBe("INPUT_NOT_RECOGNIZED");
    expect(timeError(() => utc("2605060708091Z"))).toBe("INPUT_NOT_RECOGNIZED");
  });

  it("knows leap years and refuses fields out of range with TIME_INVALID", () => {
    expect(utc("240229000000Z").toISOString()).toBe("2024-02-29T00:00:00.000Z");
    expect(gen("20000229000000Z").toISOString()).toBe("2000-02-29T00:00:00.000Z");
    expect(timeError(() => utc("230229000000Z"))).toBe("TIME_INVALID");
    expect(timeError(() => gen("21000229000000Z"))).toBe("TIME_INVALID");
    expect(timeError(() => utc("260431000000Z"))).toBe("TIME_INVALID");
    expect(timeError(() => utc("261301000000Z"))).toBe("TIME_INVALID");
    expect(timeError(() => utc("260100000000Z"))).toBe("TIME_INVALID");
    expect(timeError(() => utc("260101240000Z"))).toBe("TIME_INVALID");
    expect(timeError(() => utc("260101006000Z"))).toBe("TIME_INVALID");
    expect(timeError(() => utc("260101000060Z"))).toBe("TIME_INVALID");
  });
});

describe("oidOf", () => {
  it("reads every arc, the first two from the first byte", () => {
    expect(oidOf(parseDer(tlv(6, new Uint8Array([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]))))).toBe("1.2.840.10045.2.1");
    expect(oidOf(parseDer(tlv(6, new Uint8Array([0x55, 0x04, 0x03]))))).toBe("2.5.4.3");
    expect(oidOf(parseDer(tlv(6, new Uint8Array([0x00]))))).toBe("0.0");
    expect(oidOf(parseDer(tlv(6, new Uint8Array([0x88, 0x37, 0x03]))))).toBe("2.999.3");
    expect(() => oidOf(parseDer(tlv(6, new Uint8Array([]))))).toThrow(/empty OBJECT IDENTIFIER/);
  });
});

describe("colonHex", () => {
  it("writes upper-case hex pairs joined by colons", () => {
    expect(colonHex(new Uint8Array([0x00, 0x0f, 0xa0, 0xff]))).toBe("00:0F:A0:FF");
    expect(colonHex(new Uint8Array([7]))).toBe("07");
    expect(colonHex(new Uint8Array([]))).toBe("");
  });
});
