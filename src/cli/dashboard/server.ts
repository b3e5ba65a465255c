/**
 * `mtlskit dashboard`'s web server (issue 15): every profile of a workspace with its program,
 * environment and readiness, an SVG timeline of every certificate's validity with today and the
 * renewal window marked, and what is missing before going live. Read-only but for running
 * `check`: a form per profile posts to `/check/{profile}`, which streams the doctor's steps as
 * they happen (chunked HTML, so it works without JavaScript; `accept: application/x-ndjson`
 * gives one JSON event per line instead).
 *
 * Safe by default: loopback only unless `allowRemote`; a one-time URL carries a random token,
 * exchanged at once for an HttpOnly SameSite=Strict cookie; a request with neither is refused
 * (401); the `Host` header must be a loopback name or address (DNS rebinding); strict CSP;
 * every value escaped (certificate subjects are attacker-controlled text).
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { checkProfile, type DoctorStepEvent } from "../../client/index.js";
import { MtlsError, isMtlsError } from "../../errors/index.js";
import { STATUS_RENEWAL_DAYS, openWorkspace, type CertificateStatus, type ProfileStatus } from "../../store/index.js";
import { fetchServeMetrics, serveAdminUrl, serveMetricsPanel } from "./serve-metrics.js";
import { cookieValue, html, isLoopbackAddress, isLoopbackHostHeader, isSameOriginRequest, newToken, SECURITY_HEADERS, sendHtml, sendStatic, STATIC_FILES, tokenCookie, tokenMatches, type SafeHtml } from "../../web/index.js";

const COOKIE = "mtlskit_dashboard";
const DAY = 86_400_000;

export interface DashboardOptions {
  /** The workspace folder. */
  dir: string;
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** Let a non-loopback address be used (then the Host check is off too). Default false. */
  allowRemote?: boolean;
  /** The time the timeline is drawn at. Default: now. */
  now?: () => Date;
  /** The token (tests); default a random one. */
  token?: string;
  /** The admin URL of a running `mtlskit serve` (`http://127.0.0.1:9464`): its metrics are shown. */
  serveAdmin?: string;
  /** Time limit of each network step of a check run from the page, in milliseconds. Default 10000. */
  checkTimeoutMs?: number;
}

/** Checks run at once from the page; one more is answered 429. */
export const MAX_RUNNING_CHECKS = 2;

export interface Dashboard {
  /** The one-time URL, with the token. */
  readonly url: string;
  /** The base URL, without the token. */
  readonly baseUrl: string;
  close(): Promise<void>;
}

/** Colours of the timeline (contrast >= 4.5:1 on white). */
export const TIMELINE_COLOURS = { ok: "#1f6f3f", warning: "#b35900", expired: "#a1001a", today: "#0b5cad" } as const;

/** The time axis of the timeline: from the earliest start (at most 90 days back) to the latest end (at most a year ahead). */
export function timelineAxis(certs: ReadonlyArray<{ notBefore: string; notAfter: string }>, now: Date): { start: number; end: number } {
  const t = now.getTime();
  const starts = certs.map((c) => Date.parse(c.notBefore));
  const ends = certs.map((c) => Date.parse(c.notAfter));
  // 90 days back and a year ahead at most, so that a 20-year CA does not squash a certificate due
  // next week; longer bars run off the edges (data-clipped says which).
  const start = Math.max(Math.min(t - 7 * DAY, ...starts) - 5 * DAY, t - 90 * DAY);
  const end = Math.min(Math.max(t + 90 * DAY, ...ends) + 15 * DAY, t + 365 * DAY);
  return { start, end };
}

