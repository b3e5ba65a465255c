import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isMtlsError, type ErrorCode } from "../errors/index.js";
import { looksLikePem, parsePem, toPem } from "./pem.js";

const der = new Uint8Array(Array.from({ length: 200 }, (_, i) => (i * 7 + 3) & 0xff));
const der2 = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05]);

function pemError(text: string, source = "chain.pem"): { code: ErrorCode; message: string } {
  try {
    parsePem(text, source);
  } catch (e) {
    if (isMtlsError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error("parsePem accepted the text");
}

describe("toPem", () => {
  it("writes 64-character base64 lines between BEGIN and END lines", () => {
    const text = toPem("CERTIFICATE", der);
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toBe("-----BEGIN CERTIFICATE-----");
    expect(lines[lines.length - 1]).toBe("-----END CERTIFICATE-----");
    const body = lines.slice(1, -1);
    expect(body.slice(0, -1).every((l) => l.length === 64)).toBe(true);
    expect(body[body.length - 1]!.length).toBeLessThanOrEqual(64);
    expect(text.endsWith("\n")).toBe(true);
  });

  it("round-trips through parsePem", () => {
    const [block] = parsePem(toPem("PRIVATE KEY", der));
    expect(block!.label).toBe("PRIVATE KEY");
    expect(Buffer.from(block!.der).equals(Buffer.from(der))).toBe(true);
    expect(block!.headers).toEqual({});
  });

  it("matches what node:crypto writes", () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const nodePem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const derBytes = privateKey.export({ type: "pkcs8", format: "der" });
    expect(toPem("PRIVATE KEY", derBytes)).toBe(nodePem);
  });
});

describe("parsePem", () => {
  it("reads several blocks in file order and ignores text around them", () => {
    const text = [
      "Bag Attributes",
      "    localKeyID: 01 02 03",
      "subject=CN = leaf",
      toPem("CERTIFICATE", der).trimEnd(),
      "issuer=CN = ca",
      "",
      toPem("CERTIFICATE", der2).trimEnd(),
      "# a comment",
      toPem("PRIVATE KEY", der),
    ].join("\n");
    const blocks = parsePem(text, "bundle.pem");
    expect(blocks.map((b) => b.label)).toEqual(["CERTIFICATE", "CERTIFICATE", "PRIVATE KEY"]);
    expect(Buffer.from(blocks[1]!.der).equals(Buffer.from(der2))).toBe(true);
    expect(blocks[0]!.text.startsWith("-----BEGIN CERTIFICATE-----")).toBe(true);
    expect(blocks[0]!.text.endsWith("-----END CERTIFICATE-----")).toBe(true);
  });

  it("accepts CRLF line endings and indented base64", () => {
    const text = toPem("CERTIFICATE", der)
      .split("\n")
      .map((l) => (l.startsWith("-----") ? l : `  ${l}`))
      .join("\r\n");
    const [block] = parsePem(text);
    expect(Buffer.from(block!.der).equals(Buffer.from(der))).toBe(true);
  });

  it("returns no block for text without PEM", () => {
    expect(parsePem("just some text\n")).toEqual([]);
    expect(parsePem("")).toEqual([]);
  });

  it("reads RFC 1421 headers of legacy encrypted keys apart from the base64", () => {
    const body = toPem("RSA PRIVATE KEY", der).split("\n");
    const text = [body[0], "Proc-Type: 4,ENCRYPTED", "DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF", "", ...body.slice(1)].join("\n");
    const [block] = parsePem(text);
    expect(block!.headers).toEqual({ "Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF" });
    expect(Buffer.from(block!.der).equals(Buffer.from(der))).toBe(true);
  });

  it("refuses a block without its END line, naming the file and the block", () => {
    const cut = toPem("CERTIFICATE", der).split("\n").slice(0, 3).join("\n");
    const e = pemError(toPem("CERTIFICATE", der2) + cut, "chain.pem");
    expect(e.code).toBe("PEM_MALFORMED");
    expect(e.message).toMatch(/^chain\.pem: PEM block 2 \(CERTIFICATE\)/);
    expect(e.message).toContain("-----END CERTIFICATE-----");
  });

  it("refuses a block whose END line has another label", () => {
    const text = toPem("CERTIFICATE", der).replace("-----END CERTIFICATE-----", "-----END PRIVATE KEY-----");
    expect(pemError(text).code).toBe("PEM_MALFORMED");
  });

  it("refuses a block cut off where the next one begins", () => {
    const first = toPem("CERTIFICATE", der).split("\n").slice(0, 3).join("\n");
    const e = pemError(`${first}\n${toPem("CERTIFICATE", der2)}`);
    expect(e.code).toBe("PEM_MALFORMED");
    expect(e.message).toContain("block 1");
  });

  it("refuses characters that are not base64", () => {
    const lines = toPem("CERTIFICATE", der).split("\n");
    lines[2] = `${lines[2]!.slice(0, 10)}*${lines[2]!.slice(11)}`;
    const e = pemError(lines.join("\n"));
    expect(e.code).toBe("PEM_MALFORMED");
    expect(e.message).toContain("not base64");
  });

  it("refuses base64 whose length shows that characters are missing", () => {
    const lines = toPem("CERTIFICATE", der).split("\n");
    lines[1] = lines[1]!.slice(0, 61);
    const e = pemError(lines.join("\n"));
    expect(e.code).toBe("PEM_MALFORMED");
    expect(e.message).toContain("truncated");
  });

  it("refuses an empty block", () => {
    const e = pemError("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
    expect(e.code).toBe("PEM_MALFORMED");
    expect(e.message).toContain("empty");
  });

  it("refuses a damaged BEGIN line", () => {
    expect(pemError("-----BEGIN certificate-----\nAAAA\n-----END certificate-----\n").code).toBe("PEM_MALFORMED");
  });
});

describe("looksLikePem", () => {
  it("tells PEM text from DER bytes", () => {
    expect(looksLikePem(Buffer.from(toPem("CERTIFICATE", der)))).toBe(true);
    expect(looksLikePem(Buffer.from(`junk before\n${toPem("CERTIFICATE", der)}`))).toBe(true);
    expect(looksLikePem(der)).toBe(false);
    expect(looksLikePem(new Uint8Array())).toBe(false);
  });
});
