/**
 * Test-only network helpers: a free port (the product's own, `src/engines/free-port.ts`) and
 * the soft limit of open files, which bounds how many sockets a flood test may open.
 */
import { execFileSync } from "node:child_process";

export { freePort } from "../../src/engines/free-port.js";

/** The soft limit of open files of this process (children inherit it); 1024 when it cannot be read. */
export function openFileLimit(): number {
  try {
    const out = execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim();
    return out === "unlimited" ? Number.POSITIVE_INFINITY : Number(out);
  } catch {
    return 1024;
  }
}
