/**
 * `mtlskit lint --profile P` and `mtlskit inspect --profile P` (issue 10): a real workspace made
 * by the real binary, the profile's own files linted and inspected with the same findings and
 * descriptions as when the files are named by hand.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCsr, parseSubject, toPem } from "../src/pki/index.js";
import { mtlskit, type CliRun } from "./support/cli.js";

const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
let tmp: string;
let home: string;

const run = (args: string[]): Promise<CliRun> => mtlskit(args, { cwd: tmp, env: { MTLSKIT_HOME: home } });
const json = <T>(r: CliRun): T => JSON.parse(r.stdout) as T;

function expectError(r: CliRun, code: string, exit = 2): void {
  expect(r.code, r.stdout + r.stderr).toBe(exit);
  if (r.stdout.startsWith("{")) expect(json<{ ok: boolean; error: { code: string } }>(r).error.code).toBe(code);
  else expect(r.stderr).toMatch(new RegExp(`\\[${code}\\]`));
}

interface LintJson {
  ok: boolean;
  profile?: string;
  files?: string[];
  errors: number;
  objects: number;
  findings: Array<{ code: string; severity: string; message: string; source: string }>;
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), "mtlskit-profile-lint-"));
  home = path.join(tmp, "ws");
  for (const args of [
    ["profile", "add", "d1-pp", "--program", "d1", "--env", "preprod", "--id", "123456", "--subject", SUBJECT],
    ["csr", "create", "--profile", "d1-pp"],
    ["profile", "add", "mt-sbx", "--program", "mt", "--env", "sandbox", "--id", "654321", "--cn", "MT-654321-SBX"],
    ["cert", "self-signed", "--profile", "mt-sbx", "--days", "365"],
    ["profile", "add", "empty", "--program", "d1", "--env", "preprod", "--id", "777777", "--subject", SUBJECT],
  ]) {
    const r = await run(args);
    expect(r.code, `${args.join(" ")}\n${r.stderr}`).toBe(0);
  }
}, 120_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("lint --profile", () => {
  it("lints the profile's CSR and key (D1) and its self-signed certificate and key (MT): clean, exit 0, also in --json", async () => {
    const d1 = await run(["lint", "--profile", "d1-pp"]);
    expect(d1.code, d1.stdout + d1.stderr).toBe(0);
    expect(d1.stdout).toMatch(/^ok: no findings in \d+ objects? \(profile d1-pp: d1 preprod\)\n$/);
    const j = json<LintJson>(await run(["--json", "lint", "--profile", "d1-pp"]));
    expect(j.ok).toBe(true);
    expect(j.profile).toBe("d1-pp");
    expect(j.files?.map((f) => path.basename(f)).sort()).toEqual(["client.csr", "client.key"]);
    const mt = json<LintJson>(await run(["--json", "lint", "--profile", "mt-sbx"]));
    expect(mt.ok).toBe(true);
    expect(mt.files?.map((f) => path.basename(f)).sort()).toEqual(["client.crt", "client.key"]);
  });

  it("gives the same findings as lint on the same files with the profile's program, env, id and key", async () => {
    // The profile's CSR replaced by one made with another key: the CSR no longer matches client.key.
    const folder = path.join(home, "d1-preprod-123456");
    const other = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    const cn = "TLSMA-ECDSA\\/123456\\/D1.PPR";
    writeFileSync(path.join(folder, "client.csr"), toPem("CERTIFICATE REQUEST", createCsr({ subject: parseSubject(`${SUBJECT}/CN=${cn}`), privateKey: other })));
    const byProfile = await run(["--json", "lint", "--profile", "d1-pp"]);
    const byFiles = await run(["--json", "lint", path.join(folder, "client.csr"), "--program", "d1", "--env", "preprod", "--id", "123456", "--key", path.join(folder, "client.key")]);
    expect(byFiles.code).toBe(1);
    expect(byProfile.code).toBe(1);
    const codes = (r: CliRun) => json<LintJson>(r).findings.map((f) => `${f.severity} ${f.code}`);
    expect(codes(byProfile)).toEqual(codes(byFiles));
    expect(codes(byProfile).length).toBeGreaterThan(0);
    const text = await run(["lint", "--profile", "d1-pp"]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain("client.csr");
  });

  it("a profile that does not exist, or has nothing yet, is a coded error; --profile does not go with files or --program", async () => {
    expectError(await run(["lint", "--profile", "nope"]), "PROFILE_NOT_FOUND");
    expectError(await run(["--json", "lint", "--profile", "nope"]), "PROFILE_NOT_FOUND");
    expectError(await run(["lint", "--profile", "empty"]), "FILE_NOT_FOUND");
    expectError(await run(["lint", "--profile", "d1-pp", "--program", "d1"]), "USAGE");
    expectError(await run(["lint", "--profile", "d1-pp", "x.pem"]), "USAGE");
    expectError(await run(["lint", "x.pem"]), "USAGE");
    expectError(await run(["lint"]), "USAGE");
  });
});

describe("inspect --profile", () => {
  it("shows each file of the profile as inspect FILE shows it, also in --json", async () => {
    const text = await run(["inspect", "--profile", "mt-sbx"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain("== client.crt");
    expect(text.stdout).toContain("== client.key");
    expect(text.stdout).toContain("Key material:");
    expect(text.stdout).not.toContain("PRIVATE KEY-----");
    const j = json<{ ok: boolean; profile: string; files: Array<{ file: string; objects: unknown[] }> }>(await run(["--json", "inspect", "--profile", "mt-sbx"]));
    expect(j.ok).toBe(true);
    expect(j.profile).toBe("mt-sbx");
    const crt = j.files.find((f) => path.basename(f.file) === "client.crt");
    expect(crt).toBeDefined();
    const alone = json<{ objects: unknown[] }>(await run(["--json", "inspect", crt!.file]));
    expect(crt!.objects).toEqual(alone.objects);
    expect(j.files.map((f) => path.basename(f.file)).sort()).toEqual(["client.crt", "client.key"]);
  });

  it("a profile that does not exist is PROFILE_NOT_FOUND; a target and --profile together are USAGE", async () => {
    expectError(await run(["inspect", "--profile", "nope"]), "PROFILE_NOT_FOUND");
    expectError(await run(["--json", "inspect", "--profile", "nope"]), "PROFILE_NOT_FOUND");
    expectError(await run(["inspect", "--profile", "empty"]), "FILE_NOT_FOUND");
    expectError(await run(["inspect", "--profile", "mt-sbx", "client.crt"]), "USAGE");
    expectError(await run(["inspect"]), "USAGE");
  });
});
