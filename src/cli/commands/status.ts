import type { Command } from "commander";
import { Option } from "commander";
import { MtlsError } from "../../errors/index.js";
import { dayCount } from "../../pki/index.js";
import { openWorkspace, recoveriesSoFar, type ProfileStatus, type StatusRequirement } from "../../store/index.js";
import { paint, printJson, say, type CliContext } from "../context.js";
import { pkcs11OptionsFrom, TOKEN_OPTION_HELP, type TokenOptions } from "./key-source.js";

export function define(cmd: Command): Command {
  return cmd
    .description("every profile, each certificate with its days left, what is wrong and what is missing before going live")
    .option("--profile <name>", "only this profile")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .addOption(
      new Option("--require <sides>", "what each profile must have ready: started (outbound, and inbound once a server certificate or ISSUER_HOST is set), outbound, all")
        .choices(["started", "outbound", "all"])
        .default("started"),
    )
    .addHelpText(
      "after",
      "\nExit status: 0 all fine; 1 something expired, due within 30 days, not yet valid or mismatched, a key file readable by group or others, a side the profile needs not ready (no key, no certificate, no Thales trust...), or no profile at all, each reason printed (for cron and monitoring); 2 bad input, or no workspace at --dir (a folder that does not exist, a file, a folder without mtlskit.yaml).\n" +
        "\nExamples:\n  mtlskit status\n  mtlskit status --json --dir /etc/mtlskit",
    );
}

const STATE_STYLE = { ok: "green", due: "yellow", expired: "red", "not-yet-valid": "red" } as const;
const SEVERITY_STYLE = { error: "red", warning: "yellow", info: "blue" } as const;

/** Renders one profile's status as text (also used by `profile show`). */
export function renderProfileStatus(ctx: CliContext, s: ProfileStatus, header = true): void {
  if (header) {
    const verdict = s.ok ? paint(ctx, "green", "ok") : paint(ctx, "red", "attention");
    say(ctx, `${paint(ctx, "bold", s.name)}  ${s.program} ${s.environment}  id ${s.customerId}  ${verdict}`, true);
  }
  if (s.certificates.length) {
    say(ctx, "  certificates:", true);
    for (const c of s.certificates) {
      const days = c.daysLeft < 0 ? `expired ${dayCount(-c.daysLeft)} ago` : `${dayCount(c.daysLeft)} left`;
      say(ctx, `    ${c.role.padEnd(20)} ${c.subject}  until ${c.notAfter.slice(0, 10)} (${days})  ${paint(ctx, STATE_STYLE[c.state], c.state)}`, true);
    }
  }
  if (s.keyInToken) say(ctx, `  client key: ${s.keyInToken}`, true);
  for (const p of s.problems) {
    say(ctx, `  ${paint(ctx, SEVERITY_STYLE[p.severity], p.severity)} [${p.code}] ${p.message}`, true);
    say(ctx, `    hint: ${p.hint}`, true);
  }
  if (s.pending) say(ctx, `  renewal waiting: ${s.pending.csrFile ?? s.pending.certificateFile ?? s.pending.keyFile}`, true);
  if (s.missing.length) {
    say(ctx, "  missing before going live:", true);
    for (const m of s.missing) say(ctx, `    - ${m.item} (${m.side}): ${m.hint}`, true);
  }
  say(ctx, `  ready: outbound ${s.ready.outbound ? "yes" : "no"}, inbound ${s.ready.inbound ? "yes" : "no"}`, true);
}

/** The options of `status`, as {@link define} declares them (commander checks `--require`'s choices). */
export interface StatusOptions extends TokenOptions {
  profile?: string;
  require: StatusRequirement;
}

export async function run(ctx: CliContext, o: StatusOptions): Promise<number> {
  const require = o.require;
  if (!["started", "outbound", "all"].includes(require)) throw new MtlsError("USAGE", `--require must be started, outbound or all, not '${require}'`);
  const s = await openWorkspace(ctx.dir).status({ require, pkcs11: pkcs11OptionsFrom(o), ...(o.profile !== undefined ? { profile: o.profile } : {}) });
  if (ctx.json) {
    // A change interrupted by a kill and undone while reading (also said on stderr).
    const recovered = recoveriesSoFar().map(({ command, startedAt, undoneAt }) => ({ command: command ?? null, startedAt: startedAt ?? null, undoneAt }));
    printJson(ctx, recovered.length > 0 ? { ...s, recovered } : s);
    return s.ok ? 0 : 1;
  }
  if (s.profiles.length === 0) {
    say(ctx, `no profiles in ${s.workspace} (exit 1); add one: mtlskit profile add NAME --program d1 --env preprod --id <merchantGatewayId>`, true);
    return 1;
  }
  s.profiles.forEach((p, i) => {
    if (i > 0) say(ctx, "", true);
    renderProfileStatus(ctx, p);
  });
  say(ctx, `\n${s.summary.profiles} profile(s): ${s.summary.errors} error(s), ${s.summary.warnings} warning(s)${s.ok ? "" : " (exit 1)"}`, true);
  if (!s.ok) {
    say(ctx, "not ok because:", true);
    for (const r of s.reasons) say(ctx, `  - ${r}`, true);
  }
  return s.ok ? 0 : 1;
}
