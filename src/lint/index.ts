/**
 * The lint layer: checks certificates, CSRs, private keys and chains against a program's rules
 * (src/policy) and reports findings with stable codes (`LINT_RULES`).
 */
export { lintItems, DEFAULT_EXPIRY_WARNING_DAYS } from "./lint-items.js";
export { lintFiles } from "./lint-files.js";
export { LINT_RULES, isLintCode, type LintCode, type LintRule, type Severity } from "./rules.js";
export { ISSUED_VALIDITY_TOLERANCE_DAYS } from "./client-rules.js";
export type { Finding, LintFilesOptions, LintOptions, LintResult } from "./types.js";
