/**
 * Lint throughput over 1,000 generated certificates, against plain parse throughput measured
 * in the same run on the same certificates. Parsing (PEM -> CertificateInfo with
 * decodePkiObjects) is what every `mtlskit lint` does before linting, so the ratio says what
 * the checks add on top of reading; lintItems itself only gets parsed items.
 */
import { performance } from "node:perf_hooks";
import { decodePkiObjects, generateKey, type PkiItem } from "../src/pki/index.js";
import { createTestPki, type LeafOptions } from "../src/testing/index.js";
import { median } from "./stats.js";

/** One throughput figure. */
export interface Throughput {
  readonly certsPerSecond: number;
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
  const started = performance.now();
  while (times.length < minRounds || (performance.now() - started < budgetMs && times.length < 200)) {
    const t = performance.now();
    work();
    times.push(performance.now() - t);
  }
  return { certsPerSecond: (count * 1000) / median(times), rounds: times.length };
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
