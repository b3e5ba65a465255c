/**
 * What the portal's routes (portal.ts) check in a request, and how a failure becomes an answer:
 * the JSON body and its fields, a customer id, PEM fields (never a private key), the customer's
 * server chain, issuer host and OAuth key, and the status and errors of a thrown error. A check
 * throws a `JsonHttpError` (its status and every error found) or returns the entries it found.
 */
import { createPublicKey } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { ERROR_CODES, isMtlsError, type MtlsError } from "../errors/index.js";
import type { Finding } from "../lint/index.js";
import { decodePkiObjects, formatFingerprint, isSignedBy, looksLikePem, parsePem, toPem, type CertificateInfo, type PemBlock, type PkiItem } from "../pki/index.js";
import { assertCustomerId, parseHostPort, type ProgramPolicy } from "../policy/index.js";
import { JsonHttpError, type JsonErrorEntry } from "./http-json.js";
import { mtPortalCommonName } from "./state.js";

/** Codes of portal errors besides the lint codes (`LINT_RULES`) and `MtlsError` codes. */
export const PORTAL_ERROR_CODES = {
  NOT_FOUND: "No such route.",
  MALFORMED_REQUEST: "The request is not valid HTTP/1.1.",
  METHOD_NOT_ALLOWED: "The route exists, but not with this method (see the Allow header).",
  UNKNOWN_PROGRAM: "The program in the path is not d1 or mt.",
  UNKNOWN_ENVIRONMENT: "The environment in the path is not one of the program's, or this emulator does not serve it.",
  MALFORMED_JSON: "The body is not a JSON object.",
  MISSING_FIELD: "A required field is missing.",
  INVALID_FIELD: "A field has the wrong type or syntax, or does not apply to this program.",
  BODY_TOO_LARGE: "The body is over the portal's limit.",
  UNSUPPORTED_MEDIA_TYPE: "The body is not sent as application/json.",
  PEM_MALFORMED: "A PEM field holds no PEM block, or a broken one.",
  CSR_EXPECTED: "The csr field must hold exactly one CSR and nothing else.",
  CERTIFICATE_EXPECTED: "The certificate field must hold exactly one certificate and nothing else.",
  PRIVATE_KEY_SUBMITTED: "A private key was sent; it is never accepted, stored or echoed. Treat it as exposed.",
  GATEWAY_ID_INVALID: "The customer identifier / merchantGatewayId is empty, has characters a CN cannot carry, or is too long.",
  ISSUER_HOST_INVALID: "issuerHost is not a DNS host name with an optional port (host or host:port, no scheme, no path).",
  ISSUER_HOST_IP: "issuerHost is an IP address: Thales calls a DNS name, never an address.",
  ISSUER_PORT_NOT_ALLOWED: "issuerHost's port is not 443 or 8443 (refused only when the portal is strict about ports; else a warning).",
  SERVER_CHAIN_INVALID: "serverChain does not parse as PEM certificates.",
  CHAIN_ORDER: "serverChain is not in order: the server certificate first, each certificate followed by its issuer.",
  EXPIRED: "A certificate has expired.",
  NOT_YET_VALID: "A certificate is not valid yet.",
  OAUTH_KEY_INVALID: "oauthPublicKey is not an EC P-256 public key in PEM (BEGIN PUBLIC KEY).",
  API_KEY_INVALID: "apiKey is empty or holds characters an HTTP header cannot carry.",
  CUSTOMER_NOT_REGISTERED: "The customer has no registration (PUT .../customers/{id}) with an issuerHost for this environment.",
  ENDORSEMENT_NOT_FOUND: "No certificate with this SHA-256 fingerprint is endorsed for this environment.",
  NOT_AVAILABLE: "This emulator was started without the part that serves this route.",
  HOST_NOT_ALLOWED: "The Host header is not a loopback name or address (DNS rebinding): use http://127.0.0.1:PORT or http://localhost:PORT.",
  CROSS_SITE_REQUEST: "A request that changes state came from another site (Origin or Sec-Fetch-Site): refused.",
  INTERNAL: "The emulator hit a bug; nothing about it is sent back.",
} as const;

/** Answers `status` with one error: throws the JsonHttpError the portal turns into its answer. */
export function fail(status: number, code: string, message: string, headers?: Record<string, string>): never {
  throw new JsonHttpError(status, [{ code, message }], headers);
}

/** The HTTP status of an MtlsError thrown by a callback. */
function statusOf(e: MtlsError): number {
  if (e.code === "UNKNOWN_PROGRAM" || e.code === "UNKNOWN_ENVIRONMENT" || e.code === "FILE_NOT_FOUND") return 404;
  if (e.code === "USAGE") return 400;
  return ERROR_CODES[e.code].exit === 3 ? 500 : 422;
}

