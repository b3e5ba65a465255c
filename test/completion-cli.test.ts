import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMANDS } from "../src/cli/registry.js";
import { mtlskit } from "./support/cli.js";
import { requireTool } from "./support/tools.js";

// issue 10: --version and shell completion.
let tmp: string;
let bashFile: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-completion-"));
  bashFile = path.join(tmp, "mtlskit.bash");
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe("mtlskit --version", () => {
  it("prints the package's version and exits 0 (-V too)", async () => {
    const pkg = JSON.parse(await fs.readFile(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const r = await mtlskit([flag], { cwd: tmp });
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(pkg.version);
      expect(r.stderr).toBe("");
    }
  });
});

describe.skipIf(!requireTool("bash"))("mtlskit completion bash, run by a real bash", () => {
  /** What the completion function offers for the words typed so far (the last one being completed). */
  function complete(words: string[]): string[] {
    const script = `source ${JSON.stringify(bashFile)}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _mtlskit; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return execFileSync("bash", ["-c", script], { encoding: "utf8", cwd: tmp }).split("\n").filter(Boolean);
  }

  it("registers the function for mtlskit and completes commands, sub-commands, options and choices", async () => {
    const r = await mtlskit(["completion", "bash"], { cwd: tmp });
    expect(r.code, r.stderr).toBe(0);
    await fs.writeFile(bashFile, r.stdout);
    expect(execFileSync("bash", ["-c", `source ${JSON.stringify(bashFile)}; complete -p mtlskit`], { encoding: "utf8" }).trim()).toBe("complete -o default -F _mtlskit mtlskit");
    const top = complete(["mtlskit", ""]);
    for (const w of new Set(COMMANDS.map((c) => c.path[0]!))) expect(top).toContain(w);
    expect(complete(["mtlskit", "ce"])).toEqual(["cert"]);
    expect(complete(["mtlskit", "cert", "in"])).toEqual(["install"]);
    expect(complete(["mtlskit", "--dir", "somewhere", "status", "--re"])).toEqual(["--require"]);
    expect(complete(["mtlskit", "status", "--require", ""]).sort()).toEqual(["all", "outbound", "started"]);
    expect(complete(["mtlskit", "completion", ""]).length).toBeGreaterThanOrEqual(0);
    // Options of the command typed, not of another one; hidden aliases are not offered.
    const install = complete(["mtlskit", "cert", "install", "--"]);
    expect(install).toContain("--profile");
    expect(install).not.toContain("--require");
  });
});

describe("mtlskit completion zsh|fish (content)", () => {
  it("zsh: a #compdef file that loads bashcompinit and registers _mtlskit", async () => {
    const r = await mtlskit(["completion", "zsh"], { cwd: tmp });
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe("#compdef mtlskit");
    expect(r.stdout).toContain("bashcompinit");
    expect(r.stdout).toContain("complete -o default -F _mtlskit mtlskit");
    expect(r.stdout).toContain("'cert install'");
  });

  it("fish: one complete line per command word and option", async () => {
    const r = await mtlskit(["completion", "fish"], { cwd: tmp });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("complete -c mtlskit -n '__fish_use_subcommand' -a 'cert'");
    expect(r.stdout).toMatch(/complete -c mtlskit -n '__fish_seen_subcommand_from cert; and not __fish_seen_subcommand_from [^']*install[^']*' -a 'install'/);
    expect(r.stdout).toContain("complete -c mtlskit -n '__fish_seen_subcommand_from status' -l require -x -a 'started outbound all'");
    expect(r.stdout).toContain("complete -c mtlskit -l dir -r -a '(__fish_complete_directories)'");
  });

  it("another shell is a usage error", async () => {
    const r = await mtlskit(["completion", "tcsh"], { cwd: tmp });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("[USAGE]");
  });
});
