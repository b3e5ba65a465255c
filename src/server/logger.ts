/**
 * Logging of the inbound server. The interface is pino's (`logger.warn(fields, message)`), so
 * a pino instance can be passed as is; the default is a pino logger with pino's standard
 * options for people and log shippers: ISO-8601 `time` (`pino.stdTimeFunctions.isoTime`) and
 * the level's name in `level` (`formatters.level`), e.g.
 * `{"level":"warn","time":"2026-12-05T20:15:02.123Z","profile":"d1-pp","event":"handshake_refused",...,"msg":"..."}`.
 *
 * What may appear in a log line: events, reasons, addresses, request method and path (without
 * the query), and certificate subject, issuer, serial and fingerprint. Never a private key, a
 * token or API key, a header value other than the correlation id, or a certificate body.
 */

import { pino } from "pino";

/** A pino-compatible logger. */
export interface InboundLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

/** Options of {@link createJsonLogger}. */
export interface JsonLoggerOptions {
  /** Lowest level written. Default `info`. */
  level?: LogLevel;
  /** Where lines go. Default process.stderr. */
  stream?: { write(line: string): unknown };
  /** Fields added to every line (e.g. `{ profile: "d1-pp" }`). */
  base?: Record<string, unknown>;
}

/**
 * A logger writing one JSON object per line: pino, with ISO times and level names.
 *
 * @example
 * const log = createJsonLogger({ level: "info", base: { profile: "d1-pp" } });
 * log.warn({ event: "handshake_refused", reason: "unknown_ca" }, "refused a client certificate from an unknown CA");
 */
export function createJsonLogger(options: JsonLoggerOptions = {}): InboundLogger {
  const stream = options.stream ?? process.stderr;
  return pino(
    {
      level: options.level ?? "info",
      base: options.base ?? {},
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label: string) => ({ level: label }) },
    },
    { write: (line: string) => void stream.write(line) },
  );
}

/** A logger that drops everything. */
export const silentLogger: InboundLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
