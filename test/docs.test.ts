import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { errorsMarkdown } from "../scripts/gen-docs.js";

describe("docs/errors.md", () => {
  it("lists every error code and lint rule exactly as the tables say (run `npm run docs` to update)", () => {
    expect(readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8")).toBe(errorsMarkdown());
  });
});
