/**
 * `npm run bench`: figures printed side by side with a reference measured in the same run.
 * (a) cold start of `mtlskit inspect FILE` vs `openssl x509 -noout -text`, target 150 ms;
 * (b) lint throughput vs parse throughput over 1,000 certificates, target 5,000 certs/s; parse +
 *     lint end to end, target 10,000 certs/s (issue 11).
 * Expects dist/ built (`npm run bench` builds first); times a copy of bin/ and dist/cli/ in a
 * temporary folder (its node_modules a link to the project's), removed at the end.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { createTestPki } from "../src/testing/index.js";
import { coldStart, HEAVY_PACKAGES, packagesOnInspectPath, snapshotCli, type ColdStartResult } from "./cold-start.js";
import { lintThroughput, printLintThroughput } from "./lint-throughput.js";
import { printTable } from "./stats.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const COLD_RUNS = Number(process.env["MTLSKIT_BENCH_RUNS"] ?? 21);
const COLD_TARGET_MS = 150;
const LINT_CERTS = 1000;

function hasOpenssl(): boolean {
  return spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0;
}

const ms = (n: number | undefined): string => (n === undefined ? "n/a" : `${n.toFixed(1)} ms`);

async function main(): Promise<void> {
  if (!existsSync(path.join(ROOT, "dist", "cli", "main.js"))) {
    console.error("dist/ is missing: run `node scripts/build.mjs` first (npm run bench does it).");
    process.exitCode = 2;
    return;
  }
  const openssl = hasOpenssl();
  console.log(`mtlskit bench: node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? "?"}), ${openssl ? spawnSync("openssl", ["version"], { encoding: "utf8" }).stdout.trim() : "no openssl"}, load average ${loadavg()[0]!.toFixed(1)}`);
  const dir = mkdtempSync(path.join(tmpdir(), "mtlskit-bench-"));
  try {
    // (a) cold start, on a snapshot of the built CLI: other builds may replace dist/ meanwhile.
    const cli = snapshotCli(ROOT, path.join(dir, "cli"));
    const pki = await createTestPki();
    const leaf = await pki.issue({ cn: "bench.example.test", usage: "server", dns: ["bench.example.test"] });
    const certFile = path.join(dir, "server.crt");
    writeFileSync(certFile, leaf.certPem);
    const extra = process.env["NODE_EXTRA_CA_CERTS"];
    const results: ColdStartResult[] = [];
    if (extra) results.push(coldStart(cli, certFile, process.env, `with NODE_EXTRA_CA_CERTS`, COLD_RUNS, openssl));
    const { NODE_EXTRA_CA_CERTS: _drop, ...withoutExtra } = process.env;
    results.push(coldStart(cli, certFile, withoutExtra, "without NODE_EXTRA_CA_CERTS", COLD_RUNS, openssl));

    console.log(`\n(a) Cold start: \`mtlskit inspect FILE\` vs \`openssl x509 -noout -text -in FILE\`, median of ${COLD_RUNS} runs each`);
    printTable([
      ["environment", "mtlskit", "openssl", "ratio", "node -e 0", "mtlskit - node", `target ${COLD_TARGET_MS} ms`],
      ...results.map((r) => [
        r.label,
        ms(r.mtlskitMs),
        ms(r.opensslMs),
        r.opensslMs ? `${(r.mtlskitMs / r.opensslMs).toFixed(1)}x` : "n/a",
        ms(r.nodeFloorMs),
        ms(r.mtlskitMs - r.nodeFloorMs),
        r.mtlskitMs <= COLD_TARGET_MS ? "met" : "MISSED",
      ]),
    ]);
    const packages = packagesOnInspectPath(cli);
    const heavy = packages?.filter((p) => (HEAVY_PACKAGES as readonly string[]).includes(p)) ?? [];
    console.log(`  packages loaded at the start of inspect: ${packages === undefined ? "unknown (no inspect chunk)" : packages.join(", ") || "none"}${heavy.length > 0 ? `; ${heavy.join(", ")} should not be (see test/inspect-cli.test.ts)` : ""}`);
    if (extra) console.log(`  NODE_EXTRA_CA_CERTS=${extra}: node reads its root store at start-up, before any mtlskit code runs.`);

    // (b) lint throughput
    printLintThroughput(await lintThroughput(LINT_CERTS), LINT_CERTS);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

// Outbound (issue 5): createThalesDispatcher against a raw undici Agent, same TLS options.
const { runOutboundBench } = await import("./outbound.js");
console.log(`\n${(await runOutboundBench()).join("\n")}`);

// Inbound (issue 6): mtlskit serve against nginx, same certificates, upstream and load generators.
const { runInboundBench, runNodeCpuBench } = await import("./inbound.js");
console.log(`\n${(await runInboundBench()).join("\n")}`);
// The node engine's target (CPU per full handshake <= 1.1x bare Node, issue 12), on paired rounds of the two alone.
console.log((await runNodeCpuBench()).join("\n"));

// Keys in a token (issue 14): client key in SoftHSM2 against a file key, same server.
const { runPkcs11Bench } = await import("./pkcs11.js");
console.log(`\n${(await runPkcs11Bench()).join("\n")}`);
