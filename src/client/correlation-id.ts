import { randomFillSync } from "node:crypto";
import type { Dispatcher } from "undici";
import { MtlsError } from "../errors/index.js";
import { PROGRAMS, type ProgramPolicy } from "../policy/index.js";
import { extend, getHeader, withHeader } from "./headers.js";

/** The header every call to Thales carries. */
export const CORRELATION_ID_HEADER = "x-correlation-id";

/**
 * The format of `x-correlation-id` for a program: its own rule when the policy has one (D1),
 * else D1's (`^[A-Za-z0-9_-]{1,64}$`): the issue asks every call to carry one in that format,
 * and a value of that shape is a valid header for any server.
 */
export function correlationIdPattern(program?: ProgramPolicy): RegExp {
  return program?.auth.correlationIdPattern ?? PROGRAMS.d1.auth.correlationIdPattern ?? /^[A-Za-z0-9_-]{1,64}$/;
}

/** Random bytes for {@link newCorrelationId}, drawn from the CSPRNG 4 KiB at a time (as Node's own UUID cache does). */
const entropy = Buffer.allocUnsafeSlow(4096);
let entropyOffset = entropy.length;
/** The 36 characters of the id being written (a fixed buffer: the string is made once, from it). */
const uuidChars = Buffer.from("00000000-0000-4000-8000-000000000000", "latin1");
/** Where each of the 16 bytes goes among the 36 characters (the dashes are skipped). */
const UUID_POSITIONS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
/** Byte value -> its two lower-case hex digits, as two character codes. */
const HEX = Buffer.from(Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0")).join(""), "latin1");

/**
 * A new correlation id: a random (version 4) UUID, 36 characters of the allowed set, as
 * `crypto.randomUUID()` makes. Written into a fixed buffer and read out as one flat string:
 * `randomUUID()` builds its string from 20 concatenations, about 590 bytes of garbage per id
 * (57 here): more than a quarter of what the dispatcher made per request beyond a bare Agent,
 * and garbage collections are what set its p99 latency (issue 11, item 7; README, Benchmarks).
 */
export function newCorrelationId(): string {
  if (entropyOffset + 16 > entropy.length) {
    randomFillSync(entropy);
    entropyOffset = 0;
  }
  const o = entropyOffset;
  entropyOffset += 16;
  for (let i = 0; i < 16; i++) {
    let b = entropy[o + i]!;
    if (i === 6) b = (b & 0x0f) | 0x40; // version 4
    else if (i === 8) b = (b & 0x3f) | 0x80; // variant 10 (RFC 9562)
    const at = UUID_POSITIONS[i]!;
    uuidChars[at] = HEX[b * 2]!;
    uuidChars[at + 1] = HEX[b * 2 + 1]!;
  }
  return uuidChars.toString("latin1");
}

/** Checks a correlation id given by the caller; `HTTP_CORRELATION_ID_INVALID` otherwise. */
export function assertCorrelationId(id: string, pattern: RegExp = correlationIdPattern()): string {
  if (!pattern.test(id)) {
    const shown = id.length > 70 ? `${id.slice(0, 64)}...` : id;
    throw new MtlsError("HTTP_CORRELATION_ID_INVALID", `x-correlation-id ${JSON.stringify(shown)} does not match ${String(pattern)}`);
  }
  return id;
}

/**
 * An undici interceptor that puts `x-correlation-id` on every request: the caller's value,
 * checked against `pattern`, or a new one. A request with an invalid value fails with
 * `HTTP_CORRELATION_ID_INVALID` and is never sent.
 */
export function correlationIdInterceptor(options: { pattern?: RegExp; generate?: () => string } = {}): Dispatcher.DispatcherComposeInterceptor {
  const pattern = options.pattern ?? correlationIdPattern();
  const generate = options.generate ?? newCorrelationId;
  return (dispatch) =>
    function correlationId(opts, handler) {
      const headers = opts.headers;
      // The common case, a plain record without the header: one pass, one copy.
      if (headers == null || (typeof headers === "object" && !Array.isArray(headers) && Object.getPrototypeOf(headers) === Object.prototype)) {
        const copy = copyWithout(headers as Record<string, string> | null | undefined);
        if (copy) {
          copy[CORRELATION_ID_HEADER] = generate();
          return dispatch(extend(opts, { headers: copy }), handler);
        }
      }
      const given = getHeader(headers, CORRELATION_ID_HEADER);
      if (given !== undefined) {
        if (!pattern.test(given)) {
          handler.onResponseError?.(null as unknown as Dispatcher.DispatchController, assertCorrelationIdError(given, pattern));
          return true;
        }
        return dispatch(opts, handler);
      }
      return dispatch(extend(opts, { headers: withHeader(opts.headers, CORRELATION_ID_HEADER, generate()) }), handler);
    };
}

/** A copy of a record of headers, or undefined when it has an x-correlation-id already. */
function copyWithout(headers: Record<string, string> | null | undefined): Record<string, string> | undefined {
  const copy: Record<string, string> = {};
  if (headers == null) return copy;
  for (const k in headers) {
    if (k.length === CORRELATION_ID_HEADER.length && k.toLowerCase() === CORRELATION_ID_HEADER) return undefined;
    copy[k] = headers[k]!;
  }
  return copy;
}

function assertCorrelationIdError(id: string, pattern: RegExp): MtlsError {
  try {
    assertCorrelationId(id, pattern);
  } catch (e) {
    return e as MtlsError;
  }
  return new MtlsError("HTTP_CORRELATION_ID_INVALID", "x-correlation-id is invalid");
}
