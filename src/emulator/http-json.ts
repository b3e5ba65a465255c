/**
 * The JSON error answers of the emulator's HTTP faces (the portal and the API endpoints): one
 * error class, one writer, one body reader with its one 413 code (`BODY_TOO_LARGE`, as the
 * inbound server answers too). Bodies are `{ "errors": [{ "code", "message" }] }`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** One entry of an error answer. */
export interface JsonErrorEntry {
  code: string;
  message: string;
}

/** An answer with a 4xx/5xx status and its errors. */
export class JsonHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: JsonErrorEntry[],
    readonly headers: Record<string, string> = {},
  ) {
    super(errors.map((e) => `${e.code}: ${e.message}`).join("; "));
  }
}

/** Writes `body` as a JSON document (ending in a newline), not cached, not sniffed. Nothing once headers are sent. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    ...headers,
  });
  res.end(text);
}

/** The 413 answer for a body over `limit` bytes; the connection closes after it. */
export function bodyTooLarge(limit: number, what: string): JsonHttpError {
  return new JsonHttpError(413, [{ code: "BODY_TOO_LARGE", message: `the body is over ${what}'s limit of ${limit} bytes` }], { connection: "close" });
}

/**
 * Reads the whole body up to `limit` bytes; a declared or actual size over it rejects with
 * {@link bodyTooLarge} (`what` names the face: "the portal", "this endpoint").
 */
export function readBody(req: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      req.pause();
      reject(bodyTooLarge(limit, what));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        req.pause();
        chunks.length = 0;
        reject(bodyTooLarge(limit, what));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

/** The first value of a request header. */
export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
