/**
 * The notifier's transport to the customer's endpoint (see `notifier.ts`, "TLS" and
 * "Connections"): one attempt of one notification ({@link NotifierTransport.send}) over an
 * undici `Agent` that presents the emulator's current client credential and checks the
 * customer's server against the chain it registered (`notifier-pinning.ts`). Agents are kept
 * per client-credential version, then per registered chain (the pin is a connection property);
 * when an environment's credential changes, the agents of the old one are closed gracefully.
 */
import { createHash } from "node:crypto";
import type { LookupFunction } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { Agent, request } from "undici";
import { parseRetryAfter, type ProgramId } from "../policy/index.js";
import type { ClientCredential, NotificationTarget } from "./notifier.js";
import { checkApiKey, checkIssuerHost, checkPin, ConfigurationError, pinnedTrust, type PinnedTrust } from "./notifier-pinning.js";
import type { AttemptOutcome } from "./notifier-schedule.js";
import type { DeliveryRecord } from "./notifier-state.js";

/** Agents kept per client credential (one per registered chain). */
const MAX_AGENTS_PER_CREDENTIAL = 64;
/** Registered chains parsed and kept. */
const MAX_TRUST_CACHE = 256;
/** Most bytes of a customer's answer read (and thrown away). */
const MAX_ANSWER_BYTES = 64 * 1024;

/** What the emulator presents: the chain, starting with the leaf. */
export function presentedChain(c: ClientCredential): string {
  const leaf = c.certPem.trim();
  const chain = c.chainPem.trim();
  if (chain === "") return `${leaf}\n`;
  if (chain.startsWith(leaf)) return `${chain}\n`;
  return `${leaf}\n${chain}\n`;
}

