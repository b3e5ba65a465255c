/**
 * `mtlskit dashboard`'s web server (issue 15): every profile of a workspace with its program,
 * environment and readiness, an SVG timeline of every certificate's validity with today and the
 * renewal window marked, and what is missing before going live. Read-only.
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
import { MtlsError } from "../../errors/index.js";
import { STATUS_RENEWAL_DAYS, workspaceStatus, type CertificateStatus, type ProfileStatus } from "../../store/index.js";
import { cookieValue, html, isLoopbackAddress, isLoopbackHostHeader, newToken, sendHtml, sendStatic, STATIC_FILES, tokenCookie, tokenMatches, type SafeHtml } from "../../web/index.js";

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
}

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
<text x="${left}" y="${height - 6}" font-size="12">${new Date(start).toISOString().slice(0, 10)}</text>
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
${certTable(p.certificates)}
${p.problems.length ? html`<h3>Problems</h3><ul>${p.problems.map((x) => html`<li><code>${x.code}</code> (${x.severity}): ${x.message} ${x.hint}</li>`)}</ul>` : ""}
${p.missing.length ? html`<h3>Missing before going live</h3><ul>${p.missing.map((m) => html`<li>${m.item} (${m.side}): ${m.hint}</li>`)}</ul>` : ""}
</section>`;
}

async function page(dir: string, now: Date): Promise<SafeHtml> {
  const s = await workspaceStatus(dir, { now });
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mtlskit dashboard</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main><h1>mtlskit dashboard</h1><p>Workspace <code>${s.workspace}</code>: ${s.summary.profiles} profile(s), ${s.summary.errors} error(s), ${s.summary.warnings} warning(s), ${s.summary.due} due, ${s.summary.expired} expired.</p>
<h2>Validity timeline</h2>${timeline(s.profiles, now)}
${s.profiles.map(profileSection)}
</main></body></html>
`;
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
  const token = options.token ?? newToken();
  const now = options.now ?? (() => new Date());
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!options.allowRemote && !isLoopbackHostHeader(req.headers.host)) return refuse(res, 403, "The Host header is not a loopback name or address (DNS rebinding): open the URL the dashboard printed.");
    if (req.method !== "GET" && req.method !== "HEAD") return refuse(res, 405, "The dashboard is read-only.");
    const url = new URL(req.url ?? "/", "http://dashboard.invalid");
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
    if (url.pathname !== "/") return refuse(res, 404, "No such page.");
    sendHtml(res, 200, await page(options.dir, now()));
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) refuse(res, e instanceof MtlsError ? 422 : 500, e instanceof MtlsError ? `${e.code}: ${e.message}` : "internal error");
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
