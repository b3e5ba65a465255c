/**
 * The steps of `mtlskit demo` that both programs run the same way: server certificate and
 * registration with Thales, the doctor, the echo call, the endpoint and its notifications, and
 * a renewal under a stream of calls. Program-specific steps are in d1.ts and mt.ts.
 */
import { performance } from "node:perf_hooks";
import { request } from "undici";
import { ASSET_NAMES, openWorkspace, type ExportAssetsResult } from "../../store/index.js";
import { callProfile, checkProfile, openThalesDispatcher, resolveCallUrl, type ThalesDispatcher } from "../../client/index.js";
import { createInboundServer, profileInboundFiles, silentLogger } from "../../server/index.js";
import { MtlsError } from "../../errors/index.js";
import { formatFingerprint, readInputFile } from "../../pki/index.js";
import type { Delivery } from "../../emulator/index.js";
import { sleep, type DemoProgram, type DemoSession } from "./session.js";

/** One step: a line of the progress display. `run` resolves with the detail shown on that line. */
export interface DemoStep {
  /** Stable id (`d1.check`), for --json. */
  readonly id: string;
  /** What the line says. */
  readonly name: string;
  run(): Promise<string>;
}

/** What differs between the programs. */
export interface ProgramDriver {
  readonly id: DemoProgram;
  /** `D1`, `MT`: the prefix of the step names. */
  readonly tag: string;
  readonly label: string;
  readonly environment: string;
  readonly profile: string;
  readonly customerId: string;
  /** The host name Thales calls on the customer's side (ISSUER_HOST, without a port). */
  readonly notifyHost: string;
  /** The echo resource, as `mtlskit call` takes it. */
  readonly echoPath: string;
  /** Steps from nothing to a profile with an active client certificate and Thales's assets. */
  onboarding(s: DemoSession): DemoStep[];
  /** Issues a new client certificate and makes it the active one; resolves with its SHA-256 fingerprint. */
  renew(s: DemoSession): Promise<string>;
}

/** Notifications sent before, and again after, Thales rotates its client certificate. */
export const NOTIFICATIONS_PER_ROUND = 5;

function failed(message: string, hint?: string): MtlsError {
  return new MtlsError("DEMO_STEP_FAILED", message, hint ? { hint } : {});
}

/** `server-cert set`: the endpoint's certificate, from the customer's (demo) private CA. */
export function serverCertStep(d: ProgramDriver, s: DemoSession): DemoStep {
  return {
    id: `${d.id}.server-cert`,
    name: `${d.tag}: server-cert set (the endpoint Thales calls)`,
    async run() {
      const files = await (await s.merchantPki()).issue(d.notifyHost);
      const r = await openWorkspace(s.folders.workspace).profile(d.profile).setServerCertificate({ ...files, host: d.notifyHost });
      const store = r.trustStoreFile ? ", root handed to Thales as a PEM trust store" : "";
      return `${r.subject.replace(/^.*CN=/, "CN=")} <- ${r.chain.slice(1).map((c) => c.subject.replace(/^.*CN=/, "CN=")).join(" <- ")}${store}`;
    },
  };
}

/** `assets export`, then what Thales does with it: the portal registers the customer (PUT .../customers/{id}). */
export function registerStep(d: ProgramDriver, s: DemoSession): DemoStep {
  return {
    id: `${d.id}.register`,
    name: `${d.tag}: assets export, registered with Thales`,
    async run() {
      const out = `${s.folders.exchange}/to-thales-${d.profile}`;
      const exported = await openWorkspace(s.folders.workspace).profile(d.profile).exportAssets(out);
      const n = ASSET_NAMES[d.id].toThales;
      const body: Record<string, unknown> = {
        issuerHost: value(exported, n.issuerHost),
        serverChain: await file(exported, n.serverChain),
      };
      if (d.id === "d1") {
        body["oauthPublicKey"] = await file(exported, n.oauthPublicKey!);
        body["kid"] = value(exported, n.oauthKid!);
      } else {
        body["apiKey"] = s.apiKey;
      }
      await s.portal("PUT", `/v1/${d.id}/${d.environment}/customers/${d.customerId}`, body);
      s.registrations.set(d.id, body);
      const sent = exported.assets.map((a) => a.name).join(", ");
      return d.id === "d1" ? `sent ${sent}` : `sent ${sent} (+ the API key of notifications)`;
    },
  };
}

