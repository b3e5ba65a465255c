/**
 * Logging of the inbound server. The interface is pino's (`logger.warn(fields, message)`), so
 * a pino instance can be passed as is; the default writes the same JSON lines (pino's level
 * numbers, `time`, `msg`) without a dependency.
 *
 * What may appear in a log line: events, reasons, addresses, request method and path (without
 * the query), and certificate subject, issuer, serial and fingerprint. Never a private key, a
 * token or API key, a header value other than the correlation id, or a certificate body.
 */

/** A pino-compatible logger. */
export interface InboundLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const LEVELS: Record<Exclude<LogLevel, "silent">, number> = { debug: 20, info: 30, warn: 40, error: 50 };

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
 * A logger writing one JSON object per line, in pino's format.
 *
 * @example
 * const log = createJsonLogger({ level: "info", base: { profile: "d1-pp" } });
 * log.warn({ event: "handshake_refused", reason: "unknown_ca" }, "refused a client certificate from an unknown CA");
 */
export function createJsonLogger(options: JsonLoggerOptions = {}): InboundLogger {
  const min = options.level === "silent" ? Infinity : LEVELS[options.level ?? "info"];
  const stream = options.stream ?? process.stderr;
  const base = options.base ?? {};
  const write = (level: number) => (fields: Record<string, unknown>, msg: string) => {
    if (level < min) return;
    stream.write(`${JSON.stringify({ level, time: Date.now(), ...base, ...fields, msg })}\n`);
  };
  return { debug: write(LEVELS.debug), info: write(LEVELS.info), warn: write(LEVELS.warn), error: write(LEVELS.error) };
}

/** A logger that drops everything. */
export const silentLogger: InboundLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
