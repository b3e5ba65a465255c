/**
 * The admin listener: `/healthz` (the process answers), `/readyz` (it serves: listening, with a
 * current server certificate, not shutting down) and `/metrics` (Prometheus text format).
 * Plain HTTP on loopback by default: it says nothing secret, but it is not for the internet.
 */
import * as http from "node:http";
import { PROMETHEUS_CONTENT_TYPE } from "./metrics.js";

/** What the admin endpoints read. */
export interface AdminSource {
  /** Why the server is not ready (empty: ready). */
  notReady(): string[] | Promise<string[]>;
  /** The metrics, rendered. */
  metricsText(): string | Promise<string>;
}

/** The request handler of the admin endpoints (mountable in another server too). */
export function adminHandler(source: AdminSource): http.RequestListener {
  return (req, res) => {
    answerAdmin(source, req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`error: ${(e as Error).message}\n`);
    });
  };
}

async function answerAdmin(source: AdminSource, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = (req.url ?? "/").replace(/\?.*$/, "");
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
    return;
  }
  if (url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    return;
  }
  if (url === "/readyz") {
    const reasons = await source.notReady();
    res.writeHead(reasons.length === 0 ? 200 : 503, { "content-type": "text/plain" }).end(reasons.length === 0 ? "ready\n" : `not ready: ${reasons.join("; ")}\n`);
    return;
  }
  if (url === "/metrics") {
    res.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE }).end(await source.metricsText());
    return;
  }
  res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /healthz, /readyz or /metrics\n");
}

