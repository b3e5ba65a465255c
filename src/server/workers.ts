/**
 * `mtlskit serve --workers N`: N processes of the node engine sharing one listener through
 * `node:cluster` (the primary accepts and hands connections out in turn), one admin listener in
 * the primary with the metrics of every worker, reloads fanned out to every worker,
 * TLS sessions that resume on any worker (Node's cluster workers accept each other's tickets), and a
 * dead worker restarted.
 *
 * The primary runs no TLS itself. Each worker is a whole inbound server (the same options, the
 * same code as one process) that talks to the primary over the cluster's IPC channel:
 *
 *   worker -> primary  `listening` (its summary), `failed` (a coded error at start), `status`
 *   primary -> worker  `status?` (readiness and metrics), `reload`, `stop`
 */
import cluster, { type Worker } from "node:cluster";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { ERROR_CODES, MtlsError, type ErrorCode } from "../errors/index.js";
import { adminHandler } from "./admin.js";
import { isLoopback } from "../policy/index.js";
import type { InboundServer } from "./inbound-server.js";
import type { InboundLogger } from "./logger.js";
import { MetricsRegistry } from "./metrics.js";
import type { ListenAddress } from "./options.js";

/** What a worker says once it listens: enough for the primary to print the "serving" lines. */
export interface WorkerListening {
  url: string;
  port: number;
  server: { subject: string; notAfter: string; sha256: string };
  clientCas: { subject: string; notAfter: string }[];
  watched: string[];
}

type ToPrimary =
  | { mtlskit: "listening"; info: WorkerListening }
  | { mtlskit: "failed"; code: string; message: string; hint?: string }
  | { mtlskit: "status"; id: number; notReady: string[]; metrics: string };
type ToWorker = { mtlskit: "status?"; id: number } | { mtlskit: "reload" } | { mtlskit: "stop"; graceMs: number };

/** Options of {@link startWorkerPool}. */
export interface WorkerPoolOptions {
  /** Number of worker processes (at least 1). */
  workers: number;
  /** The admin listener of the pool (`/healthz`, `/readyz`, `/metrics` of every worker). */
  admin: Partial<ListenAddress> | false;
  logger: InboundLogger;
  /** Environment added to every worker's. */
  env?: Record<string, string>;
  /** Time a worker has to say it listens, ms. Default 30 000. */
  startTimeoutMs?: number;
  /** Exits within {@link restartWindowMs} after which the pool gives up. Default 10. */
  maxRestarts?: number;
  /** Default 60 000. */
  restartWindowMs?: number;
}

/** A running pool of workers. */
export interface WorkerPool {
  readonly workers: number;
  /** The first worker's summary (every worker serves the same set). */
  readonly listening: WorkerListening;
  readonly adminUrl: string | undefined;
  /** Asks every worker to reload now. */
  reload(): void;
  /** Stops every worker (each lets its requests finish for up to `graceMs`), then the admin listener. */
  close(options?: { graceMs?: number }): Promise<void>;
  /** Settles when the pool gives up (workers dying faster than they can be restarted). */
  readonly failed: Promise<MtlsError>;
}

function isToPrimary(m: unknown): m is ToPrimary {
  return typeof m === "object" && m !== null && typeof (m as { mtlskit?: unknown }).mtlskit === "string";
}

function codedError(m: { code: string; message: string; hint?: string }): MtlsError {
  const code: ErrorCode = Object.hasOwn(ERROR_CODES, m.code) ? (m.code as ErrorCode) : "INTERNAL";
  return new MtlsError(code, m.message, m.hint ? { hint: m.hint } : {});
}

/**
 * Merges the Prometheus text of several workers into one exposition: each metric family once
 * (its HELP and TYPE lines, then the samples of every worker), every sample labelled with
 * `worker`. Lines that belong to no family are dropped.
 */
export function mergeWorkerMetrics(parts: ReadonlyArray<{ worker: string; text: string }>): string {
  const families = new Map<string, { head: string[]; samples: string[] }>();
  for (const { worker, text } of parts) {
    let current: { head: string[]; samples: string[] } | undefined;
    for (const line of text.split("\n")) {
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta) {
        const name = meta[2]!;
        let family = families.get(name);
        if (!family) {
          family = { head: [], samples: [] };
          families.set(name, family);
        }
        if (!family.head.some((h) => h.startsWith(`# ${meta[1]} `))) family.head.push(line);
        current = family;
        continue;
      }
      if (line === "" || line.startsWith("#") || !current) continue;
      const brace = line.indexOf("{");
      const space = line.indexOf(" ");
      const label = `worker="${worker}"`;
      current.samples.push(brace !== -1 && brace < space ? `${line.slice(0, brace + 1)}${label},${line.slice(brace + 1)}` : `${line.slice(0, space)}{${label}}${line.slice(space)}`);
    }
  }
  const out: string[] = [];
  for (const f of families.values()) out.push(...f.head, ...f.samples);
  return out.length ? `${out.join("\n")}\n` : "";
}

