/**
 * The emulator's portal (docs/architecture.md, "The emulator's face"): JSON over HTTP on loopback, where
 * the customer does what it would do in the Thales portal or by mail with the Thales team, and
 * where tests drive the emulator.
 *
 * | route | body | answer |
 * | --- | --- | --- |
 * | `POST /v1/d1/{env}/csr` | `{ customerId, csr }` | 201 `{ certificate, chain, subject, serialNumber, fingerprint, notBefore, notAfter, warnings }`, 422 every broken rule |
 * | `POST /v1/mt/{env}/endorsements` | `{ customerId, certificate }` | 201 `{ fingerprint, customerId, commonName, notAfter, endorsedAt, created, warnings }` (200 when already endorsed), 422 |
 * | `DELETE /v1/mt/{env}/endorsements/{sha256hex}` | | 200 `{ fingerprint, removed: true }`, 404 |
 * | `PUT /v1/{program}/{env}/customers/{customerId}` | `{ issuerHost, serverChain, oauthPublicKey?, kid?, apiKey? }` | 201 new / 200 replaced, 422 |
 * | `GET /v1/{program}/{env}/assets?customerId=...` | | 200 the manifest + `files` (PEM by asset name) + `directory` |
 * | `POST /v1/{program}/{env}/rotate-client-certificate` | none or `{}` | 200 the new certificate |
 * | `POST /v1/{program}/{env}/notifications` | `{ customerId, count? }` | 202 `{ ids }` |
 * | `GET /v1/{program}/{env}/deliveries` | | 200 `{ deliveries: [...] }` |
 * | `GET /v1/{program}/{env}/handshakes` | | 200 `{ handshakes: [...] }` |
 *
 * `chain` in a CSR answer is the signed certificate followed by the Business PKI CA that signed
 * it (the same content as the `D1_CLIENT_CERTIFICATE` asset).
 *
 * Every error is `{ "errors": [ { "code", "message" } ] }` with a 4xx status: 400 malformed
 * JSON or a missing / mistyped field, 404 unknown route, program or environment (or an
 * environment this emulator does not serve), 405 wrong method, 413 body over the limit (1 MiB
 * by default: the portal stops reading, answers and closes the connection), 415 a body that is
 * not JSON, 422 a rule violation (every broken rule listed, each with its stable code: the
 * lint codes of `LINT_RULES` for certificates and CSRs, and {@link PORTAL_ERROR_CODES}). A bug
 * answers 500 `INTERNAL` without any detail; nothing ever answers a stack trace.
 *
 * What the portal cannot do itself comes in as callbacks ({@link PortalOptions}).
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isIP, type AddressInfo } from "node:net";
import { isMtlsError, MtlsError } from "../errors/index.js";
import { lintItems } from "../lint/index.js";
import { fingerprint, toPem, type CertificateInfo, type PkiItem } from "../pki/index.js";
import { getEnvironment, getProgram, isLoopbackAddress, PROGRAMS, type ProgramId, type ProgramPolicy } from "../policy/index.js";
import { writeAssetBundle } from "./assets.js";
import { isPagePath, portalPage, sendRefusalPage } from "./portal-page.js";
import { bodyTooLarge, JsonHttpError, readBody, sendJson, type JsonErrorEntry } from "./http-json.js";
import { checkCustomerId, checkIssuerHost, checkOauthKey, checkServerChain, collect, errorAnswer, fail, Fields, findingEntries, fingerprintParam, parseJsonObject, pkiObjects } from "./portal-checks.js";
import { isLoopbackHostHeader, isSameOriginRequest } from "../web/index.js";
import type { EmulatorPki } from "./emulator-pki.js";
import { issuedD1Record, type CustomerFields, type EmulatorState } from "./state.js";

/** One error of an answer. */
export type PortalErrorEntry = JsonErrorEntry;
export { PORTAL_ERROR_CODES } from "./portal-checks.js";

