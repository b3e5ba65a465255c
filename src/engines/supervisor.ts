/**
 * `mtlskit serve --engine nginx|haproxy`: writes the run folder, checks it with the engine
 * itself, runs the engine in the foreground as a child, reloads it gracefully (an invalid new
 * set keeps the old one serving) and answers the admin endpoints.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promises as fs, constants as fsc } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { MtlsError } from "../errors/index.js";
import { adminHandler } from "../server/admin.js";
import type { InboundLogger } from "../server/logger.js";
import { startReloadTriggers, type ReloadTrigger, type ReloadTriggers } from "../server/reloader.js";
import { isPkcs11Uri, type Pkcs11Options } from "../pki/index.js";
import { engineEnv, engineFolderFiles, engineTokenKey, haproxyTokenRefusal, mainConfigFile, readMaterial, writeEngineFolder } from "./files.js";
import { freePort } from "./free-port.js";
import { engineModel, type EngineModel, type EngineName } from "./model.js";

/** The Debian package of each engine, named in `ENGINE_NOT_FOUND`. */
export const ENGINE_PACKAGES: Readonly<Record<EngineName, string>> = { nginx: "nginx-light", haproxy: "haproxy" };

/** The engine binary: `explicit`, else PATH, else /usr/sbin and /usr/local/sbin. `ENGINE_NOT_FOUND`. */
export async function findEngineBinary(engine: EngineName, explicit?: string): Promise<string> {
  const candidates = explicit ? [explicit] : [...(process.env["PATH"] ?? "").split(path.delimiter).filter(Boolean), "/usr/local/sbin", "/usr/sbin", "/sbin"].map((d) => path.join(d, engine));
  for (const c of candidates) {
    try {
      await fs.access(c, fsc.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  throw new MtlsError("ENGINE_NOT_FOUND", explicit ? `${explicit} is not an executable ${engine}` : `${engine} is not on PATH nor in /usr/sbin`, {
    hint: `Install it: apt-get install ${ENGINE_PACKAGES[engine]}; or give its path with --engine-bin`,
    subject: explicit ?? engine,
  });
}

/** Checks a folder's configuration with the engine (`nginx -t`, `haproxy -c`). `ENGINE_CONFIG_INVALID` with the engine's message. */
export async function validateEngineFolder(engine: EngineName, bin: string, dir: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const conf = path.join(dir, mainConfigFile(engine));
  const args = engine === "nginx" ? ["-t", "-q", "-p", dir, "-c", conf] : ["-c", "-f", conf];
  await new Promise<void>((resolve, reject) => {
    execFile(bin, args, { timeout: 30_000, env }, (err, stdout, stderr) => {
      if (!err) return resolve();
      const msg = `${stderr}${stdout}`.trim().split("\n").filter((l) => l.trim() !== "").slice(-6).join(" | ");
      reject(new MtlsError("ENGINE_CONFIG_INVALID", `${engine} refused the configuration: ${msg || err.message}`, { subject: conf }));
    });
  });
}

/** Options of {@link superviseEngine}. */
export interface SuperviseOptions {
  engine: EngineName;
  profile: string;
  /** The run folder (created; mtlskit owns it). */
  runDir: string;
  engineBin?: string;
  /** `keyFile` may be a PKCS#11 URI (nginx only), with `pkcs11` saying where the module and PIN are. */
  credentials: { certFile: string; keyFile: string; chainFile?: string; caFile: string; pkcs11?: Pkcs11Options };
  model: Omit<Parameters<typeof engineModel>[0], "dir" | "profile">;
  admin?: { host: string; port: number } | false;
  reload?: { watch?: boolean; intervalMs?: number; signal?: NodeJS.Signals | false };
  logger: InboundLogger;
}

/** A running engine. */
export interface SupervisedEngine {
  readonly engine: EngineName;
  readonly bin: string;
  readonly runDir: string;
  readonly model: EngineModel;
  readonly pid: number;
  readonly adminUrl?: string;
  readonly watched: readonly string[];
  /** Regenerates, validates and reloads; false (and the old set kept) when the new one is invalid. */
  reload(trigger?: ReloadTrigger): Promise<boolean>;
  /** Resolves when the engine exits on its own (with its exit code or signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Graceful stop (SIGQUIT nginx / SIGUSR1 haproxy, then TERM after graceMs). */
  stop(graceMs?: number): Promise<void>;
}

function tcpAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

async function fetchText(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(res.statusCode === 200 ? body : ""));
    });
    req.on("error", () => resolve(""));
    req.on("timeout", () => req.destroy());
  });
}