function timeline(profiles: ProfileStatus[], now: Date): SafeHtml {
  const rows = profiles.flatMap((p) => p.certificates.map((c) => ({ profile: p.name, c })));
  if (rows.length === 0) return html`<p>No certificate yet.</p>`;
  const { start, end } = timelineAxis(
    rows.map((r) => r.c),
    now,
  );
  const width = 900;
  const left = 280;
  const rowH = 26;
  const x = (t: number): number => left + ((Math.min(Math.max(t, start), end) - start) / (end - start)) * (width - left - 10);
  const height = rows.length * rowH + 40;
  const todayX = x(now.getTime());
  return html`<figure><svg role="img" aria-labelledby="timeline-title" viewBox="0 0 ${width} ${height}" width="100%" xmlns="http://www.w3.org/2000/svg">
<title id="timeline-title">Validity of every certificate, from its start to its end: today and the ${STATUS_RENEWAL_DAYS}-day renewal window marked</title>
${rows.map((r, i) => {
    const y = 20 + i * rowH;
    const notBefore = Date.parse(r.c.notBefore);
    const notAfter = Date.parse(r.c.notAfter);
    const windowStart = notAfter - STATUS_RENEWAL_DAYS * DAY;
    const inWindow = now.getTime() >= windowStart && now.getTime() <= notAfter;
    const expired = now.getTime() > notAfter;
    const colour = expired ? TIMELINE_COLOURS.expired : inWindow ? TIMELINE_COLOURS.warning : TIMELINE_COLOURS.ok;
    const state = expired ? "expired" : inWindow ? "inside its renewal window" : now.getTime() < notBefore ? "not yet valid" : "valid";
    const clipped = [notBefore < start ? "start" : "", notAfter > end ? "end" : ""].filter(Boolean).join(" ");
    const barX = x(notBefore);
    return html`<g class="cert" data-state="${expired ? "expired" : inWindow ? "warning" : "ok"}" data-role="${r.c.role}" data-profile="${r.profile}" data-clipped="${clipped}">
<text x="4" y="${y + 15}" font-size="12">${r.profile}: ${r.c.role} (until ${r.c.notAfter.slice(0, 10)})</text>
<rect x="${barX}" y="${y + 4}" width="${Math.max(1, x(notAfter) - barX)}" height="14" fill="${colour}"><title>${r.c.subject}: from ${r.c.notBefore} until ${r.c.notAfter} (${r.c.daysLeft} days left, ${state})</title></rect>
<rect x="${x(windowStart)}" y="${y + 2}" width="${Math.max(1, x(notAfter) - x(windowStart))}" height="18" fill="none" stroke="#1a1a1a" stroke-dasharray="3 2"/>
</g>`;
  })}
<line x1="${todayX}" x2="${todayX}" y1="10" y2="${height - 20}" stroke="${TIMELINE_COLOURS.today}" stroke-width="2"/>
<text x="${todayX + 3}" y="${height - 6}" font-size="12" fill="${TIMELINE_COLOURS.today}">today ${now.toISOString().slice(0, 10)}</text>
${todayX - left > 90 ? html`<text x="${left}" y="${height - 6}" font-size="12">${new Date(start).toISOString().slice(0, 10)}</text>` : ""}
</svg><figcaption>Bars run from each certificate's start (notBefore) to its expiry (notAfter); the dashed box is the ${STATUS_RENEWAL_DAYS}-day renewal window; green valid, orange inside the window, red expired. The axis shows at most 90 days back and a year ahead.</figcaption></figure>`;
}

function certTable(c: CertificateStatus[]): SafeHtml {
  if (c.length === 0) return html``;
  return html`<table><caption>Certificates</caption><thead><tr><th scope="col">role</th><th scope="col">subject</th><th scope="col">issuer</th><th scope="col">until</th><th scope="col">days left</th><th scope="col">state</th></tr></thead><tbody>${c.map(
    (x) => html`<tr><td>${x.role}</td><td class="subject">${x.subject}</td><td>${x.issuer}</td><td>${x.notAfter.slice(0, 10)}</td><td>${x.daysLeft}</td><td class="${x.state === "ok" ? "ok" : x.state === "due" ? "warn" : "bad"}">${x.state}</td></tr>`,
  )}</tbody></table>`;
}

