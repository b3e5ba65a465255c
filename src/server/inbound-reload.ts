/**
 * Reloads of the inbound server (see `inbound-server.ts`, and "Reload without downtime" in the
 * README): the triggers (signal, timer, a change in a watched folder, the API) all run one
 * `ReloadableCredentials.reload()` ({@link startReloads}); a set it swaps in is applied to the
 * running server ({@link applyReloadedSets}): a new secure context for new connections, new
 * TLS session ticket keys when the client CA changed, the new trust for kept-alive
 * connections, the partial-chain anchor, the certificate gauges.
 */
import { randomBytes } from "node:crypto";
import type * as https from "node:https";
import type { CredentialSet, ReloadableCredentials } from "../credentials/index.js";
import type { ProgramPolicy } from "../policy/index.js";
import type { ClientTrust } from "./client-trust.js";
import type { InboundReloadResult } from "./inbound-server.js";
import type { InboundLogger } from "./logger.js";
import type { InboundMetrics } from "./metrics.js";
import { startReloadTriggers, type ReloadTrigger } from "./reloader.js";
import { secureContextOptions } from "./tls-options.js";

/** True when some trusted certificate is self-signed: OpenSSL then needs no partial chain. */
export function hasSelfSignedAnchor(set: CredentialSet): boolean {
  return set.cas.some((c) => c.selfIssued);
}

/**
 * Node 20's `tls.Server` drops `allowPartialTrustChain`; set it on the server's context
 * directly when the trusted client CA is an intermediate shipped without its root.
 */
function allowPartialChain(server: https.Server): boolean {
  const ctx = (server as unknown as { _sharedCreds?: { context?: { setAllowPartialTrustChain?: () => void } } })._sharedCreds?.context;
  if (typeof ctx?.setAllowPartialTrustChain !== "function") return false;
  ctx.setAllowPartialTrustChain();
  return true;
}

/**
 * Makes the server's current context trust an intermediate client CA alone when `set` has no
 * self-signed root; warns once when this Node cannot. Run after each new secure context.
 */
export function partialChainAnchors(server: https.Server, logger: InboundLogger): (set: CredentialSet) => void {
  let warned = false;
  return (set) => {
    if (hasSelfSignedAnchor(set)) return;
    if (!allowPartialChain(server) && !warned) {
      warned = true;
      logger.warn({ event: "partial_chain_unsupported" }, "the client CA file has no root certificate and this Node version cannot trust an intermediate alone: add the root of the Thales Client CA to the file");
    }
  };
}

/** The certificate gauges: every certificate of `set` with its not-after date. */
export function certificateGauges(metrics: InboundMetrics, profile: string): (set: CredentialSet) => void {
  return (set) => {
    metrics.notAfter.reset();
    const at = (c: CredentialSet["leaf"], role: string) => metrics.notAfter.set({ profile, role, subject: c.subjectText, serial: c.serialNumber }, Math.floor(c.notAfter.getTime() / 1000));
    at(set.leaf, "server");
    set.chain.slice(1).forEach((c) => at(c, "server-chain"));
    set.cas.forEach((c) => at(c, "inbound-client-ca"));
  };
}

/** What {@link applyReloadedSets} changes and reports to. */
export interface ApplyContext {
  server: https.Server;
  credentials: ReloadableCredentials;
  program: ProgramPolicy | undefined;
  trust: ClientTrust;
  logger: InboundLogger;
  /** Run after a set is in force: the partial-chain anchor, the gauges. */
  applied: (set: CredentialSet) => void;
}

