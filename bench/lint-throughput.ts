/**
 * Lint throughput over 1,000 generated certificates, against plain parse throughput measured
 * in the same run on the same certificates. Parsing (PEM -> CertificateInfo with
 * decodePkiObjects) is what every `mtlskit lint` does before linting, so the ratio says what
 * the checks add on top of reading; lintItems itself only gets parsed items.
 *
 * Run alone: `node --import tsx bench/lint-throughput.ts` (section (b) of `npm run bench`).
 */
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { decodePkiObjects, generateKey, type PkiItem } from "../src/pki/index.js";
import { createTestPki, type LeafOptions } from "../src/testing/index.js";
import { median, printTable, thousands } from "./stats.js";

/** One throughput figure. */
export interface Throughput {
  /** Certificates per second of wall time (median round). */
  readonly certsPerSecond: number;
  /**
   * Certificates per second of this process's CPU time (user + system, median round): what a
   * machine shared with other work does not hide (a loaded CPU stretches the wall time only).
   */
  readonly certsPerCpuSecond: number;
  readonly rounds: number;
}

/** What the benchmark needs of the lint layer. */
type LintItems = (items: PkiItem[], options: { program: string; environment?: string }) => unknown;

const DAY = 86_400_000;

/** 1,000 PEM certificates like the ones users lint: MT self-signed and CA-issued, several key types and validities. */
export async function generateCertificates(count: number): Promise<Array<{ source: string; pem: Buffer }>> {
  const pki = await createTestPki();
  // A few keys, reused: generating 1,000 RSA keys would take minutes and measures nothing.
  const keys = await Promise.all((["ecdsa-p256", "ecdsa-p256", "ecdsa-p384", "rsa-2048", "ecdsa-p256"] as const).map((t) => generateKey(t)));
  const out: Array<{ source: string; pem: Buffer }> = [];
  for (let i = 0; i < count; i++) {
    const key = keys[i % keys.length]!;
    const now = Date.now();
    const validityDays = [730, 365, 800, 20, 90][i % 5]!;
    const opts: LeafOptions = {
      subject: `/C=FR/O=Merchant ${i}/CN=mt-sandbox-client-${i}`,
      privateKey: key.privateKey,
      keyType: key.type,
      notBefore: new Date(now - (i % 7) * DAY),
      notAfter: new Date(now + validityDays * DAY),
      hash: key.type === "ecdsa-p384" && i % 2 === 0 ? "sha384" : "sha256",
    };
    const cert = i % 3 === 0 ? await pki.issue(opts) : await pki.selfSigned(opts);
    out.push({ source: `client-${i}.pem`, pem: Buffer.from(cert.certPem) });
  }
  return out;
}

function parseAll(files: ReadonlyArray<{ source: string; pem: Buffer }>): PkiItem[] {
  return files.flatMap((f) => decodePkiObjects(f.pem, f.source));
}

/** Times `work` over `count` certificates: warm-up, then rounds until `minRounds` and `budgetMs` are both reached. */
function measure(count: number, work: () => unknown, minRounds = 15, budgetMs = 3000): Throughput {
  for (let i = 0; i < 3; i++) work();
  const times: number[] = [];
  const cpuTimes: number[] = [];
  const started = performance.now();
  while (times.length < minRounds || (performance.now() - started < budgetMs && times.length < 200)) {
    const t = performance.now();
    const c = process.cpuUsage();
    work();
    const used = process.cpuUsage(c);
    times.push(performance.now() - t);
    cpuTimes.push((used.user + used.system) / 1000);
  }
  return { certsPerSecond: (count * 1000) / median(times), certsPerCpuSecond: (count * 1000) / median(cpuTimes), rounds: times.length };
}

/**
 * Lint and parse throughput over the same certificates; `lint` undefined when src/lint has no
 * lintItems yet. `cold`: parse and lint together, each round on freshly parsed certificates,
 * so every signature lint checks is verified again (in `lint`, verdicts are remembered per
 * parsed certificate across rounds, as when a process lints the same objects again).
 */
export async function lintThroughput(count: number): Promise<{ parse: Throughput; lint: Throughput | undefined; cold: Throughput | undefined; findings: number | undefined }> {
  const files = await generateCertificates(count);
  const items = parseAll(files);
  const parse = measure(count, () => parseAll(files));
  const lintModule = (await import("../src/lint/index.js")) as unknown as { lintItems?: LintItems };
  const lintItems = lintModule.lintItems;
  if (typeof lintItems !== "function") return { parse, lint: undefined, cold: undefined, findings: undefined };
  const options = { program: "mt", environment: "sandbox" };
  const sample = lintItems(items, options) as { findings?: unknown[] };
  const lint = measure(count, () => lintItems(items, options));
  const cold = measure(count, () => lintItems(parseAll(files), options), 5, 3000);
  return { parse, lint, cold, findings: Array.isArray(sample.findings) ? sample.findings.length : undefined };
}

export const LINT_TARGET = 5000;
export const END_TO_END_TARGET = 10_000;

/** Section (b) of the benchmark: the table and the verdicts, printed. */
export function printLintThroughput(t: Awaited<ReturnType<typeof lintThroughput>>, count: number): void {
  const cpu = (x: Throughput | undefined): string => (x ? `${thousands(x.certsPerCpuSecond)}/s` : "n/a");
  console.log(`\n(b) Lint throughput over ${thousands(count)} generated certificates (median round; reference: parse, same certificates, same run)`);
  printTable([
    ["what", "certs/s", "per CPU-second", "rounds", "vs parse"],
    ["lintItems(items, { program: mt, environment: sandbox })", t.lint ? `${thousands(t.lint.certsPerSecond)}/s` : "n/a", cpu(t.lint), t.lint ? String(t.lint.rounds) : "n/a", t.lint ? `${(t.lint.certsPerSecond / t.parse.certsPerSecond).toFixed(2)}x` : "n/a"],
    ["parse: decodePkiObjects(PEM) -> CertificateInfo (reference)", `${thousands(t.parse.certsPerSecond)}/s`, cpu(t.parse), String(t.parse.rounds), "1.00x"],
  ]);
  if (!t.lint) {
    console.log("  lint: src/lint exports no lintItems yet; only the reference was measured.");
    return;
  }
  console.log(`  target >= ${thousands(LINT_TARGET)} certs/s: ${t.lint.certsPerSecond >= LINT_TARGET ? "met" : "MISSED"} (${t.findings ?? "?"} findings per pass)`);
  // Parse then lint, one after the other: the times per certificate add up.
  const e2e = 1 / (1 / t.lint.certsPerSecond + 1 / t.parse.certsPerSecond);
  const e2eCpu = 1 / (1 / t.lint.certsPerCpuSecond + 1 / t.parse.certsPerCpuSecond);
  console.log(
    `  parse + lint end to end: ${thousands(e2e)}/s wall, ${thousands(e2eCpu)} per CPU-second; target >= ${thousands(END_TO_END_TARGET)} certs/s: ${e2e >= END_TO_END_TARGET ? "met" : "MISSED"} on the wall figure, ${e2eCpu >= END_TO_END_TARGET ? "met" : "MISSED"} per CPU-second (lint's signature verdicts remembered per parsed certificate)`,
  );
  if (t.cold) console.log(`  parse + lint cold (fresh parse each round, every self-signature verified again): ${thousands(t.cold.certsPerSecond)}/s wall, ${thousands(t.cold.certsPerCpuSecond)} per CPU-second; signature verification is most of it`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const count = Number(process.env["MTLSKIT_BENCH_LINT_CERTS"] ?? 1000);
  printLintThroughput(await lintThroughput(count), count);
}
