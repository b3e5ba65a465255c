/**
 * What the steps of `mtlskit demo` share: the folders, the emulator, the portal client, the
 * sample application, what each program's steps found (for the summary), and the things to
 * stop at the end.
 */
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { MtlsError } from "../../errors/index.js";
import type { InboundServer } from "../../server/index.js";
import type { Emulator } from "../../emulator/index.js";
import { createMerchantPki, type MerchantPki } from "./merchant-pki.js";

/** The programs the demo runs. */
export type DemoProgram = "d1" | "mt";

/** What the demo found for one program, for the summary. */
export interface ProgramSummary {
  program: DemoProgram;
  /** "D1 eCom PreProd", "MT Sandbox". */
  label: string;
  environment: string;
  profile: string;
  customerId: string;
  clientCertificate?: { commonName: string; sha256: string };
  check?: { passed: number; steps: number; ms: number };
  token?: { tokenType: string; expiresIn: number; kid: string };
  echo?: { status: number; subject: string; sha256: string };
  endpoint?: { url: string; issuerHost: string };
  notifications?: { sent: number; delivered: number; refused: number; failed: number; thalesCertificates: number; received: number };
  renewal?: { calls: number; failed: number; onOldCertificate: number; onNewCertificate: number; newSha256: string };
}

/** One request the sample application received. */
export interface UpstreamRecord {
  method: string;
  url: string;
  correlationId: string | undefined;
  /** The identity the endpoint verified and forwarded (x-client-cert-*). */
  clientSubject: string | undefined;
  clientIssuer: string | undefined;
  clientSerial: string | undefined;
  /** MT: the API key matched. */
  apiKeyOk: boolean;
  status: number;
}

/** The sample application behind the endpoints: a plain HTTP server that records what it gets. */
export interface SampleUpstream {
  readonly url: string;
  readonly received: UpstreamRecord[];
  stop(): Promise<void>;
}

/** Starts the sample application on a free loopback port. MT calls must carry `APIKEY <apiKey>`. */
export async function startSampleUpstream(apiKey: string): Promise<SampleUpstream> {
  const received: UpstreamRecord[] = [];
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const isMt = (req.url ?? "").startsWith("/tsh-cof/");
      const apiKeyOk = one(req.headers["authorization"]) === `APIKEY ${apiKey}`;
      const status = isMt && !apiKeyOk ? 401 : 204;
      received.push({
        method: req.method ?? "",
        url: req.url ?? "",
        correlationId: one(req.headers["x-correlation-id"]),
        clientSubject: one(req.headers["x-client-cert-subject"]),
        clientIssuer: one(req.headers["x-client-cert-issuer"]),
        clientSerial: one(req.headers["x-client-cert-serial"]),
        apiKeyOk,
        status,
      });
      res.writeHead(status).end();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}

/** The folders of a demo run. */
export interface DemoFolders {
  /** The demo's own folder (temporary, or --keep DIR). */
  readonly root: string;
  /** The mtlskit workspace (what `--dir` points at). */
  readonly workspace: string;
  /** The emulator's state. */
  readonly emulator: string;
  /** Files passed between the customer and Thales (signed certificates, exported bundles). */
  readonly exchange: string;
  /** The customer's own server PKI (the certificate of the endpoint Thales calls). */
  readonly merchant: string;
}

export function demoFolders(root: string): DemoFolders {
  return {
    root,
    workspace: path.join(root, "workspace"),
    emulator: path.join(root, "emulator"),
    exchange: path.join(root, "exchange"),
    merchant: path.join(root, "merchant-pki"),
  };
}

/** Test hooks: faults to inject, to see a failing step. */
export interface DemoFaults {
  /** Stop the sample application before the notifications are sent. */
  upstreamDown?: boolean;
}

/** The state shared by the steps of one run. */
export class DemoSession {
  emulator: Emulator | undefined;
  upstream: SampleUpstream | undefined;
  /** MT: the API key Thales sends on notifications (random, never printed). */
  readonly apiKey = randomBytes(24).toString("base64url");
  readonly summaries = new Map<DemoProgram, ProgramSummary>();
  /** What each program registered at the portal (PUT .../customers/{id}), to update ISSUER_HOST later. */
  readonly registrations = new Map<DemoProgram, Record<string, unknown>>();
  /** The endpoints Thales calls, per program. */
  readonly servers = new Map<DemoProgram, InboundServer>();
  private merchant: Promise<MerchantPki> | undefined;
  private readonly closers: Array<{ what: string; close: () => Promise<unknown> }> = [];

  constructor(
    readonly folders: DemoFolders,
    readonly faults: DemoFaults = {},
  ) {}

  /** Registers something to stop at the end (stopped last-in, first-out). */
  onStop(what: string, close: () => Promise<unknown>): void {
    this.closers.push({ what, close });
  }

  /** Stops everything started, newest first; returns what was stopped and what failed to stop. */
  async stopAll(): Promise<{ stopped: string[]; errors: string[] }> {
    const stopped: string[] = [];
    const errors: string[] = [];
    while (this.closers.length > 0) {
      const c = this.closers.pop()!;
      try {
        await c.close();
        stopped.push(c.what);
      } catch (e) {
        errors.push(`${c.what}: ${(e as Error)?.message ?? String(e)}`);
      }
    }
    return { stopped: stopped.reverse(), errors };
  }

  /** The customer's private CA for server certificates (made once). */
  merchantPki(): Promise<MerchantPki> {
    return (this.merchant ??= createMerchantPki(this.folders.merchant));
  }

  summary(program: DemoProgram): ProgramSummary {
    const s = this.summaries.get(program);
    if (!s) throw new MtlsError("INTERNAL", `no summary for ${program}`);
    return s;
  }

  get emu(): Emulator {
    if (!this.emulator) throw new MtlsError("DEMO_STEP_FAILED", "the emulator is not running");
    return this.emulator;
  }

  /** Calls the emulator's portal (JSON); a refusal becomes a DEMO_STEP_FAILED naming the portal's codes. */
  async portal<T>(method: "GET" | "POST" | "PUT" | "DELETE", route: string, body?: unknown): Promise<T> {
    const url = `${this.emu.portalUrl}${route}`;
    let res: Response;
    try {
      res = await fetch(url, { method, ...(body !== undefined ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}) });
    } catch (e) {
      throw new MtlsError("DEMO_STEP_FAILED", `the emulator's portal did not answer ${method} ${route}: ${(e as Error).message}`, { cause: e });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new MtlsError("DEMO_STEP_FAILED", `the emulator's portal answered ${method} ${route} with HTTP ${res.status} and no JSON`);
    }
    if (res.status >= 400) {
      const errors = (json as { errors?: Array<{ code: string; message: string }> }).errors ?? [];
      const what = errors.map((e) => `[${e.code}] ${e.message}`).join("; ") || `HTTP ${res.status}`;
      throw new MtlsError("DEMO_STEP_FAILED", `the Thales portal (emulator) refused ${method} ${route}: ${what}`);
    }
    return json as T;
  }

  /** Writes a file the customer received from Thales (or sends to it) into the exchange folder. */
  async exchangeFile(name: string, content: string): Promise<string> {
    await fs.mkdir(this.folders.exchange, { recursive: true });
    const file = path.join(this.folders.exchange, name);
    await fs.writeFile(file, content);
    return file;
  }
}

/** Waits for `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
