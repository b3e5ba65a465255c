// Generates docs/errors.md from the error code table and the lint rule table.
// `npm run docs` writes it; test/docs.test.ts fails when the file is out of date.
import { writeFileSync } from "node:fs";
import { ERROR_CODES } from "../src/errors/codes.js";
import { LINT_RULES } from "../src/lint/rules.js";

const esc = (s: string) => s.replace(/\|/g, "\\|");

/** The whole text of docs/errors.md. */
export function errorsMarkdown(): string {
  const lines = [
    "# mtlskit error codes",
    "",
    "Generated from `src/errors/codes.ts` and `src/lint/rules.ts` by `npm run docs`; do not edit by hand.",
    "",
    "## Errors",
    "",
    "Every failure of a command or library call is an `MtlsError` with one of these codes. The CLI prints",
    "`error [CODE]: <what happened>` and a `hint:` line on stderr (or `{ \"ok\": false, \"error\": {...} }` with",
    "`--json`) and exits with the code's status: `1` a check ran and failed, `2` bad usage or bad input, `3` a bug.",
    "",
    "| code | exit | meaning | what to do |",
    "| --- | --- | --- | --- |",
    ...Object.entries(ERROR_CODES).map(([code, i]) => `| \`${code}\` | ${i.exit} | ${esc(i.meaning)} | ${esc(i.hint)} |`),
    "",
    "## Lint findings",
    "",
    "`mtlskit lint` reports findings with these codes; it exits 1 when any finding has severity `error`.",
    "",
    "| code | severity | meaning | what to do |",
    "| --- | --- | --- | --- |",
    ...Object.entries(LINT_RULES).map(([code, r]) => `| \`${code}\` | ${r.severity} | ${esc(r.meaning)} | ${esc(r.hint)} |`),
    "",
  ];
  return lines.join("\n");
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop() ?? "")) {
  writeFileSync(new URL("../docs/errors.md", import.meta.url), errorsMarkdown());
  console.log("wrote docs/errors.md");
}
