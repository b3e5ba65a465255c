import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import type { Command } from "commander";
import * as path from "node:path";
import {
  createInboundServer,
  createJsonLogger,
  DEFAULT_ADMIN_HOST,
  DEFAULT_ADMIN_PORT,
  DEFAULT_LISTEN_PORT,
  parseDurationMs,
  parseListenAddress,
  profileInboundFiles,
  type CredentialFiles,
  type InboundLimits,
  type LogLevel,
} from "../../server/index.js";
import { reportWorkerFailure, serveAsClusterWorker, startWorkerPool, workerSlot } from "../../server/workers.js";
import { MtlsError } from "../../errors/index.js";
import { isPkcs11Uri, isPkcs12File } from "../../pki/index.js";
import type { ProgramPolicy } from "../../policy/index.js";
import { firstOption, pkcs11OptionsFrom, TOKEN_OPTION_HELP, type OptionFlags, type TokenOptions } from "./key-source.js";
import { paint, positiveInt, printJson, say, type CliContext } from "../context.js";

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function define(cmd: Command): Command {
  return cmd
    .description("serve the endpoint Thales calls: mutual TLS with Thales's client certificate verified against the Thales Client CA, requests forwarded to your application with the verified identity in headers")
    .option("--profile <name>", "serve the profile's server certificate and Thales Client CA (server-cert set, assets import)")
    .option("--listen <host:port>", `where Thales connects, 443 or ${DEFAULT_LISTEN_PORT} (443 needs CAP_NET_BIND_SERVICE, or forward 443 to ${DEFAULT_LISTEN_PORT}); default every interface`, `:${DEFAULT_LISTEN_PORT}`)
    .requiredOption("--upstream <url>", "your application, plain HTTP: http://HOST:PORT[/prefix]")
    .option("--admin <host:port|off>", "/healthz, /readyz and /metrics (Prometheus); keep it on loopback", `${DEFAULT_ADMIN_HOST}:${DEFAULT_ADMIN_PORT}`)
    .option("--cert <file>", "without a profile: the server certificate (optionally followed by its chain), or a PKCS#12 (.p12/.pfx) with key and chain")
    .option("--key <file>", "without a profile: its private key (PEM, DER or PKCS#12; default: the --cert PKCS#12), or a key in a token (pkcs11:token=...;object=...)")
    .option("--pin-file <file>", `${TOKEN_OPTION_HELP.pinFile} (also for the profile's server key in a token)`)
    .option("--pkcs11-module <path>", `${TOKEN_OPTION_HELP.module} (also for the profile's server key in a token)`)
    .option("--chain <file>", "without a profile: the intermediates, in issuer order")
    .option("--client-ca <file>", "without a profile: the Thales Client CA (a CA certificate, never Thales's leaf)")
    .option("--passphrase-file <file>", "passphrase of an encrypted --key or of a PKCS#12 --cert/--key (first line)")
    .option("--allow-cn <cn>", "also require this subject CN of the client certificate (repeatable; on top of CA verification)", collect)
    .option("--allow-o <o>", "also require this subject O of the client certificate (repeatable)", collect)
    .option("--upstream-errors <mode>", "answer for an application down or too slow: retryable (503, which Thales retries) or gateway (502/504)", "retryable")
    .option("--upstream-timeout <duration>", "time for the application's answer", "8s")
    .option("--max-connections <n>", "connections served at once; more are answered 503", "512")
    .option("--max-body <bytes>", "largest request body; more is answered 413", String(1024 * 1024))
    .option("--first-byte-timeout <duration>", "node engine: close a new connection that sends nothing for this long (Thales sends its ClientHello at once); never more than the handshake time (10s); default 3s")
    .option("--max-pending-handshakes <n>", "node engine: connections still in their TLS handshake, all addresses together; a new one over this closes the oldest (at most the TCP cap minus --max-connections); default 1024")
    .option("--max-pending-per-address <n>", "node engine: connections still in their TLS handshake from one address; a new one over this closes that address's oldest; default 256")
    .option("--reload-interval <duration>", "also reload the certificates this often (0: only on SIGHUP and file changes)", "10m")
    .option("--log-level <level>", "debug, info, warn or error (JSON lines on stderr)", "info")
    .option("--workers <n|auto>", "processes sharing the listener (auto: one per CPU); one admin listener with the metrics of all, a dead worker restarted", "1")
    .option("--engine <engine>", "node (built in), nginx or haproxy (mtlskit writes, checks, runs and reloads the engine; Debian packages nginx-light, haproxy)", "node")
    .option("--engine-bin <path>", "the nginx or haproxy binary (default: PATH, then /usr/sbin)")
    .option("--run-dir <dir>", "with --engine nginx|haproxy: the folder of the engine's configuration, logs and certificates (default: inside the workspace)")
    .addHelpText(
      "after",
      "\nEngines: identity headers per engine (never a client-supplied value): nginx cannot produce x-client-cert-sha256,\n" +
        "x-client-cert-not-after nor RFC 9440 Client-Cert (removed); HAProxy cannot produce x-client-cert (PEM) nor x-client-cert-not-after (removed).\n" +
        "\nReload: SIGHUP, the --reload-interval timer and any change in the certificates' folders reload them; an invalid new set is refused and the current one kept.\n" +
        "Stop: SIGINT or SIGTERM (requests in progress finish first, up to 10 s).\n" +
        "Workers (--workers N): SIGHUP and reloads reach every worker; /metrics on the admin listener labels each worker's series with worker=\"N\"; a dead worker is restarted.\n" +
        "\nExamples:\n  mtlskit serve --profile d1-pp --upstream http://127.0.0.1:8080\n" +
        "  mtlskit serve --cert server.crt --key server.key --chain chain.pem --client-ca thales-client-ca.pem --listen :8443 --upstream http://127.0.0.1:8080 --admin 127.0.0.1:9464",
    );
}

