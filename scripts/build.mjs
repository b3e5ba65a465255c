// Builds dist/: the CLI as ESM chunks (each command loaded on demand, for a fast cold start),
// the library entry points, and the type declarations of the public entry points only
// (`tsc -p tsconfig.types.json` into dist/types; skip them with --no-types for a quick rebuild).
// Both bundles leave npm dependencies external: they are installed with the package anyway
// (`dependencies`), so bundling them into the CLI only shipped them twice (about 1.5 MB).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

process.chdir(fileURLToPath(new URL("..", import.meta.url)));

const shared = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  splitting: true,
  sourcemap: false,
  logLevel: "warning",
  // pkijs reaches for require("crypto") in one place; give the ESM bundle a require.
  banner: { js: "import { createRequire as __mtlskitCreateRequire } from 'node:module'; const require = __mtlskitCreateRequire(import.meta.url);" },
};

if (process.argv.includes("--clean")) rmSync("dist", { recursive: true, force: true });
// The bundles' chunk names carry content hashes: without this, every rebuild left the previous
// chunks beside the new ones (and `npm pack` shipped them, and a walk of the chunks could read an old one).
rmSync("dist/cli", { recursive: true, force: true });
rmSync("dist/lib", { recursive: true, force: true });
await build({ ...shared, entryPoints: { "cli/main": "src/cli/main.ts" }, outdir: "dist", chunkNames: "cli/chunks/[name]-[hash]", minify: true, packages: "external" });
await build({
  ...shared,
  entryPoints: { "lib/index": "src/index.ts", "lib/testing/index": "src/testing/index.ts", "lib/emulator/index": "src/emulator/index.ts" },
  outdir: "dist",
  chunkNames: "lib/chunks/[name]-[hash]",
  packages: "external",
});
if (!process.argv.includes("--no-types")) {
  rmSync("dist/types", { recursive: true, force: true });
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.types.json"], { stdio: "inherit" });
}
