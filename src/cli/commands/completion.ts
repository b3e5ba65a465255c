import { Command, Option } from "commander";
import { MtlsError } from "../../errors/index.js";
import { KEY_TYPES } from "../../policy/index.js";
import type { CliContext } from "../context.js";
import { COMMANDS } from "../registry.js";

export function define(cmd: Command): Command {
  return cmd
    .description("print a shell completion script (bash, zsh or fish) for mtlskit's commands and options")
    .argument("<shell>", "bash, zsh or fish")
    .addHelpText(
      "after",
      "\nExamples:\n  mtlskit completion bash > ~/.local/share/bash-completion/completions/mtlskit\n  mtlskit completion zsh > \"${fpath[1]}/_mtlskit\"\n  mtlskit completion fish > ~/.config/fish/completions/mtlskit.fish",
    );
}

/** One command as completion sees it: its words, its visible options, which take a value, their choices. */
interface CompletionEntry {
  path: readonly string[];
  description: string;
  options: Array<{ flag: string; takesValue: boolean; choices: readonly string[]; description: string }>;
}

/**
 * Options whose values are a fixed set but that check them in the library (so that a bad value
 * gets its own code, `UNKNOWN_PROGRAM`, `UNKNOWN_KEY_TYPE`... rather than commander's): the
 * values completion offers. A command's help text narrows them: only the values it names are
 * offered (`cert self-signed --type` names no rsa-4096), all of them when it names none.
 */
const FIXED_VALUES: Readonly<Record<string, readonly string[]>> = {
  "--program": ["d1", "mt", "both"],
  "--env": ["preprod", "production", "sandbox"],
  "--type": KEY_TYPES,
  "--hash": ["sha256", "sha384"],
  "--upstream-errors": ["retryable", "gateway"],
  "--log-level": ["debug", "info", "warn", "error"],
  "--engine": ["node", "nginx", "haproxy"],
};

/** The values completion offers for an option: commander's `.choices()`, else {@link FIXED_VALUES} narrowed by its help. */
export function completionChoices(o: Pick<Option, "long" | "argChoices" | "description">): readonly string[] {
  if (o.argChoices?.length) return o.argChoices;
  const all = o.long ? FIXED_VALUES[o.long] : undefined;
  if (!all) return [];
  const named = all.filter((v) => new RegExp(`(^|[^\\w-])${v.replace(/[-]/g, "\\-")}($|[^\\w-])`).test(o.description));
  const values = named.length > 0 ? named : all;
  // "both" only where the help offers it (demo, engines).
  return values.filter((v) => v !== "both" || named.includes("both"));
}

function optionsOf(cmd: Command): CompletionEntry["options"] {
  const hidden = (o: Option) => (o as Option & { hidden?: boolean }).hidden === true;
  return cmd.options
    .filter((o) => o.long && !hidden(o))
    .map((o) => ({ flag: o.long!, takesValue: o.required || o.optional, choices: completionChoices(o), description: o.description }));
}

/** Every command of the registry with its options, plus the global ones (path []). */
export async function completionEntries(): Promise<CompletionEntry[]> {
  const root = new Command("mtlskit")
    .option("--json", "print one JSON document on stdout")
    .option("--dir <dir>", "workspace folder")
    .option("--no-color", "no colours")
    .option("--quiet", "print only what was asked for")
    .option("--debug", "print stack traces of internal errors")
    .option("-V, --version", "print the version")
    .option("-h, --help", "show help");
  const entries: CompletionEntry[] = [{ path: [], description: "", options: optionsOf(root) }];
  for (const c of COMMANDS) {
    const mod = await c.load();
    const cmd = mod.define(new Command(c.path[c.path.length - 1]!));
    entries.push({ path: c.path, description: cmd.description(), options: [...optionsOf(cmd), { flag: "--help", takesValue: false, choices: [], description: "show help" }] });
  }
  return entries;
}

/** The words that may follow `path` (sub-commands), from the registry. */
function nextWords(entries: CompletionEntry[], path: readonly string[]): string[] {
  const out = new Set<string>();
  for (const e of entries) {
    if (e.path.length > path.length && path.every((w, i) => e.path[i] === w)) out.add(e.path[path.length]!);
  }
  return [...out];
}