/** A JSON object body, or 400 / 415. An empty body is `{}`. */
export function parseJsonObject(req: IncomingMessage, body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json" && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    fail(415, "UNSUPPORTED_MEDIA_TYPE", `the body must be JSON sent as content-type application/json, not ${type ? `'${type}'` : "without a content-type"}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch (e) {
    fail(400, "MALFORMED_JSON", `the body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(400, "MALFORMED_JSON", "the body must be a JSON object");
  return value as Record<string, unknown>;
}

/** Structural checks of a body: every problem collected, then one 400 answer. */
export class Fields {
  readonly problems: JsonErrorEntry[] = [];
  constructor(private readonly body: Record<string, unknown>) {}

  string(name: string, required: true): string;
  string(name: string, required: false): string | undefined;
  string(name: string, required: boolean): string | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) {
      if (required) this.problems.push({ code: "MISSING_FIELD", message: `the field '${name}' is required` });
      return undefined;
    }
    if (typeof v !== "string") {
      this.problems.push({ code: "INVALID_FIELD", message: `the field '${name}' must be a string` });
      return undefined;
    }
    return v;
  }

  absent(name: string, why: string): void {
    if (this.body[name] !== undefined && this.body[name] !== null) this.problems.push({ code: "INVALID_FIELD", message: `the field '${name}' ${why}` });
  }

  done(): void {
    if (this.problems.length > 0) throw new JsonHttpError(400, this.problems);
  }
}

/** Checks a customer id for the program (422 GATEWAY_ID_INVALID). */
export function checkCustomerId(program: ProgramPolicy, environment: string, customerId: string): void {
  try {
    assertCustomerId(program, customerId);
    if (program.id === "mt") mtPortalCommonName(environment, customerId);
  } catch (e) {
    if (isMtlsError(e)) fail(422, e.code, e.message);
    throw e;
  }
}

/** The PEM blocks of a field; 422 when there is none, a block is broken, or a private key is in it. */
function pemBlocks(text: string, field: string): PemBlock[] {
  if (!looksLikePem(Buffer.from(text, "utf8"))) fail(422, "PEM_MALFORMED", `the field '${field}' holds no PEM block (-----BEGIN ...-----)`);
  let blocks: PemBlock[];
  try {
    blocks = parsePem(text, field);
  } catch (e) {
    if (isMtlsError(e)) fail(422, "PEM_MALFORMED", e.message);
    throw e;
  }
  if (blocks.some((b) => b.label.includes("PRIVATE KEY"))) {
    fail(422, "PRIVATE_KEY_SUBMITTED", `the field '${field}' holds a private key: it was not stored. Never send a private key; consider this one exposed and make a new one`);
  }
  return blocks;
}

/** Parsed objects of PEM text with no private key in it; 422 on anything unreadable. */
export function pkiObjects(text: string, field: string, unreadable: string): PkiItem[] {
  const blocks = pemBlocks(text, field);
  try {
    return decodePkiObjects(Buffer.from(blocks.map((b) => b.text).join("\n"), "utf8"), field);
  } catch (e) {
    if (isMtlsError(e)) fail(422, e.code === "PEM_MALFORMED" ? "PEM_MALFORMED" : unreadable, e.message);
    throw e;
  }
}

/** The lint findings of one severity as portal error entries (message and hint in one). */
export function findingEntries(findings: Finding[], severity: Finding["severity"] = "error"): JsonErrorEntry[] {
  return findings.filter((f) => f.severity === severity).map((f) => ({ code: f.code, message: `${f.message} ${f.hint}`.trim() }));
}

/** Checks `host[:port]` (ISSUER_HOST) with policy's one rule, plus the port Thales calls (443 or 8443). */
export function checkIssuerHost(value: string, strictPort: boolean): { errors: JsonErrorEntry[]; warnings: JsonErrorEntry[] } {
  const errors: JsonErrorEntry[] = [];
  const warnings: JsonErrorEntry[] = [];
  const r = parseHostPort(value);
  if (!r.ok) return { errors: [{ code: r.problem === "ip" ? "ISSUER_HOST_IP" : "ISSUER_HOST_INVALID", message: `issuerHost ${r.message}` }], warnings };
  if (r.port !== undefined && r.port !== 443 && r.port !== 8443) {
    const entry = { code: "ISSUER_PORT_NOT_ALLOWED", message: `issuerHost '${value}' uses port ${r.port}; Thales calls port 443 (preferred) or 8443 only` };
    (strictPort ? errors : warnings).push(entry);
  }
  return { errors, warnings };
}

/**
 * Checks the customer's server chain: certificates only, in order, in date. `pem` receives the
 * certificates as plain PEM (text around the blocks dropped), which is what gets pinned.
 */
export function checkServerChain(text: string, now: Date, pem: { value?: string }): JsonErrorEntry[] {
  const items = pkiObjects(text, "serverChain", "SERVER_CHAIN_INVALID");
  const certs = items.filter((i): i is PkiItem & CertificateInfo => i.kind === "certificate");
  if (certs.length === 0 || certs.length !== items.length) {
    return [{ code: "SERVER_CHAIN_INVALID", message: "the field 'serverChain' must hold certificates only (PEM, the server certificate first)" }];
  }
  pem.value = certs.map((c) => toPem("CERTIFICATE", c.der)).join("");
  const errors: JsonErrorEntry[] = [];
  for (let i = 0; i + 1 < certs.length; i++) {
    const c = certs[i]!;
    if (c.selfIssued) break; // a root ends the chain
    if (!isSignedBy(c, certs[i + 1]!)) {
      errors.push({ code: "CHAIN_ORDER", message: `serverChain certificate ${i + 1} (${c.subjectText}) is not issued by certificate ${i + 2} (${certs[i + 1]!.subjectText}): put the server certificate first, then each issuer` });
      break;
    }
  }
  certs.forEach((c, i) => {
    if (c.notAfter.getTime() < now.getTime()) errors.push({ code: "EXPIRED", message: `serverChain certificate ${i + 1} (${c.subjectText}) expired on ${c.notAfter.toISOString()}` });
    else if (c.notBefore.getTime() > now.getTime()) errors.push({ code: "NOT_YET_VALID", message: `serverChain certificate ${i + 1} (${c.subjectText}) is not valid before ${c.notBefore.toISOString()}` });
  });
  return errors;
}

/** Checks a D1 OAuth public key: EC P-256, PEM `PUBLIC KEY`. */
export function checkOauthKey(text: string): JsonErrorEntry[] {
  const blocks = pemBlocks(text, "oauthPublicKey");
  const bad = (why: string): JsonErrorEntry[] => [{ code: "OAUTH_KEY_INVALID", message: `the field 'oauthPublicKey' ${why}; give the EC P-256 public key of your ES256 assertions (openssl ec -in key.pem -pubout)` }];
  if (blocks.length !== 1 || blocks[0]!.label !== "PUBLIC KEY") return bad(`must hold exactly one 'PUBLIC KEY' PEM block, not ${blocks.map((b) => `'${b.label}'`).join(", ")}`);
  try {
    const key = createPublicKey({ key: blocks[0]!.text, format: "pem" });
    if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
      return bad(`is a ${key.asymmetricKeyType?.toUpperCase() ?? "unknown"} ${key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyDetails?.modulusLength ?? ""} key; ES256 needs EC P-256`);
    }
  } catch {
    return bad("cannot be read as a public key");
  }
  return [];
}

/** A SHA-256 fingerprint from the path, as lower-case hex; 400 when it is not one. */
export function fingerprintParam(raw: string): string {
  const fp = formatFingerprint(raw, "hex");
  if (!/^[0-9a-f]{64}$/.test(fp)) fail(400, "INVALID_FIELD", `'${raw.slice(0, 100)}' is not a SHA-256 fingerprint (64 hexadecimal digits)`);
  return fp;
}

/** The status and errors answered for a thrown error (the same for the JSON routes and the page). */
export function errorAnswer(e: unknown, onInternalError: (error: unknown) => void): { status: number; errors: JsonErrorEntry[]; headers?: Record<string, string> } {
  if (e instanceof JsonHttpError) return { status: e.status, errors: e.errors, headers: e.headers };
  if (isMtlsError(e)) {
    const status = statusOf(e);
    if (status >= 500) onInternalError(e);
    return { status, errors: [{ code: status >= 500 ? "INTERNAL" : e.code, message: status >= 500 ? "internal error" : e.message }] };
  }
  onInternalError(e);
  return { status: 500, errors: [{ code: "INTERNAL", message: "internal error" }] };
}

/** Runs a check that may answer 422 itself (a PEM problem), collecting its entries instead. */
export function collect(check: () => JsonErrorEntry[]): JsonErrorEntry[] {
  try {
    return check();
  } catch (e) {
    if (e instanceof JsonHttpError && e.status === 422) return e.errors;
    throw e;
  }
}