/** nginx stub_status as Prometheus text, labelled engine="nginx". */
export function stubStatusToPrometheus(text: string): string {
  const m = /Active connections:\s*(\d+)[\s\S]*?\n\s*(\d+)\s+(\d+)\s+(\d+)[\s\S]*?Reading:\s*(\d+)\s*Writing:\s*(\d+)\s*Waiting:\s*(\d+)/.exec(text);
  if (!m) return "";
  const l = '{engine="nginx"}';
  return [
    `# TYPE mtlskit_engine_connections_active gauge`,
    `mtlskit_engine_connections_active${l} ${m[1]}`,
    `# TYPE mtlskit_engine_connections_accepted_total counter`,
    `mtlskit_engine_connections_accepted_total${l} ${m[2]}`,
    `# TYPE mtlskit_engine_connections_handled_total counter`,
    `mtlskit_engine_connections_handled_total${l} ${m[3]}`,
    `# TYPE mtlskit_engine_requests_total counter`,
    `mtlskit_engine_requests_total${l} ${m[4]}`,
    "",
  ].join("\n");
}

/** HAProxy's exporter output with `engine="haproxy"` added to every sample. */
export function labelHaproxyMetrics(text: string): string {
  return text
    .split("\n")
    .map((line) => {
      if (line === "" || line.startsWith("#")) return line;
      const sp = line.lastIndexOf(" ");
      const name = line.slice(0, sp);
      const val = line.slice(sp);
      return name.includes("{") ? `${name.replace("{", '{engine="haproxy",')}${val}` : `${name}{engine="haproxy"}${val}`;
    })
    .join("\n");
}

/** Turns an engine's stderr line into a JSON log line of the node engine's shape. */
function forwardLine(logger: InboundLogger, engine: EngineName, line: string): void {
  const t = line.trim();
  if (t === "") return;
  if (t.startsWith("{")) {
    try {
      const fields = JSON.parse(t) as Record<string, unknown>;
      const isHs = fields["event"] === "handshake_failed";
      (isHs ? logger.warn : logger.info).call(logger, { engine, ...fields }, isHs ? "TLS handshake refused" : "request");
      return;
    } catch {
      /* plain */
    }
  }
  const lvl = /\[(emerg|alert|crit|error)\]|ALERT/.test(t) ? "error" : /\[warn\]|WARNING/.test(t) ? "warn" : /\[(info|debug)\]/.test(t) ? "debug" : "info";
  const hs = /client sent no required SSL certificate|SSL_do_handshake\(\) failed|certificate verify failed|client SSL certificate verify error/.exec(t);
  // nginx's info level says why a handshake was refused (kept, as a warning) and also that a
  // client closed its connection (debug: the node engine logs no line per connection either).
  logger[hs ? "warn" : lvl]({ engine, ...(hs ? { event: "handshake_failed", reason: hs[0] } : {}) }, t);
}

/**
 * Starts the engine. Resolves once it is running (it was validated first); throws
 * `ENGINE_NOT_FOUND`, `ENGINE_CONFIG_INVALID` or `ENGINE_KEY_UNSUPPORTED`.
 */
