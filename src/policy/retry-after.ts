/**
 * `Retry-After` (RFC 9110 §10.2.3), read by the client's retries and the emulator's notifier,
 * written by the inbound server: one parser and one writer.
 */

/**
 * `Retry-After` in milliseconds from `now`: delay-seconds (`120`) or an HTTP date (a date in
 * the past is 0). Undefined when absent, empty or unreadable (a negative or fractional number
 * included, which both earlier copies read as a year), so that the caller falls back to its own backoff.
 */
export function parseRetryAfter(value: string | readonly string[] | undefined, now = Date.now()): number | undefined {
  const v = (typeof value === "string" ? value : value?.[0])?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // Every HTTP-date form (IMF-fixdate, RFC 850, asctime) starts with the day's name; without
  // this check Date.parse would read "-5" or "1.5" as years.
  if (!/^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)/i.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** `Retry-After` for a delay in milliseconds: whole seconds, rounded up, never negative. */
export function formatRetryAfter(ms: number): string {
  return String(Math.max(0, Math.ceil(ms / 1000)));
}
