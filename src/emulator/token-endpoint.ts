/**
 * The D1 OAuth 2.0 token endpoint of the emulator's API endpoint (see `api-server.ts`):
 * `POST <authz path>/oauth2/token` with the JWT bearer grant of RFC 7523, by the D1 rules, and
 * the check of the bearer tokens it issued on the resource requests. Tokens live in memory,
 * per endpoint, bound to the merchantGatewayId of the client certificate that obtained them.
 */
import { randomBytes, type KeyObject } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from "jose";
import type { EnvironmentPolicy, ProgramPolicy } from "../policy/index.js";
import type { ClientIdentity } from "./client-verdict.js";
import { headerValue, JsonHttpError, type JsonErrorEntry } from "./http-json.js";

/** Clock skew tolerated on the assertion's `exp` limit, in seconds. */
const ASSERTION_SKEW_SECONDS = 30;

/** A 400 answer about one field. */
export function fieldError(code: "MISSING_FIELD" | "INVALID_FIELD", message: string): JsonHttpError {
  return new JsonHttpError(400, [{ code, message }]);
}

/** The fields of a JSON or form-urlencoded body, as strings (other JSON values are kept as-is). */
function parseFields(req: IncomingMessage, body: Buffer): Record<string, unknown> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  const text = body.toString("utf8");
  const asJson = type === "application/json" || type.endsWith("+json") || (type === "" && text.trimStart().startsWith("{"));
  const asForm = type === "application/x-www-form-urlencoded" || (type === "" && !asJson);
  if (asJson) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw fieldError("INVALID_FIELD", "the body is not valid JSON");
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw fieldError("INVALID_FIELD", "the body must be a JSON object");
    return value as Record<string, unknown>;
  }
  if (asForm) {
    // A null-prototype object, own keys only: `constructor=` or `__proto__=` is a field like any other.
    const fields: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [k, v] of new URLSearchParams(text)) if (!Object.hasOwn(fields, k)) fields[k] = v;
    return fields;
  }
  throw new JsonHttpError(415, [{ code: "UNSUPPORTED_MEDIA_TYPE", message: `content-type '${type}' is not accepted: send application/json or application/x-www-form-urlencoded` }]);
}

/** An access token this endpoint issued. */
export interface IssuedToken {
  gatewayId: string;
  fingerprint: string;
  expiresAt: number;
}

const JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** What the token endpoint needs to know. */
export interface TokenEndpointOptions {
  program: ProgramPolicy;
  environment: EnvironmentPolicy;
  /** The path of the token endpoint, named in the 401 answers. */
  tokenPath: string;
  /** The OAuth key registered for (merchantGatewayId, kid), or undefined. */
  oauthKey: ((gatewayId: string, kid: string) => KeyObject | undefined) | undefined;
}

/** Issues access tokens and checks them; one per D1 endpoint. */
export class TokenEndpoint {
  private readonly tokens = new Map<string, IssuedToken>();

  constructor(private readonly options: TokenEndpointOptions) {}

  /** Forgets every token (the endpoint closes). */
  clear(): void {
    this.tokens.clear();
  }

  /** `POST <authz>/oauth2/token`: the JWT bearer grant of RFC 7523, by the D1 rules. */
  async issue(req: IncomingMessage, body: Buffer, identity: ClientIdentity): Promise<{ access_token: string; token_type: "Bearer"; expires_in: number }> {
    const auth = this.options.program.auth;
    const fields = parseFields(req, body);
    const problems: JsonErrorEntry[] = [];
    const grantType = fields.grant_type;
    if (grantType === undefined || grantType === "") problems.push({ code: "MISSING_FIELD", message: "grant_type is required" });
    else if (grantType !== JWT_BEARER_GRANT) problems.push({ code: "INVALID_FIELD", message: `grant_type must be ${JWT_BEARER_GRANT}` });
    const assertion = fields.assertion;
    if (assertion === undefined || assertion === "") problems.push({ code: "MISSING_FIELD", message: "assertion is required" });
    else if (typeof assertion !== "string") problems.push({ code: "INVALID_FIELD", message: "assertion must be a string (a compact JWT)" });
    if (problems.length > 0) throw new JsonHttpError(400, problems);
    const jwt = assertion as string;

    let header: ProtectedHeaderParameters;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(jwt);
      claims = decodeJwt(jwt);
    } catch {
      throw fieldError("INVALID_FIELD", "assertion is not a compact JWT (header.payload.signature, base64url)");
    }
    const alg = auth.assertionAlg ?? "ES256";
    if (header.alg !== alg) throw fieldError("INVALID_FIELD", `assertion must be signed with ${alg}, not ${String(header.alg)}`);
    if (typeof header.kid !== "string" || header.kid === "") throw fieldError("MISSING_FIELD", "assertion header has no kid (the key id registered at onboarding)");
    if (claims.iss === undefined || claims.iss === "") throw fieldError("MISSING_FIELD", "assertion has no iss claim (the merchantGatewayId)");
    if (typeof claims.iss !== "string") throw fieldError("INVALID_FIELD", "assertion iss must be a string (the merchantGatewayId)");
    if (claims.exp === undefined) throw fieldError("MISSING_FIELD", "assertion has no exp claim");
    if (typeof claims.exp !== "number" || !Number.isFinite(claims.exp)) throw fieldError("INVALID_FIELD", "assertion exp must be a NumericDate (seconds)");
    const nowSeconds = Math.floor(Date.now() / 1000);
    const maxLifetime = auth.assertionMaxLifetimeSeconds ?? 900;
    if (claims.exp - nowSeconds > maxLifetime + ASSERTION_SKEW_SECONDS) {
      throw fieldError("INVALID_FIELD", `assertion exp is ${claims.exp - nowSeconds} s ahead; it may be at most ${maxLifetime} s ahead`);
    }