function value(r: ExportAssetsResult, name: string): string {
  const a = r.assets.find((x) => x.name === name);
  if (!a?.value) throw failed(`assets export wrote no ${name}`, (r.missing.find((m) => m.name === name)?.hint ?? "") || undefined);
  return a.value;
}

async function file(r: ExportAssetsResult, name: string): Promise<string> {
  const a = r.assets.find((x) => x.name === name);
  if (!a?.file) throw failed(`assets export wrote no ${name}`, (r.missing.find((m) => m.name === name)?.hint ?? "") || undefined);
  return (await readInputFile(a.file)).toString("utf8");
}

/** `mtlskit check`: every step of the doctor green. */
export function checkStep(d: ProgramDriver, s: DemoSession): DemoStep {
  return {
    id: `${d.id}.check`,
    name: `${d.tag}: check --profile ${d.profile}`,
    async run() {
      const r = await checkProfile(s.folders.workspace, d.profile, { timeoutMs: 5_000 });
      const passed = r.steps.filter((x) => x.status === "pass").length;
      s.summary(d.id).check = { passed, steps: r.steps.length, ms: Math.round(r.ms) };
      if (!r.ok) {
        const bad = r.steps.find((x) => x.status === "fail")!;
        const diag = bad.diagnosis;
        throw new MtlsError(diag?.code ?? "DEMO_STEP_FAILED", `check failed at '${bad.title}': ${diag ? `${diag.name}: ${diag.message}` : bad.summary}`, diag ? { hint: diag.fix } : {});
      }
      return `${passed}/${r.steps.length} green (${r.steps.map((x) => x.id).join(", ")})`;
    },
  };
}

/** `mtlskit call ... echo`: the identity Thales saw. */
export function callStep(d: ProgramDriver, s: DemoSession): DemoStep {
  return {
    id: `${d.id}.call`,
    name: `${d.tag}: call ${d.echoPath}`,
    async run() {
      const r = await callProfile(s.folders.workspace, d.profile, { path: d.echoPath, timeoutMs: 10_000 });
      const text = r.body.toString("utf8");
      if (r.status !== 200) throw failed(`${r.method} ${r.url} answered HTTP ${r.status}: ${text.slice(0, 200)}`);
      const body = JSON.parse(text) as { identity?: { subject?: string; fingerprint?: string } };
      const seen = body.identity ?? {};
      const mine = s.summary(d.id).clientCertificate?.sha256 ?? "";
      if (!seen.fingerprint || formatFingerprint(seen.fingerprint, "hex") !== formatFingerprint(mine, "hex")) {
        throw failed(`Thales saw the certificate ${seen.fingerprint ?? "(none)"}, not the profile's ${mine}`);
      }
      s.summary(d.id).echo = { status: r.status, subject: seen.subject ?? "", sha256: mine };
      const cn = /(?:^|, )CN=(.*)$/.exec(seen.subject ?? "")?.[1];
      return `HTTP ${r.status} in ${Math.round(r.ms)} ms${r.authenticated ? " with a bearer token" : ""}; Thales saw ${cn ? `CN=${cn}` : (seen.subject ?? "?")}, SHA-256 ${formatFingerprint(mine, "short")}`;
    },
  };
}

/** `mtlskit serve` in front of the sample application, and ISSUER_HOST (with the port) given to Thales. */
export function serveStep(d: ProgramDriver, s: DemoSession): DemoStep {
  return {
    id: `${d.id}.serve`,
    name: `${d.tag}: serve, endpoint registered with Thales`,
    async run() {
      const upstream = s.upstream;
      if (!upstream) throw failed("the sample application is not running");
      const { files, profile } = await profileInboundFiles(s.folders.workspace, d.profile);
      const srv = await createInboundServer({
        credentials: files,
        upstream: upstream.url,
        listen: { host: "127.0.0.1", port: 0 },
        admin: false,
        profile: d.profile,
        program: profile.program,
        logger: silentLogger,
        reload: { watch: false },
      });
      s.onStop(`${d.tag} endpoint`, () => srv.close({ graceMs: 1_000 }));
      s.servers.set(d.id, srv);
      // Thales calls port 443 (or 8443); the demo's endpoint listens on a free loopback port,
      // registered as ISSUER_HOST's port, and the emulator's DNS stand-in answers for the name.
      const issuerHost = `${d.notifyHost}:${srv.address.port}`;
      s.emu.dns.set(d.notifyHost, "127.0.0.1", 30);
      const registered = s.registrations.get(d.id);
      if (!registered) throw failed(`${d.label} is not registered with Thales`);
      await s.portal("PUT", `/v1/${d.id}/${d.environment}/customers/${d.customerId}`, { ...registered, issuerHost });
      s.summary(d.id).endpoint = { url: srv.url, issuerHost };
      const ca = srv.credentials.current().cas.map((c) => c.subjectText.replace(/^.*CN=/, "CN=")).join(", ");
      return `${srv.url} -> ${upstream.url}; Thales calls ${issuerHost}; client CA trusted: ${ca}`;
    },
  };
}

