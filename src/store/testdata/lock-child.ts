/**
 * A second mtlskit process for the lock tests (run with `node --import tsx`):
 * `hold DIR MS` takes the workspace lock, prints `held`, keeps it MS milliseconds;
 * `add DIR PREFIX N` prints `ready`, waits for DIR/go, then adds N profiles one after the other,
 * waiting for the lock as needed.
 */
import { existsSync } from "node:fs";
import { withWorkspaceLock } from "../lock.js";
import { addProfile } from "../profiles.js";

const [mode, dir, arg, count] = process.argv.slice(2);
if (mode === "hold") {
  await withWorkspaceLock(dir!, async () => {
    process.stdout.write("held\n");
    await new Promise((r) => setTimeout(r, Number(arg)));
  });
} else if (mode === "add") {
  // Start together: wait for the test to create DIR/go once every child is ready.
  process.stdout.write("ready\n");
  while (!existsSync(`${dir}/go`)) await new Promise((r) => setTimeout(r, 2));
  for (let i = 0; i < Number(count); i++) {
    await addProfile(dir!, `${arg}-${i}`, { program: "mt", environment: "sandbox", customerId: `${arg}-${i}`, waitMs: 60_000 });
  }
}
