import type { Command } from "commander";
import { callProfile } from "../../client/index.js";
import { MtlsError } from "../../errors/index.js";
import { readInputFile } from "../../pki/index.js";
import { paint, positiveInt, printJson, type CliContext } from "../context.js";
import { pkcs11OptionsFrom, TOKEN_OPTION_HELP, type TokenOptions } from "./key-source.js";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function define(cmd: Command): Command {
  return cmd
    .description("curl-like request to Thales over the profile's connection (mTLS, DNS with TTLs, x-correlation-id, and on D1 an OAuth token)")
    .requiredOption("--profile <name>", "the profile whose connection to use")
    .argument("<path>", "path under the program's base path (echo), an absolute path (/1/sandbox-v2/echo), or a URL on the profile's host")
    .option("-X, --request <method>", "HTTP method (default GET, or POST with --data)")
    .option("-d, --data <data>", "request body: JSON text, or @FILE to send a file's content")
    .option("-H, --header <header>", "request header 'Name: value' (repeatable)", collect, [])
    .option("-i, --include", "print the status line and response headers before the body")
    .option("--timeout <ms>", "time limit for the answer, in milliseconds (default 30000)")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .addHelpText(
      "after",
      "\nPOST is never retried automatically; GET, PUT, DELETE are retried on connection errors, 429 and 503.\nExit codes: 0 for a 1xx-3xx answer, 1 for 4xx/5xx or a failed connection (the error names the layer), 2 bad input.\n\nExamples:\n  mtlskit call --profile mt-sandbox echo\n  mtlskit call --profile d1-pp -X POST /d1/v1/echo --data @request.json -H 'x-correlation-id: order-42' -i",
    );
}

function parseHeaders(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of list) {
    const i = h.indexOf(":");
    const name = i > 0 ? h.slice(0, i).trim() : "";
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new MtlsError("USAGE", `-H '${h}' is not a header: write it as 'Name: value'`);
    out[name] = h.slice(i + 1).trim();
  }
  return out;
}

/** The options of `call`, as {@link define} declares them. */
export interface CallOptions extends TokenOptions {
  profile: string;
  request?: string;
  data?: string;
  header: string[];
  include?: boolean;
  timeout?: string;
}

export async function run(ctx: CliContext, o: CallOptions, args: string[]): Promise<number> {
  const name = o.profile;
  if (!name) throw new MtlsError("USAGE", "--profile is required");
  const headers = parseHeaders(o.header);
  let body: string | Buffer | undefined;
  if (o.data !== undefined) {
    const data = o.data;
    body = data.startsWith("@") ? await readInputFile(data.slice(1)) : data;
    const hasType = Object.keys(headers).some((k) => k.toLowerCase() === "content-type");
    if (!hasType) {
      try {
        JSON.parse(body.toString("utf8"));
        headers["content-type"] = "application/json";
      } catch {
        headers["content-type"] = "application/octet-stream";
      }
    }
  }
  const r = await callProfile(ctx.dir, name, {
    path: args[0] ?? "",
    ...(o.request !== undefined ? { method: o.request } : {}),
    ...(body !== undefined ? { body } : {}),
    headers,
    ...(o.timeout !== undefined ? { timeoutMs: positiveInt("--timeout", o.timeout) } : {}),
    pkcs11: pkcs11OptionsFrom(o),
  });
  const ok = r.status < 400;
  if (ctx.json) {
    const text = r.body.toString("utf8");
    let parsed: unknown = text;
    if (/json/i.test(String(r.headers["content-type"] ?? ""))) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    printJson(ctx, { ok, url: r.url, method: r.method, status: r.status, headers: r.headers, body: parsed, correlationId: r.correlationId, authenticated: r.authenticated, ms: r.ms });
    return ok ? 0 : 1;
  }
  if (o.include === true) {
    ctx.stdout.write(`HTTP/1.1 ${r.status}\r\n`);
    for (const [k, v] of Object.entries(r.headers)) for (const one of Array.isArray(v) ? v : [v]) ctx.stdout.write(`${k}: ${one ?? ""}\r\n`);
    ctx.stdout.write("\r\n");
  }
  ctx.stdout.write(r.body);
  if (r.body.length > 0 && r.body[r.body.length - 1] !== 0x0a && ctx.stdout.isTTY) ctx.stdout.write("\n");
  if (!ok && !ctx.quiet) ctx.stderr.write(`${paint(ctx, "red", `HTTP ${r.status}`)} from ${r.method} ${r.url} (x-correlation-id ${r.correlationId})\n`);
  return ok ? 0 : 1;
}
