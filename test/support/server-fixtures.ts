/**
 * Test-only helpers for the inbound server's tests (`src/server/*.test.ts`,
 * `test/inbound-*.test.ts`): a throwaway PKI laid out as a profile's files, a recording
 * upstream, real peers (curl, openssl) run without blocking the event loop, and a logger that
 * keeps its lines, and the three together (`startInboundWorld`). Not exported by the library.
 */
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Agent, request } from "undici";
import { createTestPki, type TestCertificate, type TestPki } from "../../src/testing/index.js";
import type { KeyType } from "../../src/policy/index.js";
import { createInboundServer, type InboundLogger, type InboundServer, type InboundServerOptions } from "../../src/server/index.js";

/** The files and certificates of one inbound test setup. */
export interface InboundPki {
  readonly dir: string;
  /** The "Thales" side: root + intermediate ("Thales Client CA") issuing client certificates. */
  readonly thales: TestPki;
  /** The customer's server PKI. */
  readonly serverPki: TestPki;
  /** A PKI nobody trusts. */
  readonly other: TestPki;
  readonly server: TestCertificate;
  readonly client: TestCertificate;
  readonly files: { certFile: string; keyFile: string; chainFile: string; caFile: string };
  /** CA bundle that verifies the server (for curl --cacert). */
  readonly serverCaFile: string;
  /** Writes a client certificate (leaf + chain, key) and returns the paths. */
  writeClient(name: string, c: TestCertificate): Promise<{ cert: string; key: string; both: string }>;
}

/** A folder under the OS temp dir, removed by the caller. */
export async function tempDir(prefix = "mtlskit-inbound-"): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Creates the PKIs and writes a server set (`server/`) and the client CA (`assets/`). */
export async function createInboundPki(dir?: string, options: { serverKeyType?: KeyType } = {}): Promise<InboundPki> {
  const root = dir ?? (await tempDir());
  const [thales, serverPki, other] = await Promise.all([
    createTestPki({ rootCn: "Thales Test Root CA", intermediateCn: "Thales Client CA" }),
    createTestPki({ rootCn: "Customer Server Root CA", intermediateCn: "Customer Server CA" }),
    createTestPki({ rootCn: "Other Root CA", intermediateCn: "Other Client CA" }),
  ]);
  const server = await serverPki.issue({ cn: "notify.customer.test", usage: "server", keyType: options.serverKeyType ?? "ecdsa-p256", dns: ["notify.customer.test", "localhost"], ip: ["127.0.0.1"] });
  const client = await thales.issue({ subject: "/C=FR/O=Thales DIS/CN=thales-notifier-1", usage: "client" });
  await fs.mkdir(path.join(root, "server"), { recursive: true });
  await fs.mkdir(path.join(root, "assets"), { recursive: true });
  await fs.mkdir(path.join(root, "clients"), { recursive: true });
  const files = {
    certFile: path.join(root, "server", "server.crt"),
    keyFile: path.join(root, "server", "server.key"),
    chainFile: path.join(root, "server", "server-chain.pem"),
    caFile: path.join(root, "assets", "inbound-client-ca.pem"),
  };
  await fs.writeFile(files.certFile, server.certPem);
  await fs.writeFile(files.keyFile, server.keyPem, { mode: 0o600 });
  await fs.writeFile(files.chainFile, serverPki.intermediate.certPem);
  await fs.writeFile(files.caFile, thales.caBundlePem);
  const serverCaFile = path.join(root, "server-root.pem");
  await fs.writeFile(serverCaFile, serverPki.root.certPem);
  const writeClient = async (name: string, c: TestCertificate) => {
    const cert = path.join(root, "clients", `${name}.crt`);
    const key = path.join(root, "clients", `${name}.key`);
    const both = path.join(root, "clients", `${name}.pem`);
    await fs.writeFile(cert, c.chainPem);
    await fs.writeFile(key, c.keyPem, { mode: 0o600 });
    await fs.writeFile(both, c.chainPem + c.keyPem, { mode: 0o600 });
    return { cert, key, both };
  };
  return { dir: root, thales, serverPki, other, server, client, files, serverCaFile, writeClient };
}