function profileSection(p: ProfileStatus): SafeHtml {
  const ready = (b: boolean): SafeHtml => (b ? html`<span class="ok">ready</span>` : html`<span class="bad">not ready</span>`);
  return html`<section aria-labelledby="profile-${p.name}"><h2 id="profile-${p.name}">${p.name}</h2>
<p>${p.program} ${p.environment}, id <code>${p.customerId}</code>: outbound ${ready(p.ready.outbound)}, inbound ${ready(p.ready.inbound)}${p.ok ? "" : html`, <span class="bad">needs attention</span>`}</p>
<form method="post" action="/check/${encodeURIComponent(p.name)}"><button type="submit" id="check-${p.name}">Run check for ${p.name}</button></form>
${certTable(p.certificates)}
${p.problems.length ? html`<h3>Problems</h3><ul>${p.problems.map((x) => html`<li><code>${x.code}</code> (${x.severity}): ${x.message} ${x.hint}</li>`)}</ul>` : ""}
${p.missing.length ? html`<h3>Missing before going live</h3><ul>${p.missing.map((m) => html`<li>${m.item} (${m.side}): ${m.hint}</li>`)}</ul>` : ""}
</section>`;
}

async function page(dir: string, now: Date, serveAdmin: URL | undefined): Promise<SafeHtml> {
  const [s, metrics] = await Promise.all([openWorkspace(dir).status({ now }), serveAdmin ? fetchServeMetrics(serveAdmin) : undefined]);
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mtlskit dashboard</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main><h1>mtlskit dashboard</h1><p>Workspace <code>${s.workspace}</code>: ${s.summary.profiles} profile(s), ${s.summary.errors} error(s), ${s.summary.warnings} warning(s), ${s.summary.due} due, ${s.summary.expired} expired.</p>
<h2>Validity timeline</h2>${timeline(s.profiles, now)}
${serveAdmin && metrics ? serveMetricsPanel(serveAdmin, metrics, now) : ""}
${s.profiles.map(profileSection)}
</main></body></html>
`;
}

const STEP_MARK: Record<DoctorStepEvent["status"], string> = { running: "…", ok: "PASS", fail: "FAIL", skip: "SKIP" };

/** One event of the stream, as a list item (the page) . */
function stepItem(e: DoctorStepEvent): SafeHtml {
  const cls = e.status === "ok" ? "ok" : e.status === "fail" ? "bad" : e.status === "skip" ? "warn" : "";
  return html`<li class="${cls}" data-step="${e.id}" data-status="${e.status}"><strong>${STEP_MARK[e.status]}</strong> ${e.title}${e.ms !== undefined ? ` (${Math.round(e.ms)} ms)` : ""}${e.detail ? html`: ${e.detail}` : ""}${e.code ? html` <code>${e.code}</code>` : ""}</li>
`;
}

/**
 * Runs `check` for a profile and streams its steps as they happen: chunked HTML (a list that
 * grows; works without JavaScript), or NDJSON with `accept: application/x-ndjson`. The last
 * item (line) is the result with the diagnoses.
 */
async function streamCheck(req: IncomingMessage, res: ServerResponse, dir: string, name: string, timeoutMs: number): Promise<void> {
  const ndjson = /application\/x-ndjson/.test(req.headers.accept ?? "");
  res.writeHead(200, { ...SECURITY_HEADERS, "content-type": ndjson ? "application/x-ndjson; charset=utf-8" : "text/html; charset=utf-8", "x-accel-buffering": "no" });
  res.flushHeaders();
  if (!ndjson) {
    res.write(
      html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>check ${name}: mtlskit dashboard</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main><h1>check ${name}</h1><ol id="steps" aria-live="polite">
`.value,
    );
  }
  const onStep = (e: DoctorStepEvent): void => {
    res.write(ndjson ? `${JSON.stringify({ event: "step", ...e })}\n` : stepItem(e).value);
  };
  let result: { ok: boolean; diagnoses: Array<{ code: string; name: string; message: string; fix: string }>; ms?: number };
  try {
    const r = await checkProfile(dir, name, { onStep, timeoutMs });
    result = { ok: r.ok, diagnoses: r.diagnoses.map((d) => ({ code: d.code, name: d.name, message: d.message, fix: d.fix })), ms: Math.round(r.ms) };
  } catch (e) {
    if (!isMtlsError(e)) throw e;
    result = { ok: false, diagnoses: [{ code: e.code, name: "check did not run", message: e.message, fix: e.hint }] };
  }
  if (ndjson) {
    res.end(`${JSON.stringify({ event: "done", ...result })}\n`);
    return;
  }
  res.end(
    html`</ol>
<p id="result" class="${result.ok ? "ok" : "bad"}">${result.ok ? `all green${result.ms !== undefined ? ` (${result.ms} ms)` : ""}` : "failed"}</p>
${result.diagnoses.length ? html`<h2>Diagnoses</h2><ul id="diagnoses">${result.diagnoses.map((d) => html`<li><code>${d.code}</code> ${d.name}: ${d.message} <em>Fix:</em> ${d.fix}</li>`)}</ul>` : ""}
<p><a href="/">Back to the dashboard</a></p></main></body></html>
`.value,
  );
}

