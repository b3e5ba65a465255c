/**
 * A key given encrypted and stored decrypted in the workspace says so (issue 10): `csr create
 * --profile --key ENC --passphrase-file`, `cert self-signed --profile ...` and `server-cert set`
 * print the same warning on stderr, and --json carries it in `warnings`. A key given in clear
 * gets no warning. The real binary on a real workspace.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mtlskit, type CliRun } from "./support/cli.js";

const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
const PASS = "correct horse battery staple";
let tmp: string;
let home: string;

const run = (args: string[]): Promise<CliRun> => mtlskit(args, { cwd: tmp, env: { MTLSKIT_HOME: home } });

function ok(r: CliRun, what: string): CliRun {
  expect(r.code, `${what}\n${r.stdout}${r.stderr}`).toBe(0);
  return r;
}

function warningFor(given: string, stored: string): RegExp {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  return new RegExp(`^warning the key was given encrypted \\(${esc(given)}\\) and is stored decrypted in ${esc(stored)} \\(mode 0600\\), because connections to Thales read it without a passphrase: keep the workspace on an encrypted disk, readable only by the service's user, and keep the encrypted original as your backup\\n$`);
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), "mtlskit-enc-key-"));
  home = path.join(tmp, "ws");
  writeFileSync(path.join(tmp, "pass.txt"), `${PASS}\n`);
  for (const [name, curve] of [["d1-enc.key", "prime256v1"], ["d1-json.key", "prime256v1"], ["mt-enc.key", "prime256v1"], ["clear.key", "prime256v1"]] as const) {
    const k = generateKeyPairSync("ec", { namedCurve: curve }).privateKey;
    const pem = name === "clear.key" ? k.export({ type: "pkcs8", format: "pem" }) : k.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: PASS });
    writeFileSync(path.join(tmp, name), pem);
  }
  for (const args of [
    ["profile", "add", "d1-a", "--program", "d1", "--env", "preprod", "--id", "111111", "--subject", SUBJECT],
    ["profile", "add", "d1-b", "--program", "d1", "--env", "preprod", "--id", "222222", "--subject", SUBJECT],
    ["profile", "add", "d1-c", "--program", "d1", "--env", "preprod", "--id", "333333", "--subject", SUBJECT],
    ["profile", "add", "mt-a", "--program", "mt", "--env", "sandbox", "--id", "444444", "--cn", "MT-444444-SBX"],
  ]) {
    ok(await run(args), args.join(" "));
  }
}, 120_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("an encrypted key stored decrypted in a profile", () => {
  it("csr create --profile --key ENC --passphrase-file: the warning on stderr, stdout unchanged", async () => {
    const r = ok(await run(["csr", "create", "--profile", "d1-a", "--key", "d1-enc.key", "--passphrase-file", "pass.txt"]), "csr create");
    const stored = path.join(home, "d1-preprod-111111", "client.key");
    expect(r.stderr).toMatch(warningFor("d1-enc.key", stored));
    expect(r.stdout).not.toContain("stored decrypted");
    expect(statSync(stored).mode & 0o777).toBe(0o600);
  });

  it("--json: the warning is in `warnings` and on stderr; stdout is one JSON document", async () => {
    const r = ok(await run(["--json", "csr", "create", "--profile", "d1-b", "--key", "d1-json.key", "--passphrase-file", "pass.txt"]), "csr create --json");
    const stored = path.join(home, "d1-preprod-222222", "client.key");
    const j = JSON.parse(r.stdout) as { ok: boolean; warnings: string[] };
    expect(j.ok).toBe(true);
    expect(j.warnings).toHaveLength(1);
    expect(`warning ${j.warnings[0]}\n`).toMatch(warningFor("d1-json.key", stored));
    expect(r.stderr).toMatch(warningFor("d1-json.key", stored));
  });

  it("cert self-signed --profile --key ENC --passphrase-file (MT): the same warning", async () => {
    const r = ok(await run(["cert", "self-signed", "--profile", "mt-a", "--key", "mt-enc.key", "--passphrase-file", "pass.txt", "--days", "365"]), "cert self-signed");
    expect(r.stderr).toMatch(warningFor("mt-enc.key", path.join(home, "mt-sandbox-444444", "client.key")));
  });

  it("a key given in clear, or a new key: no warning, and --json has an empty `warnings`", async () => {
    const r = ok(await run(["--json", "csr", "create", "--profile", "d1-c", "--key", "clear.key"]), "csr create clear");
    expect(r.stderr).toBe("");
    expect((JSON.parse(r.stdout) as { warnings: string[] }).warnings).toEqual([]);
  });
});
