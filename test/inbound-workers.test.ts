/**
 * `mtlskit serve --workers N` with the real bin: N processes share the listener (fresh
 * connections land on every worker), one admin listener shows every worker's series, SIGHUP to
 * the primary reaches every worker, a TLS session resumes on any worker, a worker killed with
 * SIGKILL is replaced, SIGTERM stops them all with exit 0; bad values and a broken certificate
 * set give coded errors.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mergeWorkerMetrics } from "../src/server/workers.js";
import { expectCodedError, mtlskit, startMtlskit } from "./support/cli.js";
import { createInboundPki, runTool, startUpstream, waitFor, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";
import { freePort } from "./support/net.js";

let pki: InboundPki;
let upstream: TestUpstream;
const children: ChildProcess[] = [];

beforeAll(async () => {
  pki = await createInboundPki();
  upstream = await startUpstream();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await upstream?.stop();
  if (pki) await fs.rm(pki.dir, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  doc: { ok: boolean; url: string; port: number; adminUrl: string; workers: number; server: { subject: string } };
  stderr: () => string;
  exited: Promise<number>;
}

async function serve(args: string[], adminPort = 0): Promise<Running> {
  const r = await startMtlskit<Running["doc"]>(["--json", "serve", "--cert", pki.files.certFile, "--key", pki.files.keyFile, "--chain", pki.files.chainFile, "--client-ca", pki.files.caFile, "--listen", "127.0.0.1:0", "--admin", `127.0.0.1:${adminPort}`, "--upstream", upstream.url, ...args], { cwd: pki.dir });
  children.push(r.child);
  return r;
}

/** One TLS connection with the Thales client certificate, one request: the status line. */
function oneRequest(port: number): Promise<{ status: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "notify.customer.test", ca: pki.serverPki.root.certPem, cert: pki.client.chainPem, key: pki.client.keyPem }, () => {
      socket.write("GET /hello HTTP/1.1\r\nhost: notify.customer.test\r\nconnection: close\r\n\r\n");
    });
    let data = "";
    socket.setEncoding("utf8").on("data", (d: string) => (data += d));
    socket.on("error", reject);
    socket.on("close", () => resolve({ status: data.split("\r\n")[0] ?? "" }));
  });
}

async function metricsOf(r: Running): Promise<string> {
  return (await fetch(`${r.doc.adminUrl}/metrics`)).text();
}

function sumOf(metrics: string, prefix: string): number {
  return metrics
    .split("\n")
    .filter((l) => l.startsWith(prefix))
    .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
}