/**
 * Starts `options.workers` workers (this process must be the cluster primary; each worker runs
 * the same program and calls {@link serveAsClusterWorker}) and the pool's admin listener.
 * Throws the coded error of a worker that could not start (all others are stopped then).
 */
export async function startWorkerPool(options: WorkerPoolOptions): Promise<WorkerPool> {
  const { logger } = options;
  const count = options.workers;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const maxRestarts = options.maxRestarts ?? 10;
  const restartWindowMs = options.restartWindowMs ?? 60_000;
  const registry = new MetricsRegistry();
  const aliveGauge = registry.gauge("mtlskit_serve_workers", "Worker processes of mtlskit serve that listen.");
  const restarts = registry.counter("mtlskit_serve_worker_restarts_total", "Workers restarted after they died.");
  const alive = new Map<number, Worker>();
  const slotOf = new Map<Worker, number>();
  const listeningSlots = new Set<number>();
  const exitTimes: number[] = [];
  let stopping = false;
  let first: WorkerListening | undefined;
  let nextId = 1;
  const pending = new Map<number, (m: Extract<ToPrimary, { mtlskit: "status" }>) => void>();
  let giveUp!: (e: MtlsError) => void;
  const failed = new Promise<MtlsError>((resolve) => (giveUp = resolve));
  let startupReject: ((e: MtlsError) => void) | undefined;
  let onAllListening: (() => void) | undefined;

  const send = (w: Worker, m: ToWorker) => {
    if (w.isConnected()) w.send(m, () => undefined);
  };

  const fork = (slot: number): Worker => {
    const w = cluster.fork({ ...options.env, MTLSKIT_WORKER: String(slot) });
    slotOf.set(w, slot);
    alive.set(slot, w);
    w.on("message", (m: unknown) => {
      if (!isToPrimary(m)) return;
      if (m.mtlskit === "listening") {
        first ??= m.info;
        listeningSlots.add(slot);
        aliveGauge.set(undefined, listeningSlots.size);
        if (listeningSlots.size === count) onAllListening?.();
      } else if (m.mtlskit === "failed") {
        const e = codedError(m);
        if (startupReject) startupReject(e);
        else logger.error({ event: "worker_failed", worker: slot, code: e.code, error: e.message }, `worker ${slot} could not start: ${e.message}`);
      } else if (m.mtlskit === "status") {
        pending.get(m.id)?.(m);
        pending.delete(m.id);
      }
    });
    w.on("exit", (code, signal) => {
      if (alive.get(slot) === w) alive.delete(slot);
      listeningSlots.delete(slot);
      aliveGauge.set(undefined, listeningSlots.size);
      if (startupReject) {
        // A worker that fails sends its coded error before it exits; give it a moment to arrive.
        const reject = startupReject;
        setTimeout(() => reject(new MtlsError("INTERNAL", `worker ${slot} exited before it listened (${signal ? `signal ${signal}` : `exit code ${code}`})`)), 200).unref();
        return;
      }
      if (stopping) return;
      const now = Date.now();
      exitTimes.push(now);
      while (exitTimes.length && exitTimes[0]! < now - restartWindowMs) exitTimes.shift();
      if (exitTimes.length > maxRestarts) {
        const e = new MtlsError("SERVE_WORKERS_FAILING", `${exitTimes.length} workers died within ${Math.round(restartWindowMs / 1000)} s (the last: worker ${slot}, ${signal ? `signal ${signal}` : `exit code ${code}`}); stopping`);
        logger.error({ event: "workers_failing", exits: exitTimes.length }, e.message);
        giveUp(e);
        return;
      }
      const delay = Math.min(5000, 100 * 2 ** (exitTimes.length - 1));
      logger.warn({ event: "worker_exited", worker: slot, code, signal, restartInMs: delay }, `worker ${slot} died (${signal ? `signal ${signal}` : `exit code ${code}`}); starting a new one in ${delay} ms`);
      setTimeout(() => {
        if (stopping) return;
        restarts.inc();
        fork(slot);
      }, delay).unref();
    });
    return w;
  };

  // --- start every worker and wait until each listens
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new MtlsError("LISTEN_FAILED", `the workers did not all listen within ${Math.round(startTimeoutMs / 1000)} s`)), startTimeoutMs);
    startupReject = (e) => {
      clearTimeout(timer);
      reject(e);
    };
    onAllListening = () => {
      clearTimeout(timer);
      resolve();
    };
    for (let slot = 1; slot <= count; slot++) fork(slot);
  });
  const stopAll = async (graceMs: number) => {
    stopping = true;
    const exits = [...alive.values()].map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once("exit", () => resolve()))));
    for (const w of alive.values()) send(w, { mtlskit: "stop", graceMs });
    const hard = setTimeout(() => {
      for (const w of alive.values()) w.process.kill("SIGKILL");
    }, graceMs + 5000);
    await Promise.all(exits);
    clearTimeout(hard);
  };
  try {
    await started;
  } catch (e) {
    await stopAll(0);
    throw e;
  } finally {
    startupReject = undefined;
    onAllListening = undefined;
  }

  // --- the pool's admin listener
  const askAll = async (): Promise<Array<{ slot: number; status?: Extract<ToPrimary, { mtlskit: "status" }> }>> =>
    Promise.all(
      [...alive.entries()].map(
        ([slot, w]) =>
          new Promise<{ slot: number; status?: Extract<ToPrimary, { mtlskit: "status" }> }>((resolve) => {
            const id = nextId++;
            const timer = setTimeout(() => {
              pending.delete(id);
              resolve({ slot });
            }, 2000);
            pending.set(id, (status) => {
              clearTimeout(timer);
              resolve({ slot, status });
            });
            send(w, { mtlskit: "status?", id });
          }),
      ),
    );
  let admin: http.Server | undefined;
  let adminUrl: string | undefined;
  if (options.admin) {
    const host = options.admin.host ?? "127.0.0.1";
    admin = http.createServer(
      adminHandler({
        notReady: async () => {
          if (stopping) return ["shutting down"];
          const answers = await askAll();
          const reasons: string[] = [];
          if (answers.length < count) reasons.push(`${answers.length} of ${count} workers running`);
          for (const a of answers) {
            if (!a.status) reasons.push(`worker ${a.slot} does not answer`);
            else reasons.push(...a.status.notReady.map((r) => `worker ${a.slot}: ${r}`));
          }
          return reasons;
        },
        metricsText: async () => {
          const answers = await askAll();
          return registry.render() + mergeWorkerMetrics(answers.filter((a) => a.status).map((a) => ({ worker: String(a.slot), text: a.status!.metrics })));
        },
      }),
    );
    await new Promise<void>((resolve, reject) => {
      admin!.once("error", (e: NodeJS.ErrnoException) => reject(new MtlsError("LISTEN_FAILED", `the admin listener cannot listen on ${host}:${options.admin ? options.admin.port : ""}: ${e.code === "EADDRINUSE" ? "the port is in use" : e.message}`, { cause: e })));
      admin!.listen(options.admin ? (options.admin.port ?? 0) : 0, host, () => resolve());
    }).catch(async (e: unknown) => {
      await stopAll(0);
      throw e;
    });
    const a = admin.address() as AddressInfo;
    adminUrl = `http://${host.includes(":") ? `[${host}]` : host}:${a.port}`;
    if (!isLoopback(host)) logger.warn({ event: "admin_not_loopback", host }, "the admin listener is not on loopback: keep it away from the internet");
  }

  let closed: Promise<void> | undefined;
  return {
    workers: count,
    listening: first!,
    adminUrl,
    failed,
    reload() {
      for (const w of alive.values()) send(w, { mtlskit: "reload" });
    },
    close(closeOptions = {}) {
      closed ??= (async () => {
        await stopAll(closeOptions.graceMs ?? 5000);
        if (admin) {
          const srv = admin;
          const done = new Promise<void>((resolve) => srv.close(() => resolve()));
          srv.closeAllConnections();
          await done;
        }
      })();
      return closed;
    },
  };
}

