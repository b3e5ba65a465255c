/**
 * A renewal with the client key in a SoftHSM2 token, killed with SIGKILL (the journal's test
 * crash points, MTLSKIT_TEST_CRASH_AT) at its first, middle and last mutating call, then `cert
 * activate` killed the same way. After each kill the next reader finds the old profile or the new
 * one, never a mix: the key the profile names is in the token and matches its certificate; a
 * renewal killed before it committed leaves at most one unused key in the token, and running it
 * again (no --force) succeeds under the next label; every key stays sensitive and never
 * extractable, and no key file appears in the workspace.
 */
import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { mtlskit, type CliRun } from "./support/cli.js";
import { haveSoftHsm, softHsm, type SoftHsm } from "./support/softhsm.js";

const TOKEN = "mtlskit-crash";
let hsm: SoftHsm;
let tmp: string;
let home: string;

const run = (args: string[], env: Record<string, string> = {}): Promise<CliRun> => mtlskit(args, { cwd: tmp, env: { MTLSKIT_HOME: home, MTLSKIT_LOCK_WAIT_MS: "2000", ...env } });
async function ok(args: string[]): Promise<CliRun> {
  const r = await run(args);
  expect(r.code, `mtlskit ${args.join(" ")}\n${r.stdout}${r.stderr}`).toBe(0);
  return r;
}

/** The private keys of the token: label and protection of each. */
function tokenKeys(): Array<{ label: string; block: string }> {
  const out = execFileSync("pkcs11-tool", ["--module", hsm.module, "--token-label", TOKEN, "--login", "--pin", hsm.pin, "--list-objects", "--type", "privkey"], { env: { ...process.env, ...hsm.env }, encoding: "utf8" });
  return out
    .split(/(?=Private Key Object)/)
    .filter((b) => b.startsWith("Private Key Object"))
    .map((block) => ({ label: /label:\s+(\S+)/.exec(block)?.[1] ?? "", block }));
}

async function tokenConfig(): Promise<{ clientKey?: string; pendingClientKey?: string }> {
  const doc = parseYaml(await fs.readFile(path.join(home, "mtlskit.yaml"), "utf8")) as { profiles: Record<string, { pkcs11?: { clientKey?: string; pendingClientKey?: string } }> };
  return doc.profiles["mt-sbx"]!.pkcs11 ?? {};
}

const folder = (): string => path.join(home, "mt-sandbox-654321");
const exists = (f: string): Promise<boolean> => fs.stat(f).then(() => true, () => false);

