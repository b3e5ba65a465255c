import { Option, type Command } from "commander";
import { MtlsError } from "../errors/index.js";

/** What every command gets: the global flags and where to write. */
export interface CliContext {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly color: boolean;
  readonly debug: boolean;
  /** Workspace folder (--dir, MTLSKIT_HOME, ./.mtlskit). */
  readonly dir: string;
  /** The --dir flag exactly as given (undefined when absent). */
  readonly dirFlag: string | undefined;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Global options as commander hands them over. */
export interface GlobalOptions {
  json?: boolean;
  quiet?: boolean;
  color?: boolean;
  debug?: boolean;
  dir?: string;
}

/** Builds the context from the global options and the environment. */
export function makeContext(g: GlobalOptions): CliContext {
  const color = g.color !== false && !process.env["NO_COLOR"] && !!process.stdout.isTTY && !g.json;
  return {
    json: !!g.json,
    quiet: !!g.quiet,
    color,
    debug: !!g.debug,
    dir: g.dir ?? process.env["MTLSKIT_HOME"] ?? ".mtlskit",
    dirFlag: g.dir,
    stdout: process.stdout,
    stderr: process.stderr,
  };
}

/** Writes a line of human output (not in --json mode, not with --quiet unless `always`). */
export function say(ctx: CliContext, text: string, always = false): void {
  if (ctx.json) return;
  if (ctx.quiet && !always) return;
  ctx.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** Writes a warning on stderr, in every mode (--json and --quiet too: stdout stays the one document). */
export function warn(ctx: CliContext, text: string): void {
  ctx.stderr.write(`${paint(ctx, "yellow", "warning")} ${text}\n`);
}

/** Writes the one JSON document of --json mode. */
export function printJson(ctx: CliContext, value: unknown): void {
  ctx.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

const ANSI = { red: 31, green: 32, yellow: 33, blue: 34, bold: 1, dim: 2 } as const;

/** Colours text when colour is on. */
export function paint(ctx: CliContext, style: keyof typeof ANSI, text: string): string {
  return ctx.color ? `\u001b[${ANSI[style]}m${text}\u001b[0m` : text;
}

/**
 * Runs a slow step with a spinner on stderr when it is a terminal (and not --quiet / --json);
 * silent otherwise, so that pipes and CI logs stay clean.
 */
export async function withProgress<T>(ctx: CliContext, label: string, work: Promise<T>): Promise<T> {
  if (!ctx.stderr.isTTY || ctx.quiet || ctx.json) return work;
  const frames = ["|", "/", "-", "\\"];
  let i = 0;
  const started = Date.now();
  const timer = setInterval(() => {
    const s = ((Date.now() - started) / 1000).toFixed(1);
    ctx.stderr.write(`\r${frames[i++ % frames.length]} ${label} ${s}s`);
  }, 100);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    ctx.stderr.write(`\r${" ".repeat(label.length + 12)}\r`);
  }
}

/** Parses a whole positive number option, or `USAGE`. */
export function positiveInt(name: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0) {
    throw new MtlsError("USAGE", `${name} must be a positive whole number, not '${value}'`);
  }
  return Number(value);
}

/** Prints the numbered "Next:" steps that close the output of the commands that make things. */
export function printNextSteps(ctx: CliContext, steps: readonly string[]): void {
  if (steps.length === 0) return;
  say(ctx, "\nNext:");
  steps.forEach((s, i) => say(ctx, `  ${i + 1}. ${s}`));
}

/**
 * Keeps an old spelling of an option working, hidden from help and completion: `--gateway-id`
 * for `--id`, `--key-type` for `--type`. Its value lands on the canonical option; both at once
 * with different values is a usage error.
 */
export function hiddenAlias(cmd: Command, flags: string, canonical: { key: string; flag: string }): Command {
  const alias = new Option(flags, `old spelling of ${canonical.flag}`).hideHelp();
  cmd.addOption(alias);
  cmd.hook("preAction", (c) => {
    const v = c.getOptionValue(alias.attributeName()) as unknown;
    if (v === undefined) return;
    const current = c.getOptionValue(canonical.key) as unknown;
    if (current !== undefined && current !== v) throw new MtlsError("USAGE", `${alias.long} is the old spelling of ${canonical.flag}: give one of them, not two different values`);
    c.setOptionValue(canonical.key, v);
    c.setOptionValue(alias.attributeName(), undefined);
  });
  return cmd;
}