/** Applies every set the credentials swap in to the running server; returns the unsubscribe. */
export function applyReloadedSets(ctx: ApplyContext): () => void {
  const { server, logger } = ctx;
  return ctx.credentials.onChange((set, previous) => {
    const clientCaChanged = set.caPem !== previous.caPem;
    const serverChanged = set.certChainPem !== previous.certChainPem;
    // A new context comes with new ticket keys. Sessions stay resumable across a change of the
    // server certificate alone (the client checked ours when the session began), but never
    // across a change of the trust: a ticket would resume a session whose client certificate
    // was verified by a CA that is no longer trusted.
    const ticketKeys = clientCaChanged ? randomBytes(48) : server.getTicketKeys();
    try {
      server.setSecureContext(secureContextOptions(set, ctx.program));
      server.setTicketKeys(ticketKeys);
    } catch (e) {
      logger.error({ event: "reload_failed", error: (e as Error).message }, "the new certificate set was valid but Node refused it; new connections keep the previous one");
      return;
    }
    if (clientCaChanged) ctx.trust.replace(set.caPem);
    ctx.applied(set);
    logger.info(
      { event: "reloaded", version: set.version, serverChanged, clientCaChanged, ticketsRotated: clientCaChanged, serverSubject: set.leaf.subjectText, serverNotAfter: set.leaf.notAfter.toISOString(), serverSha256: set.leaf.sha256Fingerprint, clientCas: set.cas.map((c) => c.subjectText) },
      `new connections use the reloaded set (version ${set.version})${clientCaChanged ? "; the client CA changed, so TLS session tickets were rotated and no session resumes under the old trust" : ""}${serverChanged ? "; the server chain changed: Thales must have it registered" : ""}`,
    );
  });
}

/** What {@link startReloads} needs: the credentials, where to count and log, and the `reload` options of the server. */
export interface ReloadContext {
  credentials: ReloadableCredentials;
  metrics: InboundMetrics;
  logger: InboundLogger;
  watch: boolean;
  debounceMs: number | undefined;
  intervalMs: number;
  signal: NodeJS.Signals | false;
}

/** The reload triggers of a server. */
export interface Reloads {
  /** The folders watched for changes. */
  readonly watched: readonly string[];
  /** Reloads now (trigger `api`), after a reload in progress. */
  run(): Promise<InboundReloadResult>;
  stop(): void;
}

/** Starts the triggers of the one reload. */
export function startReloads(ctx: ReloadContext): Reloads {
  const { credentials, metrics, logger } = ctx;
  let lastClientCa = credentials.current().caPem;
  const reloadOnce = async (trigger: ReloadTrigger): Promise<InboundReloadResult> => {
    const r = await credentials.reload();
    if (!r.ok) {
      metrics.reloads.inc({ result: "failed", trigger });
      logger.warn({ event: "reload_failed", trigger, code: r.error.code, subject: r.error.subject }, `reload refused, still serving version ${r.kept.version}: ${r.error.message}`);
      return { ok: false, error: r.error };
    }
    metrics.reloads.inc({ result: r.changed ? "changed" : "unchanged", trigger });
    if (!r.changed) logger.debug({ event: "reload_unchanged", trigger }, "reload: nothing changed");
    const clientCaChanged = r.set.caPem !== lastClientCa;
    lastClientCa = r.set.caPem;
    return { ok: true, changed: r.changed, version: r.set.version, clientCaChanged };
  };
  let lastResult: InboundReloadResult | undefined;
  const f = credentials.files;
  const files = [f.certFile, f.keyFile, f.chainFile, f.caFile, f.passphraseFile].filter((x): x is string => !!x);
  const triggers = startReloadTriggers({
    files,
    watch: ctx.watch,
    ...(ctx.debounceMs !== undefined ? { debounceMs: ctx.debounceMs } : {}),
    intervalMs: ctx.intervalMs,
    signal: ctx.signal,
    reload: async (trigger) => {
      lastResult = await reloadOnce(trigger);
    },
    onWatchError: (dir, e) => logger.warn({ event: "watch_failed", dir, error: e.message }, `cannot watch ${dir} for changes; reload with the signal or the timer`),
  });
  return {
    watched: triggers.watched,
    async run() {
      await triggers.run("api");
      return lastResult!;
    },
    stop: () => triggers.stop(),
  };
}