/** Where the emulator listens for one environment; the assets carry these URLs. */
export interface PortalEnvironment {
  program: ProgramId;
  /** Environment id (`preprod`, `production`, `sandbox`). */
  environment: string;
  /** `https://<.test host>:<port>` (MT with its base path). */
  apiUrl: string;
  /** D1: `https://<.test host>:<port>/authz/v1`. */
  authzUrl?: string;
  /** `127.0.0.1:<port>`, where the listener really is. */
  address: string;
  /** The `.test` host name. */
  host: string;
}

type MaybePromise<T> = T | Promise<T>;

/** Options of {@link startPortal}. */
export interface PortalOptions {
  pki: EmulatorPki;
  state: EmulatorState;
  /** Folder where asset bundles are written (`<assetsDir>/<program>-<env>[-<customerId>]`). */
  assetsDir: string;
  /** The environments this emulator serves; others answer 404 UNKNOWN_ENVIRONMENT. */
  environments: readonly PortalEnvironment[];
  /** The DNS stand-in's `address:port`, written into bundles. Default none. */
  dnsServers?: readonly string[];
  /** Loopback address to listen on. Default `127.0.0.1`; anything but loopback is refused. */
  host?: string;
  /** Port. Default 0 (a free one). */
  port?: number;
  /** Largest body read, in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Refuse an issuerHost port other than 443 and 8443 (Thales's rule). Default false: warn. */
  strictIssuerPort?: boolean;
  /** The time rules are checked against. Default: now. */
  now?: () => Date;
  /** After an MT endorsement is added or removed (the API listener reloads its pins). */
  onEndorsementsChanged?: (program: ProgramId, environment: string) => MaybePromise<void>;
  /** After a customer registration changed (the notifier and API listener reload it). */
  onCustomerChanged?: (program: ProgramId, environment: string, customerId: string) => MaybePromise<void>;
  /**
   * Rotates the emulator's client certificate (and whatever uses it). Default:
   * `pki.rotateClientCertificate`. The answer shows `pki.clientCredential` afterwards.
   */
  rotateClientCertificate?: (program: ProgramId, environment: string) => MaybePromise<unknown>;
  /** Queues `count` notifications to a customer; returns their ids. An MtlsError becomes a 4xx. */
  notify?: (program: ProgramId, environment: string, customerId: string, count: number) => MaybePromise<string[]>;
  /** The delivery log of an environment. Default: empty. */
  deliveries?: (program: ProgramId, environment: string) => MaybePromise<unknown[]>;
  /** The handshake log of an environment. Default: empty. */
  handshakes?: (program: ProgramId, environment: string) => MaybePromise<unknown[]>;
  /** Told about bugs (the answer says only INTERNAL). Default: printed to stderr. */
  onInternalError?: (error: unknown) => void;
}