function workerPids(primary: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(primary)], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe("mtlskit serve --workers", () => {
  it("shares the listener between workers, merges their metrics, fans SIGHUP out, resumes sessions on any worker, replaces a dead worker, stops on SIGTERM", async () => {
    const adminPort = await freePort();
    const r = await serve(["--workers", "2"], adminPort);
    expect(r.doc).toMatchObject({ ok: true, workers: 2, adminUrl: `http://127.0.0.1:${adminPort}`, server: { subject: "CN=notify.customer.test" } });
    expect(workerPids(r.child.pid!)).toHaveLength(2);

    // Fresh connections land on both workers (the primary hands them out in turn).
    const first = await oneRequest(r.doc.port);
    expect(first.status).toBe("HTTP/1.1 200 OK");
    for (let i = 0; i < 7; i++) expect((await oneRequest(r.doc.port)).status).toBe("HTTP/1.1 200 OK");
    let metrics = await metricsOf(r);
    expect(metrics).toContain("mtlskit_serve_workers 2");
    expect(metrics.match(/^# TYPE mtlskit_inbound_handshakes_total counter$/gm)).toHaveLength(1);
    expect(metrics).toMatch(/mtlskit_inbound_handshakes_total\{worker="1",result="ok"\} [1-9]/);
    expect(metrics).toMatch(/mtlskit_inbound_handshakes_total\{worker="2",result="ok"\} [1-9]/);
    expect(sumOf(metrics, "mtlskit_inbound_handshakes_total{")).toBe(8);
    expect(await (await fetch(`${r.doc.adminUrl}/readyz`)).text()).toBe("ready\n");

    // A session made on one worker resumes on the other ones too (connections alternate between
    // the workers; Node's cluster workers accept each other's session tickets).
    const client = await pki.writeClient("thales", pki.client);
    const sess = `${pki.dir}/session.pem`;
    const sClient = (extra: string[]) =>
      runTool("openssl", ["s_client", "-connect", `127.0.0.1:${r.doc.port}`, "-servername", "notify.customer.test", "-CAfile", pki.serverCaFile, "-cert", client.cert, "-key", client.key, "-ign_eof", ...extra], {
        input: "GET /resume HTTP/1.1\r\nHost: notify.customer.test\r\nConnection: close\r\n\r\n",
      });
    const made = await sClient(["-sess_out", sess]);
    expect(made.stdout).toMatch(/^New, /m);
    for (let i = 0; i < 4; i++) {
      const again = await sClient(["-sess_in", sess]);
      expect(again.stdout).toMatch(/^Reused, /m);
      expect(again.stdout).toMatch(/HTTP\/1\.1 200 OK/);
    }
    metrics = await metricsOf(r);
    expect(sumOf(metrics, "mtlskit_inbound_handshakes_total{")).toBe(13);

    // SIGHUP to the primary alone reaches every worker.
    process.kill(r.child.pid!, "SIGHUP");
    await waitFor(async () => {
      metrics = await metricsOf(r);
      return /reloads_total\{worker="1",result="unchanged",trigger="api"\} 1/.test(metrics) && /reloads_total\{worker="2",result="unchanged",trigger="api"\} 1/.test(metrics);
    }, 10_000, "both workers to reload");

    // A worker killed hard is replaced; the service goes on.
    const [victim] = workerPids(r.child.pid!);
    process.kill(victim!, "SIGKILL");
    await waitFor(async () => {
      metrics = await metricsOf(r);
      return metrics.includes("mtlskit_serve_worker_restarts_total 1") && metrics.includes("mtlskit_serve_workers 2");
    }, 15_000, "the dead worker to be replaced");
    expect(workerPids(r.child.pid!)).not.toContain(victim);
    for (let i = 0; i < 4; i++) expect((await oneRequest(r.doc.port)).status).toBe("HTTP/1.1 200 OK");
    expect(r.stderr()).toContain('"event":"worker_exited"');

    const pids = workerPids(r.child.pid!);
    r.child.kill("SIGTERM");
    expect(await r.exited).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });

  it("refuses a bad --workers value and reports a worker's coded start error", async () => {
    for (const bad of ["0", "65", "two", "-1"]) {
      const run = await mtlskit(["serve", "--cert", pki.files.certFile, "--key", pki.files.keyFile, "--client-ca", pki.files.caFile, "--upstream", upstream.url, "--workers", bad], { cwd: pki.dir });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("--workers");
    }
    // The key of another certificate: every worker fails its start with KEY_MISMATCH; serve says so once, exit 2.
    const otherKey = `${pki.dir}/other.key`;
    await fs.writeFile(otherKey, pki.client.keyPem, { mode: 0o600 });
    const run = await mtlskit(["serve", "--cert", pki.files.certFile, "--key", otherKey, "--client-ca", pki.files.caFile, "--listen", "127.0.0.1:0", "--admin", "off", "--upstream", upstream.url, "--workers", "2"], { cwd: pki.dir, timeoutMs: 30_000 });
    expectCodedError(run, "KEY_MISMATCH");
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("mergeWorkerMetrics", () => {
  it("keeps each family once and labels every sample with its worker", () => {
    const a = '# HELP x_total X.\n# TYPE x_total counter\nx_total{result="ok"} 2\n# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 0.5\nh_count 1\n';
    const b = '# HELP x_total X.\n# TYPE x_total counter\nx_total{result="ok"} 3\nx_total 1\n';
    expect(mergeWorkerMetrics([{ worker: "1", text: a }, { worker: "2", text: b }])).toBe(
      '# HELP x_total X.\n# TYPE x_total counter\nx_total{worker="1",result="ok"} 2\nx_total{worker="2",result="ok"} 3\nx_total{worker="2"} 1\n# HELP h H.\n# TYPE h histogram\nh_bucket{worker="1",le="1"} 1\nh_sum{worker="1"} 0.5\nh_count{worker="1"} 1\n',
    );
    expect(mergeWorkerMetrics([])).toBe("");
  });
});
