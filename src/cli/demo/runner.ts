/**
 * The runner of `mtlskit demo`: builds the list of steps for the programs asked for, runs them
 * in order (after a failure the rest are skipped), and always stops everything it started and
 * removes its temporary folder (unless --keep).
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { MtlsError, type ErrorCode } from "../../errors/index.js";
import { startEmulator } from "../../emulator/index.js";
import { d1Driver, tokenStep } from "./d1.js";
import { mtDriver } from "./mt.js";
import { DemoSession, demoFolders, startSampleUpstream, type DemoFaults, type DemoProgram, type ProgramSummary } from "./session.js";
import { callStep, checkStep, notifyStep, renewStep, serveStep, type DemoStep, type ProgramDriver } from "./steps.js";

/** The outcome of one step. */
export interface DemoStepResult {
  id: string;
  name: string;
  status: "pass" | "fail" | "skip";
  ms: number;
  detail: string;
  error?: { code: ErrorCode; message: string; hint: string };
}

/** Follows the run (the progress display). */
export interface DemoReporter {
  /** Before the first step: every step, and the demo's folder. */
  plan?(steps: ReadonlyArray<{ id: string; name: string }>, folder: string): void;
  start?(step: { id: string; name: string }): void;
  end?(result: DemoStepResult): void;
}

/** Options of {@link runDemo}. */
export interface RunDemoOptions {
  /** Default both. */
  programs?: readonly DemoProgram[];
  /** Put everything in this folder (new or empty) and leave it there. */
  keep?: string;
  /** Where the temporary folder goes without `keep`. Default `os.tmpdir()`. */
  tmpRoot?: string;
  reporter?: DemoReporter;
  /** Aborting skips the steps not started yet (everything is still stopped). */
  signal?: AbortSignal;
  /** Test hooks. */
  faults?: DemoFaults;
}

/** What a run did. */
export interface DemoResult {
  ok: boolean;
  ms: number;
  programs: DemoProgram[];
  steps: DemoStepResult[];
  summary: ProgramSummary[];
  /** The demo's folder (removed unless kept). */
  folder: string;
  kept: boolean;
  workspace: string;
  emulatorDir: string;
  /** The step that failed, if one did. */
  failed: DemoStepResult | undefined;
}

/**
 * Checks and creates the --keep folder: it must be new or empty (`FILE_EXISTS` otherwise,
 * before anything is written).
 */
export async function prepareKeepFolder(keep: string): Promise<string> {
  const dir = path.resolve(keep);
  let st: import("node:fs").Stats | undefined;
  try {
    st = await fs.stat(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new MtlsError("FILE_UNREADABLE", `--keep ${keep}: ${(e as Error).message}`, { cause: e, subject: keep });
  }
  const hint = "Give --keep a new or empty folder: the demo puts a workspace and the emulator's state there, never among other files.";
  if (st && !st.isDirectory()) throw new MtlsError("FILE_EXISTS", `--keep ${keep}: exists and is not a folder`, { subject: keep, hint });
  if (st && (await fs.readdir(dir)).length > 0) throw new MtlsError("FILE_EXISTS", `--keep ${keep}: the folder exists and is not empty`, { subject: keep, hint });
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new MtlsError("WRITE_FAILED", `--keep ${keep}: cannot create the folder: ${(e as Error).message}`, { cause: e, subject: keep });
  }
  return dir;
}

function errorOf(e: unknown): NonNullable<DemoStepResult["error"]> {
  if (e instanceof MtlsError) return { code: e.code, message: e.message, hint: e.hint };
  const err = new MtlsError("INTERNAL", `internal error: ${(e as Error)?.message ?? String(e)}`);
  return { code: err.code, message: err.message, hint: err.hint };
}

const LABELS: Record<DemoProgram, string> = { d1: "D1 eCom", mt: "MT" };

