/**
 * The client verdict of the emulator's API endpoint (see `api-server.ts`): from the client
 * certificate of a finished handshake, OpenSSL's verification result and the program's rules,
 * either the authenticated identity or the refusal (a {@link HandshakeCode}, a sentence saying
 * what to do, and the TLS alert the handshake gate sends). A pure function of its input: the
 * endpoint parses the peer certificate and reads the clock, {@link judgeClient} decides.
 */
import { OID, type CertificateInfo } from "../pki/index.js";
import { keyFamily, type EnvironmentPolicy, type ProgramPolicy } from "../policy/index.js";
import type { HandshakeCode } from "./api-server.js";
import { ALERT } from "./handshake-gate.js";

/** The authenticated client, attached to its connection. */
export interface ClientIdentity {
  subject: string;
  fingerprint: string;
  serialNumber: string;
  /** D1: the merchantGatewayId of the CN. */
  gatewayId: string | undefined;
}

/** The verdict on a client: accepted with its identity, or refused with a code, a sentence and the alert to send. */
export type Verdict = { ok: true; identity: ClientIdentity; cert: CertificateInfo } | { ok: false; code: HandshakeCode; reason: string; alert: number; cert?: CertificateInfo };

/** Trust in force, parsed once per `ApiServer.setClientTrust`. */
export type ParsedTrust = { kind: "ca"; anchors: CertificateInfo[]; pems: string[] } | { kind: "pinned"; pins: Map<string, CertificateInfo>; pems: string[] };

/** OpenSSL's verification error (Node's `authorizationError`) as a code, alert and sentence. */
export function opensslVerdict(error: string): { code: HandshakeCode; alert: number; text: string } {
  switch (error) {
    case "CERT_HAS_EXPIRED":
      return { code: "CERTIFICATE_EXPIRED", alert: ALERT.certificate_expired, text: "a certificate of the chain has expired" };
    case "CERT_NOT_YET_VALID":
      return { code: "CERTIFICATE_NOT_YET_VALID", alert: ALERT.bad_certificate, text: "a certificate of the chain is not valid yet" };
    case "INVALID_PURPOSE":
      return { code: "WRONG_KEY_USAGE", alert: ALERT.unsupported_certificate, text: "a certificate of the chain may not be used for TLS client authentication" };
    case "UNABLE_TO_GET_ISSUER_CERT":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "CERT_UNTRUSTED":
    case "INVALID_CA":
    case "CERT_CHAIN_TOO_LONG":
    case "PATH_LENGTH_EXCEEDED":
      return { code: "UNKNOWN_CA", alert: ALERT.unknown_ca, text: "the chain does not lead to a trusted root" };
    default:
      return { code: "BAD_CERTIFICATE", alert: ALERT.bad_certificate, text: "the certificate fails verification" };
  }
}

function iso(d: Date): string {
  return d.toISOString();
}

/** What {@link judgeClient} decides on. */
export interface VerdictInput {
  program: ProgramPolicy;
  environment: EnvironmentPolicy;
  trust: ParsedTrust;
  /**
   * The client certificate (leaf) and the SHA-256 of its DER in lowercase hex (the pins' key);
   * undefined when the client sent none.
   */
  client: { cert: CertificateInfo; fingerprint: string } | undefined;
  /** OpenSSL's verification error of the chain (Node's `authorizationError`), if any. */
  authorizationError: string | undefined;
  /** The negotiated version ("TLSv1.2", "TLSv1.3"), as `getProtocol()` says. */
  version: string | null;
  /** The time of the decision, in ms since the epoch. */
  now: number;
}

/**
 * Applies the program's rules to the client certificate of a finished handshake: who is
 * allowed, or which refusal (code, sentence, alert). Pure: everything it reads is in `input`.
 */
