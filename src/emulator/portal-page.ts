/**
 * The portal's pages (issue 15): at the portal's root, one section per program and environment
 * with forms doing what the JSON routes do, and live tables of deliveries and handshakes. Forms
 * post `application/x-www-form-urlencoded` to `/ui/{program}/{env}/{action}`, which runs the
 * very same JSON route (so refusals carry the same codes and messages, with the same status).
 * Server-rendered HTML, every value escaped (`src/web`), strict CSP, no inline script: the
 * live refresh is `/static/live.js`; without JavaScript everything works but live refresh.
 * PEM fields take a pasted text or an uploaded file (`multipart/form-data`); the signed D1 chain
 * comes as a `.pem` download (`/ui/d1/{env}/signed-chain.pem`) and the asset bundle as a zip of
 * its folder (`GET /ui/{program}/{env}/assets.zip?customerId=...`, made with fflate).
 *
 * @module
 */
import { promises as fs } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { basename, join } from "node:path";
import { zipSync } from "fflate";
import { html, raw, sendDownload, sendHtml, sendStatic, STATIC_FILES, type SafeHtml } from "../web/index.js";
import { bodyTooLarge } from "./http-json.js";
import type { PortalEnvironment, PortalErrorEntry } from "./portal.js";

type Dispatch = (req: IncomingMessage, method: string, pathname: string, segments: string[], query: URLSearchParams, body: () => Promise<Record<string, unknown>>) => Promise<{ status: number; body: unknown }>;

interface PageOptions {
  environments: readonly PortalEnvironment[];
  dispatch: Dispatch;
  limit: number;
  errorOf: (e: unknown) => { status: number; errors: PortalErrorEntry[] };
}

/** A file the browser saves instead of a page: made from the JSON route's answer. */
interface Download {
  name: (values: Record<string, string>, p: string, e: string) => string;
  type: string;
  content: (answer: Record<string, unknown>) => string;
}

/** What each form posts to: the JSON route, the method and the fields it sends (and, for a download, the file). */
const ACTIONS: Record<string, { method: string; route: (f: Record<string, string>) => string[]; fields: readonly string[]; numbers?: readonly string[]; download?: Download }> = {
  csr: { method: "POST", route: () => ["csr"], fields: ["customerId", "csr"] },
  "signed-chain.pem": {
    method: "POST",
    route: () => ["csr"],
    fields: ["customerId", "csr"],
    download: { name: (v, p, e) => `${p}-${e}-${v["customerId"] ?? "customer"}-signed-chain.pem`, type: "application/x-pem-file", content: (a) => String(a["chain"] ?? "") },
  },
  endorsements: { method: "POST", route: () => ["endorsements"], fields: ["customerId", "certificate"] },
  customers: { method: "PUT", route: (f) => ["customers", f["customerId"] ?? ""], fields: ["issuerHost", "serverChain", "oauthPublicKey", "kid", "apiKey"] },
  notifications: { method: "POST", route: () => ["notifications"], fields: ["customerId", "count"], numbers: ["count"] },
  "rotate-client-certificate": { method: "POST", route: () => ["rotate-client-certificate"], fields: [] },
};

