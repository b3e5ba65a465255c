import { ERROR_CODES, type ErrorCode } from "./codes.js";
import { printable } from "./printable.js";

/** Options of an {@link MtlsError} besides its code and message. */
export interface MtlsErrorOptions {
  /** What to do; defaults to the code's hint in the table. */
  hint?: string;
  /** The lower-level error, kept for --debug. */
  cause?: unknown;
  /** The file or URL the error is about, when there is one. */
  subject?: string;
}

/**
 * The one error class of mtlskit. `code` is stable (scripts may depend on it), `message` says
 * what happened, `hint` says what to do. Messages never contain key material or tokens.
 *
 * @example
 * throw new MtlsError("FILE_EMPTY", "client.key is empty");
 */
export class MtlsError extends Error {
  override readonly name = "MtlsError";
  readonly code: ErrorCode;
  readonly hint: string;
  readonly subject: string | undefined;

  constructor(code: ErrorCode, message: string, options: MtlsErrorOptions = {}) {
    // Messages quote files, names and certificate fields: escape what could forge output.
    super(printable(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = printable(options.hint ?? ERROR_CODES[code].hint);
    this.subject = options.subject;
  }

  /** The process exit code for this error (docs/architecture.md: 1 failed check, 2 bad input, 3 bug). */
  get exitCode(): 1 | 2 | 3 {
    return ERROR_CODES[this.code].exit;
  }

  /** A plain object for `--json` output. */
  toJSON(): { code: ErrorCode; message: string; hint: string; subject?: string } {
    return { code: this.code, message: this.message, hint: this.hint, ...(this.subject ? { subject: this.subject } : {}) };
  }
}

/** True when `e` is an {@link MtlsError}, optionally of the given code. */
export function isMtlsError(e: unknown, code?: ErrorCode): e is MtlsError {
  return e instanceof MtlsError && (code === undefined || e.code === code);
}
