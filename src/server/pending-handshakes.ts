/**
 * Unauthenticated connections of the inbound server (see `inbound-server.ts`): what a
 * connection that has not finished its TLS handshake may hold. Tracked from the TCP accept to
 * the end of the handshake, oldest first. A new connection over the global or per-address cap
 * closes the oldest pending one (of all, or of its address), so that a flood of silent
 * connections can never keep a new one out: the flood only churns itself. A connection that
 * sends no byte within the first-byte time is closed. Only connections that have not finished
 * their handshake are closed here (the TCP socket under a TLS socket still in its handshake;
 * no HTTP state exists yet). What is dropped before its handshake ends is logged as one
 * counted summary line per interval, not one line each.
 */
import type * as https from "node:https";
import type { Socket } from "node:net";
import type { InboundLogger } from "./logger.js";
import type { InboundMetrics } from "./metrics.js";
import { pendingHandshakeCap, type InboundLimits } from "./options.js";

/** Why the server closed a connection still in its handshake. */
export type DropReason = "first_byte_timeout" | "pending_evicted";

/**
 * Connections in their handshake, oldest first, by peer address too: which to evict when a new
 * one comes over a cap, which are past a deadline. Pure bookkeeping over any key.
 */
export class PendingQueue<K> {
  private readonly entries = new Map<K, { since: number; address: string }>();
  private readonly byAddress = new Map<string, Set<K>>();

  constructor(
    private readonly cap: number,
    private readonly capPerAddress: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * Adds `key` (from `address`, at time `since`) and returns what it evicts, in order: the
   * oldest of its address when that address is at its cap, then the oldest of all when the
   * queue is at its cap. Evicted keys are removed already.
   */
  admit(key: K, address: string, since: number): K[] {
    const evicted: K[] = [];
    const mine = this.byAddress.get(address);
    if (mine && mine.size >= this.capPerAddress) evicted.push(this.evict(mine.values().next().value!));
    if (this.entries.size >= this.cap) evicted.push(this.evict(this.entries.keys().next().value!));
    this.entries.set(key, { since, address });
    let set = this.byAddress.get(address);
    if (!set) this.byAddress.set(address, (set = new Set()));
    set.add(key);
    return evicted;
  }

  /** Forgets `key` (handshake over, connection closed); nothing when it is not there. */
  remove(key: K): void {
    const p = this.entries.get(key);
    if (!p) return;
    this.entries.delete(key);
    const set = this.byAddress.get(p.address);
    set?.delete(key);
    if (set?.size === 0) this.byAddress.delete(p.address);
  }

  /** The keys admitted at or before `deadline`, oldest first (a key may be removed meanwhile). */
  *admittedBy(deadline: number): Generator<K> {
    for (const [key, p] of this.entries) {
      if (p.since > deadline) return;
      yield key;
    }
  }

  private evict(key: K): K {
    this.remove(key);
    return key;
  }
}

/** How often connections are checked for their first byte: a quarter of the time, 25 to 250 ms. */
export function sweepIntervalMs(firstByteMs: number): number {
  return Math.max(25, Math.min(250, Math.floor(firstByteMs / 4)));
}

/** The summary line of connections dropped before their handshake finished, or undefined for none. */
export function dropSummary(counts: ReadonlyMap<string, number>): { total: number; counts: Record<string, number>; message: string } | undefined {
  if (counts.size === 0) return undefined;
  const byReason = Object.fromEntries(counts);
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const detail = Object.entries(byReason)
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ");
  return { total, counts: byReason, message: `dropped ${total} connection${total === 1 ? "" : "s"} before their TLS handshake finished (${detail})` };
}

/** What {@link trackPendingHandshakes} needs. */
export interface PendingHandshakeOptions {
  limits: InboundLimits;
  metrics: InboundMetrics;
  logger: InboundLogger;
  /** The summary interval, ms. */
  summaryIntervalMs: number;
}

/** The tracking of a server's pending handshakes. */
export interface PendingHandshakes {
  /** The handshake of the connection over `raw` ended (either way). */
  settle(raw: Socket): void;
  /** Why we closed `raw` before its handshake ended, when we did. */
  droppedAs(raw: Socket): DropReason | undefined;
  /** Counts a handshake that ended without a word worth its own log line, for the summary. */
  countDrop(reason: string): void;
  /** Logs the summary of what was counted since the last one, if anything. */
  flush(): void;
  /** Stops the timers (the summary is not flushed). */
  stop(): void;
}

/** Tracks the connections of `server` from their TCP accept to the end of their handshake. */
export function trackPendingHandshakes(server: https.Server, options: PendingHandshakeOptions): PendingHandshakes {
  const { limits, metrics, logger } = options;
  const pendingCap = pendingHandshakeCap(limits);
  const firstByteMs = Math.min(limits.firstByteTimeoutMs, limits.handshakeTimeoutMs);
  const pending = new PendingQueue<Socket>(pendingCap, limits.maxPendingPerAddress);
  /** Why we closed a pending connection, read back when its TLS socket reports the error. */
  const dropped = new WeakMap<Socket, DropReason>();
  const dropCounts = new Map<string, number>();
  const countDrop = (reason: string) => dropCounts.set(reason, (dropCounts.get(reason) ?? 0) + 1);
  const drop = (raw: Socket, why: DropReason) => {
    pending.remove(raw);
    dropped.set(raw, why);
    metrics.limits.inc({ limit: why });
    raw.destroy();
  };
  server.on("connection", (raw: Socket) => {
    // The peer address is read now, so that a refusal can still name it once the socket is gone.
    const address = raw.remoteAddress ?? "?";
    for (const evicted of pending.admit(raw, address, performance.now())) drop(evicted, "pending_evicted");
    raw.once("close", () => pending.remove(raw));
  });
  const sweep = setInterval(() => {
    for (const raw of pending.admittedBy(performance.now() - firstByteMs)) {
      if (raw.bytesRead === 0) drop(raw, "first_byte_timeout");
    }
  }, sweepIntervalMs(firstByteMs));
  sweep.unref();
  const flush = () => {
    const s = dropSummary(dropCounts);
    if (!s) return;
    dropCounts.clear();
    logger.warn({ event: "connections_dropped", total: s.total, counts: s.counts, pending: pending.size, pendingCap }, s.message);
  };
  const summary = setInterval(flush, options.summaryIntervalMs);
  summary.unref();
  return {
    settle: (raw) => pending.remove(raw),
    droppedAs: (raw) => dropped.get(raw),
    countDrop,
    flush,
    stop() {
      clearInterval(sweep);
      clearInterval(summary);
    },
  };
}