/** The options of `serve`, as {@link define} declares them. */
export interface ServeOptions extends TokenOptions {
  profile?: string;
  listen: string;
  upstream: string;
  admin: string;
  cert?: string;
  key?: string;
  chain?: string;
  clientCa?: string;
  passphraseFile?: string;
  allowCn?: string[];
  allowO?: string[];
  upstreamErrors: string;
  upstreamTimeout: string;
  maxConnections: string;
  maxBody: string;
  firstByteTimeout?: string;
  maxPendingHandshakes?: string;
  maxPendingPerAddress?: string;
  reloadInterval: string;
  logLevel: string;
  workers: string;
  engine: string;
  engineBin?: string;
  runDir?: string;
}

/** `--workers`: a count from 1 to 64, or `auto` (one per CPU). */
export function parseWorkers(text: string): number {
  if (text === "auto") return Math.max(1, Math.min(64, availableParallelism()));
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 64) throw new MtlsError("USAGE", `--workers must be a number from 1 to 64 or auto, not '${text}'`);
  return Number(text);
}

/** The flood limits of the node engine (defaults in {@link floodLimits}: the other engines refuse them). */
type FloodOptions = Pick<ServeOptions, "firstByteTimeout" | "maxPendingHandshakes" | "maxPendingPerAddress">;

/** The flood limits of the node engine: option key and flag. */
const FLOOD_FLAGS: OptionFlags<FloodOptions> = [
  ["firstByteTimeout", "--first-byte-timeout"],
  ["maxPendingHandshakes", "--max-pending-handshakes"],
  ["maxPendingPerAddress", "--max-pending-per-address"],
];

/**
 * `--first-byte-timeout`, `--max-pending-handshakes`, `--max-pending-per-address`: the bounds
 * of what an unauthenticated connection can hold (see src/server/options.ts). Bad values are
 * `USAGE`.
 */
