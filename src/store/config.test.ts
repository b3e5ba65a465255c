import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MtlsError } from "../errors/index.js";
import { loadConfig, parseConfig } from "./config.js";
import { addProfile } from "./profiles.js";
import { openProfile } from "./workspace.js";

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-config-"));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function errorOf(fn: () => unknown): MtlsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof MtlsError) return e;
    throw e;
  }
  throw new Error("expected an MtlsError");
}

describe("mtlskit.yaml schema", () => {
  const good = "version: 1\nprofiles:\n  d1-pp:\n    program: d1\n    environment: preprod\n    customerId: \"123456\"\n";

  it("reads a valid file", () => {
    const { config } = parseConfig(good, "/w/mtlskit.yaml");
    expect(config.profiles["d1-pp"]).toEqual({ program: "d1", environment: "preprod", customerId: "123456" });
  });

  it("names the file, the path of the bad field and what is expected: an environment of another program", () => {
    const e = errorOf(() => parseConfig(good.replace("preprod", "sandbox"), "/w/mtlskit.yaml"));
    expect(e.code).toBe("CONFIG_INVALID");
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain("/w/mtlskit.yaml");
    expect(e.message).toContain("profiles.d1-pp.environment");
    expect(e.message).toContain("expected one of preprod, production");
  });

  it("reports an unknown program, a number as id and a typo'd field, each with its path", () => {
    const text = "version: 1\nprofiles:\n  a:\n    program: d2\n    environment: preprod\n    customerId: 123456\n    enviroment: x\n";
    const e = errorOf(() => parseConfig(text, "mtlskit.yaml"));
    expect(e.message).toContain("profiles.a.program: expected one of d1, mt");
    expect(e.message).toContain("profiles.a.customerId: expected the customer id as a string");
    expect(e.message).toContain("profiles.a: unknown field 'enviroment'");
  });

  it("reports a missing field and a wrong version", () => {
    const e = errorOf(() => parseConfig("version: 2\nprofiles:\n  a:\n    program: mt\n    environment: sandbox\n", "mtlskit.yaml"));
    expect(e.message).toMatch(/version: expected 1/);
    expect(e.message).toMatch(/profiles\.a\.customerId: missing/);
  });

  it("reports a bad profile name and bad DNS servers", () => {
    const e = errorOf(() =>
      parseConfig("version: 1\nprofiles:\n  'bad name':\n    program: mt\n    environment: sandbox\n    customerId: x\n", "mtlskit.yaml"),
    );
    expect(e.message).toContain("profiles.bad name: invalid profile name");
    const e2 = errorOf(() => parseConfig(`${good}    dns:\n      servers: [not-an-address]\n`, "mtlskit.yaml"));
    expect(e2.message).toContain("profiles.d1-pp.dns.servers[0]: expected a resolver address");
  });

  it("refuses corrupt YAML with the line, and a file that is not a mapping", () => {
    const e = errorOf(() => parseConfig("version: 1\nprofiles: [\n  a: 1\n", "/w/mtlskit.yaml"));
    expect(e.code).toBe("CONFIG_INVALID");
    expect(e.message).toMatch(/\/w\/mtlskit\.yaml: not valid YAML: .*line \d+/);
    const dup = errorOf(() => parseConfig("version: 1\nversion: 1\n", "m.yaml"));
    expect(dup.message).toContain("unique");
    expect(errorOf(() => parseConfig("- a\n- b\n", "m.yaml")).message).toContain("expected a mapping");
  });

  it("takes a missing or empty file as an empty workspace", async () => {
    expect((await loadConfig(dir)).config.profiles).toEqual({});
    await fs.writeFile(path.join(dir, "mtlskit.yaml"), "");
    expect((await loadConfig(dir)).config.profiles).toEqual({});
  });

  it("keeps the user's comments when a profile is added", async () => {
    await fs.writeFile(path.join(dir, "mtlskit.yaml"), `# my workspace\n${good}  # end\n`);
    await addProfile(dir, "mt-sbx", { program: "mt", environment: "sandbox", customerId: "654321", cn: "MT-654321-SBX" });
    const text = await fs.readFile(path.join(dir, "mtlskit.yaml"), "utf8");
    expect(text).toContain("# my workspace");
    expect((await openProfile(dir, "mt-sbx")).config.cn).toBe("MT-654321-SBX");
    expect((await openProfile(dir, "d1-pp")).customerId).toBe("123456");
  });

  it("a corrupt file stops every command, reading or writing, with exit 2", async () => {
    await fs.writeFile(path.join(dir, "mtlskit.yaml"), "version: 1\nprofiles:\n  x: {program: d1, environment: staging, customerId: '1'}\n");
    await expect(openProfile(dir, "x")).rejects.toMatchObject({ code: "CONFIG_INVALID" });
    await expect(addProfile(dir, "y", { program: "mt", environment: "sandbox", customerId: "1" })).rejects.toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringContaining("profiles.x.environment"),
    });
  });
});
