import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startReloadTriggers, type ReloadTrigger, type ReloadTriggers } from "./reloader.js";
import { waitFor } from "../../test/support/server-fixtures.js";

let triggers: ReloadTriggers | undefined;
const dirs: string[] = [];
afterEach(async () => {
  triggers?.stop();
  triggers = undefined;
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-reloader-"));
  dirs.push(d);
  return d;
}

describe("reload triggers", () => {
  it("reloads when Kubernetes swaps the ..data symlink of the watched folder", async () => {
    const dir = await tmp();
    await fs.mkdir(path.join(dir, "..2024_01"));
    await fs.writeFile(path.join(dir, "..2024_01", "tls.crt"), "one");
    await fs.symlink("..2024_01", path.join(dir, "..data"));
    await fs.symlink(path.join("..data", "tls.crt"), path.join(dir, "tls.crt"));
    const seen: ReloadTrigger[] = [];
    triggers = startReloadTriggers({ files: [path.join(dir, "tls.crt")], debounceMs: 20, reload: async (t) => void seen.push(t) });
    expect(triggers.watched).toEqual([dir]);
    // What the kubelet does: a new timestamped folder, a new symlink, renamed over ..data.
    await fs.mkdir(path.join(dir, "..2024_02"));
    await fs.writeFile(path.join(dir, "..2024_02", "tls.crt"), "two");
    await fs.symlink("..2024_02", path.join(dir, "..data_tmp"));
    await fs.rename(path.join(dir, "..data_tmp"), path.join(dir, "..data"));
    await waitFor(() => seen.length > 0, 3000, "a reload after the swap");
    expect(seen[0]).toBe("watch");
    expect(await fs.readFile(path.join(dir, "tls.crt"), "utf8")).toBe("two");
  });

  it("debounces a burst of changes into one reload, and runs again when a change comes during a reload", async () => {
    const dir = await tmp();
    let runs = 0;
    let release: (() => void) | undefined;
    triggers = startReloadTriggers({
      files: [path.join(dir, "a.pem")],
      debounceMs: 50,
      reload: async () => {
        runs++;
        if (runs === 1) await new Promise<void>((r) => (release = r));
      },
    });
    for (let i = 0; i < 5; i++) await fs.writeFile(path.join(dir, "a.pem"), String(i));
    await waitFor(() => runs === 1, 3000, "the first reload");
    const during = triggers.run("api");
    const alsoDuring = triggers.run("signal");
    release!();
    await Promise.all([during, alsoDuring]);
    expect(runs).toBe(2);
  });

  it("reloads on the timer and on the signal", async () => {
    const dir = await tmp();
    const seen: ReloadTrigger[] = [];
    triggers = startReloadTriggers({ files: [path.join(dir, "a.pem")], watch: false, intervalMs: 30, signal: "SIGUSR2", reload: async (t) => void seen.push(t) });
    await waitFor(() => seen.includes("timer"), 3000, "a timer reload");
    process.emit("SIGUSR2");
    await waitFor(() => seen.includes("signal"), 3000, "a signal reload");
    triggers.stop();
    const n = seen.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.length).toBe(n);
  });
});