export function floodLimits(o: FloodOptions): Pick<InboundLimits, "firstByteTimeoutMs" | "maxPendingHandshakes" | "maxPendingPerAddress"> {
  const firstByteTimeoutMs = parseDurationMs(o.firstByteTimeout ?? "3s", "--first-byte-timeout");
  if (firstByteTimeoutMs <= 0) throw new MtlsError("USAGE", "--first-byte-timeout must be more than 0 (a silent connection is always closed at some point)", { hint: "Write it like 500ms or 3s." });
  return {
    firstByteTimeoutMs,
    maxPendingHandshakes: positiveInt("--max-pending-handshakes", o.maxPendingHandshakes ?? "1024"),
    maxPendingPerAddress: positiveInt("--max-pending-per-address", o.maxPendingPerAddress ?? "256"),
  };
}

function logLevel(text: string): LogLevel {
  if (text === "debug" || text === "info" || text === "warn" || text === "error") return text;
  throw new MtlsError("USAGE", `--log-level must be debug, info, warn or error, not '${text}'`);
}

export async function run(ctx: CliContext, o: ServeOptions): Promise<number> {
  const { profile: profileName, cert, clientCa, chain, passphraseFile, engine: engineName } = o;
  if (profileName && (cert || o.key || chain || clientCa)) {
    throw new MtlsError("USAGE", "give either --profile or --cert/--key/--client-ca, not both");
  }
  // A PKCS#12 --cert (recognised by content) carries its key: --key may then be left out.
  const certP12 = cert !== undefined && (await isPkcs12File(cert));
  const key = o.key ?? (certP12 ? cert : undefined);
  if (!profileName && !(cert && key && clientCa)) {
    throw new MtlsError("USAGE", "give --profile NAME, or all of --cert, --key and --client-ca (--key may be left out when --cert is a PKCS#12 holding it)");
  }
  if (engineName !== "node" && !profileName) {
    const p12 = certP12 ? cert : key && !isPkcs11Uri(key) && (await isPkcs12File(key)) ? key : undefined;
    if (p12) {
      throw new MtlsError("PKCS12_NOT_USABLE_HERE", `${p12}: is a PKCS#12, which --engine ${engineName} cannot read`, {
        subject: p12,
        hint: `Put it into a profile, which stores PEM files the engines read: mtlskit server-cert set --profile P --cert ${p12} --passphrase-file FILE, then mtlskit serve --profile P --engine ${engineName}; or use --engine node, which reads it with --passphrase-file.`,
      });
    }
  }
  const mode = o.upstreamErrors;
  if (mode !== "retryable" && mode !== "gateway") throw new MtlsError("USAGE", `--upstream-errors must be retryable or gateway, not '${mode}'`);
  const listen = parseListenAddress(o.listen);
  const adminText = o.admin;
  const admin = adminText === "off" ? false : { host: DEFAULT_ADMIN_HOST, ...parseListenAddress(adminText, DEFAULT_ADMIN_PORT) };
  const limits: Partial<InboundLimits> = {
    upstreamTimeoutMs: parseDurationMs(o.upstreamTimeout, "--upstream-timeout"),
    maxConnections: positiveInt("--max-connections", o.maxConnections),
    maxBodyBytes: positiveInt("--max-body", o.maxBody),
  };
  Object.assign(limits, floodLimits(o));
  const intervalMs = parseDurationMs(o.reloadInterval, "--reload-interval");
  const workers = parseWorkers(o.workers);
  const slot = workerSlot();

  let files: CredentialFiles;
  let program: ProgramPolicy | undefined;
  if (profileName) {
    const p = await profileInboundFiles(ctx.dir, profileName, pkcs11OptionsFrom(o));
    files = { ...p.files, ...(passphraseFile ? { passphraseFile } : {}) };
    program = p.profile.program;
  } else {
    files = { certFile: cert!, keyFile: key!, caFile: clientCa!, ...(chain ? { chainFile: chain } : {}), ...(passphraseFile ? { passphraseFile } : {}), pkcs11: pkcs11OptionsFrom(o) };
  }
  const profile = profileName ?? "default";
  const level = ctx.quiet ? "warn" : logLevel(o.logLevel);
  const logger = createJsonLogger({ level, base: slot ? { profile, worker: slot } : { profile } });
  const engine = o.engine;
  if (engine !== "node" && engine !== "nginx" && engine !== "haproxy") throw new MtlsError("USAGE", `--engine must be node, nginx or haproxy, not '${engine}'`);
  if (engine !== "node") {
    const flag = firstOption(o, FLOOD_FLAGS);
    if (flag !== undefined) throw new MtlsError("USAGE", `${flag} is for the node engine; ${engine} applies its own limits`);
  }
  if (engine !== "node" && workers > 1) throw new MtlsError("USAGE", `--workers is for the node engine; ${engine} runs its own worker processes`);
  if (workers > 1 && cluster.isPrimary) return runPool(ctx, { workers, admin, logger, profile, upstream: o.upstream, intervalMs });
  const allowCn = o.allowCn ?? [];
  const allowO = o.allowO ?? [];

  if (engine !== "node") {
    if (!files.caFile) throw new MtlsError("USAGE", "--engine nginx|haproxy needs the Thales Client CA file");
    if (passphraseFile) throw new MtlsError("ENGINE_KEY_UNSUPPORTED", "--engine nginx|haproxy needs an unencrypted key file (0600); --passphrase-file is for the node engine");
    const { superviseEngine } = await import("../../engines/index.js");
    const runDir = path.resolve(o.runDir ?? path.join(ctx.dir, "run", `${profile}-${engine}`));
    const sup = await superviseEngine({
      engine,
      profile,
      runDir,
      ...(o.engineBin ? { engineBin: o.engineBin } : {}),
      credentials: { certFile: files.certFile, keyFile: files.keyFile, caFile: files.caFile, ...(files.chainFile ? { chainFile: files.chainFile } : {}), ...(files.pkcs11 ? { pkcs11: files.pkcs11 } : {}) },
      model: {
        listen,
        upstream: o.upstream,
        allow: { commonNames: allowCn, organizations: allowO },
        limits,
        upstreamErrors: mode,
      },
      admin,
      reload: { watch: true, intervalMs, signal: "SIGHUP" },
      logger,
    });
    let signalled = false;
    const stopped = new Promise<void>((resolve) => {
      const stop = () => {
        signalled = true;
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolve();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    const host = listen.host ?? "0.0.0.0";
    const url = `https://${host.includes(":") ? `[${host}]` : host}:${listen.port}`;
    if (ctx.json) printJson(ctx, { ok: true, engine, url, port: listen.port, adminUrl: sup.adminUrl ?? null, profile, upstream: o.upstream, runDir, pid: sup.pid, watched: sup.watched });
    else {
      say(ctx, `${paint(ctx, "green", "serving")} mutual TLS on ${url} (port ${listen.port}) -> ${o.upstream} with ${engine} (${sup.bin}, pid ${sup.pid})`);
      say(ctx, `run folder: ${runDir}`);
      if (sup.adminUrl) say(ctx, `admin: ${sup.adminUrl}/healthz, /readyz, /metrics`);
      say(ctx, "reload: SIGHUP, file changes, every " + (intervalMs ? `${Math.round(intervalMs / 1000)} s` : "(timer off)") + "; stop: Ctrl-C");
    }
    const outcome = await Promise.race([stopped.then(() => "stop" as const), sup.exited.then((e) => e)]);
    if (outcome === "stop" || signalled) {
      await sup.stop(10_000);
      return 0;
    }
    await sup.stop(0);
    throw new MtlsError("ENGINE_EXITED", `${engine} exited on its own (${outcome.signal ?? `code ${String(outcome.code)}`})`, { subject: runDir });
  }

  const started = createInboundServer({
    credentials: files,
    upstream: o.upstream,
    listen,
    admin: slot ? false : admin,
    profile,
    ...(program ? { program } : {}),
    ...(allowCn.length || allowO.length ? { allow: { commonNames: allowCn, organizations: allowO } } : {}),
    limits,
    upstreamFailureStatus: mode,
    reload: { watch: true, intervalMs, signal: "SIGHUP" },
    logger,
  });
  if (slot) return runWorker(started);
  const srv = await started;
  // Listen for the stop signals before saying "ready": a supervisor may signal at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  const set = srv.credentials.current();
  if (ctx.json) {
    printJson(ctx, {
      ok: true,
      url: srv.url,
      port: srv.address.port,
      adminUrl: srv.adminUrl ?? null,
      profile,
      upstream: o.upstream,
      server: { subject: set.leaf.subjectText, notAfter: set.leaf.notAfter.toISOString(), sha256: set.leaf.sha256Fingerprint },
      clientCas: set.cas.map((c) => ({ subject: c.subjectText, notAfter: c.notAfter.toISOString() })),
      watched: srv.watched,
    });
  } else {
    say(ctx, `${paint(ctx, "green", "serving")} mutual TLS on ${srv.url} (port ${srv.address.port}) -> ${o.upstream}`);
    say(ctx, `server certificate: ${set.leaf.subjectText}, until ${set.leaf.notAfter.toISOString()}`);
    say(ctx, `trusted client CA: ${set.cas.map((c) => c.subjectText).join("; ")}`);
    if (srv.adminUrl) say(ctx, `admin: ${srv.adminUrl}/healthz, /readyz, /metrics`);
    say(ctx, "reload: SIGHUP, file changes, every " + (intervalMs ? `${Math.round(intervalMs / 1000)} s` : "(timer off)") + "; stop: Ctrl-C");
  }

  await stopped;
  await srv.close({ graceMs: 10_000 });
  return 0;
}

/** In a worker of `--workers N`: serve until the primary (or a signal) says stop. */
async function runWorker(started: ReturnType<typeof createInboundServer>): Promise<number> {
  let srv: Awaited<typeof started>;
  try {
    srv = await started;
  } catch (e) {
    reportWorkerFailure(e);
    return e instanceof MtlsError ? e.exitCode : 3;
  }
  const signalled = new Promise<{ graceMs: number }>((resolve) => {
    const stop = () => resolve({ graceMs: 10_000 });
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    // The primary is gone: stop too.
    process.once("disconnect", () => resolve({ graceMs: 0 }));
  });
  const { graceMs } = await Promise.race([serveAsClusterWorker(srv), signalled]);
  await srv.close({ graceMs });
  process.disconnect?.();
  return 0;
}

/** `--workers N` (N > 1), in the primary: start the pool, print what it serves, supervise. */
async function runPool(
  ctx: CliContext,
  p: { workers: number; admin: { host: string; port?: number } | false; logger: ReturnType<typeof createJsonLogger>; profile: string; upstream: string; intervalMs: number },
): Promise<number> {
  // Listen for the stop signals (and SIGHUP, which would end the primary) before starting.
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let pool: Awaited<ReturnType<typeof startWorkerPool>> | undefined;
  const onHup = () => pool?.reload();
  process.on("SIGHUP", onHup);
  try {
    pool = await startWorkerPool({ workers: p.workers, admin: p.admin, logger: p.logger });
    const l = pool.listening;
    if (ctx.json) {
      printJson(ctx, { ok: true, url: l.url, port: l.port, adminUrl: pool.adminUrl ?? null, profile: p.profile, upstream: p.upstream, workers: pool.workers, server: l.server, clientCas: l.clientCas, watched: l.watched });
    } else {
      say(ctx, `${paint(ctx, "green", "serving")} mutual TLS on ${l.url} (port ${l.port}) -> ${p.upstream}, ${pool.workers} workers`);
      say(ctx, `server certificate: ${l.server.subject}, until ${l.server.notAfter}`);
      say(ctx, `trusted client CA: ${l.clientCas.map((c) => c.subject).join("; ")}`);
      if (pool.adminUrl) say(ctx, `admin: ${pool.adminUrl}/healthz, /readyz, /metrics (every worker)`);
      say(ctx, "reload: SIGHUP, file changes, every " + (p.intervalMs ? `${Math.round(p.intervalMs / 1000)} s` : "(timer off)") + "; stop: Ctrl-C");
    }
    const outcome = await Promise.race([stopped.then(() => undefined), pool.failed]);
    await pool.close({ graceMs: 10_000 });
    if (outcome) throw outcome;
    return 0;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    process.off("SIGHUP", onHup);
  }
}