/** The steps of a run, in order. */
function plan(s: DemoSession, drivers: ProgramDriver[], programs: readonly DemoProgram[]): DemoStep[] {
  const steps: DemoStep[] = [
    {
      id: "emulator",
      name: `start the emulator (${programs.map((p) => LABELS[p]).join(", ")})`,
      async run() {
        const emu = await startEmulator({
          dir: s.folders.emulator,
          host: "127.0.0.1",
          programs,
          // Quick retries: a refused notification shows within a second or two.
          notifierBackoff: { initialMs: 50, factor: 2, maxMs: 400, jitter: 0.2, maxAttempts: 6 },
          notifierTimeoutMs: 5_000,
        });
        s.emulator = emu;
        s.onStop("emulator", () => emu.close());
        return `portal ${emu.portalUrl}, DNS ${emu.dnsServer}, ${emu.environments.length} mTLS listeners on loopback`;
      },
    },
  ];
  for (const d of drivers) steps.push(...d.onboarding(s));
  for (const d of drivers) steps.push(checkStep(d, s));
  for (const d of drivers) {
    if (d.id === "d1") steps.push(tokenStep(d, s));
    steps.push(callStep(d, s));
  }
  steps.push({
    id: "upstream",
    name: "start the sample application (plain HTTP)",
    async run() {
      const up = await startSampleUpstream(s.apiKey);
      s.upstream = up;
      s.onStop("sample application", () => up.stop());
      return `${up.url}, records what it receives`;
    },
  });
  for (const d of drivers) steps.push(serveStep(d, s));
  for (const d of drivers) steps.push(notifyStep(d, s));
  for (const d of drivers) steps.push(renewStep(d, s));
  return steps;
}

/**
 * Runs the demo: a fresh workspace, the embedded emulator, D1 and/or MT from nothing to
 * working mutual TLS in both directions, a rotation of Thales's certificate and a renewal of
 * the customer's, then stops everything. Throws only for a bad `keep` folder (before anything
 * starts); a failing step is reported in the result.
 */
export async function runDemo(options: RunDemoOptions = {}): Promise<DemoResult> {
  const programs: DemoProgram[] = options.programs?.length ? [...new Set(options.programs)] : ["d1", "mt"];
  const kept = options.keep !== undefined;
  const root = kept ? await prepareKeepFolder(options.keep!) : await fs.mkdtemp(path.join(options.tmpRoot ?? os.tmpdir(), "mtlskit-demo-"));
  const t0 = performance.now();
  const s = new DemoSession(demoFolders(root), options.faults ?? {});
  const drivers = programs.map((p) => (p === "d1" ? d1Driver() : mtDriver()));
  for (const d of drivers) s.summaries.set(d.id, { program: d.id, label: d.label, environment: d.environment, profile: d.profile, customerId: d.customerId });
  const reporter = options.reporter ?? {};
  const steps = plan(s, drivers, programs);
  const stopStep = { id: "stop", name: "stop everything" };
  reporter.plan?.([...steps, stopStep], root);

  const results: DemoStepResult[] = [];
  let failed: DemoStepResult | undefined;
  try {
    for (const step of steps) {
      if (failed || options.signal?.aborted) {
        const r: DemoStepResult = { id: step.id, name: step.name, status: "skip", ms: 0, detail: failed ? `skipped: '${failed.name}' failed` : "skipped: interrupted" };
        results.push(r);
        reporter.end?.(r);
        continue;
      }
      reporter.start?.(step);
      const t = performance.now();
      let r: DemoStepResult;
      try {
        const detail = await step.run();
        r = { id: step.id, name: step.name, status: "pass", ms: Math.round(performance.now() - t), detail };
      } catch (e) {
        const error = errorOf(e);
        r = { id: step.id, name: step.name, status: "fail", ms: Math.round(performance.now() - t), detail: error.message, error };
        failed = r;
      }
      results.push(r);
      reporter.end?.(r);
    }
  } finally {
    reporter.start?.(stopStep);
    const t = performance.now();
    const { stopped, errors } = await s.stopAll();
    let removed = "";
    if (!kept) {
      try {
        await fs.rm(root, { recursive: true, force: true, maxRetries: 3 });
        removed = "; temporary folder removed";
      } catch (e) {
        errors.push(`removing ${root}: ${(e as Error).message}`);
      }
    } else {
      removed = `; everything kept in ${root}`;
    }
    const r: DemoStepResult =
      errors.length === 0
        ? { id: stopStep.id, name: stopStep.name, status: "pass", ms: Math.round(performance.now() - t), detail: `${stopped.length ? stopped.join(", ") : "nothing was running"}${removed}` }
        : { id: stopStep.id, name: stopStep.name, status: "fail", ms: Math.round(performance.now() - t), detail: errors.join("; "), error: { code: "DEMO_STEP_FAILED", message: `could not stop everything: ${errors.join("; ")}`, hint: "Stop the leftover process by its id and remove the folder by hand." } };
    results.push(r);
    reporter.end?.(r);
    if (r.status === "fail") failed ??= r;
  }
  const interrupted = !failed && options.signal?.aborted === true;
  return {
    ok: !failed && !interrupted,
    ms: Math.round(performance.now() - t0),
    programs,
    steps: results,
    summary: drivers.map((d) => s.summary(d.id)),
    folder: root,
    kept,
    workspace: s.folders.workspace,
    emulatorDir: s.folders.emulator,
    failed,
  };
}
