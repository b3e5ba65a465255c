/**
 * `npm run bench` times a snapshot of the built CLI in a temporary folder (bench/cold-start.ts).
 * The snapshot must run as the installed package does (dependencies are external to the bundle):
 * one cold-start round of the real snapshot, so that a change to the build or the snapshot that
 * breaks the bench shows here rather than on the benchmark machine.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { coldStart, snapshotCli } from "../bench/cold-start.js";
import { createTestPki } from "../src/testing/index.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(path.join(tmpdir(), "mtlskit-bench-smoke-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bench cold start", () => {
  it("runs `mtlskit inspect` from a snapshot of the built CLI", async () => {
    const cli = snapshotCli(ROOT, path.join(dir, "cli"));
    const pki = await createTestPki();
    const leaf = await pki.issue({ cn: "bench.example.test", usage: "server", dns: ["bench.example.test"] });
    const certFile = path.join(dir, "server.crt");
    writeFileSync(certFile, leaf.certPem);
    const r = coldStart(cli, certFile, process.env, "smoke", 1, false);
    expect(r.runs).toBe(1);
    expect(r.mtlskitMs).toBeGreaterThan(0);
  });
});

describe("bench outbound", () => {
  it("runs paired rounds of the raw Agent and createThalesDispatcher and prints their ratios", async () => {
    process.env["MTLSKIT_BENCH_OUTBOUND_ROUNDS"] = "2";
    process.env["MTLSKIT_BENCH_OUTBOUND_REQUESTS"] = "50";
    const { runOutboundBench } = await import("../bench/outbound.js");
    const lines = (await runOutboundBench()).join("\n");
    expect(lines).toMatch(/target >= 0\.95x the raw requests\/s: (met|MISSED) \(\d\.\d{3}x\); target p99 <= 1\.10x the raw p99: (met|MISSED)/);
    expect(lines).toMatch(/garbage collections in the client per 1,000 requests: raw \d+\.\d\d, createThalesDispatcher \d+\.\d\d/);
    expect(lines).toMatch(/createThalesDispatcher: \d+ TLS connections .* 1 DNS lookups, 0 retries/);
  }, 60_000);
});