/** The profile as the next reader sees it (status recovers the workspace first): whole, its key in the token matching its certificate. */
async function expectWholeProfile(where: string): Promise<{ clientKey: string; pending: string | undefined }> {
  const st = await run(["status", "--profile", "mt-sbx"]);
  const cfg = await tokenConfig();
  expect(cfg.clientKey, where).toBeDefined();
  const label = /object=([^;]+)/.exec(cfg.clientKey!)![1]!;
  expect(st.stdout, `${where}\n${st.stdout}${st.stderr}`).toContain(`client key: key in token ${TOKEN}, object ${label}, ECDSA P-256, non-extractable`);
  expect(st.stdout + st.stderr, where).not.toMatch(/KEY_MISMATCH|PKCS11_|\[FILE_/);
  // A renewal is there whole (its key named and its certificate written) or not at all.
  const pendingCert = await exists(path.join(folder(), "pending", "client.crt"));
  expect(pendingCert, `${where}: pending certificate without pendingClientKey or the reverse`).toBe(cfg.pendingClientKey !== undefined);
  expect(await exists(path.join(home, ".txn")), where).toBe(false);
  const files = (await fs.readdir(home, { recursive: true })).map(String);
  expect(files.filter((f) => f.endsWith(".key") || f.includes(".tmp")), where).toEqual([]);
  for (const k of tokenKeys()) {
    expect(k.block, `${where}: ${k.label}`).toMatch(/sensitive/);
    expect(k.block, `${where}: ${k.label}`).toMatch(/never extractable/);
  }
  return { clientKey: cfg.clientKey!, pending: cfg.pendingClientKey };
}

/** How many mutating calls the command makes (run on a copy of the workspace, thrown away). */
async function crashPoints(args: string[]): Promise<number> {
  const copy = path.join(tmp, "count-ws");
  await fs.rm(copy, { recursive: true, force: true });
  await fs.cp(home, copy, { recursive: true });
  const r = await mtlskit(args, { cwd: tmp, env: { MTLSKIT_HOME: copy, MTLSKIT_TEST_CRASH_AT: "count" } });
  expect(r.code, r.stderr).toBe(0);
  await fs.rm(copy, { recursive: true, force: true });
  return Number(/mtlskit-test-crash-points: (\d+)/.exec(r.stderr)?.[1]);
}

describe.skipIf(!haveSoftHsm())("an interrupted renewal with the key in a token", () => {
  beforeAll(async () => {
    hsm = softHsm(TOKEN);
    process.env.MTLSKIT_PKCS11_PIN = hsm.pin;
    process.env.MTLSKIT_PKCS11_MODULE = hsm.module;
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-pkcs11-crash-"));
    home = path.join(tmp, "ws");
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it("renew and cert activate killed at their first, middle and last write leave the token and the workspace consistent", async () => {
    const today = new Date().toISOString().slice(0, 10).replaceAll("-", "");
    await ok(["profile", "add", "mt-sbx", "--program", "mt", "--env", "sandbox", "--id", "654321", "--cn", "mt-sandbox-654321.example.com"]);
    await ok(["key", "create", "--type", "ecdsa-p256", "--out", `pkcs11:token=${TOKEN};object=mt-client`]);
    await ok(["cert", "self-signed", "--profile", "mt-sbx", "--key", `pkcs11:token=${TOKEN};object=mt-client`]);
    const start = await expectWholeProfile("before");
    const renew = ["renew", "--profile", "mt-sbx"];
    const points = await crashPoints(renew);
    expect(points).toBeGreaterThan(2);
    // Each killed renewal may leave one unused key in the token (it is made before the files), never more.
    let keys = tokenKeys().length;
    const outcomes: string[] = [];
    for (const n of [1, Math.ceil(points / 2), points]) {
      const killed = await run(renew, { MTLSKIT_TEST_CRASH_AT: String(n) });
      expect(killed.code, `renew killed at ${n} of ${points}: ${killed.stderr}`).toBe(-1);
      const after = await expectWholeProfile(`renew killed at ${n} of ${points}`);
      expect(after.clientKey).toBe(start.clientKey);
      expect(tokenKeys().length - keys).toBeLessThanOrEqual(1);
      outcomes.push(`renew killed at ${n}/${points}: ${after.pending ? "new" : "old"} profile, ${tokenKeys().length - keys} key(s) added to the token`);
      keys = tokenKeys().length;
      if (after.pending) {
        // Killed after the commit: the renewal is whole; start over for the next point.
        expect(tokenKeys().map((k) => k.label)).toContain(/object=([^;]+)/.exec(after.pending)![1]);
        await ok(["renew", "--profile", "mt-sbx", "--force"]);
        keys = tokenKeys().length;
      }
    }
    // From whatever state is left, the renewal runs again without --force when none is waiting.
    if ((await tokenConfig()).pendingClientKey === undefined) await ok(renew);
    const renewed = await expectWholeProfile("renewed");
    expect(renewed.pending).toMatch(new RegExp(`object=mt-client-${today}(-\\d+)?;`));
    expect(tokenKeys().map((k) => k.label)).toContain("mt-client");

    const activate = ["cert", "activate", "--profile", "mt-sbx"];
    const activatePoints = await crashPoints(activate);
    expect(activatePoints).toBeGreaterThan(2);
    for (const n of [1, Math.ceil(activatePoints / 2), activatePoints]) {
      const killed = await run(activate, { MTLSKIT_TEST_CRASH_AT: String(n) });
      expect(killed.code, `cert activate killed at ${n} of ${activatePoints}: ${killed.stderr}`).toBe(-1);
      const after = await expectWholeProfile(`cert activate killed at ${n} of ${activatePoints}`);
      // The old key with the renewal still waiting, or the new key active: nothing in between.
      outcomes.push(`cert activate killed at ${n}/${activatePoints}: ${after.pending ? "old" : "new"} profile`);
      if (after.pending) expect(after.clientKey).toBe(start.clientKey);
      else {
        expect(after.clientKey).toBe(renewed.pending);
        break;
      }
    }
    if ((await tokenConfig()).pendingClientKey !== undefined) await ok(activate);
    const active = await expectWholeProfile("activated");
    expect(active.clientKey).toBe(renewed.pending);
    expect(active.pending).toBeUndefined();
    // The previous key stays in the token.
    expect(tokenKeys().map((k) => k.label)).toContain("mt-client");
    console.log(outcomes.join("\n"));
  }, 600_000);
});
