import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** Forbids a layer's source files (not its tests) from importing the layers above it. */
function layer(files, above) {
  return [
    {
      files: [files],
      ignores: ["**/*.test.ts"],
      rules: { "no-restricted-imports": ["error", { patterns: above.map((l) => ({ group: [`**/${l}/**`, `../${l}/*`, `./${l}/*`], message: `layers (docs/architecture.md): this layer may not import ${l}` })) }] },
    },
  ];
}

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/", ".mtlskit/", ".mtlskit-emulator/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly", setTimeout: "readonly", clearTimeout: "readonly" } } },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
  // Layers (DESIGN.md, docs/architecture.md): errors <- policy <- pki <- lint <- store, credentials <- client, server
  // <- engines (nginx/HAProxy, above server) <- emulator, cli. Nothing below imports from above; testing/ may import pki.
  ...layer("src/errors/**/*.ts", ["policy", "pki", "lint", "store", "credentials", "client", "server", "emulator", "cli", "testing"]),
  ...layer("src/policy/**/*.ts", ["pki", "lint", "store", "credentials", "client", "server", "emulator", "cli", "testing"]),
  ...layer("src/pki/**/*.ts", ["lint", "store", "credentials", "client", "server", "emulator", "cli", "testing"]),
  ...layer("src/lint/**/*.ts", ["store", "credentials", "client", "server", "emulator", "cli", "testing"]),
  ...layer("src/store/**/*.ts", ["credentials", "client", "server", "emulator", "cli", "testing"]),
  ...layer("src/credentials/**/*.ts", ["store", "client", "server", "emulator", "cli", "testing"]),
  ...layer("src/client/**/*.ts", ["server", "emulator", "cli", "testing"]),
  ...layer("src/server/**/*.ts", ["client", "emulator", "cli", "testing"]),
  ...layer("src/engines/**/*.ts", ["client", "emulator", "cli", "testing"]),
  ...layer("src/emulator/**/*.ts", ["cli", "testing"]),
  // web/ (escape, CSP, Host and token checks for the portal page and the dashboard) sits just above policy.
  ...layer("src/web/**/*.ts", ["pki", "lint", "store", "credentials", "client", "server", "emulator", "cli", "testing"]),
  ...layer("src/testing/**/*.ts", ["lint", "store", "credentials", "client", "server", "emulator", "cli"]),
);
