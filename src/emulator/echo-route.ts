/**
 * The echo resource of the emulator's API endpoint (see `api-server.ts`): any GET or POST under
 * the program's base path answers the authenticated identity, the correlation id and, on D1,
 * the bearer token that was checked (D1 requires a valid token and a well-formed
 * `x-correlation-id`).
 */
import type { IncomingMessage } from "node:http";
import type { EnvironmentPolicy, ProgramPolicy } from "../policy/index.js";
import type { ClientIdentity } from "./client-verdict.js";
import { JsonHttpError } from "./http-json.js";
import { fieldError, type IssuedToken, type TokenEndpoint } from "./token-endpoint.js";

/** What the echo resource answers from. */
export interface EchoRequest {
  program: ProgramPolicy;
  environment: EnvironmentPolicy;
  req: IncomingMessage;
  path: string;
  identity: ClientIdentity;
  /** The `x-correlation-id` header as sent, and whether it is well formed (then echoed). */
  correlationId: string | undefined;
  echoable: boolean;
  /** D1 only: the token endpoint whose bearer tokens the resource requires. */
  tokenEndpoint: TokenEndpoint | undefined;
}

/** The 200 body of the echo resource, or the coded 4xx it throws (`JsonHttpError`). */
export function echoResource(e: EchoRequest): Record<string, unknown> {
  const { req, path, identity, correlationId, echoable } = e;
  if (req.method !== "GET" && req.method !== "POST") {
    throw new JsonHttpError(405, [{ code: "METHOD_NOT_ALLOWED", message: `${req.method ?? ""} is not allowed on ${path}; use GET or POST` }], { allow: "GET, POST" });
  }
  let token: IssuedToken | undefined;
  if (e.tokenEndpoint) {
    token = e.tokenEndpoint.bearer(req, identity);
    if (correlationId === undefined) throw fieldError("MISSING_FIELD", "the x-correlation-id header is required");
    if (!echoable) throw fieldError("INVALID_FIELD", `the x-correlation-id header must match ${String(e.program.auth.correlationIdPattern)}`);
  }
  return {
    program: e.program.id,
    environment: e.environment.id,
    identity: { subject: identity.subject, fingerprint: identity.fingerprint, serialNumber: identity.serialNumber },
    correlationId: echoable ? correlationId : null,
    method: req.method,
    path,
    ...(token ? { token: { sub: token.gatewayId, expiresAt: new Date(token.expiresAt).toISOString() } } : {}),
  };
}