/** The number of this worker (1..N) when this process is a worker of a pool, else undefined. */
export function workerSlot(): number | undefined {
  return cluster.isWorker ? Number(process.env["MTLSKIT_WORKER"]) || undefined : undefined;
}

/** In a worker: tells the primary that the server could not start (then the worker exits). */
export function reportWorkerFailure(e: unknown): void {
  if (!process.send) return;
  const m: ToPrimary =
    e instanceof MtlsError ? { mtlskit: "failed", code: e.code, message: e.message, hint: e.hint } : { mtlskit: "failed", code: "INTERNAL", message: (e as Error)?.message ?? String(e) };
  process.send(m);
}

/**
 * In a worker: answers the primary (status, reload, stop) for `srv` and tells it the server
 * listens. Resolves with the grace time when the primary asks the worker to stop.
 */
export function serveAsClusterWorker(srv: InboundServer): Promise<{ graceMs: number }> {
  const set = srv.credentials.current();
  const info: WorkerListening = {
    url: srv.url,
    port: srv.address.port,
    server: { subject: set.leaf.subjectText, notAfter: set.leaf.notAfter.toISOString(), sha256: set.leaf.sha256Fingerprint },
    clientCas: set.cas.map((c) => ({ subject: c.subjectText, notAfter: c.notAfter.toISOString() })),
    watched: [...srv.watched],
  };
  return new Promise((resolve) => {
    const onMessage = (m: unknown) => {
      const msg = m as ToWorker;
      if (msg?.mtlskit === "status?") {
        const reply: ToPrimary = { mtlskit: "status", id: msg.id, notReady: srv.notReady(), metrics: srv.metricsText() };
        process.send?.(reply);
      } else if (msg?.mtlskit === "reload") {
        void srv.reload();
      } else if (msg?.mtlskit === "stop") {
        process.off("message", onMessage);
        resolve({ graceMs: msg.graceMs });
      }
    };
    process.on("message", onMessage);
    process.send?.({ mtlskit: "listening", info } satisfies ToPrimary);
  });
}