export async function superviseEngine(o: SuperviseOptions): Promise<SupervisedEngine> {
  const { engine, logger } = o;
  if (engine === "haproxy" && isPkcs11Uri(o.credentials.keyFile)) throw haproxyTokenRefusal();
  const bin = await findEngineBinary(engine, o.engineBin);
  const runDir = path.resolve(o.runDir);
  const statusPort = o.admin ? await freePort() : undefined;
  // A key in a token: PIN and module resolved now (coded errors before anything starts), never logged.
  const firstMaterial = await readMaterial(o.credentials);
  const base = { ...o.model, profile: o.profile, ...(statusPort !== undefined ? { statusPort } : {}), ...(firstMaterial.token ? { tokenKey: engineTokenKey(firstMaterial.token) } : {}) };
  const model = engineModel({ ...base, dir: runDir });
  const stageModel = engineModel({ ...base, dir: path.join(runDir, "staging") });
  const genOpts = engine === "nginx" ? { daemon: false } : { masterWorker: true };

  /** Writes and validates the candidate in staging/, then writes it live. */
  const prepare = async () => {
    const material = await readMaterial(o.credentials);
    const stage = path.join(runDir, "staging");
    await fs.rm(stage, { recursive: true, force: true });
    await writeEngineFolder(stage, engine, engineFolderFiles(engine, stageModel, material, genOpts), { force: true });
    try {
      await validateEngineFolder(engine, bin, stage, engineEnv(stageModel));
    } finally {
      await fs.rm(stage, { recursive: true, force: true });
    }
    await writeEngineFolder(runDir, engine, engineFolderFiles(engine, model, material, genOpts), { force: true });
  };
  await prepare();
  await validateEngineFolder(engine, bin, runDir, engineEnv(model));

  // nginx's log files as they are before this start: a run folder used again keeps the lines of
  // earlier runs, which are not logged again.
  const logs = await Promise.all(
    ["access.log", "error.log"].map(async (f) => {
      const file = path.join(runDir, "logs", f);
      return { file, offset: await fs.stat(file).then((st) => st.size, () => 0) };
    }),
  );
  const args = engine === "nginx" ? ["-p", runDir, "-c", path.join(runDir, "nginx.conf"), "-e", "stderr"] : ["-W", "-db", "-f", path.join(runDir, "haproxy.cfg")];
  const child: ChildProcess = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env: engineEnv(model) });
  let stopping = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  for (const stream of [child.stdout, child.stderr]) {
    let buf = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (c: string) => {
      buf += c;
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        forwardLine(logger, engine, buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  }
  // nginx writes its access log (in blocks, at least every second) and its error log (refused
  // handshakes with their reason) to files of the run folder: tail both into JSON lines. The
  // reads run one after the other, and once more after the engine has exited, for what it wrote
  // as it stopped.
  let tail: ReturnType<typeof setInterval> | undefined;
  let drained: Promise<void> = Promise.resolve();
  const readLog = async (log: { file: string; offset: number }): Promise<void> => {
    const fh = await fs.open(log.file, "r").catch(() => undefined);
    if (!fh) return;
    try {
      const { size } = await fh.stat();
      if (size < log.offset) log.offset = 0;
      if (size === log.offset) return;
      const b = Buffer.alloc(size - log.offset);
      await fh.read(b, 0, b.length, log.offset);
      const text = b.toString("utf8");
      const end = text.lastIndexOf("\n");
      if (end < 0) return;
      log.offset += Buffer.byteLength(text.slice(0, end + 1));
      for (const line of text.slice(0, end).split("\n")) forwardLine(logger, engine, line);
    } finally {
      await fh.close();
    }
  };
  const drainLogs = (): Promise<void> =>
    (drained = drained
      .then(async () => {
        for (const log of logs) await readLog(log);
      })
      .catch(() => undefined));
  if (engine === "nginx") {
    tail = setInterval(() => void drainLogs(), 500);
    tail.unref();
  }
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", () => resolve());
    child.once("error", (e) => reject(new MtlsError("ENGINE_EXITED", `${bin} could not start: ${e.message}`)));
  });
  // Running once the listener answers (or the engine dies first).
  const listenHost = model.listen.host && model.listen.host !== "0.0.0.0" && model.listen.host !== "::" ? model.listen.host : "127.0.0.1";
  let died = false;
  void exited.then(() => (died = true));
  for (let i = 0; i < 200 && !died; i++) {
    if (await tcpAnswers(listenHost, model.listen.port)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (died) throw new MtlsError("ENGINE_EXITED", `${engine} exited at start; see its messages above`);

  let ready = true;
  const reload = async (trigger: ReloadTrigger = "api"): Promise<boolean> => {
    try {
      await prepare();
    } catch (e) {
      const err = e instanceof MtlsError ? e : new MtlsError("ENGINE_CONFIG_INVALID", String(e));
      logger.error({ event: "reload_refused", engine, trigger, code: err.code, reason: err.message }, "new certificate set refused; the current one keeps serving");
      return false;
    }
    child.kill(engine === "nginx" ? "SIGHUP" : "SIGUSR2");
    logger.info({ event: "reloaded", engine, trigger }, `${engine} reloaded`);
    return true;
  };
  let triggers: ReloadTriggers | undefined;
  const files = [o.credentials.certFile, o.credentials.keyFile, o.credentials.caFile, ...(o.credentials.chainFile ? [o.credentials.chainFile] : [])];
  triggers = startReloadTriggers({
    files,
    watch: o.reload?.watch ?? true,
    intervalMs: o.reload?.intervalMs ?? 0,
    signal: o.reload?.signal ?? false,
    reload: async (t) => {
      if (t !== "start") await reload(t);
    },
    onWatchError: (dir, error) => logger.warn({ event: "watch_failed", dir, reason: error.message }, "cannot watch a folder; SIGHUP and the timer still reload"),
  });

  let adminServer: http.Server | undefined;
  let adminUrl: string | undefined;
  let lastReady = true;
  if (o.admin) {
    const statusUrl = engine === "nginx" ? `http://127.0.0.1:${statusPort}/stub_status` : `http://127.0.0.1:${statusPort}/metrics`;
    let metricsCache = "";
    const refresh = async () => {
      lastReady = ready && !died && (await tcpAnswers(listenHost, model.listen.port));
      const raw = await fetchText(statusUrl);
      metricsCache =
        `# TYPE mtlskit_engine_up gauge\nmtlskit_engine_up{engine="${engine}"} ${died ? 0 : 1}\n` + (engine === "nginx" ? stubStatusToPrometheus(raw) : labelHaproxyMetrics(raw));
    };
    await refresh();
    const handler = adminHandler({ notReady: () => (lastReady ? [] : [`${engine} does not answer on port ${model.listen.port}`]), metricsText: () => metricsCache });
    adminServer = http.createServer((req, res) => {
      void refresh().then(() => handler(req, res));
    });
    await new Promise<void>((resolve, reject) => {
      adminServer!.once("error", reject);
      adminServer!.listen(o.admin ? o.admin.port : 0, o.admin ? o.admin.host : "127.0.0.1", () => resolve());
    });
    const a = adminServer.address() as net.AddressInfo;
    adminUrl = `http://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
  }

  const stop = async (graceMs = 10_000) => {
    if (stopping) return;
    stopping = true;
    ready = false;
    triggers?.stop();
    triggers = undefined;
    if (tail) clearInterval(tail);
    if (!died) {
      child.kill(engine === "nginx" ? "SIGQUIT" : "SIGUSR1");
      const t = setTimeout(() => child.kill("SIGTERM"), graceMs);
      await exited;
      clearTimeout(t);
    }
    if (engine === "nginx") await drainLogs();
    await new Promise<void>((r) => (adminServer ? adminServer.close(() => r()) : r()));
    adminServer?.closeAllConnections();
  };
  return {
    engine,
    bin,
    runDir,
    model,
    pid: child.pid ?? 0,
    ...(adminUrl ? { adminUrl } : {}),
    watched: triggers.watched,
    reload,
    exited,
    stop,
  };
}
