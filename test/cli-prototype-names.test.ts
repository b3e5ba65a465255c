/**
 * Names of Object.prototype (`constructor`, `__proto__`, `toString`, ...) where the CLI expects
 * a program, an environment or a profile: a coded error and exit 2, never an
 * internal error (exit 3); and a profile or a customer id may be called `toString` like any other name.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mtlskit, type CliRun } from "./support/cli.js";

const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
const HOSTILE = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"];
let tmp: string;
let home: string;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-proto-cli-"));
  home = path.join(tmp, "ws");
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

function run(args: string[]): Promise<CliRun> {
  return mtlskit(args, { cwd: tmp, env: { MTLSKIT_HOME: home } });
}

function expectUsageLike(r: CliRun): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/^error \[[A-Z_]+\]: /);
  expect(r.stderr).not.toContain("INTERNAL");
}

describe("Object.prototype names on the command line", () => {
  it.each(HOSTILE)("%s as a program, an environment or a missing profile: exit 2", async (name) => {
    expectUsageLike(await run(["profile", "add", "p1", "--program", name, "--env", "preprod", "--id", "123456", "--subject", SUBJECT]));
    expectUsageLike(await run(["profile", "add", "p1", "--program", "d1", "--env", name, "--id", "123456", "--subject", SUBJECT]));
    expectUsageLike(await run(["profile", "show", name]));
    expectUsageLike(await run(["emulate", "--program", name, "--dir", path.join(tmp, "emu")]));
  });

  it("a profile named toString or constructor is a plain profile", async () => {
    for (const name of ["toString", "constructor"]) {
      const add = await run(["profile", "add", name, "--program", "d1", "--env", "preprod", "--id", name === "toString" ? "123456" : "654321", "--subject", SUBJECT]);
      expect(add.code, add.stderr).toBe(0);
      const show = await run(["profile", "show", name]);
      expect(show.code, show.stderr).toBe(0);
    }
  });
});
