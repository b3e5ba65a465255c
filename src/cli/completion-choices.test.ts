/**
 * Completion offers the values of options with a fixed set (issue 10): `--type`, `--program`,
 * `--env`, `--engine`... as each command's help names them, from the real command definitions.
 */
import { describe, expect, it } from "vitest";
import { KEY_TYPES } from "../policy/index.js";
import { bashScript, completionEntries, fishScript } from "./commands/completion.js";

describe("completion: the values of fixed-set options", () => {
  it("offers each command's values: key types, programs, environments, engines, levels", async () => {
    const entries = await completionEntries();
    const choices = (path: string, flag: string) => entries.find((e) => e.path.join(" ") === path)?.options.find((o) => o.flag === flag)?.choices;
    expect(choices("key create", "--type")).toEqual(KEY_TYPES);
    expect(choices("cert self-signed", "--type")).toEqual(["ecdsa-p256", "ecdsa-p384", "rsa-2048"]);
    expect(choices("csr create", "--type")).toEqual(["ecdsa-p256", "rsa-4096"]);
    expect(choices("profile add", "--program")).toEqual(["d1", "mt"]);
    expect(choices("demo", "--program")).toEqual(["d1", "mt", "both"]);
    expect(choices("profile add", "--env")).toEqual(["preprod", "production", "sandbox"]);
    expect(choices("csr create", "--env")).toEqual(["preprod", "production"]);
    expect(choices("serve", "--engine")).toEqual(["node", "nginx", "haproxy"]);
    expect(choices("serve", "--log-level")).toEqual(["debug", "info", "warn", "error"]);
    expect(choices("serve", "--upstream-errors")).toEqual(["retryable", "gateway"]);
    // commander's own .choices() still win.
    expect(choices("status", "--require")).toEqual(["started", "outbound", "all"]);
    // Options with free values offer none.
    expect(choices("serve", "--upstream")).toEqual([]);
  });

  it("the bash and fish scripts carry them", async () => {
    const entries = await completionEntries();
    expect(bashScript(entries)).toContain(`'key create|--type') words='${KEY_TYPES.join(" ")}' ;;`);
    expect(fishScript(entries)).toContain(`-x -a '${KEY_TYPES.join(" ")}'`);
  });
});
