import { describe, expect, it } from "vitest";
import { createInboundMetrics, MetricsRegistry } from "./metrics.js";

describe("metrics registry (Prometheus text format)", () => {
  it("renders counters, gauges and histograms with HELP/TYPE and escaped labels", () => {
    const r = new MetricsRegistry();
    const c = r.counter("x_total", "things");
    c.inc({ result: "ok" });
    c.inc({ result: "ok" }, 2);
    c.inc({ result: 'a"b\\c\nd' });
    const g = r.gauge("g", "a gauge");
    g.set({ profile: "p", role: "server" }, 1700000000);
    const h = r.histogram("h_seconds", "latency", [0.1, 1]);
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    const text = r.render();
    expect(text).toContain("# HELP x_total things\n# TYPE x_total counter\n");
    expect(text).toContain('x_total{result="ok"} 3\n');
    expect(text).toContain('x_total{result="a\\"b\\\\c\\nd"} 1\n');
    expect(text).toContain('g{profile="p",role="server"} 1700000000\n');
    expect(text).toContain('h_seconds_bucket{le="0.1"} 1\nh_seconds_bucket{le="1"} 2\nh_seconds_bucket{le="+Inf"} 3\nh_seconds_sum 5.55\nh_seconds_count 3\n');
    expect(c.get({ result: "ok" })).toBe(3);
  });

  it("names the inbound metrics as the issue asks", () => {
    const m = createInboundMetrics();
    m.notAfter.set({ profile: "d1-pp", role: "server", subject: "CN=x", serial: "01" }, 1);
    const text = m.registry.render();
    for (const name of ["mtlskit_inbound_handshakes_total", "mtlskit_inbound_requests_total", "mtlskit_inbound_upstream_duration_seconds", "mtlskit_inbound_reloads_total", "mtlskit_certificate_not_after_seconds"]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('mtlskit_certificate_not_after_seconds{profile="d1-pp",role="server",serial="01",subject="CN=x"} 1');
  });
});