/** A running portal. */
export interface Portal {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Default of {@link PortalOptions.maxBodyBytes}. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const MAX_NOTIFICATIONS = 100;

type Handler = (ctx: RouteContext) => Promise<{ status: number; body: unknown }>;

interface RouteContext {
  req: IncomingMessage;
  program: ProgramPolicy;
  environment: string;
  endpoint: PortalEnvironment;
  /** The path segments matched by the route's `*` parts, decoded. */
  params: string[];
  query: URLSearchParams;
  body: () => Promise<Record<string, unknown>>;
}

interface Route {
  /** Path after `/v1/{program}/{env}/`, with `*` for one parameter segment. */
  path: string[];
  method: string;
  /** Programs this route exists for. */
  programs: readonly ProgramId[];
  handler: Handler;
}

/**
 * Starts the portal on loopback.
 *
 * @throws MtlsError USAGE when `host` is not a loopback address.
 *
 * @example
 * const portal = await startPortal({ pki, state, assetsDir, environments });
 * await fetch(`${portal.url}/v1/d1/preprod/csr`, { method: "POST", headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ customerId: "123456", csr: pem }) });
 * await portal.close();
 */
export async function startPortal(options: PortalOptions): Promise<Portal> {
  const host = options.host === undefined || options.host === "localhost" ? "127.0.0.1" : options.host;
  if (!isLoopbackAddress(host)) {
    throw new MtlsError("USAGE", `the portal listens on loopback only, not on '${options.host}'`, { hint: "Use --host 127.0.0.1 (or another 127.x.x.x address, or ::1)." });
  }
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const now = options.now ?? (() => new Date());
  const { pki, state } = options;
  const onInternalError = options.onInternalError ?? ((e: unknown) => console.error("mtlskit emulator portal: internal error:", e));

  const routes: Route[] = [
    {
      path: ["csr"],
      method: "POST",
      programs: ["d1"],
      handler: async ({ program, environment, body }) => {
        const f = new Fields(await body());
        const customerId = f.string("customerId", true);
        const csr = f.string("csr", true);
        f.done();
        checkCustomerId(program, environment, customerId);
        const items = pkiObjects(csr, "csr", "CSR_EXPECTED");
        if (items.length !== 1 || items[0]!.kind !== "csr") {
          fail(422, "CSR_EXPECTED", `the field 'csr' must hold exactly one certificate signing request (BEGIN CERTIFICATE REQUEST), not ${items.length} object(s) of kind ${[...new Set(items.map((i) => i.kind))].join(", ")}`);
        }
        const { findings } = lintItems(items, { program: program.id, environment, gatewayId: customerId, now: now() });
        const errors = findingEntries(findings);
        if (errors.length > 0) throw new JsonHttpError(422, errors);
        const signed = pki.signD1Csr(environment, items[0]!.der, customerId);
        const info = signed.info;
        await state.recordIssued(issuedD1Record(signed));
        return {
          status: 201,
          body: {
            certificate: signed.certificatePem,
            chain: signed.chainPem,
            subject: info.subjectText,
            serialNumber: info.serialNumber,
            fingerprint: fingerprint(info.der, "hex"),
            notBefore: info.notBefore.toISOString(),
            notAfter: info.notAfter.toISOString(),
            warnings: findingEntries(findings, "warning"),
          },
        };
      },
    },
    {
      path: ["endorsements"],
      method: "POST",
      programs: ["mt"],
      handler: async ({ program, environment, body }) => {
        const f = new Fields(await body());
        const customerId = f.string("customerId", true);
        const certificate = f.string("certificate", true);
        f.done();
        checkCustomerId(program, environment, customerId);
        const items = pkiObjects(certificate, "certificate", "CERTIFICATE_EXPECTED");
        if (items.length !== 1 || items[0]!.kind !== "certificate") {
          fail(422, "CERTIFICATE_EXPECTED", `the field 'certificate' must hold exactly one certificate (your self-signed client certificate), not ${items.length} object(s) of kind ${[...new Set(items.map((i) => i.kind))].join(", ")}`);
        }
        const cert = items[0] as PkiItem & CertificateInfo;
        const cn = state.portalCommonName(environment, customerId);
        const { findings } = lintItems(items, { program: program.id, environment, cn, now: now() });
        const errors = findingEntries(findings);
        if (errors.length > 0) throw new JsonHttpError(422, errors);
        const { endorsement, created } = await state.endorse(environment, customerId, cert.der, toPem("CERTIFICATE", cert.der));
        if (created) await options.onEndorsementsChanged?.(program.id, environment);
        return {
          status: created ? 201 : 200,
          body: { fingerprint: endorsement.fingerprint, customerId: endorsement.customerId, commonName: cn, notAfter: cert.notAfter.toISOString(), endorsedAt: endorsement.endorsedAt, created, warnings: findingEntries(findings, "warning") },
        };
      },
    },
    {
      path: ["endorsements", "*"],
      method: "DELETE",
      programs: ["mt"],
      handler: async ({ program, environment, params }) => {
        const fp = fingerprintParam(params[0]!);
        const removed = await state.removeEndorsement(environment, fp);
        if (!removed) fail(404, "ENDORSEMENT_NOT_FOUND", `no certificate with SHA-256 fingerprint ${fp} is endorsed for ${program.name} ${environment}`);
        await options.onEndorsementsChanged?.(program.id, environment);
        return { status: 200, body: { fingerprint: fp, customerId: removed.customerId, removed: true } };
      },
    },
    {
      path: ["customers", "*"],
      method: "PUT",
      programs: ["d1", "mt"],
      handler: async ({ program, environment, params, body }) => {
        const customerId = params[0]!;
        const raw = await body();
        const f = new Fields(raw);
        const issuerHost = f.string("issuerHost", true);
        const serverChain = f.string("serverChain", true);
        let oauthPublicKey: string | undefined;
        let kid: string | undefined;
        let apiKey: string | undefined;
        if (program.id === "d1") {
          oauthPublicKey = f.string("oauthPublicKey", false);
          kid = f.string("kid", false);
          const given = (name: string): boolean => raw[name] !== undefined && raw[name] !== null;
          if (given("oauthPublicKey") && !given("kid")) f.problems.push({ code: "MISSING_FIELD", message: "the field 'kid' is required with 'oauthPublicKey': it selects the key of your assertions" });
          if (given("kid") && !given("oauthPublicKey")) f.problems.push({ code: "MISSING_FIELD", message: "the field 'oauthPublicKey' is required with 'kid'" });
          f.absent("apiKey", "does not apply to D1 (its inbound calls use OAuth 2.0; give oauthPublicKey and kid)");
        } else {
          apiKey = f.string("apiKey", false);
          f.absent("oauthPublicKey", "does not apply to MT (it sends an API key on notifications; give apiKey)");
          f.absent("kid", "does not apply to MT");
        }
        f.done();
        checkCustomerId(program, environment, customerId);
        const errors: PortalErrorEntry[] = [];
        const host = checkIssuerHost(issuerHost, options.strictIssuerPort === true);
        errors.push(...host.errors);
        const chainPem: { value?: string } = {};
        errors.push(...collect(() => checkServerChain(serverChain, now(), chainPem)));
        if (oauthPublicKey !== undefined) errors.push(...collect(() => checkOauthKey(oauthPublicKey)));
        if (kid !== undefined && !/^[\x21-\x7e]{1,256}$/.test(kid)) errors.push({ code: "INVALID_FIELD", message: "the field 'kid' must be 1 to 256 printable ASCII characters without spaces" });
        if (apiKey !== undefined && (apiKey.trim() === "" || !/^[\x20-\x7e]+$/.test(apiKey))) {
          errors.push({ code: "API_KEY_INVALID", message: "the field 'apiKey' must be a non-empty string of printable ASCII characters (it is sent in the authorization header)" });
        }
        if (errors.length > 0) throw new JsonHttpError(422, errors);
        const existed = state.getCustomer(program.id, environment, customerId) !== undefined;
        const fields: CustomerFields = {
          issuerHost: issuerHost.trim(),
          serverChainPem: chainPem.value ?? serverChain,
          ...(oauthPublicKey !== undefined ? { oauthPublicKeyPem: oauthPublicKey } : {}),
          ...(kid !== undefined ? { kid } : {}),
          ...(apiKey !== undefined ? { apiKey } : {}),
          ...(program.id === "mt" ? { portalCn: state.portalCommonName(environment, customerId) } : {}),
        };
        const record = await state.putCustomer(program.id, environment, customerId, fields);
        await options.onCustomerChanged?.(program.id, environment, customerId);
        return {
          status: existed ? 200 : 201,
          body: {
            program: program.id,
            environment,
            customerId,
            issuerHost: record.issuerHost,
            ...(record.kid !== undefined ? { kid: record.kid } : {}),
            ...(record.oauthPublicKeyPem !== undefined ? { oauthPublicKey: true } : {}),
            ...(record.apiKey !== undefined ? { apiKey: "set" } : {}),
            ...(record.portalCn !== undefined ? { portalCn: record.portalCn } : {}),
            warnings: host.warnings,
          },
        };
      },
    },
    {
      path: ["assets"],
      method: "GET",
      programs: ["d1", "mt"],
      handler: async ({ program, environment, endpoint, query }) => {
        const customerId = query.get("customerId") ?? undefined;
        if (customerId !== undefined) checkCustomerId(program, environment, customerId);
        const bundle = await writeAssetBundle(options.assetsDir, program.id, environment, customerId, {
          pki,
          state,
          endpoint: { apiUrl: endpoint.apiUrl, ...(endpoint.authzUrl !== undefined ? { authzUrl: endpoint.authzUrl } : {}) },
          dnsServers: options.dnsServers ?? [],
        });
        return { status: 200, body: { ...bundle.manifest, files: bundle.files, directory: bundle.dir } };
      },
    },
    {
      path: ["rotate-client-certificate"],
      method: "POST",
      programs: ["d1", "mt"],
      handler: async ({ program, environment, body }) => {
        await body();
        if (options.rotateClientCertificate) await options.rotateClientCertificate(program.id, environment);
        else await pki.rotateClientCertificate(program.id, environment);
        const c = pki.clientCredential(program.id, environment);
        return {
          status: 200,
          body: {
            subject: c.info.subjectText,
            issuer: c.info.issuerText,
            serialNumber: c.info.serialNumber,
            fingerprint: fingerprint(c.info.der, "hex"),
            notAfter: c.info.notAfter.toISOString(),
            certificate: c.certPem,
            chain: c.chainPem,
          },
        };
      },
    },
    {
      path: ["notifications"],
      method: "POST",
      programs: ["d1", "mt"],
      handler: async ({ program, environment, body }) => {
        const raw = await body();
        const f = new Fields(raw);
        const customerId = f.string("customerId", true);
        const count = raw["count"] ?? 1;
        if (typeof count !== "number" || !Number.isInteger(count) || count < 1 || count > MAX_NOTIFICATIONS) {
          f.problems.push({ code: "INVALID_FIELD", message: `the field 'count' must be a whole number from 1 to ${MAX_NOTIFICATIONS}` });
        }
        f.done();
        checkCustomerId(program, environment, customerId);
        if (!state.getCustomer(program.id, environment, customerId)?.issuerHost) {
          fail(422, "CUSTOMER_NOT_REGISTERED", `${program.customerIdLabel} '${customerId}' has no registration with an issuerHost for ${program.name} ${environment}: PUT /v1/${program.id}/${environment}/customers/${customerId} first`);
        }
        if (!options.notify) fail(404, "NOT_AVAILABLE", "this emulator was started without a notifier");
        const ids = await options.notify(program.id, environment, customerId, count as number);
        return { status: 202, body: { ids } };
      },
    },
    {
      path: ["deliveries"],
      method: "GET",
      programs: ["d1", "mt"],
      handler: async ({ program, environment }) => ({ status: 200, body: { deliveries: (await options.deliveries?.(program.id, environment)) ?? [] } }),
    },
    {
      path: ["handshakes"],
      method: "GET",
      programs: ["d1", "mt"],
      handler: async ({ program, environment }) => ({ status: 200, body: { handshakes: (await options.handshakes?.(program.id, environment)) ?? [] } }),
    },
  ];

  const matches = (route: Route, rest: string[]): boolean => route.path.length === rest.length && route.path.every((p, i) => p === "*" || p === rest[i]);

  /** Finds and runs the JSON route for `method` on `/v1/{segments...}`; the portal page uses it too. */
  const dispatch = async (req: IncomingMessage, method: string, pathname: string, segments: string[], query: URLSearchParams, body: () => Promise<Record<string, unknown>>): Promise<{ status: number; body: unknown }> => {
    if (segments[segments.length - 1] === "" && segments.length > 1) segments.pop();
    if (segments[0] !== "v1" || segments.length < 4) fail(404, "NOT_FOUND", `no route ${method} ${pathname}`);
    const [, programId, envId, ...rest] = segments as [string, string, string, ...string[]];
    let program: ProgramPolicy;
    let environment: string;
    try {
      program = getProgram(programId);
      environment = getEnvironment(program, envId).id;
    } catch (e) {
      if (isMtlsError(e)) fail(404, e.code, `${e.message}. ${e.hint}`);
      throw e;
    }
    const endpoint = options.environments.find((x) => x.program === program.id && x.environment === environment);
    if (!endpoint) {
      const served = options.environments.map((x) => `${x.program}/${x.environment}`).join(", ") || "none";
      fail(404, "UNKNOWN_ENVIRONMENT", `this emulator does not serve ${program.name} ${environment} (it serves: ${served})`);
    }
    const candidates = routes.filter((r) => matches(r, rest));
    if (candidates.length === 0) fail(404, "NOT_FOUND", `no route ${method} ${pathname}`);
    const forProgram = candidates.filter((r) => r.programs.includes(program.id));
    if (forProgram.length === 0) {
      const other = Object.values(PROGRAMS).find((p) => candidates.some((r) => r.programs.includes(p.id)));
      fail(404, "NOT_FOUND", `${pathname} is a ${other?.name ?? "other program"} route: ${program.id === "mt" ? "MT client certificates are self-signed and endorsed (POST .../endorsements)" : "D1 client certificates are signed from a CSR (POST .../csr)"}`);
    }
    const route = forProgram.find((r) => r.method === method);
    if (!route) {
      const allow = [...new Set(forProgram.map((r) => r.method))].join(", ");
      fail(405, "METHOD_NOT_ALLOWED", `${method} is not allowed on ${pathname}; use ${allow}`, { allow });
    }
    const params = rest.filter((_, i) => route.path[i] === "*");
    return route.handler({ req, program, environment, endpoint, params, query, body });
  };

  const page = portalPage({ environments: options.environments, dispatch, limit, errorOf: (e) => errorAnswer(e, onInternalError) });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // DNS rebinding: a page of another site resolving its own name to 127.0.0.1 sends its Host.
    if (!isLoopbackHostHeader(req.headers.host)) fail(403, "HOST_NOT_ALLOWED", `the Host header '${req.headers.host ?? ""}' is not a loopback name or address: the portal answers only to localhost, 127.x.x.x and [::1]`);
    if (req.method !== "GET" && req.method !== "HEAD" && !isSameOriginRequest(req)) {
      fail(403, "CROSS_SITE_REQUEST", "a request that changes state came from another site (Origin / Sec-Fetch-Site): refused");
    }
    const url = new URL(req.url ?? "/", "http://portal.invalid");
    let segments: string[];
    try {
      segments = url.pathname.split("/").slice(1).map((s) => decodeURIComponent(s));
    } catch {
      fail(400, "INVALID_FIELD", "the path is not valid percent-encoding");
    }
    if (segments[0] !== "v1" && (await page.handle(req, res, url))) return;
    let bodyPromise: Promise<Record<string, unknown>> | undefined;
    const body = (): Promise<Record<string, unknown>> => (bodyPromise ??= readBody(req, limit, "the portal").then((b) => parseJsonObject(req, b)));
    const result = await dispatch(req, req.method ?? "GET", url.pathname, segments, url.searchParams, body);
    sendJson(res, result.status, result.body);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const a = errorAnswer(e, onInternalError);
      // A page's refusal (the Host check, a cross-site form) is a page; the JSON routes answer JSON.
      let pathname = "";
      try {
        pathname = new URL(req.url ?? "/", "http://portal.invalid").pathname;
      } catch {
        // not a URL: answered as JSON
      }
      if (isPagePath(pathname)) sendRefusalPage(res, a.status, a.errors, a.headers);
      else sendJson(res, a.status, { errors: a.errors }, a.headers);
    });
  });
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  // A body announced larger than the limit is refused before the client sends it.
  server.on("checkContinue", (req, res) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      const e = bodyTooLarge(limit, "the portal");
      sendJson(res, e.status, { errors: e.errors }, e.headers);
      return;
    }
    res.writeContinue();
    server.emit("request", req, res);
  });
  server.on("clientError", (_err, socket) => {
    if (socket.writable && !socket.writableEnded) {
      const text = JSON.stringify({ errors: [{ code: "MALFORMED_REQUEST", message: "the request is not valid HTTP/1.1" }] });
      socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
    } else {
      socket.destroy();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = isIP(address.address) === 6 ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