function layout(title: string, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title><link rel="stylesheet" href="/static/style.css"><script src="/static/live.js" defer></script></head>
<body><main>${body}</main></body></html>
`;
}

/** Suffix of the file input that goes with a PEM text area: an uploaded file wins over the pasted text. */
const FILE_SUFFIX = ".file";

function field(id: string, label: string, name: string, opts: { area?: boolean; required?: boolean; value?: string; hint?: string; accept?: string } = {}): SafeHtml {
  // A PEM area is not `required`: the file input may give it instead (the route refuses neither).
  const input = opts.area
    ? html`<textarea id="${id}" name="${name}"></textarea><label for="${id}-file">…or upload ${label}</label><input type="file" id="${id}-file" name="${name}${FILE_SUFFIX}" accept="${opts.accept ?? ".pem,.crt,.cer,.csr,.txt"}">`
    : html`<input type="text" id="${id}" name="${name}" value="${opts.value ?? ""}"${opts.required ? raw(" required") : ""}>`;
  return html`<label for="${id}">${label}</label>${opts.hint ? html`<small>${opts.hint}</small><br>` : ""}${input}`;
}

const MULTIPART = raw(' enctype="multipart/form-data"');

function deliveriesTable(rows: unknown[]): SafeHtml {
  if (rows.length === 0) return html`<p>No notification yet.</p>`;
  return html`<table><caption>Deliveries</caption><thead><tr><th scope="col">id</th><th scope="col">customer</th><th scope="col">state</th><th scope="col">url</th><th scope="col">attempts</th><th scope="col">created</th></tr></thead><tbody>${rows.map((r) => {
    const d = r as Record<string, unknown>;
    const attempts = Array.isArray(d["attempts"]) ? (d["attempts"] as Record<string, unknown>[]) : [];
    const last = attempts[attempts.length - 1];
    return html`<tr><td><code>${d["id"]}</code></td><td>${d["customerId"]}</td><td class="${d["state"] === "delivered" ? "ok" : d["state"] === "failed" ? "bad" : "warn"}">${d["state"]}</td><td>${d["url"]}</td><td>${attempts.length}${last ? html` (last: ${last["status"] ?? last["error"] ?? ""})` : ""}</td><td>${d["createdAt"]}</td></tr>`;
  })}</tbody></table>`;
}

function handshakesTable(rows: unknown[]): SafeHtml {
  if (rows.length === 0) return html`<p>No handshake yet.</p>`;
  return html`<table><caption>Handshakes</caption><thead><tr><th scope="col">at</th><th scope="col">result</th><th scope="col">code</th><th scope="col">subject</th><th scope="col">reason</th></tr></thead><tbody>${rows.slice(-50).reverse().map((r) => {
    const h = r as Record<string, unknown>;
    return html`<tr><td>${h["at"]}</td><td class="${h["result"] === "accepted" ? "ok" : "bad"}">${h["result"]}</td><td><code>${h["code"]}</code></td><td>${h["subject"] ?? ""}</td><td>${h["reason"]}</td></tr>`;
  })}</tbody></table>`;
}

function section(e: PortalEnvironment): SafeHtml {
  const p = e.program;
  const env = e.environment;
  const id = (s: string): string => `${p}-${env}-${s}`;
  const ui = (a: string): string => `/ui/${p}/${env}/${a}`;
  const cert =
    p === "d1"
      ? html`<form method="post" action="${ui("csr")}"${MULTIPART}><fieldset><legend>Submit a CSR (signed by the Business PKI CA)</legend>${field(id("csr-customer"), "merchantGatewayId", "customerId", { required: true })}${field(id("csr"), "CSR (PEM)", "csr", { area: true, accept: ".csr,.pem,.txt" })}<button type="submit" formaction="${ui("signed-chain.pem")}">Sign and download the certificate and chain (.pem)</button> <button type="submit">Sign the CSR</button></fieldset></form>`
      : html`<form method="post" action="${ui("endorsements")}"${MULTIPART}><fieldset><legend>Upload a self-signed certificate to be endorsed (pinned)</legend>${field(id("endorse-customer"), "Customer identifier", "customerId", { required: true })}${field(id("endorse-cert"), "Certificate (PEM)", "certificate", { area: true })}<button type="submit">Endorse the certificate</button></fieldset></form>`;
  const register = html`<form method="post" action="${ui("customers")}"${MULTIPART}><fieldset><legend>Register the endpoint Thales calls</legend>
${field(id("reg-customer"), p === "d1" ? "merchantGatewayId" : "Customer identifier", "customerId", { required: true })}
${field(id("reg-host"), "Issuer host (host or host:port, 443 or 8443)", "issuerHost", { required: true })}
${field(id("reg-chain"), "Server certificate chain (PEM, leaf first)", "serverChain", { area: true })}
${p === "d1" ? html`${field(id("reg-oauth"), "OAuth public key (PEM, EC P-256)", "oauthPublicKey", { area: true })}${field(id("reg-kid"), "OAuth key id (kid)", "kid")}` : field(id("reg-apikey"), "API key sent with notifications", "apiKey")}
<button type="submit">Register</button></fieldset></form>`;
  return html`<section aria-labelledby="${id("h")}"><h2 id="${id("h")}">${p === "d1" ? "D1 eCom" : "Merchant Tokenization"}: ${env}</h2>
<p>API: <code>${e.apiUrl}</code>${e.authzUrl ? html`, authorization server: <code>${e.authzUrl}</code>` : ""} (listening on <code>${e.address}</code>)</p>
${cert}
${register}
<form method="get" action="${ui("assets.zip")}"><fieldset><legend>Asset bundle</legend>${field(id("assets-customer"), "Customer identifier (writes its per-customer bundle folder)", "customerId")}<button type="submit">Download the bundle (.zip of its folder)</button> <small>As JSON, naming the folder in "directory": <code>GET /v1/${p}/${env}/assets?customerId=…</code></small></fieldset></form>
<form method="post" action="${ui("notifications")}"><fieldset><legend>Send notifications</legend>${field(id("notify-customer"), "Customer identifier", "customerId", { required: true })}${field(id("notify-count"), "How many", "count", { value: "1" })}<button type="submit">Send</button></fieldset></form>
<form method="post" action="${ui("rotate-client-certificate")}"><fieldset><legend>Thales's client certificate</legend><button type="submit">Rotate Thales's client certificate</button></fieldset></form>
<h3>Deliveries</h3><div data-live="${ui("deliveries")}" aria-live="polite">${raw("<p>Loading…</p>")}</div>
<h3>Handshakes</h3><div data-live="${ui("handshakes")}" aria-live="polite">${raw("<p>Loading…</p>")}</div>
</section>`;
}

function readBodyBytes(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(Object.assign(new Error("too large"), { tooLarge: true }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/**
 * The form's fields, urlencoded or multipart (parsed by the platform's `Response.formData()`).
 * An uploaded file (`<name>.file`, not empty) replaces the pasted text of `<name>`.
 */
async function readForm(req: IncomingMessage, limit: number): Promise<Record<string, string>> {
  const bytes = await readBodyBytes(req, limit);
  const type = req.headers["content-type"] ?? "application/x-www-form-urlencoded";
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { "content-type": type } }).formData();
  } catch {
    throw Object.assign(new Error("bad form"), { badForm: true });
  }
  const values: Record<string, string> = {};
  const uploads: Record<string, string> = {};
  for (const [name, value] of form.entries()) {
    if (typeof value === "string") values[name] = value;
    else if (name.endsWith(FILE_SUFFIX) && value.size > 0) uploads[name.slice(0, -FILE_SUFFIX.length)] = await value.text();
  }
  return { ...values, ...uploads };
}

/** Every regular file of the bundle folder, zipped under the folder's name. */
async function zipFolder(dir: string): Promise<Uint8Array> {
  const top = basename(dir);
  const entries: Record<string, Uint8Array> = {};
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    if (e.isFile()) entries[`${top}/${e.name}`] = await fs.readFile(join(dir, e.name));
  }
  return zipSync(entries, { level: 6, mtime: new Date() });
}

/** Whether a path is a page's (`/`, `/ui/...`, `/static/...`): its refusals are pages, not JSON. */
export function isPagePath(pathname: string): boolean {
  return pathname === "/" || pathname.startsWith("/ui/") || pathname.startsWith("/static/");
}

/** A refusal as a page (Host or cross-site check, or any error before a page's own handling). */
export function sendRefusalPage(res: ServerResponse, status: number, errors: PortalErrorEntry[], headers: Record<string, string> = {}): void {
  sendHtml(res, status, layout("mtlskit emulator: refused", html`<h1>mtlskit emulator: portal</h1><h2>Refused (${status})</h2>${errorList(errors)}<p><a href="/">Back to the portal</a></p>`), headers);
}

/** The portal's page handler; `handle` answers true when the request was a page's. */
export function portalPage(options: PageOptions): { handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> } {
  const envs = options.environments;
  const envSegments = (p: string | undefined, e: string | undefined): string[] => ["v1", p ?? "", e ?? ""];
  return {
    async handle(req, res, url) {
      const path = url.pathname;
      if (path === "/" && (req.method === "GET" || req.method === "HEAD")) {
        sendHtml(
          res,
          200,
          layout(
            "mtlskit emulator: portal",
            html`<h1>mtlskit emulator: portal</h1><p>Forms doing what the JSON routes under <code>/v1/</code> do. Refusals show the same codes and messages.</p>
<nav aria-label="environments"><ul>${envs.map((e) => html`<li><a href="#${e.program}-${e.environment}-h">${e.program} ${e.environment}</a></li>`)}</ul></nav>
${envs.map(section)}`,
          ),
        );
        return true;
      }
      const stat = /^\/static\/([a-z.]+)$/.exec(path);
      if (stat && stat[1]! in STATIC_FILES) {
        sendStatic(res, stat[1] as keyof typeof STATIC_FILES);
        return true;
      }
      const m = /^\/ui\/([^/]+)\/([^/]+)\/([a-z.-]+)$/.exec(path);
      if (!m) return false;
      const [, p, e, action] = m;
      if (req.method === "GET" && (action === "deliveries" || action === "handshakes")) {
        let fragment: SafeHtml;
        try {
          const r = await options.dispatch(req, "GET", path, [...envSegments(p, e), action], new URLSearchParams(), async () => ({}));
          const rows = ((r.body as Record<string, unknown>)[action] as unknown[]) ?? [];
          fragment = action === "deliveries" ? deliveriesTable(rows) : handshakesTable(rows);
        } catch (err) {
          const a = options.errorOf(err);
          sendHtml(res, a.status, errorList(a.errors));
          return true;
        }
        sendHtml(res, 200, fragment);
        return true;
      }
      if (req.method === "GET" && action === "assets.zip") {
        try {
          // A blank customer identifier asks for the environment's bundle, as the JSON route without it.
          const customerId = url.searchParams.get("customerId")?.trim();
          const query = new URLSearchParams(customerId ? { customerId } : {});
          const r = await options.dispatch(req, "GET", path, [...envSegments(p, e), "assets"], query, async () => ({}));
          const dir = String((r.body as Record<string, unknown>)["directory"]);
          sendDownload(res, `${basename(dir)}.zip`, "application/zip", await zipFolder(dir));
        } catch (err) {
          const a = options.errorOf(err);
          sendHtml(res, a.status, layout(`mtlskit emulator: ${p} ${e} assets`, html`<h1>${p} ${e}: assets</h1><h2>Refused (${a.status})</h2>${errorList(a.errors)}<p><a href="/">Back to the portal</a></p>`));
        }
        return true;
      }
      const spec = Object.hasOwn(ACTIONS, action!) ? ACTIONS[action!] : undefined;
      if (!spec || req.method !== "POST") return false;
      let status: number;
      let content: SafeHtml;
      try {
        const values = await readForm(req, options.limit);
        const body: Record<string, unknown> = {};
        for (const name of spec.fields) {
          const v = values[name];
          if (v === undefined || v.trim() === "") continue;
          body[name] = spec.numbers?.includes(name) && /^\d+$/.test(v.trim()) ? Number(v.trim()) : v.replace(/\r\n/g, "\n");
        }
        const r = await options.dispatch(req, spec.method, path, [...envSegments(p, e), ...spec.route(values)], new URLSearchParams(), async () => body);
        if (spec.download) {
          const d = spec.download;
          sendDownload(res, d.name(values, p!, e!), d.type, d.content(r.body as Record<string, unknown>));
          return true;
        }
        status = r.status;
        content = html`<h2>Done (${r.status})</h2><pre id="answer">${JSON.stringify(r.body, null, 2)}</pre>`;
      } catch (err) {
        const a = (err as { tooLarge?: boolean }).tooLarge
          ? bodyTooLarge(options.limit, "the portal")
          : (err as { badForm?: boolean }).badForm
            ? { status: 400, errors: [{ code: "INVALID_FIELD", message: "the form is neither application/x-www-form-urlencoded nor valid multipart/form-data" }] }
            : options.errorOf(err);
        status = a.status;
        content = html`<h2>Refused (${a.status})</h2>${errorList(a.errors)}`;
      }
      sendHtml(res, status, layout(`mtlskit emulator: ${p} ${e} ${action}`, html`<h1>${p} ${e}: ${action}</h1>${content}<p><a href="/">Back to the portal</a></p>`));
      return true;
    },
  };
}

function errorList(errors: PortalErrorEntry[]): SafeHtml {
  return html`<div class="errors" role="alert"><ul>${errors.map((x) => html`<li><code>${x.code}</code>: ${x.message}</li>`)}</ul></div>`;
}
