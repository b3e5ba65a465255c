import { describe, expect, it } from "vitest";
import type { Finding } from "../lint/index.js";
import { refusedFindings } from "./client-cert.js";

const f = (code: string, message: string, source: string): Finding => ({ code, severity: "error", message, hint: "", source });

describe("refusedFindings", () => {
  it("says each refused finding once, in lint's order, even when several blocks share it", () => {
    const text = refusedFindings([
      f("EKU_CLIENT_AUTH_MISSING", "the certificate is not for client authentication", "client.crt (block 1)"),
      f("KEY_TOO_WEAK", "RSA 1024 is below the minimum", "client.crt (block 1)"),
      f("EKU_CLIENT_AUTH_MISSING", "the certificate is not for client authentication", "client.crt (block 2)"),
    ]);
    expect(text).toBe("[EKU_CLIENT_AUTH_MISSING] the certificate is not for client authentication; [KEY_TOO_WEAK] RSA 1024 is below the minimum");
  });
});
