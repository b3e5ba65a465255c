/**
 * The small web layer shared by the emulator's portal page and `mtlskit dashboard`: one escape
 * function and an `html` template tag built on it, the strict Content-Security-Policy, the
 * `Host` check against DNS rebinding, the cross-site check for requests that change state, and
 * the one-time token of the dashboard. No framework, no bundler, no CDN: pages are strings
 * rendered on the server.
 *
 * @module
 */
import { isLoopbackAddress } from "../policy/loopback.js";
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/** Text that is already HTML (made by {@link html} or {@link raw}); never escaped again. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** The one escape function: every character that could open markup or leave an attribute. */
export function escapeHtml(text: unknown): string {
  return String(text ?? "").replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Marks a string as HTML written by this program (never for text that came from outside). */
export function raw(text: string): SafeHtml {
  return new SafeHtml(text);
}

function part(value: unknown): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(part).join("");
  if (value === undefined || value === null || value === false) return "";
  return escapeHtml(value);
}

/** Template tag: every interpolated value is escaped unless it is {@link SafeHtml}; arrays are joined. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += part(v) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

/** The page's CSP: only this origin, no inline script or style, no framing, forms post here only. */
export const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** Headers sent with every page and file. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on form posts.
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
};

/** Sends an HTML page with the security headers. */
export function sendHtml(res: ServerResponse, status: number, page: SafeHtml, headers: Record<string, string> = {}): void {
  const text = page.value;
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "content-length": String(Buffer.byteLength(text)), ...SECURITY_HEADERS, ...headers });
  res.end(text);
}

/**
 * Sends a file to be saved (`content-disposition: attachment`) with the security headers. The
 * file name is reduced to letters, digits, `.`, `_` and `-`, so that it cannot break the header.
 */
export function sendDownload(res: ServerResponse, fileName: string, type: string, body: Uint8Array | string): void {
  const name = fileName.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_") || "download";
  const length = typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
  res.writeHead(200, { "content-type": type, "content-length": String(length), "content-disposition": `attachment; filename="${name}"`, ...SECURITY_HEADERS });
  res.end(body);
}

/** Sends a static file of the layer ({@link STATIC_FILES}). */
export function sendStatic(res: ServerResponse, name: keyof typeof STATIC_FILES): void {
  const file = STATIC_FILES[name];
  res.writeHead(200, { "content-type": file.type, "content-length": String(Buffer.byteLength(file.body)), ...SECURITY_HEADERS });
  res.end(file.body);
}

/** The one loopback rule, from `policy` (re-exported for the pages' callers). */
export { isLoopbackAddress };

/**
 * Whether a `Host` header names this machine by a loopback name or address: `localhost`,
 * `*.localhost`, 127.x.x.x or `[::1]`, with an optional port. Anything else (a name a web page
 * controls, pointed at 127.0.0.1 by DNS rebinding) is refused by the portal and the dashboard.
 */
export function isLoopbackHostHeader(host: string | undefined): boolean {
  if (!host) return false;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host.trim());
  if (!m) return false;
  const name = m[1]!.toLowerCase().replace(/\.$/, "");
  if (m[2] !== undefined && Number(m[2]) > 65535) return false;
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  return isLoopbackAddress(name);
}

/**
 * Whether a request that changes state comes from this origin: a browser sends
 * `Sec-Fetch-Site` (must be `same-origin` or `none`) and `Origin` (must be this `Host`); a
 * client that is not a browser (curl, the CLI) sends neither and is let through, since the Host
 * check and the loopback listener already stand in its way.
 */
export function isSameOriginRequest(req: IncomingMessage): boolean {
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (origin === "null") return false;
  try {
    const u = new URL(origin);
    return (u.protocol === "http:" || u.protocol === "https:") && u.host === (req.headers.host ?? "").toLowerCase();
  } catch {
    return false;
  }
}

/** A random token for a one-time URL (32 bytes, base64url). */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string | undefined | null, expected: string): boolean {
  if (!presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of one cookie of a request. */
export function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const piece of (req.headers.cookie ?? "").split(";")) {
    const i = piece.indexOf("=");
    if (i > 0 && piece.slice(0, i).trim() === name) return piece.slice(i + 1).trim();
  }
  return undefined;
}

/** The cookie set once the one-time URL was used: HttpOnly, SameSite=Strict, whole site. */
export function tokenCookie(name: string, token: string): string {
  return `${name}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}

/**
 * Files served beside the pages (no inline script or style, so the CSP stays strict).
 * `live.js` refreshes every element marked `data-live="URL"` with the HTML fragment at URL every
 * two seconds; without JavaScript the pages work, only without live refresh.
 */
export const STATIC_FILES = {
  "live.js": {
    type: "text/javascript; charset=utf-8",
    body: `"use strict";
(function () {
  function refresh() {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      fetch(el.getAttribute("data-live"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (t) { if (t !== null && el.innerHTML !== t) el.innerHTML = t; })
        .catch(function () {});
    });
  }
  setInterval(refresh, 2000);
})();
`,
  },
  "style.css": {
    type: "text/css; charset=utf-8",
    body: `body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem;color:#1a1a1a;background:#fff}
h1,h2,h3{line-height:1.2}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #767676;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eee}
code,pre,textarea{font-family:ui-monospace,monospace}
textarea{width:100%;min-height:6rem}
label{display:block;font-weight:600;margin-top:.5rem}
input[type=text]{width:100%;max-width:40rem}
button{margin-top:.5rem;padding:.3rem .8rem}
:focus{outline:3px solid #0b5cad;outline-offset:2px}
.ok{color:#0a6b2b}.warn{color:#8a4b00}.bad{color:#a1001a}
.errors{border:2px solid #a1001a;padding:.5rem 1rem;background:#fff0f0}
fieldset{border:1px solid #767676;margin:1rem 0;padding:.5rem 1rem}
`,
  },
} as const;