/** One request the upstream received. */
export interface UpstreamRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A recording upstream application. */
export interface TestUpstream {
  readonly url: string;
  readonly port: number;
  readonly received: UpstreamRequest[];
  /** Stops listening and closes every connection. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

/** Answers with a status, headers and body (after `delayMs`); or `"hang"` to never answer. */
export type UpstreamResponder = (r: UpstreamRequest) => { status?: number; headers?: Record<string, string>; body?: string; delayMs?: number } | "hang";

/** Starts a plain-HTTP upstream on 127.0.0.1 that records every request and answers 200 JSON. */
export async function startUpstream(respond: UpstreamResponder = () => ({})): Promise<TestUpstream> {
  const received: UpstreamRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: UpstreamRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      received.push(r);
      const a = respond(r);
      if (a === "hang") return;
      const body = a.body ?? JSON.stringify({ ok: true, n: received.length });
      const answer = () => {
        res.writeHead(a.status ?? 200, { "content-type": "application/json", ...a.headers });
        res.end(body);
      };
      if (a.delayMs) setTimeout(answer, a.delayMs);
      else answer();
    });
  });
  let port = 0;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  await start();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    received,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    start,
  };
}

/** What a tool printed. */
export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop (the server under test runs in this process). */
export function runTool(cmd: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<ToolRun> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { encoding: "utf8", timeout: options.timeoutMs ?? 20_000, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    // A tool that exits before reading its input (curl, openssl) closes the pipe: the EPIPE of
    // this write is not the test's failure (the exit code and output above are what it checks).
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(options.input ?? "");
  });
}

/** curl against the inbound server, resolving `notify.customer.test` to 127.0.0.1. */
export function curl(port: number, pki: InboundPki, args: string[], urlPath = "/hello"): Promise<ToolRun> {
  return runTool("curl", ["-sS", "-m", "10", "--cacert", pki.serverCaFile, "--resolve", `notify.customer.test:${port}:127.0.0.1`, ...args, `https://notify.customer.test:${port}${urlPath}`]);
}

/** An undici agent presenting a client certificate and trusting the server's root. */
export function clientAgent(pki: InboundPki, client: TestCertificate | undefined, extra: Record<string, unknown> = {}): Agent {
  return new Agent({
    connect: {
      ca: pki.serverPki.root.certPem,
      servername: "notify.customer.test",
      ...(client ? { cert: client.chainPem, key: client.keyPem } : {}),
      ...extra,
    },
  });
}

/** One HTTPS request through `agent`; the body as text. */
export async function call(agent: Agent, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const res = await request(url, { dispatcher: agent, method: (init.method ?? "GET") as "GET", ...(init.headers ? { headers: init.headers } : {}), ...(init.body !== undefined ? { body: init.body } : {}) });
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers as Record<string, string | string[] | undefined>, body };
}

/** A logger that keeps every line (as pino would write it). */
export interface CapturedLogger extends InboundLogger {
  readonly lines: Array<{ level: string; msg: string } & Record<string, unknown>>;
  /** Every line as JSON text, joined: for "never appears in a log" checks. */
  text(): string;
}

/** A logger keeping lines in memory. */
export function captureLogger(): CapturedLogger {
  const lines: CapturedLogger["lines"] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => {
    lines.push({ ...fields, level, msg });
  };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), text: () => lines.map((l) => JSON.stringify(l)).join("\n") };
}

/** Waits until `check` is true, polling; throws after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * mtlskit's inbound server in this process on 127.0.0.1 (a free port) over `pki`'s files,
 * forwarding to `upstream`, logging into a captured logger, its files not watched; `server`
 * adds to or replaces those options.
 */
export function startInboundServer(pki: InboundPki, upstream: TestUpstream, server: Partial<InboundServerOptions> = {}): Promise<InboundServer> {
  return createInboundServer({ credentials: pki.files, upstream: upstream.url, listen: { host: "127.0.0.1", port: 0 }, logger: captureLogger(), reload: { watch: false }, ...server });
}

/** The usual inbound set-up: a fresh PKI, a recording upstream, and mtlskit's inbound server between them in this process. */
export interface InboundWorld {
  readonly pki: InboundPki;
  readonly upstream: TestUpstream;
  readonly srv: InboundServer;
  readonly log: CapturedLogger;
  /** Closes the server (100 ms grace), stops the upstream and removes the PKI's folder. */
  close(): Promise<void>;
}

/** Starts an {@link InboundWorld}: {@link startInboundServer} over a fresh PKI and upstream, with `server`'s options. */
export async function startInboundWorld(server: Partial<InboundServerOptions> = {}): Promise<InboundWorld> {
  const pki = await createInboundPki();
  let upstream: TestUpstream | undefined;
  try {
    upstream = await startUpstream();
    const log = captureLogger();
    const srv = await startInboundServer(pki, upstream, { logger: log, ...server });
    const up = upstream;
    return {
      pki,
      upstream: up,
      srv,
      log,
      async close() {
        await srv.close({ graceMs: 100 });
        await up.stop();
        await fs.rm(pki.dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await upstream?.stop();
    await fs.rm(pki.dir, { recursive: true, force: true });
    throw e;
  }
}
