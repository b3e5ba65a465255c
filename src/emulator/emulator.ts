import { createPublicKey, type KeyObject } from "node:crypto";
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { isMtlsError, MtlsError } from "../errors/index.js";
import { withWorkspaceLock } from "../store/index.js";
import { getProgram, type ProgramId, type ProgramPolicy } from "../policy/index.js";
import { startApiServer, type ApiServer, type ClientTrust, type HandshakeLogEntry } from "./api-server.js";
import { writeAssetBundle } from "./assets.js";
import { startDnsStandIn, type DnsRecord, type DnsStandIn } from "./dns/dns-server.js";
import { loadOrCreateEmulatorPki, type EmulatorPki } from "./emulator-pki.js";
import { emulatedEnvironments } from "./hosts.js";
import { startNotifier, type Notifier, type NotifierOptions } from "./notifier.js";
import { startPortal, type Portal, type PortalEnvironment } from "./portal.js";
import { EmulatorState } from "./state.js";

/** Options of {@link startEmulator}. */
export interface StartEmulatorOptions {
  /** State folder (keys, certificates, customers, notifications). Default `./.mtlskit-emulator`. */
  dir?: string;
  /** Loopback address every listener binds. Default `127.0.0.1`. */
  host?: string;
  /** Programs to emulate. Default both. */
  programs?: readonly ProgramId[];
  /** Portal port. Default 0 (a free one). */
  portalPort?: number;
  /** DNS stand-in port. Default 0. */
  dnsPort?: number;
  /** TTL of the DNS answers for the Thales hosts, seconds. Default 30. */
  dnsTtlSeconds?: number;
  /**
   * More names the DNS stand-in answers from the start, e.g. a customer's ISSUER_HOST under
   * `.test`: records set later with `dns.set()` live in memory only, and a restarted emulator
   * resumes its pending notifications before anyone could set them again.
   */
  dnsRecords?: readonly DnsRecord[];
  /**
   * Fixed ports: the DNS stand-in on `portBase`, the portal on `portBase + 1`, the API of each
   * environment on `portBase + 2 + i` (i: its rank among every emulated environment, D1 then MT,
   * whatever `programs` selects). Without it, the ports of the previous start, kept in
   * `<dir>/ports.json`, are taken again when free (else a free one, and the file is updated), so
   * that profiles made from the emulator's assets keep working across restarts.
   * `USAGE` unless an integer with every port in 1024..65535.
   */
  portBase?: number;
  /** Notifier retry policy (tests make it fast). */
  notifierBackoff?: NotifierOptions["backoff"];
  /** Per-attempt time limit of the notifier, ms. */
  notifierTimeoutMs?: number;
}

/** One emulated environment, as `mtlskit emulate --json` prints it: where it listens, plus its assets. */
export interface EmulatorEnvironment extends PortalEnvironment {
  /** Absolute path of the asset bundle handed to customers of this environment. */
  assetsDir: string;
}

/** A running emulator. */
export interface Emulator {
  /** `http://127.0.0.1:<port>` */
  readonly portalUrl: string;
  /** `127.0.0.1:<port>` of the DNS stand-in. */
  readonly dnsServer: string;
  readonly environments: readonly EmulatorEnvironment[];
  /** Absolute state folder. */
  readonly dir: string;
  /** The DNS stand-in (to move a host in tests). */
  readonly dns: DnsStandIn;
  readonly pki: EmulatorPki;
  readonly notifier: Notifier;
  /** The handshake log of an environment, oldest first. */
  handshakes(program: ProgramId, environment: string): HandshakeLogEntry[];
  /** The JSON document `mtlskit emulate --json` prints. */
  describe(): { portalUrl: string; dnsServer: string; environments: EmulatorEnvironment[] };
  /** Stops every listener; pending notifications stay in the state folder for the next start. */
  close(): Promise<void>;
}

/** Newest handshakes kept per environment. */
export const MAX_HANDSHAKE_LOG = 1000;

const key = (program: string, environment: string) => `${program}/${environment}`;

function basePath(program: ProgramPolicy, baseUrl: string | undefined): string {
  return program.id === "mt" && baseUrl ? new URL(baseUrl).pathname : "";
}