/** A short key for a cache of agents or trust, from the PEM texts it is made of (not a fingerprint). */
function cacheKey(data: string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** One line for the log: the error code (of the error or its causes) and message. */
export function describeError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    if (cur instanceof AggregateError && cur.errors.length > 0) {
      const inner = cur.errors.map((x) => describeOne(x)).join("; ");
      parts.push(inner);
      break;
    }
    parts.push(describeOne(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return [...new Set(parts.filter((p) => p !== ""))].join(" <- ") || "unknown error";
}

function describeOne(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" && code !== "" && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
}

/** What {@link NotifierTransport} needs: the notifier's options that concern the wire. */
export interface TransportOptions {
  clientCredential: (program: ProgramId, environment: string) => ClientCredential;
  target: (program: ProgramId, environment: string, customerId: string) => NotificationTarget | undefined;
  lookup: LookupFunction | undefined;
  requestTimeoutMs: number;
  now: () => number;
}

/** The notifier's connections to customers' endpoints. */
export class NotifierTransport {
  /** Agents per client-credential version, then per registered chain (least recently used first). */
  private readonly credentialAgents = new Map<string, Map<string, Agent>>();
  /** The client-credential version each environment uses now. */
  private readonly credentialOfEnv = new Map<string, string>();
  private readonly closing = new Set<Promise<void>>();
  private readonly trustCache = new Map<string, PinnedTrust>();

  constructor(private readonly o: TransportOptions) {}

  /**
   * One attempt: the registration read now, the notification POSTed with the current client
   * credential. Never throws: what went wrong is in the outcome (`retry` false for a problem
   * with the registration or a final answer).
   */
  async send(rec: DeliveryRecord, closeSignal: AbortSignal): Promise<AttemptOutcome> {
    let status: number | undefined;
    let error: string | undefined;
    let retry = true;
    let retryAfterMs: number | undefined;
    const timeout = AbortSignal.timeout(this.o.requestTimeoutMs);
    try {
      const target = this.o.target(rec.program, rec.environment, rec.customerId);
      if (!target) throw new ConfigurationError(`customer '${rec.customerId}' is no longer registered for ${rec.program} ${rec.environment}`);
      const host = checkIssuerHost(target.issuerHost, ConfigurationError);
      const trust = this.trustOf(target.serverChainPem);
      const headers: Record<string, string> = { "content-type": "application/json", "x-correlation-id": rec.correlationId };
      if (rec.program === "mt") headers.authorization = `APIKEY ${checkApiKey(target.apiKey, ConfigurationError)}`;
      const agent = this.agentFor(`${rec.program}/${rec.environment}`, this.o.clientCredential(rec.program, rec.environment), trust);
      rec.url = `https://${host}${rec.path}`;
      const res = await request(rec.url, {
        dispatcher: agent,
        method: "POST",
        headers,
        body: JSON.stringify(rec.body),
        signal: AbortSignal.any([closeSignal, timeout]),
      });
      status = res.statusCode;
      await res.body.dump({ limit: MAX_ANSWER_BYTES }).catch(() => undefined);
      if (status === 429 || status === 503) retryAfterMs = parseRetryAfter(res.headers["retry-after"], this.o.now());
      else retry = false;
    } catch (e) {
      if (e instanceof ConfigurationError) {
        retry = false;
        error = `not sent: ${e.message}`;
      } else if (closeSignal.aborted) {
        error = "abandoned: the notifier closed during the attempt";
      } else if (timeout.aborted) {
        error = `timeout: no answer within ${this.o.requestTimeoutMs} ms`;
      } else {
        error = describeError(e);
      }
    }
    return { status, error, retry, retryAfterMs };
  }

  /** Closes every agent (requests in flight finish) and waits for them. */
  async close(): Promise<void> {
    for (const agents of this.credentialAgents.values()) agents.forEach((a) => this.retire(a));
    this.credentialAgents.clear();
    await Promise.all(this.closing);
  }

  private retire(agent: Agent): void {
    const p = agent.close().catch(() => undefined);
    this.closing.add(p);
    void p.finally(() => this.closing.delete(p));
  }

  private agentFor(envKey: string, credential: ClientCredential, trust: PinnedTrust): Agent {
    const presented = presentedChain(credential);
    const credKey = cacheKey(`${credential.keyPem}\0${presented}`);
    const previous = this.credentialOfEnv.get(envKey);
    if (previous !== credKey) {
      this.credentialOfEnv.set(envKey, credKey);
      if (previous !== undefined && ![...this.credentialOfEnv.values()].includes(previous)) {
        const old = this.credentialAgents.get(previous);
        this.credentialAgents.delete(previous);
        old?.forEach((a) => this.retire(a));
      }
    }
    let agents = this.credentialAgents.get(credKey);
    if (!agents) {
      agents = new Map();
      this.credentialAgents.set(credKey, agents);
    }
    let agent = agents.get(trust.key);
    if (agent) {
      agents.delete(trust.key); // re-inserted below: the map stays in least-recently-used order
    } else {
      if (agents.size >= MAX_AGENTS_PER_CREDENTIAL) {
        const [oldestKey, oldest] = agents.entries().next().value as [string, Agent];
        agents.delete(oldestKey);
        this.retire(oldest);
      }
      agent = this.newAgent(credential, presented, trust);
    }
    agents.set(trust.key, agent);
    return agent;
  }

  private newAgent(credential: ClientCredential, presented: string, trust: PinnedTrust): Agent {
    const timeout = this.o.requestTimeoutMs;
    return new Agent({
      connect: {
        cert: presented,
        key: credential.keyPem,
        ca: trust.caPem,
        allowPartialTrustChain: true,
        rejectUnauthorized: true,
        minVersion: "TLSv1.2",
        checkServerIdentity: (host: string, peer: PeerCertificate) => checkServerIdentity(host, peer) ?? checkPin(host, peer, trust),
        maxCachedSessions: 0,
        timeout,
        ...(this.o.lookup ? { lookup: this.o.lookup } : {}),
      },
      keepAliveTimeout: 4_000,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
  }

  private trustOf(serverChainPem: string): PinnedTrust {
    const key = cacheKey(serverChainPem);
    let trust = this.trustCache.get(key);
    if (!trust) {
      trust = pinnedTrust(key, serverChainPem);
      if (this.trustCache.size >= MAX_TRUST_CACHE) this.trustCache.clear();
      this.trustCache.set(key, trust);
    }
    return trust;
  }
}
