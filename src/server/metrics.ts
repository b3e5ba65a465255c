/**
 * A small Prometheus registry: counters, gauges and one histogram, rendered in the text
 * exposition format (version 0.0.4). The inbound server updates a few numbers per request,
 * so the hot path is a map lookup and an addition; rendering happens only on a scrape.
 */

/** Label values of one series, by label name. */
export type Labels = Readonly<Record<string, string>>;

/** The content type of {@link MetricsRegistry.render}'s output. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function seriesKey(labels: Labels | undefined): string {
  if (!labels) return "";
  const names = Object.keys(labels);
  if (names.length === 0) return "";
  return `{${names
    .sort()
    .map((n) => `${n}="${escapeLabel(labels[n]!)}"`)
    .join(",")}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

interface Metric {
  readonly name: string;
  render(out: string[]): void;
}

/** A monotonically increasing count per label set. */
export class Counter implements Metric {
  private readonly series = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** Adds `n` (default 1) to the series of `labels`. */
  inc(labels?: Labels, n = 1): void {
    const k = seriesKey(labels);
    this.series.set(k, (this.series.get(k) ?? 0) + n);
  }

  /** The current value of a series (0 when never incremented). */
  get(labels?: Labels): number {
    return this.series.get(seriesKey(labels)) ?? 0;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    for (const [k, v] of this.series) out.push(`${this.name}${k} ${formatValue(v)}`);
  }
}

/** A value that goes up and down, per label set. */
export class Gauge implements Metric {
  private readonly series = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  set(labels: Labels | undefined, v: number): void {
    this.series.set(seriesKey(labels), v);
  }

  inc(labels?: Labels, n = 1): void {
    const k = seriesKey(labels);
    this.series.set(k, (this.series.get(k) ?? 0) + n);
  }

  get(labels?: Labels): number | undefined {
    return this.series.get(seriesKey(labels));
  }

  /** Removes every series (used when the set of certificates changes). */
  reset(): void {
    this.series.clear();
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`);
    for (const [k, v] of this.series) out.push(`${this.name}${k} ${formatValue(v)}`);
  }
}

/** A histogram of observations (seconds), without labels. */
export class Histogram implements Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    this.counts = buckets.map(() => 0);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (v <= this.buckets[i]!) {
        this.counts[i]!++;
        break;
      }
    }
  }

  /** Number of observations. */
  get total(): number {
    return this.count;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    let cumulative = 0;
    this.buckets.forEach((b, i) => {
      cumulative += this.counts[i]!;
      out.push(`${this.name}_bucket{le="${formatValue(b)}"} ${cumulative}`);
    });
    out.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${formatValue(this.sum)}`, `${this.name}_count ${this.count}`);
  }
}

/** A set of metrics rendered together. */
export class MetricsRegistry {
  private readonly metrics: Metric[] = [];

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }

  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }

  /** Every metric in the Prometheus text format. */
  render(): string {
    const out: string[] = [];
    for (const m of this.metrics) m.render(out);
    return `${out.join("\n")}\n`;
  }

  private add<T extends Metric>(m: T): T {
    this.metrics.push(m);
    return m;
  }
}

/** Latency buckets of the upstream histogram, in seconds. */
export const UPSTREAM_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** The metrics of one inbound server. Names are a contract with dashboards: change with care. */
export interface InboundMetrics {
  readonly registry: MetricsRegistry;
  /** `result`: `ok` or the refusal reason (see `HandshakeRefusal`). */
  readonly handshakes: Counter;
  /** `status`: the HTTP status answered to the caller. */
  readonly requests: Counter;
  readonly upstreamLatency: Histogram;
  /** `reason`: `unreachable`, `timeout`, `reset`. */
  readonly upstreamErrors: Counter;
  /** `limit`: which limit was reached. */
  readonly limits: Counter;
  /** `result`: `changed`, `unchanged`, `failed`; `trigger`: `start`, `signal`, `timer`, `watch`, `api`. */
  readonly reloads: Counter;
  readonly connections: Gauge;
  /** `profile`, `role` (`server`, `server-chain`, `inbound-client-ca`), `subject`, `serial`. */
  readonly notAfter: Gauge;
}

/** Creates the inbound metric set in a fresh registry. */
export function createInboundMetrics(): InboundMetrics {
  const registry = new MetricsRegistry();
  return {
    registry,
    handshakes: registry.counter("mtlskit_inbound_handshakes_total", "TLS handshakes on the inbound listener, by result (ok, or why it was refused)."),
    requests: registry.counter("mtlskit_inbound_requests_total", "HTTP requests answered on the inbound listener, by status."),
    upstreamLatency: registry.histogram("mtlskit_inbound_upstream_duration_seconds", "Time from sending a request upstream to its response headers.", UPSTREAM_LATENCY_BUCKETS),
    upstreamErrors: registry.counter("mtlskit_inbound_upstream_errors_total", "Requests the upstream did not answer, by reason."),
    limits: registry.counter("mtlskit_inbound_limits_total", "Connections or requests stopped by a limit, by limit."),
    reloads: registry.counter("mtlskit_inbound_reloads_total", "Reloads of the server certificate, key, chain and client CA, by result and trigger."),
    connections: registry.gauge("mtlskit_inbound_open_connections", "TLS connections open on the inbound listener."),
    notAfter: registry.gauge("mtlskit_certificate_not_after_seconds", "Not-after date of every certificate in use, in seconds since the epoch."),
  };
}
