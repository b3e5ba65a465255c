/** Small helpers shared by the benchmarks: medians and a plain-text table. */

/** Median of a non-empty list of numbers. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Milliseconds since `start` (from `process.hrtime.bigint()`). */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Prints rows as an aligned table; the first row is the header. Numbers are right-aligned. */
export function printTable(rows: ReadonlyArray<readonly string[]>): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  const numeric = (s: string): boolean => /^[\d.,x≈ -]+(ms|\/s)?$|^n\/a$/.test(s);
  for (const [i, r] of rows.entries()) {
    const line = r.map((cell, c) => (c > 0 && numeric(cell) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("   ");
    console.log(`  ${line.trimEnd()}`);
    if (i === 0) console.log(`  ${widths.map((w) => "-".repeat(w)).join("   ")}`);
  }
}

/** `1234.5` -> `1,235`. */
export function thousands(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}
