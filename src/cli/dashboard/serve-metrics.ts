/**
 * The dashboard's panel over a running `mtlskit serve` (`--serve-admin URL`): reads its admin
 * `/metrics` (Prometheus text) at each page view and shows the certificates it serves with their
 * end dates, the handshakes accepted and refused by reason, the requests (Thales's notifications)
 * forwarded by status, the upstream errors and the open connections. A listener that does not
 * answer is shown as such; the rest of the page is unaffected.
 *
 * @module
 */
import { MtlsError } from "../../errors/index.js";
import { html, type SafeHtml } from "../../web/index.js";

/** One sample of the text format: `name{labels} value`. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

/** Parses the Prometheus text exposition format (comments skipped; a line that is not a sample is skipped). */
export function parseMetrics(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[2]) {
      LABEL.lastIndex = 0;
      for (let l = LABEL.exec(m[2]); l; l = LABEL.exec(m[2])) labels[l[1]!] = l[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Checks `--serve-admin`: an http(s) URL of serve's admin listener. @throws MtlsError USAGE */
export function serveAdminUrl(value: string): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new MtlsError("USAGE", `--serve-admin is not a URL: '${value}'`, { hint: "Give the admin address `mtlskit serve` printed, e.g. --serve-admin http://127.0.0.1:9464" });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new MtlsError("USAGE", `--serve-admin must be an http:// or https:// URL, not '${value}'`, { hint: "For example --serve-admin http://127.0.0.1:9464" });
  return u;
}

/** Reads serve's `/metrics`; resolves with the samples or with why it could not. */
export async function fetchServeMetrics(admin: URL, timeoutMs = 3_000): Promise<{ samples: MetricSample[] } | { error: string }> {
  try {
    const res = await fetch(new URL("/metrics", admin), { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return { error: `HTTP ${res.status}` };
    return { samples: parseMetrics(await res.text()) };
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    return { error: cause ?? (e instanceof Error ? e.message : String(e)) };
  }
}

const sum = (samples: MetricSample[]): number => samples.reduce((n, s) => n + s.value, 0);

/** Groups a counter's samples by one label, summed, largest first. */
function byLabel(samples: MetricSample[], name: string, label: string): Array<[string, number]> {
  const m = new Map<string, number>();
  for (const s of samples) if (s.name === name) m.set(s.labels[label] ?? "", (m.get(s.labels[label] ?? "") ?? 0) + s.value);
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}

/** The panel's HTML. */
export function serveMetricsPanel(admin: URL, got: { samples: MetricSample[] } | { error: string }, now: Date): SafeHtml {
  const heading = html`<h2 id="serve-metrics-h">The endpoint: <code>mtlskit serve</code> at <code>${admin.origin}</code></h2>`;
  if ("error" in got) return html`<section id="serve-metrics" aria-labelledby="serve-metrics-h">${heading}<p class="bad">Its admin listener did not answer (${got.error}): is <code>mtlskit serve</code> running with <code>--admin</code> at this address?</p></section>`;
  const s = got.samples;
  const handshakes = byLabel(s, "mtlskit_inbound_handshakes_total", "result");
  const accepted = handshakes.filter(([r]) => r === "ok").reduce((n, [, v]) => n + v, 0);
  const refused = handshakes.filter(([r]) => r !== "ok");
  const requests = byLabel(s, "mtlskit_inbound_requests_total", "status");
  const forwarded = requests.filter(([st]) => /^2\d\d$/.test(st)).reduce((n, [, v]) => n + v, 0);
  const upstreamErrors = byLabel(s, "mtlskit_inbound_upstream_errors_total", "reason");
  const open = sum(s.filter((x) => x.name === "mtlskit_inbound_open_connections"));
  const certs = s.filter((x) => x.name === "mtlskit_certificate_not_after_seconds");
  return html`<section id="serve-metrics" aria-labelledby="serve-metrics-h">${heading}
<table><caption>Traffic since serve started</caption><tbody>
<tr><th scope="row">handshakes accepted</th><td data-metric="handshakes-accepted">${accepted}</td></tr>
<tr><th scope="row">handshakes refused</th><td><span data-metric="handshakes-refused">${refused.reduce((n, [, v]) => n + v, 0)}</span>${refused.length ? html` <span data-metric="refused-by-reason">(${refused.map(([r, v], i) => html`${i ? ", " : ""}${r}: ${v}`)})</span>` : ""}</td></tr>
<tr><th scope="row">requests forwarded with a 2xx answer (notifications)</th><td data-metric="forwarded">${forwarded}</td></tr>
<tr><th scope="row">answers by status</th><td data-metric="requests">${requests.length ? requests.map(([st, v], i) => html`${i ? ", " : ""}${st}: ${v}`) : "none yet"}</td></tr>
<tr><th scope="row">upstream errors</th><td data-metric="upstream-errors">${upstreamErrors.length ? upstreamErrors.map(([r, v], i) => html`${i ? ", " : ""}${r}: ${v}`) : "none"}</td></tr>
<tr><th scope="row">open connections</th><td data-metric="open-connections">${open}</td></tr>
</tbody></table>
${certs.length
    ? html`<table><caption>Certificates it serves with</caption><thead><tr><th scope="col">role</th><th scope="col">subject</th><th scope="col">until</th><th scope="col">days left</th></tr></thead><tbody>${certs.map((c) => {
        const days = Math.floor((c.value * 1000 - now.getTime()) / 86_400_000);
        return html`<tr data-role="${c.labels["role"] ?? ""}"><td>${c.labels["role"] ?? ""}</td><td class="subject">${c.labels["subject"] ?? ""}</td><td>${new Date(c.value * 1000).toISOString().slice(0, 10)}</td><td class="${days < 0 ? "bad" : days <= 30 ? "warn" : "ok"}">${days}</td></tr>`;
      })}</tbody></table>`
    : html`<p>No certificate gauge in its metrics.</p>`}
</section>`;
}
