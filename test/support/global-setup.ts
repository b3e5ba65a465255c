import { execFileSync } from "node:child_process";

/** Builds dist/ once before the suite, so CLI tests run the real `mtlskit` binary. */
export default function setup(): void {
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
}