    const unauthorized = (code: string, message: string): JsonHttpError => new JsonHttpError(401, [{ code, message }]);
    if (claims.iss !== identity.gatewayId) {
      throw unauthorized("ISSUER_MISMATCH", `assertion iss '${claims.iss}' is not the merchantGatewayId of the client certificate ('${identity.gatewayId ?? ""}'): a token can only be obtained for your own gateway`);
    }
    const key = this.options.oauthKey?.(claims.iss, header.kid);
    if (!key) throw unauthorized("UNKNOWN_KID", `no OAuth key is registered with kid '${header.kid}' for merchantGatewayId '${claims.iss}'`);
    try {
      await jwtVerify(jwt, key, { algorithms: [alg], issuer: identity.gatewayId, requiredClaims: ["exp"] });
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "ERR_JWT_EXPIRED") throw unauthorized("ASSERTION_EXPIRED", `assertion expired at ${new Date(claims.exp * 1000).toISOString()}: sign a fresh one`);
      if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") {
        throw unauthorized("INVALID_SIGNATURE", `assertion signature does not verify with the key registered as kid '${header.kid}': sign with its private key`);
      }
      if (code === "ERR_JWT_CLAIM_VALIDATION_FAILED") throw unauthorized("INVALID_ASSERTION", `assertion refused: ${(e as Error).message}`);
      throw unauthorized("INVALID_ASSERTION", `assertion refused: ${(e as Error).message}`);
    }

    this.sweep();
    const lifetime = auth.tokenLifetimeSeconds ?? 900;
    const accessToken = randomBytes(32).toString("base64url");
    this.tokens.set(accessToken, { gatewayId: identity.gatewayId ?? "", fingerprint: identity.fingerprint, expiresAt: Date.now() + lifetime * 1000 });
    return { access_token: accessToken, token_type: "Bearer", expires_in: lifetime };
  }

  /** The valid bearer token of the request, bound to the same gateway; 401 otherwise. */
  bearer(req: IncomingMessage, identity: ClientIdentity): IssuedToken {
    const challenge = (error?: string, description?: string): Record<string, string> => ({
      "www-authenticate": `Bearer realm="${this.options.program.id}-${this.options.environment.id}"${error ? `, error="${error}"` : ""}${description ? `, error_description="${description}"` : ""}`,
    });
    const authorization = headerValue(req, "authorization");
    if (!authorization) {
      throw new JsonHttpError(401, [{ code: "MISSING_TOKEN", message: `an Authorization: Bearer <token> header is required; get a token at ${this.options.tokenPath}` }], challenge());
    }
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization.trim());
    if (!match) throw new JsonHttpError(401, [{ code: "INVALID_TOKEN", message: "the Authorization header must be 'Bearer <token>'" }], challenge("invalid_request", "malformed Authorization header"));
    const token = this.tokens.get(match[1]!);
    if (!token) throw new JsonHttpError(401, [{ code: "INVALID_TOKEN", message: "the access token is unknown to this environment" }], challenge("invalid_token", "unknown token"));
    if (token.expiresAt <= Date.now()) {
      this.tokens.delete(match[1]!);
      throw new JsonHttpError(401, [{ code: "TOKEN_EXPIRED", message: `the access token expired at ${new Date(token.expiresAt).toISOString()}: get a new one` }], challenge("invalid_token", "token expired"));
    }
    if (token.gatewayId !== identity.gatewayId) {
      throw new JsonHttpError(
        401,
        [{ code: "TOKEN_GATEWAY_MISMATCH", message: `the access token was issued to merchantGatewayId '${token.gatewayId}', not to the gateway of this client certificate` }],
        challenge("invalid_token", "token of another gateway"),
      );
    }
    return token;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, t] of this.tokens) if (t.expiresAt <= now) this.tokens.delete(k);
  }
}