/**
 * Starts the Thales-side emulator: DNS stand-in, one mTLS API listener per environment, the
 * portal and the notifier, all on loopback, with state in `dir` so that a restart resumes
 * where it stopped (pending notifications included).
 *
 * @example
 * const emu = await startEmulator({ dir: "/tmp/emu" });
 * console.log(emu.describe());
 * await emu.close();
 */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<Emulator> {
  const dir = path.resolve(options.dir ?? ".mtlskit-emulator");
  const host = options.host ?? "127.0.0.1";
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) {
    throw new MtlsError("USAGE", `--host ${host}: the emulator listens on loopback addresses only (127.x.x.x)`);
  }
  const programs = (options.programs ?? ["d1", "mt"]).map((p) => getProgram(p));
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const unlock = await lockStateFolder(dir);
  const assetsRoot = path.join(dir, "assets");
  const closers: Array<() => Promise<void>> = [unlock];
  let pki: EmulatorPki;
  let state: EmulatorState;
  try {
    pki = await loadOrCreateEmulatorPki(dir);
    state = await EmulatorState.load(dir);
  } catch (e) {
    await unlock();
    throw e;
  }
  const envs = emulatedEnvironments(programs);
  const ttl = options.dnsTtlSeconds ?? 30;
  const ports = await planPorts(dir, options.portBase);

  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const records = [...envs.map((e) => ({ name: e.host, address: host, ttlSeconds: ttl })), ...(options.dnsRecords ?? [])];
    const dns = await ports.listen("dns", options.dnsPort, (port) => startDnsStandIn({ host, port, records }));
    closers.push(() => dns.close());

    const logs = new Map<string, HandshakeLogEntry[]>();
    const servers = new Map<string, ApiServer>();
    const trustOf = (program: ProgramId, environment: string): ClientTrust =>
      program === "d1" ? { kind: "ca", caPem: pki.businessCaPem(environment) } : { kind: "pinned", certificatesPem: state.endorsements(environment).map((e) => e.certificatePem) };
    const oauthKey = (environment: string) => (gatewayId: string, kid: string): KeyObject | undefined => {
      const c = state.getCustomer("d1", environment, gatewayId);
      if (!c?.oauthPublicKeyPem || c.kid !== kid) return undefined;
      try {
        return createPublicKey(c.oauthPublicKeyPem);
      } catch {
        return undefined;
      }
    };

    const environments: EmulatorEnvironment[] = [];
    for (const e of envs) {
      const k = key(e.program.id, e.environment.id);
      logs.set(k, []);
      const cred = pki.serverCredential(e.program.id, e.environment.id);
      const server = await ports.listen(k, undefined, (port) => startApiServer({
        port,
        program: e.program,
        environment: e.environment,
        host,
        credential: { chainPem: cred.chainPem, keyPem: cred.keyPem },
        clientTrust: trustOf(e.program.id, e.environment.id),
        ...(e.program.id === "d1" ? { oauthKey: oauthKey(e.environment.id) } : {}),
        onHandshake: (entry) => {
          const log = logs.get(k)!;
          log.push(entry);
          if (log.length > MAX_HANDSHAKE_LOG) log.splice(0, log.length - MAX_HANDSHAKE_LOG);
        },
      }));
      closers.push(() => server.close());
      servers.set(k, server);
      const origin = `https://${e.host}:${server.port}`;
      environments.push({
        program: e.program.id,
        environment: e.environment.id,
        apiUrl: `${origin}${basePath(e.program, e.environment.baseUrl)}`,
        ...(e.program.id === "d1" ? { authzUrl: `${origin}${new URL(e.environment.authzUrl ?? "https://x/authz/v1").pathname}` } : {}),
        address: server.address,
        host: e.host,
        assetsDir: path.join(assetsRoot, `${e.program.id}-${e.environment.id}`),
      });
    }

    // Customers' ISSUER_HOST names may be served by the DNS stand-in too (tests register
    // names under .test); anything else goes to the system resolver.
    const lookup = ((hostname: string, opts: LookupOptions, cb: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
      const rec = dns.records().find((r) => r.name.toLowerCase() === hostname.toLowerCase());
      if (!rec) return dnsLookup(hostname, opts, cb);
      if (opts?.all) return cb(null, [{ address: rec.address, family: 4 }]);
      return cb(null, rec.address, 4);
    }) as NotifierOptions["lookup"];

    const notifier = await startNotifier({
      stateFile: path.join(dir, "notifications.json"),
      clientCredential: (program, environment) => pki.clientCredential(program, environment),
      target: (program, environment, customerId) => {
        const c = state.getCustomer(program, environment, customerId);
        if (!c?.issuerHost || !c.serverChainPem) return undefined;
        return { issuerHost: c.issuerHost, serverChainPem: c.serverChainPem, ...(c.apiKey ? { apiKey: c.apiKey } : {}) };
      },
      ...(lookup ? { lookup } : {}),
      ...(options.notifierBackoff ? { backoff: options.notifierBackoff } : {}),
      ...(options.notifierTimeoutMs !== undefined ? { requestTimeoutMs: options.notifierTimeoutMs } : {}),
    });
    closers.push(() => notifier.close());

    const portalEnvironments: PortalEnvironment[] = environments.map(({ assetsDir: _assetsDir, ...where }) => where);
    const portal: Portal = await ports.listen("portal", options.portalPort, (port) => startPortal({
      port,
      pki,
      state,
      assetsDir: assetsRoot,
      environments: portalEnvironments,
      dnsServers: [dns.server],
      host,
      onEndorsementsChanged: (program, environment) => servers.get(key(program, environment))?.setClientTrust(trustOf(program, environment)),
      rotateClientCertificate: (program, environment) => pki.rotateClientCertificate(program, environment),
      notify: (program, environment, customerId, count) => notifier.enqueue(program, environment, customerId, count),
      deliveries: (program, environment) => notifier.deliveries({ program, environment }),
      handshakes: (program, environment) => logs.get(key(program, environment)) ?? [],
    }));
    closers.push(() => portal.close());
    await ports.save();

    for (const e of environments) {
      await writeAssetBundle(assetsRoot, e.program, e.environment, undefined, {
        pki,
        state,
        endpoint: { apiUrl: e.apiUrl, ...(e.authzUrl ? { authzUrl: e.authzUrl } : {}) },
        dnsServers: [dns.server],
      });
    }

    const describe = () => ({ portalUrl: portal.url, dnsServer: dns.server, environments: environments.map((e) => ({ ...e })) });
    let closed: Promise<void> | undefined;
    return {
      portalUrl: portal.url,
      dnsServer: dns.server,
      environments,
      dir,
      dns,
      pki,
      notifier,
      handshakes: (program, environment) => [...(logs.get(key(program, environment)) ?? [])],
      describe,
      close: () => (closed ??= closeAll()),
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** The file of the state folder that keeps the ports of the last start. */
export const PORTS_FILE = "ports.json";

/** Where each listener of the emulator goes: fixed by --port-base, or the last start's ports. */
async function planPorts(dir: string, portBase: number | undefined) {
  const all = emulatedEnvironments([getProgram("d1"), getProgram("mt")]).map((e) => key(e.program.id, e.environment.id));
  const file = path.join(dir, PORTS_FILE);
  const wanted = new Map<string, number>();
  if (portBase !== undefined) {
    const last = portBase + 1 + all.length;
    if (!Number.isInteger(portBase) || portBase < 1024 || last > 65535) {
      throw new MtlsError("USAGE", `--port-base ${String(portBase)}: give an integer from 1024 to ${65535 - 1 - all.length} (the emulator takes ${all.length + 2} ports from it: DNS, portal, then one API port per environment)`);
    }
    wanted.set("dns", portBase);
    wanted.set("portal", portBase + 1);
    all.forEach((k, i) => wanted.set(k, portBase + 2 + i));
  } else {
    let text: string | undefined;
    try {
      text = await fs.readFile(file, "utf8");
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new MtlsError("EMULATOR_STATE_INVALID", `${file} is not a JSON object of ports`, { subject: file, hint: `Remove ${file}: the next start picks free ports and writes it again.` });
      }
      for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
        if ((k === "dns" || k === "portal" || all.includes(k)) && Number.isInteger(v) && (v as number) > 0 && (v as number) <= 65535) wanted.set(k, v as number);
      }
    }
  }
  const got = new Map<string, number>();
  return {
    /** Starts a listener on its planned port (an explicit one wins); a remembered port in use gives way to a free one. */
    async listen<T extends { readonly port?: number; readonly url?: string; readonly server?: string }>(name: string, explicit: number | undefined, start: (port: number) => Promise<T>): Promise<T> {
      const port = explicit ?? wanted.get(name) ?? 0;
      let started: T;
      try {
        started = await start(port);
      } catch (e) {
        if (explicit !== undefined || portBase !== undefined || port === 0) throw e;
        started = await start(0);
      }
      const actual = started.port ?? Number(/:(\d+)$/.exec(started.url ?? started.server ?? "")?.[1] ?? 0);
      if (actual > 0) got.set(name, actual);
      return started;
    },
    /** Writes the ports of this start, keeping those of environments not started this time. */
    async save(): Promise<void> {
      const out: Record<string, number> = {};
      for (const k of ["dns", "portal", ...all]) {
        const v = got.get(k) ?? wanted.get(k);
        if (v !== undefined) out[k] = v;
      }
      await fs.writeFile(file, `${JSON.stringify(out, null, 2)}\n`, { mode: 0o600 });
    },
  };
}

/**
 * Holds the lock of the state folder (`<dir>/.lock`, the workspace lock) for as long as the
 * emulator runs: a second emulator on the same folder, in another process, is refused with
 * `EMULATOR_DIR_IN_USE` instead of overwriting the first one's state. Returns the release.
 */
async function lockStateFolder(dir: string): Promise<() => Promise<void>> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let held!: Promise<void>;
  await new Promise<void>((resolve, reject) => {
    held = withWorkspaceLock(
      dir,
      async () => {
        resolve();
        await released;
      },
      { waitMs: 0, command: "emulate" },
    ).catch((e: unknown) => {
      if (isMtlsError(e) && e.code === "WORKSPACE_LOCKED") {
        const pid = /process (\d+)/.exec(e.message)?.[1];
        reject(
          new MtlsError("EMULATOR_DIR_IN_USE", e.message.replace("the workspace is locked by", "another emulator runs on this folder:"), {
            subject: dir,
            cause: e,
            hint: pid ? `Stop the emulator of process ${pid}, or give this one another --dir.` : `Stop the other emulator, or give this one another --dir (if none runs, remove ${path.join(dir, ".lock")}).`,
          }),
        );
      } else reject(e);
    });
  });
  return async () => {
    release();
    await held;
  };
}