function refuse(res: ServerResponse, status: number, message: string): void {
  sendHtml(res, status, html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>refused</title></head><body><main><h1>Refused (${status})</h1><p>${message}</p></main></body></html>`);
}

/** Starts the dashboard. @throws MtlsError USAGE for a non-loopback host without `allowRemote`. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? "127.0.0.1";
  if (!options.allowRemote && !isLoopbackAddress(host)) {
    throw new MtlsError("USAGE", `the dashboard listens on loopback only, not on '${host}'`, { hint: "Use --listen 127.0.0.1:PORT, or add --allow-remote if you really mean to expose it (it shows your workspace)." });
  }
  const serveAdmin = options.serveAdmin !== undefined ? serveAdminUrl(options.serveAdmin) : undefined;
  const token = options.token ?? newToken();
  const now = options.now ?? (() => new Date());
  let running = 0;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!options.allowRemote && !isLoopbackHostHeader(req.headers.host)) return refuse(res, 403, "The Host header is not a loopback name or address (DNS rebinding): open the URL the dashboard printed.");
    const url = new URL(req.url ?? "/", "http://dashboard.invalid");
    const check = /^\/check\/([^/]+)$/.exec(url.pathname);
    if (req.method !== "GET" && req.method !== "HEAD" && !(check && req.method === "POST")) return refuse(res, 405, "The dashboard is read-only, but for running checks (POST /check/PROFILE).");
    const stat = /^\/static\/([a-z.]+)$/.exec(url.pathname);
    if (stat && stat[1]! in STATIC_FILES) return sendStatic(res, stat[1] as keyof typeof STATIC_FILES);
    const presented = url.searchParams.get("token");
    if (presented !== null && tokenMatches(presented, token)) {
      // Token in the URL once, then a cookie; the address bar loses the token.
      res.writeHead(303, { location: url.pathname, "set-cookie": tokenCookie(COOKIE, token), "cache-control": "no-store", "referrer-policy": "no-referrer" });
      res.end();
      return;
    }
    if (!tokenMatches(cookieValue(req, COOKIE), token)) return refuse(res, 401, "This dashboard needs the token: open the one-time URL that `mtlskit dashboard` printed.");
    if (check) {
      if (req.method !== "POST") return refuse(res, 405, "Run a check with the page's button (POST).");
      if (!isSameOriginRequest(req)) return refuse(res, 403, "A check was asked from another site (Origin / Sec-Fetch-Site): refused.");
      if (running >= MAX_RUNNING_CHECKS) return refuse(res, 429, `${MAX_RUNNING_CHECKS} checks are running already: wait for one to end.`);
      let name: string;
      try {
        name = decodeURIComponent(check[1]!);
      } catch {
        return refuse(res, 400, "The profile name is not valid percent-encoding.");
      }
      req.resume();
      running++;
      try {
        await streamCheck(req, res, options.dir, name, options.checkTimeoutMs ?? 10_000);
      } finally {
        running--;
      }
      return;
    }
    if (url.pathname !== "/") return refuse(res, 404, "No such page.");
    sendHtml(res, 200, await page(options.dir, now(), serveAdmin));
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) refuse(res, e instanceof MtlsError ? 422 : 500, e instanceof MtlsError ? `${e.code}: ${e.message}` : "internal error");
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const base = `http://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
  return {
    url: `${base}/?token=${token}`,
    baseUrl: base,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
