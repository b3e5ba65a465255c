import { promises as fs } from "node:fs";
import { performance } from "node:perf_hooks";
import tls, { type SecureContext } from "node:tls";
import { request } from "undici";
import { ReloadableCredentials, type CredentialSet } from "../credentials/index.js";
import { MtlsError, type ErrorCode } from "../errors/index.js";
import { DEFAULT_RENEWAL_WINDOW, dayCount, needsRenewal, type Pkcs11Options, type RenewalWindow } from "../pki/index.js";
import { assertCertificateEnvironment, openProfile, withTokenAccess, type Profile } from "../store/index.js";
import { clientCertRefusal, receivedAlert, toMtlsError } from "./client-errors.js";
import { newCorrelationId } from "./correlation-id.js";
import { diagnose, type Diagnosis } from "./doctor-diagnosis.js";
import { firstResponse, handshake, oldestVersionProbe, tcpConnect, type HandshakeOutcome } from "./doctor-probes.js";
import { TtlResolver, type ResolvedAddress } from "./dns-resolver.js";
import { OAuthClient } from "./oauth-client.js";
import { loadOAuthKey, profileCredentialFiles, profileEndpoints, createProfileDispatcher, type ProfileEndpoints } from "./profile-client.js";
import { checkTrustRule, describeTrustRule, type ChainLink } from "./server-trust.js";
import { DEFAULT_CIPHERS, thalesTlsOptions } from "./tls-options.js";

export { diagnose, DIAGNOSIS_NAMES, type Diagnosis } from "./doctor-diagnosis.js";

/** The steps of the doctor, in order. */
export type DoctorStepId = "config" | "certificate" | "dns" | "tcp" | "tls" | "client-certificate" | "http" | "token";

/** One step of the doctor. */
export interface DoctorStep {
  readonly id: DoctorStepId;
  readonly title: string;
  readonly status: "pass" | "fail" | "skip";
  /** Time the step took, in milliseconds. */
  readonly ms: number;
  /** One line: what was seen, or why it was skipped. */
  readonly summary: string;
  readonly details: Record<string, unknown>;
  readonly diagnosis?: Diagnosis;
}

/** What {@link runDoctor} found. */
export interface DoctorReport {
  /** Every step passed. */
  readonly ok: boolean;
  readonly profile: string;
  readonly program: string;
  readonly environment: string;
  readonly target: { readonly origin: string; readonly host: string; readonly port: number; readonly basePath: string; readonly dnsServers: readonly string[] };
  readonly steps: readonly DoctorStep[];
  /** The diagnoses of the failed steps, in order. */
  readonly diagnoses: readonly Diagnosis[];
  readonly ms: number;
}

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  /** Time limit of each network step, in milliseconds. Default 10000. */
  timeoutMs?: number;
  /** Renewal window of the certificate step. Default 30 days. */
  renewalWindow?: RenewalWindow;
  /** Path of the HTTP step. Default: the program's base path (MT `/1/sandbox-v2/`, D1 `/`). */
  path?: string;
  /** The time certificates are judged at. Default now. */
  now?: Date;
  /** The clock the OAuth assertion is signed with (tests play a skewed clock). Default `Date.now`. */
  clock?: () => number;
  /**
   * Hears each step as it happens, in order: a step that runs sends `running` then `ok` or
   * `fail`; a skipped step sends one `skip`. What the listener throws is ignored.
   */
  onStep?: (event: DoctorStepEvent) => void;
  /** Where the profile's keys in a token are reached (`--pkcs11-module`, `--pin-file`). Default: the environment and the profile. */
  pkcs11?: Pkcs11Options;
}

/** What {@link DoctorOptions.onStep} hears: a step starting (`running`) or ending. */
export interface DoctorStepEvent {
  readonly id: DoctorStepId;
  readonly title: string;
  readonly status: "running" | "ok" | "fail" | "skip";
  /** The step's one-line summary (on `ok`, `fail`), or why it was skipped (on `skip`). */
  readonly detail?: string;
  /** The error code of the diagnosis (on `fail`). */
  readonly code?: ErrorCode;
  /** Time the step took, in milliseconds (on `ok`, `fail`). */
  readonly ms?: number;
}

function asMtlsError(e: unknown, target: string, profile: Profile): MtlsError {
  return toMtlsError(e, { target, program: profile.program }) ?? new MtlsError("INTERNAL", String((e as Error)?.message ?? e), { cause: e });
}

