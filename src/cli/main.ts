import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { ERROR_CODES, MtlsError } from "../errors/index.js";
import { makeContext, paint, printJson, type CliContext, type GlobalOptions } from "./context.js";
import { COMMANDS, type CommandModule } from "./registry.js";
import { describeRecovery, onRecovery } from "../store/journal.js";

/** Exit codes of docs/architecture.md. */
export const EXIT = { ok: 0, failed: 1, usage: 2, internal: 3 } as const;

/** The version of the installed package (package.json two folders up, from src/cli and from dist/cli). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

function rootProgram(): Command {
  const program = new Command("mtlskit")
    .version(packageVersion(), "-V, --version", "print the version of mtlskit")
    .description("Mutual TLS with the Thales payment platform (D1 eCom, Merchant Tokenization), done right the first time.")
    .option("--json", "print one JSON document on stdout, nothing else")
    .option("--dir <dir>", "workspace folder (default: $MTLSKIT_HOME or ./.mtlskit)")
    .option("--no-color", "no colours in the output")
    .option("--quiet", "print only what was asked for")
    .addOption(new Option("--debug", "print stack traces of internal errors").hideHelp(false))
    .exitOverride()
    .configureOutput({ outputError: () => undefined });
  program.addHelpText("after", "\nExample:\n  mtlskit key create --type ecdsa-p256 --out client.key\n  mtlskit csr create --program d1 --env preprod --id 123456 --subject \"/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments\" --type ecdsa-p256 --key-out client.key --out client.csr");
  return program;
}

function findCommand(argv: string[]): (typeof COMMANDS)[number] | undefined {
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--dir") {
      i++;
      continue;
    }
    if (a.startsWith("-")) continue;
    words.push(a);
    if (words.length === 3) break;
  }
  const matches = COMMANDS.filter((c) => c.path.length <= words.length && c.path.every((w, i) => words[i] === w));
  return matches.sort((a, b) => b.path.length - a.path.length)[0];
}

function groupFor(program: Command, path: readonly string[]): Command {
  let parent = program;
  for (const [depth, word] of path.slice(0, -1).entries()) {
    const existing = parent.commands.find((c) => c.name() === word);
    const under = COMMANDS.filter((c) => c.path.length > depth + 1 && c.path.slice(0, depth + 1).every((w, i) => w === path[i]));
    const group = (under.find((c) => c.path.length === depth + 2) ?? under[0])?.group ?? "";
    parent = existing ?? parent.command(word).description(group);
    parent.exitOverride().configureOutput({ outputError: () => undefined });
  }
  return parent;
}

/** Defines a loaded command on the program; its action renders and sets the exit code. */
function install(program: Command, path: readonly string[], mod: CommandModule, state: { exit: number; ctx?: CliContext }): void {
  const parent = groupFor(program, path);
  const cmd = mod.define(parent.command(path[path.length - 1]!));
  cmd.exitOverride().configureOutput({ outputError: () => undefined });
  cmd.action(async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const ctx = makeContext(command.optsWithGlobals() as GlobalOptions);
    state.ctx = ctx;
    state.exit = await mod.run(ctx, command.opts(), command.args);
  });
}

function reportError(e: unknown, ctx: CliContext, argv: string[]): number {
  if (e instanceof CommanderError) {
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return EXIT.ok;
    if (e.code === "commander.help") {
      // A command group without its command (`mtlskit csr`): commander has shown the group's
      // help on stderr; this is still a usage error.
      if (e.exitCode === 0) return EXIT.ok;
      if (ctx.json) printJson(ctx, { ok: false, error: new MtlsError("USAGE", "a command is missing after the group name").toJSON() });
      return EXIT.usage;
    }
    const message = e.message.replace(/^error: /, "");
    const err = new MtlsError("USAGE", message);
    return printError(ctx, err);
  }
  if (e instanceof MtlsError) return printError(ctx, e);
  const err = new MtlsError("INTERNAL", `internal error: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  const code = printError(ctx, err);
  if (ctx.debug || argv.includes("--debug")) ctx.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
  return code;
}

/** Prints an error as one line plus a hint (or a JSON document) and returns its exit code. */
export function printError(ctx: CliContext, err: MtlsError): number {
  if (ctx.json) {
    printJson(ctx, { ok: false, error: err.toJSON() });
  } else {
    ctx.stderr.write(`${paint(ctx, "red", "error")} [${err.code}]: ${err.message}\n`);
    ctx.stderr.write(`  hint: ${err.hint}\n`);
  }
  if (ctx.debug && err.cause) ctx.stderr.write(`${(err.cause as Error)?.stack ?? String(err.cause)}\n`);
  return ERROR_CODES[err.code].exit;
}

/**
 * Runs the CLI with the given arguments (without `node` and the script). Returns the exit
 * code; never throws.
 */
export async function runCli(argv: string[]): Promise<number> {
  const program = rootProgram();
  const state: { exit: number; ctx?: CliContext } = { exit: EXIT.ok };
  const fallbackCtx = makeContext({ json: argv.includes("--json"), debug: argv.includes("--debug"), color: !argv.includes("--no-color") });
  // A journal left by a killed command and undone now is said once, on stderr (stdout stays the one document).
  const stopRecoveryNotes = onRecovery((r) => {
    const ctx = state.ctx ?? fallbackCtx;
    ctx.stderr.write(`${paint(ctx, "yellow", "note")} ${describeRecovery(r)}\n`);
  });
  try {
    const found = findCommand(argv);
    // `mtlskit --version` needs no command: loading them all (as the top-level help does, for
    // their descriptions) tripled its start-up.
    const versionOnly = !found && argv.every((a) => a.startsWith("-")) && argv.some((a) => a === "-V" || a === "--version");
    const wanted = found ? [found] : versionOnly ? [] : COMMANDS;
    const mods = await Promise.all(wanted.map((c) => c.load()));
    wanted.forEach((c, i) => install(program, c.path, mods[i]!, state));
    await program.parseAsync(argv, { from: "user" });
    return state.exit;
  } catch (e) {
    return reportError(e, state.ctx ?? fallbackCtx, argv);
  } finally {
    stopRecoveryNotes();
  }
}
