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
    [err("ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION"), null, "protocol_version"],
    [err("ERR_SSL_NO_SHARED_SIGNATURE_ALGORITHMS"), null, "no_shared_cipher"],
    [err("", "C0:error:0A0000C1:SSL routines:tls_post_process_client_hello:no shared cipher:../ssl/statem/statem_srvr.c:2220:"), null, "no_shared_cipher"],
    [err("", "C0:error:0A000102:SSL routines:tls_early_post_process_client_hello:unsupported protocol:../ssl/statem/statem_srvr.c:1657:"), null, "protocol_version"],
    [err("ERR_SSL_TLSV1_ALERT_ACCESS_DENIED"), null, "server_certificate_refused"],
    [err("", "C0:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:../ssl/record/rec_layer_s3.c:1605:SSL alert number 48"), null, "server_certificate_refused"],
    [err("ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR"), null, "other"],
    [err("ERR_SOMETHING_NEW"), null, "other"],
  ])("%s / %s -> %s", (e, authorizationError, reason) => {
    const c = classifyHandshakeError(e, authorizationError);
    expect(c.reason).toBe(reason);
    expect(c.message.length).toBeGreaterThan(10);
  });

  it("names OpenSSL's reason and the alert the client sent (what the emulator's handshake log shows)", () => {
    const c = classifyHandshakeError(err("ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR", "C0:error:0A000438:SSL routines:ssl3_read_bytes:tlsv1 alert internal error:../ssl/record/rec_layer_s3.c:1605:SSL alert number 80"));
    expect(c).toMatchObject({ reason: "other", alert: "internal error", openssl: "tlsv1 alert internal error" });
    expect(classifyHandshakeError(err("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA")).alert).toBe("unknown ca");
    expect(classifyHandshakeError(err("ECONNRESET", "socket hang up")).alert).toBeUndefined();
  });

  it("keeps the verification code as the detail", () => {
    expect(classifyHandshakeError(err("ECONNRESET"), "CERT_HAS_EXPIRED").detail).toBe("CERT_HAS_EXPIRED");
  });
});
