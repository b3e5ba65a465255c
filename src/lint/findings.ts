import { printable } from "../errors/index.js";
import type { KeyDescription } from "../pki/index.js";
import { keyFamily, type EnvironmentPolicy, type HashName, type KeyType, type ProgramPolicy } from "../policy/index.js";
import { LINT_RULES, type LintCode, type LintRule } from "./rules.js";
import type { Finding } from "./types.js";

/** What every rule needs to know about the run. */
export interface LintContext {
  readonly program: ProgramPolicy;
  readonly environment: EnvironmentPolicy | undefined;
  readonly gatewayId: string | undefined;
  readonly cn: string | undefined;
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** The expiry warning window, in milliseconds. */
  readonly warnMs: number;
  /** Adds a finding. */
  readonly report: (f: Finding) => void;
}

/**
 * A finding of a rule of the table. `alternate` picks the rule's second severity
 * (`LINT_RULES[code].alsoAs`); the hint defaults to the table's.
 */
export function finding(code: LintCode, source: string, message: string, options: { hint?: string; alternate?: boolean } = {}): Finding {
  const rule: LintRule = LINT_RULES[code];
  const severity = options.alternate && rule.alsoAs ? rule.alsoAs.severity : rule.severity;
  // Messages quote certificate fields (CNs, names): escape what could forge the output.
  return { code, severity, message: printable(message), hint: printable(options.hint ?? rule.hint), source: printable(source) };
}

export const DAY_MS = 86_400_000;

/** `ecdsa-p256` -> `ECDSA P-256`, `rsa-4096` -> `RSA 4096`. */
export function keyTypeLabel(t: KeyType): string {
  const [alg = t, size = ""] = t.split("-");
  return `${alg.toUpperCase()} ${size.replace(/^p(\d+)$/i, "P-$1")}`.trim();
}

/** `sha256` -> `SHA-256`, `md5` -> `MD5`. */
export function hashLabel(h: HashName): string {
  return h.toUpperCase().replace(/^SHA(\d)/, "SHA-$1");
}

/** `a`, `a or b`, `a, b or c`. */
export function listOr(items: readonly string[], word = "or"): string {
  if (items.length <= 1) return items[0] ?? "";
  return `${items.slice(0, -1).join(", ")} ${word} ${items[items.length - 1]}`;
}

/** `2026-05-01 12:00:00 UTC`. */
export function utc(d: Date | number): string {
  return `${new Date(d).toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "")} UTC`;
}

/** A number of days for a sentence: whole when it is, one decimal otherwise. */
export function daysText(ms: number): string {
  const d = ms / DAY_MS;
  const text = Math.abs(d - Math.round(d)) < 0.05 ? String(Math.round(d)) : d.toFixed(1);
  return `${text} day${text === "1" ? "" : "s"}`;
}

/** The key family of a key, also for key types mtlskit does not create (P-521, RSA 3072). */
export function familyOf(key: KeyDescription): "ec" | "rsa" | undefined {
  if (key.type) return keyFamily(key.type);
  if (key.algorithm === "EC") return "ec";
  if (key.algorithm === "RSA" || key.algorithm === "RSA-PSS") return "rsa";
  return undefined;
}

/** The accepted key types of the program, for hints: `ECDSA P-256 (preferred) or RSA 4096`. */
export function acceptedKeysText(program: ProgramPolicy): string {
  return listOr(program.clientCertificate.accepted.map((a) => `${keyTypeLabel(a.keyType)}${a.preferred ? " (preferred)" : ""}`));
}