export function judgeClient(input: VerdictInput): Verdict {
  const { program, environment, trust, client, authorizationError, version, now } = input;
  const programEnv = `${program.name} ${environment.label}`;
  if (!client) {
    const expected = trust.kind === "pinned" ? "the self-signed certificate endorsed for this environment" : "the certificate signed by the Thales Business PKI CA for this environment";
    return {
      ok: false,
      code: "NO_CLIENT_CERTIFICATE",
      reason: `the client sent no certificate; ${programEnv} requires mutual TLS: present ${expected}`,
      alert: version === "TLSv1.3" ? ALERT.certificate_required : ALERT.handshake_failure,
    };
  }
  const { cert, fingerprint } = client;
  const refuse = (code: HandshakeCode, reason: string, alert: number): Verdict => ({ ok: false, code, reason, alert, cert });
  const cnRule = program.clientCertificate.commonName;
  const cn = cert.commonName ?? "";
  const cnMatch = cnRule.kind === "template" ? cnRule.pattern.exec(cn) : null;

  // 1. A certificate of another environment: the most useful thing to say, whatever else is wrong.
  if (cnRule.kind === "template" && cnMatch?.groups) {
    const code = cnMatch.groups.envCode;
    const other = program.environments.find((e) => e.cnCode === code && e.id !== environment.id);
    if (other) {
      return refuse(
        "WRONG_ENVIRONMENT",
        `the certificate '${cn}' is for ${program.name} ${other.label} (D1.${code}); this is the ${environment.label} endpoint, which requires D1.${environment.cnCode ?? "?"}: environments are isolated, use the ${environment.label} certificate`,
        ALERT.access_denied,
      );
    }
  }

  // 2. Trust: pinned certificate (MT) or issuing CA (D1).
  if (trust.kind === "pinned") {
    if (!trust.pins.has(fingerprint)) {
      const notSelfSigned = cert.selfIssued ? "" : " (and it is not self-signed: MT expects a self-signed certificate)";
      return refuse(
        "NOT_ENDORSED",
        `the certificate '${cert.subjectText}' (sha256 ${fingerprint}) is not endorsed for ${programEnv}${notSelfSigned}: endorse it in the Thales portal for this environment first`,
        ALERT.unknown_ca,
      );
    }
  } else {
    const issuer = trust.anchors.find((a) => cert.x509.checkIssued(a.x509) && cert.x509.verify(a.publicKey));
    if (!issuer) {
      const openssl = authorizationError ? ` (OpenSSL: ${authorizationError})` : "";
      const expected = trust.anchors.map((a) => `'${a.subjectText}'`).join(" or ");
      return refuse(
        "UNKNOWN_CA",
        `the certificate '${cert.subjectText}' is issued by '${cert.issuerText}', not by ${expected}, the CA of ${programEnv}${openssl}: use the certificate Thales signed for this environment`,
        ALERT.unknown_ca,
      );
    }
  }

  // 3. Dates of the leaf.
  if (cert.notAfter.getTime() < now) {
    return refuse("CERTIFICATE_EXPIRED", `the certificate '${cert.subjectText}' expired on ${iso(cert.notAfter)}: renew it`, ALERT.certificate_expired);
  }
  if (cert.notBefore.getTime() > now) {
    return refuse("CERTIFICATE_NOT_YET_VALID", `the certificate '${cert.subjectText}' is valid only from ${iso(cert.notBefore)}: check the clocks`, ALERT.bad_certificate);
  }

  // 4. The rest of OpenSSL's verification of a CA-issued chain (a CA expired, purpose...).
  if (trust.kind === "ca" && authorizationError) {
    const v = opensslVerdict(authorizationError);
    return refuse(v.code, `the certificate '${cert.subjectText}' was refused: ${v.text} (OpenSSL: ${authorizationError})`, v.alert);
  }

  // 5. Usage and key type.
  const eku = cert.extKeyUsage;
  if (eku && !eku.includes(OID.clientAuth) && !eku.includes("2.5.29.37.0")) {
    return refuse("WRONG_KEY_USAGE", `the certificate '${cert.subjectText}' has no clientAuth extended key usage: it cannot authenticate a TLS client`, ALERT.unsupported_certificate);
  }
  const accepted = program.clientCertificate.accepted.map((a) => a.keyType);
  if (!cert.keyType || !accepted.includes(cert.keyType)) {
    const rule = program.clientCertificate.refused.find((r) => r.keyType === cert.keyType)?.rule;
    return refuse(
      "KEY_TYPE_REFUSED",
      rule ?? `${program.name} does not accept ${cert.keyType ?? "this"} client keys; use one of ${accepted.join(", ")}`,
      ALERT.unsupported_certificate,
    );
  }

  // 6. The CN rule (D1).
  let gatewayId: string | undefined;
  if (cnRule.kind === "template") {
    const expected = cnRule.template.replace("{envCode}", environment.cnCode ?? "");
    if (!cnMatch?.groups) {
      return refuse("CN_PATTERN", `the certificate CN '${cn}' does not follow ${expected}`, ALERT.access_denied);
    }
    const { keyAlg, id, envCode } = cnMatch.groups;
    if (envCode !== environment.cnCode) {
      return refuse("CN_PATTERN", `the certificate CN '${cn}' has environment code D1.${envCode ?? ""}; ${programEnv} requires D1.${environment.cnCode ?? ""}`, ALERT.access_denied);
    }
    const label = cnRule.keyAlgLabels[keyFamily(cert.keyType)];
    if (keyAlg !== label) {
      return refuse("CN_PATTERN", `the certificate CN '${cn}' says ${keyAlg ?? ""} but its key is ${cert.keyType}: the CN must start with TLSMA-${label}/`, ALERT.access_denied);
    }
    gatewayId = id;
  }

  return { ok: true, cert, identity: { subject: cert.subjectText, fingerprint, serialNumber: cert.serialNumber, gatewayId } };
}
