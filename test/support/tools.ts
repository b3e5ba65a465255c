/**
 * External tools in tests (docs/architecture.md, Tests): a test that needs a tool the machine lacks fails
 * in CI (`MTLSKIT_REQUIRE_TOOLS=1`) and is skipped with a printed reason elsewhere.
 */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

const found = new Map<string, string | undefined>();

/** The absolute path of `name` on PATH, or undefined. */
export function which(name: string): string | undefined {
  if (found.has(name)) return found.get(name);
  let path: string | undefined;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) {
        path = candidate;
        break;
      }
    } catch {
      // not in this directory
    }
  }
  found.set(name, path);
  return path;
}

/**
 * True when the command-line tool `name` (`openssl`, `curl`, `nginx`...) is on PATH. When it is
 * not: throws if `MTLSKIT_REQUIRE_TOOLS=1` (CI must not skip silently), else prints why the
 * tests that need it are skipped and returns false.
 *
 * @example
 * describe.skipIf(!requireTool("openssl"))("against the openssl CLI", () => { ... });
 */
export function requireTool(name: string): boolean {
  if (which(name) !== undefined) return true;
  const reason = `"${name}" was not found on PATH`;
  if (process.env.MTLSKIT_REQUIRE_TOOLS === "1") {
    throw new Error(`${reason}, and MTLSKIT_REQUIRE_TOOLS=1 requires it: install ${name} or unset MTLSKIT_REQUIRE_TOOLS`);
  }
  console.warn(`skipping the tests that need ${name}: ${reason} (set MTLSKIT_REQUIRE_TOOLS=1 to make this an error)`);
  return false;
}

/** Debian's `chromium` (or `chromium-browser`) on PATH, for playwright-core's `executablePath`. */
export function chromiumPath(): string | undefined {
  return which("chromium") ?? which("chromium-browser");
}