function prefixes(entries: CompletionEntry[]): Array<readonly string[]> {
  const seen = new Map<string, readonly string[]>();
  for (const e of entries) for (let n = 0; n <= e.path.length; n++) seen.set(e.path.slice(0, n).join(" "), e.path.slice(0, n));
  return [...seen.values()];
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function bashScript(entries: CompletionEntry[]): string {
  const valueFlags = [...new Set(entries.flatMap((e) => e.options.filter((o) => o.takesValue).map((o) => o.flag)))].sort();
  const globals = entries.find((e) => e.path.length === 0)!.options.map((o) => o.flag);
  const lines: string[] = [];
  lines.push("# bash completion for mtlskit (mtlskit completion bash)");
  lines.push("_mtlskit() {");
  lines.push('  local cur="${COMP_WORDS[COMP_CWORD]}" prev="" path="" i w');
  lines.push('  (( COMP_CWORD > 0 )) && prev="${COMP_WORDS[COMP_CWORD-1]}"');
  lines.push("  for (( i = 1; i < COMP_CWORD; i++ )); do");
  lines.push('    w="${COMP_WORDS[i]}"');
  lines.push("    case \"$w\" in");
  lines.push(`      ${valueFlags.join("|")}) (( i++ )) ;;`);
  lines.push("      -*) ;;");
  lines.push('      *) path="${path:+$path }$w" ;;');
  lines.push("    esac");
  lines.push("  done");
  lines.push('  local words=""');
  lines.push('  case "$path|$prev" in');
  for (const e of entries) {
    for (const o of e.options) if (o.choices.length) lines.push(`    ${shq(`${e.path.join(" ")}|${o.flag}`)}) words=${shq(o.choices.join(" "))} ;;`);
  }
  lines.push(`    *"|--dir") COMPREPLY=( $(compgen -d -- "$cur") ); return 0 ;;`);
  lines.push(`    *"|"${valueFlags.map((f) => f).join(`|*"|"`)}) COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;`);
  lines.push("    *)");
  lines.push('      case "$path" in');
  for (const p of prefixes(entries)) {
    const entry = entries.find((e) => e.path.join(" ") === p.join(" "));
    const words = [...nextWords(entries, p), ...(entry?.options.map((o) => o.flag) ?? []), ...(p.length ? globals : [])];
    lines.push(`        ${shq(p.join(" "))}) words=${shq([...new Set(words)].join(" "))} ;;`);
  }
  lines.push("      esac ;;");
  lines.push("  esac");
  lines.push('  COMPREPLY=( $(compgen -W "$words" -- "$cur") )');
  lines.push("}");
  lines.push("complete -o default -F _mtlskit mtlskit");
  return `${lines.join("\n")}\n`;
}

export function zshScript(entries: CompletionEntry[]): string {
  return `#compdef mtlskit\n# zsh completion for mtlskit (mtlskit completion zsh): the bash completion through bashcompinit\nautoload -U +X bashcompinit && bashcompinit\n${bashScript(entries).split("\n").slice(1).join("\n")}`;
}

export function fishScript(entries: CompletionEntry[]): string {
  const q = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  const lines = ["# fish completion for mtlskit (mtlskit completion fish)", "complete -c mtlskit -f"];
  const seen = (p: readonly string[]) => p.map((w) => `__fish_seen_subcommand_from ${w}`).join("; and ");
  for (const p of prefixes(entries)) {
    const cond = p.length === 0 ? "__fish_use_subcommand" : `${seen(p)}${nextWords(entries, p).length ? `; and not __fish_seen_subcommand_from ${nextWords(entries, p).join(" ")}` : ""}`;
    for (const w of nextWords(entries, p)) {
      const e = entries.find((x) => x.path.join(" ") === [...p, w].join(" "));
      lines.push(`complete -c mtlskit -n ${q(cond)} -a ${q(w)}${e?.description ? ` -d ${q(e.description.slice(0, 80))}` : ""}`);
    }
  }
  for (const e of entries) {
    const cond = e.path.length ? seen(e.path) : "";
    for (const o of e.options) {
      if (o.flag === "--help" && e.path.length) continue;
      const parts = ["complete -c mtlskit"];
      if (cond) parts.push(`-n ${q(cond)}`);
      parts.push(`-l ${o.flag.slice(2)}`);
      if (o.takesValue) parts.push(o.choices.length ? `-x -a ${q(o.choices.join(" "))}` : o.flag === "--dir" ? "-r -a '(__fish_complete_directories)'" : "-r -F");
      if (o.description) parts.push(`-d ${q(o.description.slice(0, 80))}`);
      lines.push(parts.join(" "));
    }
  }
  return `${lines.join("\n")}\n`;
}

export async function run(ctx: CliContext, _o: object, args: string[]): Promise<number> {
  const shell = args[0] ?? "";
  const make = { bash: bashScript, zsh: zshScript, fish: fishScript }[shell];
  if (!make) throw new MtlsError("USAGE", `completion: the shell must be bash, zsh or fish, not '${shell}'`);
  ctx.stdout.write(make(await completionEntries()));
  return 0;
}