/** Refused handshakes on an endpoint, from its metrics. */
function refusedHandshakes(metricsText: string): number {
  let n = 0;
  for (const m of metricsText.matchAll(/^mtlskit_inbound_handshakes_total\{result="([^"]+)"\} (\d+)/gm)) if (m[1] !== "ok") n += Number(m[2]);
  return n;
}

function lastAttempt(d: Delivery): string {
  const a = d.attempts[d.attempts.length - 1];
  if (!a) return "never attempted";
  return a.status !== undefined ? `HTTP ${a.status}` : (a.error ?? "no answer");
}

/** Thales sends notifications, rotates its client certificate, sends more: all delivered, none refused. */
export function notifyStep(d: ProgramDriver, s: DemoSession): DemoStep {
  return {
    id: `${d.id}.notify`,
    name: `${d.tag}: notifications, Thales rotates its certificate midway`,
    async run() {
      const route = `/v1/${d.id}/${d.environment}`;
      const upstream = s.upstream!;
      const srv = s.servers.get(d.id);
      if (!srv) throw failed(`the ${d.label} endpoint is not running`);
      if (s.faults.upstreamDown) await upstream.stop();
      const send = async () => (await s.portal<{ ids: string[] }>("POST", `${route}/notifications`, { customerId: d.customerId, count: NOTIFICATIONS_PER_ROUND })).ids;
      const settle = () => s.emu.notifier.idle(20_000);
      const ids = await send();
      await settle();
      const rotated = await s.portal<{ serialNumber: string; subject: string }>("POST", `${route}/rotate-client-certificate`, {});
      ids.push(...(await send()));
      await settle();

      const wanted = new Set(ids);
      const log = (await s.portal<{ deliveries: Delivery[] }>("GET", `${route}/deliveries`)).deliveries.filter((x) => wanted.has(x.id));
      const delivered = log.filter((x) => x.state === "delivered");
      const refused = log.reduce((n, x) => n + x.attempts.filter((a) => a.status === undefined || a.status < 200 || a.status > 299).length, 0);
      const correlationIds = new Set(log.map((x) => x.correlationId));
      const received = upstream.received.filter((r) => r.correlationId !== undefined && correlationIds.has(r.correlationId) && r.status < 300);
      const serials = new Set(received.map((r) => r.clientSerial));
      const refusedTls = refusedHandshakes(srv.metricsText());
      s.summary(d.id).notifications = {
        sent: ids.length,
        delivered: delivered.length,
        refused: refused + refusedTls,
        failed: log.filter((x) => x.state === "failed").length,
        thalesCertificates: serials.size,
        received: new Set(received.map((r) => r.correlationId)).size,
      };
      if (delivered.length !== ids.length) {
        const bad = log.find((x) => x.state !== "delivered");
        throw failed(
          `${ids.length - delivered.length} of ${ids.length} notifications not delivered${bad ? ` (${bad.state} after ${bad.attempts.length} attempt(s); last: ${lastAttempt(bad)})` : ""}`,
          bad?.attempts.some((a) => a.status === 503)
            ? "The endpoint answered 503: the application behind it (--upstream) is down or too slow. Thales retries 503 with backoff, then gives up."
            : `Look at the emulator's delivery log: GET ${route}/deliveries on the portal.`,
        );
      }
      if (refused + refusedTls > 0) throw failed(`${refused} attempt(s) answered with an error and ${refusedTls} handshake(s) refused by the endpoint`, "Every notification should go through at the first attempt: look at the delivery log and the endpoint's log.");
      if (new Set(received.map((r) => r.correlationId)).size !== ids.length) throw failed(`the application received ${received.length} of the ${ids.length} notifications`);
      if (d.id === "mt" && received.some((r) => !r.apiKeyOk)) throw failed("a notification came without the registered API key");
      if (serials.size < 2) throw failed(`the application saw ${serials.size} Thales client certificate(s); the rotation should show two`);
      return `${ids.length} sent, ${delivered.length} delivered, 0 refused; Thales's new certificate (serial ${rotated.serialNumber.slice(0, 8)}…) accepted through the Thales Client CA, no change on this side`;
    },
  };
}

/** One call of the stream run during a renewal. */
interface StreamCall {
  start: number;
  end: number;
  sha256?: string;
  error?: string;
}

/** Calls `url` in a loop on `workers` parallel lanes until stopped. */
function callStream(dispatcher: ThalesDispatcher, url: URL, workers: number): { calls: StreamCall[]; stop(): Promise<void> } {
  const calls: StreamCall[] = [];
  let stopped = false;
  const lane = async () => {
    while (!stopped) {
      const start = performance.now();
      try {
        const res = await request(url, { dispatcher, method: "GET" });
        const text = await res.body.text();
        if (res.statusCode !== 200) calls.push({ start, end: performance.now(), error: `HTTP ${res.statusCode}: ${text.slice(0, 120)}` });
        else calls.push({ start, end: performance.now(), sha256: formatFingerprint((JSON.parse(text) as { identity?: { fingerprint?: string } }).identity?.fingerprint ?? "", "hex") });
      } catch (e) {
        calls.push({ start, end: performance.now(), error: e instanceof MtlsError ? `[${e.code}] ${e.message}` : String((e as Error)?.message ?? e) });
        // A failing lane must not spin.
        await sleep(20);
      }
    }
  };
  const lanes = Array.from({ length: workers }, lane);
  return {
    calls,
    async stop() {
      stopped = true;
      await Promise.all(lanes);
    },
  };
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw failed(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Calls made after the swap before the stream stops. */
const CALLS_AFTER_SWAP = 25;

/** A renewal while a stream of calls goes through the profile's client, which swaps certificates without a failure. */
export function renewStep(d: ProgramDriver, s: DemoSession): DemoStep {
  return {
    id: `${d.id}.renew`,
    name: `${d.tag}: renewal under a stream of calls`,
    async run() {
      const { dispatcher, endpoints } = await openThalesDispatcher(s.folders.workspace, d.profile, { retry: false, timeouts: { connectMs: 5_000, headersMs: 10_000, bodyMs: 10_000 } });
      s.onStop(`${d.tag} client`, () => dispatcher.destroy());
      const url = resolveCallUrl(endpoints, d.echoPath);
      const oldSha = formatFingerprint(s.summary(d.id).clientCertificate?.sha256 ?? "", "hex");
      const stream = callStream(dispatcher, url, 4);
      let newSha = "";
      let newFingerprint = "";
      let swappedAt = Number.POSITIVE_INFINITY;
      try {
        await until("the first calls", () => stream.calls.length >= 10, 10_000);
        newFingerprint = await d.renew(s);
        newSha = formatFingerprint(newFingerprint, "hex");
        const r = await dispatcher.reload();
        if (!r.ok) throw r.error;
        if (!r.changed) throw failed("the client did not see the new certificate (its files did not change)");
        swappedAt = performance.now();
        await until("calls on the new certificate", () => stream.calls.filter((c) => c.start > swappedAt).length >= CALLS_AFTER_SWAP, 10_000);
      } finally {
        await stream.stop();
      }
      await dispatcher.close();
      const calls = stream.calls;
      const failures = calls.filter((c) => c.error);
      const onOld = calls.filter((c) => c.sha256 === oldSha).length;
      const onNew = calls.filter((c) => c.sha256 === newSha).length;
      const summary = s.summary(d.id);
      summary.renewal = { calls: calls.length, failed: failures.length, onOldCertificate: onOld, onNewCertificate: onNew, newSha256: newFingerprint };
      if (failures.length > 0) throw failed(`${failures.length} of ${calls.length} calls failed during the renewal; first: ${failures[0]!.error}`);
      const stale = calls.filter((c) => c.start > swappedAt && c.sha256 !== newSha).length;
      if (stale > 0) throw failed(`${stale} call(s) started after the swap still went out with the old certificate`);
      return `${calls.length} calls, 0 failed: ${onOld} on the old certificate, ${onNew} on the new one (SHA-256 ${formatFingerprint(newSha, "short")})`;
    },
  };
}
