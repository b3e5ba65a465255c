/** The benchmarks' text table: the first row is the header, underlined; the first column left-aligned, the others right-aligned. */
export function table(rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  const out: string[] = [];
  rows.forEach((r, i) => {
    out.push(`  ${r.map((cell, c) => (c > 0 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("   ")}`.trimEnd());
    if (i === 0) out.push(`  ${widths.map((w) => "-".repeat(w)).join("   ")}`);
  });
  return out;
}
