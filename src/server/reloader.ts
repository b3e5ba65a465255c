/**
 * The triggers of a reload: a signal, a timer and a change in a watched folder all call the
 * same function. Folders are watched, not files: Kubernetes (and most tools that write
 * atomically) replace a file by renaming another one, or swap a `..data` symlink, and a watch on
 * the old file would see nothing.
 */
import { watch, type FSWatcher } from "node:fs";
import * as path from "node:path";

/** What started a reload. */
export type ReloadTrigger = "start" | "signal" | "timer" | "watch" | "api";

/** Options of {@link startReloadTriggers}. */
export interface ReloadTriggerOptions {
  /** Files whose folders are watched. */
  files: readonly string[];
  /** Watch the folders. Default true. */
  watch?: boolean;
  /** Quiet time after the last change before reloading, ms. Default 250. */
  debounceMs?: number;
  /** Reload every this many ms (0: never). Default 0. */
  intervalMs?: number;
  /** Reload on this signal (false: none). Default false; `mtlskit serve` uses SIGHUP. */
  signal?: NodeJS.Signals | false;
  /** The one reload; runs at most once at a time (a trigger during a run runs it again after). */
  reload: (trigger: ReloadTrigger) => Promise<unknown>;
  /** Told when a folder cannot be watched. */
  onWatchError?: (dir: string, error: Error) => void;
}

/** Running triggers; `stop()` removes them all. */
export interface ReloadTriggers {
  /** Runs the reload now (after one in progress, if any). */
  run(trigger: ReloadTrigger): Promise<void>;
  /** The folders watched. */
  readonly watched: readonly string[];
  stop(): void;
}

/** Starts the triggers of a reload. */
export function startReloadTriggers(options: ReloadTriggerOptions): ReloadTriggers {
  let running: Promise<void> | undefined;
  let again: ReloadTrigger | undefined;
  let stopped = false;

  const run = (trigger: ReloadTrigger): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (running) {
      // A change seen while reading the files may have come after they were read: read again.
      again = trigger;
      return running;
    }
    running = (async () => {
      try {
        let next: ReloadTrigger | undefined = trigger;
        while (next && !stopped) {
          again = undefined;
          await options.reload(next).catch(() => undefined);
          next = again;
        }
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  const watchers: FSWatcher[] = [];
  // A key in a token (`pkcs11:` URI) has no folder to watch: SIGHUP and the interval reload it.
  const onDisk = options.files.filter((f) => !/^pkcs11:/i.test(f));
  const dirs = options.watch === false ? [] : [...new Set(onDisk.map((f) => path.dirname(path.resolve(f))))];
  let debounce: NodeJS.Timeout | undefined;
  const changed = () => {
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = undefined;
      void run("watch");
    }, options.debounceMs ?? 250);
    debounce.unref?.();
  };
  for (const dir of dirs) {
    try {
      const w = watch(dir, { persistent: false }, changed);
      w.on("error", (e) => options.onWatchError?.(dir, e));
      watchers.push(w);
    } catch (e) {
      options.onWatchError?.(dir, e as Error);
    }
  }

  let timer: NodeJS.Timeout | undefined;
  if (options.intervalMs && options.intervalMs > 0) {
    timer = setInterval(() => void run("timer"), options.intervalMs);
    timer.unref?.();
  }

  const signal = options.signal;
  const onSignal = () => void run("signal");
  if (signal) process.on(signal, onSignal);

  return {
    run,
    watched: dirs,
    stop() {
      stopped = true;
      for (const w of watchers) w.close();
      if (debounce) clearTimeout(debounce);
      if (timer) clearInterval(timer);
      if (signal) process.off(signal, onSignal);
    },
  };
}
