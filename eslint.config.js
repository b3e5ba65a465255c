import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
  {
    // Layers (DESIGN.md): nothing below imports from above.
    files: ["src/errors/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: ["../policy/*", "../pki/*", "../lint/*", "../cli/*", "../testing/*"] }] },
  },
  {
    files: ["src/policy/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: ["../pki/*", "../lint/*", "../cli/*", "../testing/*"] }] },
  },
  {
    files: ["src/pki/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: ["../lint/*", "../cli/*", "../testing/*"] }] },
  },
  {
    files: ["src/lint/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: ["../cli/*", "../testing/*"] }] },
  },
  {
    files: ["src/testing/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: ["../lint/*", "../cli/*"] }] },
  },
);