const round = (ms: number) => Math.round(ms * 10) / 10;

async function exists(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

function linkText(l: ChainLink): string {
  return l.subject || `CN=${l.subjectCn ?? "?"}`;
}

function refusalOf(e: Error & { code?: string }, profile: Profile, set: CredentialSet | undefined, target: string): MtlsError | undefined {
  const alert = receivedAlert(e);
  if (!alert) return undefined;
  const r = clientCertRefusal(alert, profile.program);
  if (!r) return undefined;
  const leaf = set?.leaf;
  const who = leaf ? ` (${leaf.subjectText}, SHA-256 ${leaf.sha256Fingerprint})` : "";
  let hint: string | undefined;
  if (r.code === "TLS_CLIENT_CERT_NOT_ENDORSED") hint = `Register this certificate in the Thales portal for ${profile.program.name} ${profile.environment.label}${who}, or install the one Thales endorsed.`;
  if (r.code === "TLS_CLIENT_CERT_UNKNOWN_CA") hint = `Install the certificate Thales's ${profile.environment.label} CA signed for your CSR (mtlskit cert install), with its chain; this one is issued by ${leaf?.issuerText ?? "another CA"}.`;
  return new MtlsError(r.code, `${target}: ${r.why}${who}`, { subject: target, cause: e, ...(hint ? { hint } : {}) });
}

/** What a step returns: a pass, or a failure with its diagnosis. */
interface StepResult {
  summary: string;
  details?: Record<string, unknown>;
  fail?: Diagnosis;
}

/** What the steps find and hand to the steps after them. */
interface DoctorState {
  readonly profile: Profile;
  readonly options: DoctorOptions;
  readonly timeoutMs: number;
  readonly now: Date;
  readonly endpoints: ProfileEndpoints;
  /** `host:port`, for messages. */
  readonly target: string;
  readonly isD1: boolean;
  /** A thrown error as the coded error of this target. */
  readonly fail: (e: unknown) => MtlsError;
  /** The steps that passed. */
  readonly passed: Set<DoctorStepId>;
  clientFiles: boolean;
  oauthReady: boolean;
  credentialSet?: CredentialSet;
  secureContext?: SecureContext;
  addresses: ResolvedAddress[];
  address?: string;
  hs?: HandshakeOutcome;
  refusedInHandshake?: MtlsError;
  /** The HTTP step got an answer, whatever its status (the token step may go ahead). */
  httpAnswered?: boolean;
}

/** One named step: why it is skipped (given what the steps before it found), and what it does. */
interface StepDefinition {
  readonly id: DoctorStepId;
  readonly title: string;
  /** Why the step is skipped, or undefined to run it. */
  skip?(s: DoctorState): string | undefined;
  /** The check; a thrown error is the step's failure (through `s.fail`). */
  run(s: DoctorState): Promise<StepResult>;
}

async function configStep(s: DoctorState): Promise<StepResult> {
  const { profile, endpoints, isD1 } = s;
  const p = profile.paths;
  const missing: MtlsError[] = [];
  try {
    await profileCredentialFiles(profile);
    s.clientFiles = true;
  } catch (e) {
    missing.push(e as MtlsError);
  }
  const trust = (await exists(p.assets.serverTrust)) ? p.assets.serverTrust : undefined;
  if (isD1) {
    try {
      await loadOAuthKey(profile);
      s.oauthReady = true;
    } catch (e) {
      if (e instanceof MtlsError) missing.push(e);
      else throw e;
    }
    if (!endpoints.tokenUrl) missing.push(new MtlsError("PROFILE_INCOMPLETE", `profile '${profile.name}' has no authz URL (D1_AUTHZ_URL)`, { hint: "Import the assets of the environment: mtlskit assets import." }));
  }
  const details = {
    origin: endpoints.origin,
    basePath: endpoints.basePath,
    dnsServers: profile.dnsServers.length ? profile.dnsServers : "system",
    serverTrust: trust ?? "Node's Mozilla root store",
    ...(isD1 ? { tokenUrl: endpoints.tokenUrl ?? null, kid: profile.oauthKid ?? null } : {}),
  };
  if (missing.length > 0) return { summary: missing.map((m) => m.message).join("; "), details, fail: diagnose(missing[0]!) };
  return { summary: `${profile.program.name} ${profile.environment.label}, ${endpoints.origin}${endpoints.basePath}, trust ${trust ? "from the Thales assets" : "Node's Mozilla roots"}`, details };
}

async function certificateStep(s: DoctorState): Promise<StepResult> {
  const { profile, options, now } = s;
  const creds = await ReloadableCredentials.load(await profileCredentialFiles(profile), { requireCurrentLeaf: false });
  const set = creds.current();
  s.credentialSet = set;
  s.secureContext = thalesTlsOptions({ program: profile.program, credentials: set }).secureContext;
  const leaf = set.leaf;
  const r = needsRenewal(leaf, options.renewalWindow ?? DEFAULT_RENEWAL_WINDOW, now);
  const details = { subject: leaf.subjectText, issuer: leaf.issuerText, notBefore: leaf.notBefore.toISOString(), notAfter: leaf.notAfter.toISOString(), daysLeft: r.daysLeft, sha256Fingerprint: leaf.sha256Fingerprint, chain: set.chain.slice(1).map((c) => c.subjectText) };
  try {
    assertCertificateEnvironment(profile, leaf, "the client certificate");
  } catch (e) {
    if (e instanceof MtlsError) return { summary: e.message, details, fail: diagnose(e) };
    throw e;
  }
  if (r.expired || r.notYetValid) {
    const e = new MtlsError("CERTIFICATE_NOT_CURRENT", `the client certificate ${leaf.subjectText} ${r.notYetValid ? `is not valid before ${leaf.notBefore.toISOString()}` : r.message}`);
    return { summary: e.message, details, fail: diagnose(e, `Renew it: mtlskit renew --profile ${profile.name}${r.notYetValid ? ", or check this machine's clock" : ""}.`) };
  }
  if (r.due) {
    const e = new MtlsError("CERTIFICATE_RENEWAL_DUE", `the client certificate ${leaf.subjectText}: ${r.message}`);
    return { summary: e.message, details, fail: diagnose(e, `Renew it now: mtlskit renew --profile ${profile.name}.`) };
  }
  const inToken = set.keyLocation.startsWith("key in token") ? `; ${set.keyLocation}` : "";
  return { summary: `${leaf.subjectText}, issued by ${leaf.issuerText}, ${dayCount(r.daysLeft)} left${inToken}`, details: { ...details, ...(inToken ? { key: set.keyLocation } : {}) } };
}

async function dnsStep(s: DoctorState): Promise<StepResult> {
  const { profile, endpoints } = s;
  const resolver = new TtlResolver({ servers: profile.dnsServers, timeoutMs: Math.min(s.timeoutMs, 5000) });
  s.addresses = await resolver.resolve(endpoints.hostname);
  return {
    summary: `${endpoints.hostname} -> ${s.addresses.map((a) => `${a.address} (TTL ${a.ttlSeconds} s)`).join(", ")}`,
    details: { host: endpoints.hostname, servers: profile.dnsServers.length ? profile.dnsServers : "system", addresses: s.addresses },
  };
}

async function tcpStep(s: DoctorState): Promise<StepResult> {
  const port = s.endpoints.port;
  let last: unknown;
  for (const a of s.addresses) {
    try {
      await tcpConnect(a.address, port, s.timeoutMs);
      s.address = a.address;
      return { summary: `${a.address}:${port} accepts connections`, details: { address: a.address, port } };
    } catch (e) {
      last = e;
    }
  }
  throw s.fail(last);
}

async function tlsStep(s: DoctorState): Promise<StepResult> {
  const { profile, endpoints, target, timeoutMs } = s;
  const address = s.address!;
  const trustFile = profile.paths.assets.serverTrust;
  const ctx = s.secureContext ?? tls.createSecureContext({ minVersion: profile.program.tls.minVersion, maxVersion: profile.program.tls.maxVersion, ciphers: DEFAULT_CIPHERS, ...((await exists(trustFile)) ? { ca: await fs.readFile(trustFile, "utf8") } : {}) });
  const hs = await handshake(address, endpoints.port, endpoints.hostname, ctx, timeoutMs);
  s.hs = hs;
  const trustSource = (await exists(trustFile)) ? trustFile : "Node's Mozilla root store";
  const refusedInHandshake = hs.error ? refusalOf(hs.error, profile, s.credentialSet, target) : undefined;
  if (refusedInHandshake) s.refusedInHandshake = refusedInHandshake;
  if (hs.error && !(refusedInHandshake && hs.chain.length > 0)) {
    if (refusedInHandshake) return { summary: `the server ended the handshake refusing the client certificate`, details: { alert: receivedAlert(hs.error) }, fail: diagnose(refusedInHandshake) };
    const e = s.fail(hs.error);
    if (e.code === "TLS_PROTOCOL_VERSION") {
      const old = await oldestVersionProbe(address, endpoints.port, endpoints.hostname, timeoutMs).catch(() => undefined);
      const err = new MtlsError("TLS_PROTOCOL_VERSION", `${target}: the server offers ${old ? `at most ${old}` : "no TLS version of 1.2 or later"}; ${profile.program.name} requires TLS 1.2 or 1.3`, { cause: hs.error });
      return { summary: err.message, details: { serverVersion: old ?? null, offered: ["TLSv1.2", "TLSv1.3"] }, fail: diagnose(err) };
    }
    return { summary: e.message, details: {}, fail: diagnose(e) };
  }
  const rule = checkTrustRule(profile.program, hs.chain);
  const nameError = hs.peer ? tls.checkServerIdentity(endpoints.hostname, hs.peer) : new Error("no certificate");
  const details = {
    protocol: hs.protocol ?? null,
    cipher: hs.cipher?.standardName ?? null,
    chain: hs.chain.map((l) => ({ subject: linkText(l), issuerCn: l.issuerCn ?? null, sha256Fingerprint: l.fingerprint256 ?? null })),
    trust: { source: trustSource, verified: hs.authorized || (!!refusedInHandshake && hs.chain.length > 0 && !hs.authorizationError), error: hs.authorizationError ?? null },
    rule: { text: describeTrustRule(profile.program.serverTrust), satisfied: rule.ok },
    hostname: { name: endpoints.hostname, matches: !nameError, altNames: hs.peer?.subjectaltname ?? null },
  };
  const presented = hs.chain.map(linkText).join(" <- ") || "no certificate";
  if (hs.authorizationError) {
    const e = new MtlsError("TLS_SERVER_NOT_TRUSTED", `${target}: the server chain (${presented}) does not verify against ${trustSource} (${hs.authorizationError})`, {
      hint: `Import the current server CA chain of ${profile.program.name} ${profile.environment.label} (mtlskit assets import), and check that ${endpoints.hostname} is Thales's host.`,
    });
    return { summary: e.message, details, fail: diagnose(e) };
  }
  if (nameError) {
    const e = new MtlsError("TLS_HOSTNAME_MISMATCH", `${target}: the server certificate is for ${hs.peer?.subjectaltname ?? "another name"}, not ${endpoints.hostname}`);
    return { summary: e.message, details, fail: diagnose(e) };
  }
  if (!rule.ok) {
    const e = new MtlsError("TLS_SERVER_WRONG_CA", `${target}: ${rule.message}`);
    return { summary: e.message, details, fail: diagnose(e) };
  }
  return { summary: `${hs.protocol ?? "?"} ${hs.cipher?.standardName ?? ""}, chain ${presented}, ${rule.rule} (${rule.matched}), name ${endpoints.hostname} matches`, details };
}

function clientCertificateSkip(s: DoctorState): string | undefined {
  if (!s.passed.has("tcp") || !s.address) return "no TLS session (see above)";
  if (!s.passed.has("tls")) {
    return s.refusedInHandshake && s.hs?.chain.length === 0 ? "see the TLS handshake: the server refused the client certificate" : "the server's identity did not check out: nothing is sent to it";
  }
  if (!s.credentialSet) return "no usable client certificate (see above)";
  return undefined;
}

async function clientCertificateStep(s: DoctorState): Promise<StepResult> {
  const { endpoints, hs, credentialSet, target, profile } = s;
  if (s.refusedInHandshake) return { summary: s.refusedInHandshake.message, details: { alert: receivedAlert(hs!.error!), during: "handshake" }, fail: diagnose(s.refusedInHandshake) };
  const r = await firstResponse(hs!, `${endpoints.hostname}:${endpoints.port}`, s.options.path ?? endpoints.basePath, s.timeoutMs);
  if (r.error) {
    const refusal = refusalOf(r.error, profile, credentialSet, target);
    const e = refusal ?? s.fail(r.error);
    return { summary: e.message, details: { alert: receivedAlert(r.error) ?? null }, fail: diagnose(e) };
  }
  return { summary: `the server accepted ${credentialSet!.leaf.subjectText} and answered HTTP ${r.status}`, details: { subject: credentialSet!.leaf.subjectText, status: r.status } };
}

function doctorDispatcher(s: DoctorState) {
  const t = s.timeoutMs;
  return createProfileDispatcher(s.profile, { oauth: false, retry: false, credentialRules: { requireCurrentLeaf: false }, timeouts: { connectMs: t, headersMs: t, bodyMs: t } });
}

async function httpStep(s: DoctorState): Promise<StepResult> {
  const { endpoints, target } = s;
  const dispatcher = await doctorDispatcher(s);
  try {
    const path = s.options.path ?? endpoints.basePath;
    const correlationId = newCorrelationId();
    const t0 = Date.now();
    const res = await request(`${endpoints.origin}${path}`, { dispatcher, headers: { "x-correlation-id": correlationId } });
    await res.body.dump();
    s.httpAnswered = true;
    const date = typeof res.headers.date === "string" ? Date.parse(res.headers.date) : NaN;
    const skewSeconds = Number.isNaN(date) ? null : Math.round((t0 - date) / 1000);
    const details = { url: `${endpoints.origin}${path}`, status: res.statusCode, correlationId, clockSkewSeconds: skewSeconds };
    if (res.statusCode >= 500) {
      const e = new MtlsError("HTTP_SERVER_ERROR", `${target}: GET ${path} answered ${res.statusCode} (x-correlation-id ${correlationId})`);
      return { summary: e.message, details, fail: diagnose(e) };
    }
    if (res.statusCode === 404 && path === endpoints.basePath && endpoints.basePath !== "/") {
      const e = new MtlsError("HTTP_BASE_PATH_NOT_FOUND", `${target}: GET ${path} answered 404`);
      return { summary: e.message, details, fail: diagnose(e) };
    }
    return { summary: `GET ${path} -> ${res.statusCode} (x-correlation-id ${correlationId})`, details };
  } finally {
    await dispatcher.destroy().catch(() => undefined);
  }
}

async function tokenStep(s: DoctorState): Promise<StepResult> {
  const { profile, endpoints, options } = s;
  const dispatcher = await doctorDispatcher(s);
  try {
    const key = await loadOAuthKey(profile);
    const oauth = new OAuthClient({ dispatcher, tokenUrl: endpoints.tokenUrl!, issuer: profile.customerId, kid: key.kid, privateKey: key.privateKey, program: profile.program, ...(options.clock ? { now: options.clock } : {}) });
    const t = await oauth.getToken();
    return { summary: `${t.tokenType} token for ${profile.customerId} (kid ${key.kid}), expires in ${t.expiresIn} s${t.scope ? `, scope ${t.scope}` : ""}`, details: { ...t.toJSON(), kid: key.kid, tokenUrl: endpoints.tokenUrl } };
  } finally {
    await dispatcher.destroy().catch(() => undefined);
  }
}

/** The steps of the doctor, in order (`token` for D1 only). */
const STEPS: readonly StepDefinition[] = [
  { id: "config", title: "configuration complete", run: configStep },
  { id: "certificate", title: "client certificate valid and not due", skip: (s) => (s.clientFiles ? undefined : "no client key or certificate (see config)"), run: certificateStep },
  { id: "dns", title: "DNS resolves", run: dnsStep },
  { id: "tcp", title: "TCP connects", skip: (s) => (s.passed.has("dns") ? undefined : "no address (see DNS)"), run: tcpStep },
  { id: "tls", title: "TLS handshake", skip: (s) => (s.passed.has("tcp") && s.address ? undefined : "no TCP connection (see above)"), run: tlsStep },
  { id: "client-certificate", title: "client certificate accepted", skip: clientCertificateSkip, run: clientCertificateStep },
  { id: "http", title: "HTTP reaches the base path", skip: (s) => (s.passed.has("client-certificate") && s.credentialSet ? undefined : "no accepted mTLS session (see above)"), run: httpStep },
  {
    id: "token",
    title: "OAuth 2.0 token obtained",
    skip: (s) => (!s.oauthReady ? "no OAuth signing key or kid (see config)" : !s.httpAnswered || !s.endpoints.tokenUrl ? "the API was not reached (see above)" : undefined),
    run: tokenStep,
  },
];

/** The ids and titles of the steps the doctor runs for a program, in order (for a UI that lists them before they run). */
export function doctorSteps(profile: Pick<Profile, "program">): ReadonlyArray<{ readonly id: DoctorStepId; readonly title: string }> {
  const isD1 = profile.program.auth.kind === "oauth2-jwt-bearer";
  return STEPS.filter((d) => d.id !== "token" || isD1).map(({ id, title }) => ({ id, title }));
}

function emit(onStep: DoctorOptions["onStep"], event: DoctorStepEvent): void {
  if (!onStep) return;
  try {
    onStep(event);
  } catch {
    // A listener's failure is not the doctor's: the report stays whole.
  }
}

/**
 * The connectivity doctor (`mtlskit check`): checks a profile's outbound path step by step,
 * timing each, and ends each known failure in a named diagnosis with its fix. Steps: config
 * complete; certificate valid and not due; DNS (addresses, TTL); TCP; TLS handshake (version,
 * cipher, chain as presented, the program's trust rule, host name); client certificate
 * accepted; HTTP reaches the base path; (D1) a token is obtained. A step whose prerequisite
 * failed is skipped; nothing is sent to a server whose chain or name does not check out.
 * `options.onStep` hears each step start and end as it happens.
 *
 * @example
 * const report = await checkProfile(".mtlskit", "mt-sbx");
 * for (const s of report.steps) console.log(s.status, s.title, s.ms, s.summary);
 */
export async function runDoctor(profile: Profile, options: DoctorOptions = {}): Promise<DoctorReport> {
  const started = performance.now();
  const endpoints = profileEndpoints(profile);
  const target = `${endpoints.hostname}:${endpoints.port}`;
  const state: DoctorState = {
    profile,
    options,
    timeoutMs: options.timeoutMs ?? 10_000,
    now: options.now ?? new Date(),
    endpoints,
    target,
    isD1: profile.program.auth.kind === "oauth2-jwt-bearer",
    fail: (e) => asMtlsError(e, target, profile),
    passed: new Set(),
    clientFiles: false,
    oauthReady: false,
    addresses: [],
  };
  const list: DoctorStep[] = [];
  try {
    for (const def of STEPS) {
      if (def.id === "token" && !state.isD1) continue;
      const { id, title } = def;
      const why = def.skip?.(state);
      if (why !== undefined) {
        list.push({ id, title, status: "skip", ms: 0, summary: why, details: {} });
        emit(options.onStep, { id, title, status: "skip", detail: why });
        continue;
      }
      emit(options.onStep, { id, title, status: "running" });
      const t0 = performance.now();
      let step: DoctorStep;
      try {
        const r = await def.run(state);
        step = { id, title, status: r.fail ? "fail" : "pass", ms: round(performance.now() - t0), summary: r.summary, details: r.details ?? {}, ...(r.fail ? { diagnosis: r.fail } : {}) };
      } catch (e) {
        const err = e instanceof MtlsError ? e : state.fail(e);
        step = { id, title, status: "fail", ms: round(performance.now() - t0), summary: err.message, details: {}, diagnosis: diagnose(err) };
      }
      if (step.status === "pass") state.passed.add(id);
      list.push(step);
      emit(options.onStep, { id, title, status: step.status === "pass" ? "ok" : "fail", detail: step.summary, ms: step.ms, ...(step.diagnosis ? { code: step.diagnosis.code } : {}) });
    }
  } finally {
    state.hs?.socket?.destroy();
  }
  return {
    ok: list.every((s) => s.status === "pass"),
    profile: profile.name,
    program: profile.program.id,
    environment: profile.environment.id,
    target: { origin: endpoints.origin, host: endpoints.hostname, port: endpoints.port, basePath: endpoints.basePath, dnsServers: profile.dnsServers },
    steps: list,
    diagnoses: list.flatMap((s) => (s.diagnosis ? [s.diagnosis] : [])),
    ms: round(performance.now() - started),
  };
}

/** {@link runDoctor} on the profile `name` of the workspace `dir`. */
export async function checkProfile(dir: string, name: string, options: DoctorOptions = {}): Promise<DoctorReport> {
  return runDoctor(withTokenAccess(await openProfile(dir, name), options.pkcs11), options);
}
