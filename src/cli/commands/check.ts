import type { Command } from "commander";
import { checkProfile, type DoctorReport } from "../../client/index.js";
import { MtlsError } from "../../errors/index.js";
import { parseRenewalWindow } from "../../pki/index.js";
import { paint, positiveInt, printJson, say, type CliContext } from "../context.js";
import { pkcs11OptionsFrom, TOKEN_OPTION_HELP, type TokenOptions } from "./key-source.js";

export function define(cmd: Command): Command {
  return cmd
    .description("the connectivity doctor: check a profile's path to Thales step by step, with a named diagnosis and its fix for each failure")
    .requiredOption("--profile <name>", "the profile to check")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .option("--within <window>", "the certificate step fails when renewal is due this long before expiry: days (30d) or a share (20%); default 30d")
    .option("--timeout <ms>", "time limit of each network step, in milliseconds (default 10000)")
    .option("--path <path>", "path of the HTTP step (default: the program's base path)")
    .addHelpText(
      "after",
      "\nSteps: configuration complete; client certificate valid and not due; DNS resolves (addresses, TTL); TCP connects;" +
        "\nTLS handshake (version, cipher, chain as presented, the program's trust rule, host name); client certificate accepted;" +
        "\nHTTP reaches the base path; (D1) OAuth 2.0 token obtained." +
        "\n\nExit codes: 0 all green, 1 a step failed, 2 bad input." +
        "\n\nExamples:\n  mtlskit check --profile mt-sandbox\n  mtlskit check --profile d1-pp --json --timeout 5000",
    );
}

const MARK = { pass: ["green", "PASS"], fail: ["red", "FAIL"], skip: ["dim", "SKIP"] } as const;

/** Renders a doctor report as text. */
export function renderReport(ctx: CliContext, r: DoctorReport): void {
  say(ctx, `${paint(ctx, "bold", `check ${r.profile}`)}: ${r.program} ${r.environment}, ${r.target.origin}${r.target.basePath}`, true);
  const width = Math.max(...r.steps.map((s) => s.title.length));
  for (const s of r.steps) {
    const [style, word] = MARK[s.status];
    const ms = s.status === "skip" ? "" : `${s.ms.toFixed(1)} ms`;
    say(ctx, `  ${paint(ctx, style, word)}  ${s.title.padEnd(width)}  ${ms.padStart(9)}  ${s.summary}`, true);
    if (s.diagnosis) {
      say(ctx, `        ${paint(ctx, "red", "diagnosis")} [${s.diagnosis.code}] ${s.diagnosis.name}`, true);
      say(ctx, `        fix: ${s.diagnosis.fix}`, true);
    }
  }
  const failed = r.steps.filter((s) => s.status === "fail").length;
  say(ctx, r.ok ? paint(ctx, "green", `all green (${r.ms.toFixed(0)} ms)`) : paint(ctx, "red", `${failed} step(s) failed (exit 1)`), true);
}

/** The options of `check`, as {@link define} declares them. */
export interface CheckOptions extends TokenOptions {
  profile: string;
  within?: string;
  timeout?: string;
  path?: string;
}

export async function run(ctx: CliContext, o: CheckOptions): Promise<number> {
  const name = o.profile;
  if (!name) throw new MtlsError("USAGE", "--profile is required");
  const report = await checkProfile(ctx.dir, name, {
    ...(o.within !== undefined ? { renewalWindow: parseRenewalWindow(o.within) } : {}),
    ...(o.timeout !== undefined ? { timeoutMs: positiveInt("--timeout", o.timeout) } : {}),
    ...(o.path !== undefined ? { path: o.path } : {}),
    pkcs11: pkcs11OptionsFrom(o),
  });
  if (ctx.json) printJson(ctx, report);
  else renderReport(ctx, report);
  return report.ok ? 0 : 1;
}
