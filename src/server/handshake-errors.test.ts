import { describe, expect, it } from "vitest";
import { classifyHandshakeError } from "./handshake-errors.js";

const err = (code: string, message = "x") => Object.assign(new Error(message), { code });

describe("classifyHandshakeError", () => {
  it.each([
    [err("ECONNRESET", "socket hang up"), "CERT_HAS_EXPIRED", "expired"],
    [err("ECONNRESET", "socket hang up"), "CERT_NOT_YET_VALID", "not_yet_valid"],
    [err("ECONNRESET", "socket hang up"), "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "unknown_ca"],
    [err("ECONNRESET", "socket hang up"), "DEPTH_ZERO_SELF_SIGNED_CERT", "unknown_ca"],
    [err("ECONNRESET", "socket hang up"), "CERT_SIGNATURE_FAILURE", "bad_certificate"],
    [err("ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"), null, "no_certificate"],
    [err("ERR_SSL_UNSUPPORTED_PROTOCOL"), null, "protocol_version"],
    [err("ERR_SSL_NO_SHARED_CIPHER"), null, "no_shared_cipher"],
    [err("ERR_SSL_HTTP_REQUEST"), null, "not_tls"],
    [err("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA"), null, "server_certificate_refused"],
    [err("ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE"), null, "server_certificate_refused"],
    [err("ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE"), null, "server_certificate_refused"],
    [err("ECONNRESET", "socket hang up"), null, "aborted"],
    [err("", "TLS handshake timeout"), null, "handshake_timeout"],
    [err("ERR_SOMETHING_NEW"), null, "other"],
  ])("%s / %s -> %s", (e, authorizationError, reason) => {
    const c = classifyHandshakeError(e, authorizationError);
    expect(c.reason).toBe(reason);
    expect(c.message.length).toBeGreaterThan(10);
  });

  it("keeps the verification code as the detail", () => {
    expect(classifyHandshakeError(err("ECONNRESET"), "CERT_HAS_EXPIRED").detail).toBe("CERT_HAS_EXPIRED");
  });
});
