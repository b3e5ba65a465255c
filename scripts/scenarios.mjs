// `npm run scenarios`: runs the fault scenarios (test/scenarios) with vitest, each appending
// its numbers to a report file (MTLSKIT_SCENARIO_REPORT), then prints one line per scenario:
// requests sent, failed, lost, duplicated, and time to recover. Exit code: vitest's.
//
//   npm run scenarios                 # every scenario
//   npm run scenarios -- 05 07        # the files whose name contains test/scenarios/05 or .../07
//   npm run scenarios -- --reporter=verbose
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "mtlskit-scenarios-"));
const reportFile = join(dir, "report.jsonl");
const extra = process.argv.slice(2);
const filters = extra.filter((a) => !a.startsWith("-")).map((f) => (f.includes("/") ? f : `test/scenarios/${f}`));
const flags = extra.filter((a) => a.startsWith("-"));
const vitest = join(root, "node_modules", "vitest", "vitest.mjs");

const started = Date.now();
const child = spawn(process.execPath, [vitest, "run", ...(filters.length ? filters : ["test/scenarios"]), ...flags], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, MTLSKIT_SCENARIO_REPORT: reportFile },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));

child.on("close", (code, signal) => {
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const rows = existsSync(reportFile)
    ? readFileSync(reportFile, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l))
        .sort((a, b) => String(a.scenario).localeCompare(String(b.scenario)))
    : [];
  rmSync(dir, { recursive: true, force: true });
  const recover = (ms) => (typeof ms === "number" ? (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms} ms`) : "-");
  const table = [["scenario", "sent", "failed", "lost", "dup", "recover"], ...rows.map((r) => [r.scenario, r.sent, r.failed, r.lost, r.duplicated, recover(r.recoverMs)].map(String))];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  const line = (row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ");
  console.log("");
  console.log(line(table[0]));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of table.slice(1)) console.log(line(row));
  if (rows.length === 0) console.log("(no scenario reported)");
  console.log(`\n${rows.length} scenario(s) reported in ${seconds} s; vitest exited with ${signal ?? code}`);
  process.exitCode = code ?? 1;
});
