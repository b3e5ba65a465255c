/**
 * How `mtlskit demo` shows its run: one line per step (a tick or a cross, the time in ms and
 * what was seen), rewritten in place on a terminal while the step runs; then a summary table.
 * With --json, one document instead.
 */
import { paint, say, type CliContext } from "../context.js";
import type { DemoReporter, DemoResult, DemoStepResult } from "./runner.js";
import { formatFingerprint } from "../../pki/index.js";
import { type ProgramSummary } from "./session.js";

const MAX_NAME = 58;

/** The progress display: plain lines when stdout is not a terminal, a live line on one. */
export function createTextReporter(ctx: CliContext): DemoReporter {
  const live = !!ctx.stdout.isTTY && !ctx.quiet && !ctx.json;
  let width = 30;
  let pending = false;
  const line = (r: DemoStepResult): string => {
    const name = r.name.length > width ? `${r.name.slice(0, width - 1)}…` : r.name.padEnd(width);
    if (r.status === "skip") return `${paint(ctx, "dim", "-")} ${paint(ctx, "dim", name)}  ${paint(ctx, "dim", "skipped")}`;
    const mark = r.status === "pass" ? paint(ctx, "green", "✓") : paint(ctx, "red", "✗");
    const ms = `${r.ms} ms`.padStart(8);
    return `${mark} ${r.status === "fail" ? paint(ctx, "red", name) : name}  ${paint(ctx, "dim", ms)}  ${r.status === "fail" ? "" : r.detail}`.trimEnd();
  };
  return {
    plan(steps, folder) {
      width = Math.min(MAX_NAME, Math.max(...steps.map((s) => s.name.length)));
      say(ctx, `${paint(ctx, "bold", "mtlskit demo")}: the whole job against the embedded Thales emulator, in ${folder}\n`);
    },
    start(step) {
      if (!live) return;
      const name = step.name.length > width ? `${step.name.slice(0, width - 1)}…` : step.name;
      ctx.stdout.write(`${paint(ctx, "dim", "…")} ${name}`);
      pending = true;
    },
    end(r) {
      const show = !ctx.json && (!ctx.quiet || r.status === "fail");
      if (live && pending) ctx.stdout.write("\r\u001b[2K");
      pending = false;
      if (!show) return;
      say(ctx, line(r), true);
      if (r.status === "fail" && r.error) {
        say(ctx, `    ${paint(ctx, "red", "error")} [${r.error.code}]: ${r.error.message}`, true);
        say(ctx, `    hint: ${r.error.hint}`, true);
      }
    },
  };
}

type Row = [string, (p: ProgramSummary) => string | undefined];

const ROWS: Row[] = [
  ["profile", (p) => `${p.profile} (${p.customerId})`],
  ["client certificate", (p) => (p.clientCertificate ? `CN=${p.clientCertificate.commonName}` : undefined)],
  ["check", (p) => (p.check ? `${p.check.passed}/${p.check.steps} green` : undefined)],
  ["token", (p) => (p.token ? `${p.token.tokenType}, ${p.token.expiresIn} s` : p.program === "mt" ? "none (mTLS only)" : undefined)],
  ["Thales saw (echo)", (p) => (p.echo ? `SHA-256 ${formatFingerprint(p.echo.sha256, "short")}` : undefined)],
  ["notifications", (p) => (p.notifications ? `${p.notifications.sent} sent, ${p.notifications.delivered} delivered, ${p.notifications.refused} refused` : undefined)],
  ["Thales client certs", (p) => (p.notifications ? `${p.notifications.thalesCertificates} (rotated midway)` : undefined)],
  ["calls during renewal", (p) => (p.renewal ? `${p.renewal.calls}, ${p.renewal.failed} failed` : undefined)],
  ["renewed certificate", (p) => (p.renewal ? `SHA-256 ${formatFingerprint(p.renewal.newSha256, "short")}` : undefined)],
];

/** The summary table, the verdict, and where to look when the folder was kept. */
export function renderSummary(ctx: CliContext, r: DemoResult): void {
  const programs = r.summary;
  const head = ["", ...programs.map((p) => p.label)];
  const rows = ROWS.map(([label, f]) => [label, ...programs.map((p) => f(p) ?? "-")]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (cells: string[]) => `  ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("   ")}`.trimEnd();
  say(ctx, "", true);
  say(ctx, paint(ctx, "bold", fmt(head)), true);
  for (const row of rows) say(ctx, fmt(row), true);
  say(ctx, "", true);
  const seconds = (r.ms / 1000).toFixed(1);
  const passed = r.steps.filter((s) => s.status === "pass").length;
  if (r.ok) say(ctx, `${paint(ctx, "green", "all green")}: ${passed} steps in ${seconds} s`, true);
  else if (r.failed) say(ctx, `${paint(ctx, "red", "failed")} at '${r.failed.name}' after ${seconds} s (exit 1)`, true);
  else say(ctx, `${paint(ctx, "red", "interrupted")} after ${seconds} s (exit 1)`, true);
  if (r.kept) {
    const ws = r.workspace;
    say(ctx, `\nkept in ${r.folder} (workspace, emulator state, what went to and came from Thales). Look at it:`, true);
    say(ctx, `  mtlskit --dir ${ws} status`, true);
    for (const p of programs) say(ctx, `  mtlskit --dir ${ws} profile show ${p.profile}`, true);
    say(ctx, `  mtlskit emulate --dir ${r.emulatorDir}   # the same Thales side again (new ports: import its assets to follow)`, true);
  } else {
    say(ctx, "the temporary folder is gone; keep everything with: mtlskit demo --keep DIR", true);
  }
}

/** The one document of --json. */
export function demoJson(r: DemoResult): Record<string, unknown> {
  return {
    ok: r.ok,
    ms: r.ms,
    programs: r.programs,
    steps: r.steps.map((s) => ({ id: s.id, name: s.name, status: s.status, ms: s.ms, detail: s.detail, ...(s.error ? { error: s.error } : {}) })),
    summary: { programs: r.summary, ms: r.ms },
    folder: r.folder,
    kept: r.kept,
    ...(r.kept ? { workspace: r.workspace, emulatorDir: r.emulatorDir } : {}),
    ...(r.failed?.error ? { error: r.failed.error } : {}),
  };
}
