/**
 * The workspace commands as a user runs them: the real `mtlskit` binary, MTLSKIT_HOME set to a
 * throwaway folder, certificates minted at run time.
 */
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeThalesSide, signCsr, standardBundle, type ThalesSide } from "./support/store-fixtures.js";
import { mtlskit, type CliRun } from "./support/cli.js";

const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
let side: ThalesSide;
let tmp: string;
let home: string;
const runs: CliRun[] = [];

beforeAll(async () => {
  side = await makeThalesSide("d1");
});
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-ws-cli-"));
  home = path.join(tmp, "ws");
});
afterEach(async () => {
  // No command ever prints key material.
  for (const r of runs.splice(0)) expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
  await fs.rm(tmp, { recursive: true, force: true });
});

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const r = await mtlskit(args, { cwd: tmp, env: { MTLSKIT_HOME: home, ...env } });
  runs.push(r);
  return r;
}

function expectError(r: CliRun, code: string, exit = 2): string {
  expect(r.code, r.stderr).toBe(exit);
  expect(r.stderr).toMatch(new RegExp(`^error \\[${code}\\]: `));
  return r.stderr;
}

async function d1Profile(): Promise<void> {
  expect((await run(["profile", "add", "d1-pp", "--program", "d1", "--env", "preprod", "--id", "123456", "--subject", SUBJECT])).code).toBe(0);
}

describe("profiles", () => {
  it("add, list, show, remove (asks, or --yes; files go to a dated trash)", async () => {
    await d1Profile();
    const list = await run(["--json", "profile", "list"]);
    expect(JSON.parse(list.stdout)).toEqual({ ok: true, workspaceExists: true, profiles: [{ name: "d1-pp", program: "d1", environment: "preprod", customerId: "123456", folder: path.join(home, "d1-preprod-123456") }] });
    const show = await run(["profile", "show", "d1-pp"]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain("environment: preprod");
    expect(show.stdout).toContain("missing before going live");

    const refused = await run(["profile", "remove", "d1-pp"]);
    expect(expectError(refused, "CONFIRMATION_REQUIRED")).toContain("--yes");
    expect((await run(["profile", "remove", "d1-pp", "--yes"])).code).toBe(0);
    const trash = await fs.readdir(path.join(home, "trash"));
    expect(trash).toEqual([expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-d1-pp$/)]);
    expectError(await run(["profile", "show", "d1-pp"]), "PROFILE_NOT_FOUND");
  });

  it("a duplicate, an unknown environment, a bad name: exit 2 with the code", async () => {
    await d1Profile();
    expectError(await run(["profile", "add", "d1-pp", "--program", "d1", "--env", "preprod", "--id", "9"]), "PROFILE_EXISTS");
    expectError(await run(["profile", "add", "x", "--program", "d1", "--env", "sandbox", "--id", "9"]), "UNKNOWN_ENVIRONMENT");
    expectError(await run(["profile", "add", "../x", "--program", "d1", "--env", "preprod", "--id", "9"]), "PROFILE_NAME_INVALID");
  });

  it("a corrupt mtlskit.yaml: every command says which file, which field and what is expected (exit 2)", async () => {
    await d1Profile();
    const file = path.join(home, "mtlskit.yaml");
    await fs.writeFile(file, (await fs.readFile(file, "utf8")).replace("environment: preprod", "environment: staging"));
    for (const args of [["status"], ["profile", "list"], ["csr", "create", "--profile", "d1-pp"]]) {
      const msg = expectError(await run(args), "CONFIG_INVALID");
      expect(msg).toContain(file);
      expect(msg).toContain("profiles.d1-pp.environment: expected one of preprod, production");
    }
    const j = await run(["--json", "status"]);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout).error.code).toBe("CONFIG_INVALID");
    await fs.writeFile(file, "version: 1\nprofiles:\n  x: [\n");
    expect(expectError(await run(["status"]), "CONFIG_INVALID")).toContain("not valid YAML");
  });

  it("a held lock: WORKSPACE_LOCKED names the process", async () => {
    await d1Profile();
    const child = fileURLToPath(new URL("../src/store/testdata/lock-child.ts", import.meta.url));
    const holder = spawn(process.execPath, ["--import", "tsx", child, "hold", home, "20000"], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise<void>((resolve) => holder.stdout.on("data", (d) => String(d).includes("held") && resolve()));
      const msg = expectError(await run(["profile", "add", "mt", "--program", "mt", "--env", "sandbox", "--id", "1"], { MTLSKIT_LOCK_WAIT_MS: "100" }), "WORKSPACE_LOCKED");
      expect(msg).toContain(`process ${holder.pid}`);
      // Reading needs no lock.
      expect((await run(["profile", "list"])).code).toBe(0);
    } finally {
      holder.kill();
    }
  });
});

describe("D1 onboarding from the command line", () => {
  it("csr create --profile -> cert install -> assets import -> status green; renew keeps the old certificate until install", async () => {
    await d1Profile();
    const csr = await run(["--json", "csr", "create", "--profile", "d1-pp"]);
    expect(csr.code, csr.stderr).toBe(0);
    const c = JSON.parse(csr.stdout) as { csrFile: string; keyFileInProfile: string; commonName: string };
    expect(c.commonName).toBe("TLSMA-ECDSA/123456/D1.PPR");
    expect(c.csrFile).toBe(path.join(home, "d1-preprod-123456", "client.csr"));
    expect((await fs.stat(c.keyFileInProfile)).mode & 0o777).toBe(0o600);
    expectError(await run(["csr", "create", "--profile", "d1-pp", "--out", "x.csr"]), "USAGE");

    const signed = await signCsr(side, "PPR", c.csrFile, c.keyFileInProfile);
    await fs.writeFile(path.join(tmp, "signed.pem"), signed.chainPem);
    const inst = await run(["cert", "install", "signed.pem", "--profile", "d1-pp"]);
    expect(inst.code, inst.stderr).toBe(0);
    expect(inst.stdout).toMatch(/installed .*client\.crt: CN=TLSMA-ECDSA\/123456\/D1\.PPR/);

    await standardBundle(path.join(tmp, "bundle"), side, "d1", "preprod", "123456");
    const imp = await run(["assets", "import", "bundle", "--profile", "d1-pp"]);
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stdout).toContain("inbound trust:");
    expect((await run(["assets", "status", "--profile", "d1-pp"])).code).toBe(0);

    const st = await run(["--json", "status"]);
    expect(st.code, st.stdout).toBe(0);
    const doc = JSON.parse(st.stdout) as { ok: boolean; profiles: Array<{ ready: { outbound: boolean }; certificates: Array<{ role: string; daysLeft: number }> }> };
    expect(doc.ok).toBe(true);
    expect(doc.profiles[0]!.ready.outbound).toBe(true);
    expect(doc.profiles[0]!.certificates.find((x) => x.role === "client")!.daysLeft).toBeGreaterThan(1800);

    const certFile = path.join(home, "d1-preprod-123456", "client.crt");
    const before = await fs.readFile(certFile, "utf8");
    const renew = await run(["--json", "renew", "--profile", "d1-pp"]);
    expect(renew.code, renew.stderr).toBe(0);
    const rn = JSON.parse(renew.stdout) as { csrFile: string; keyFile: string };
    expect(await fs.readFile(certFile, "utf8")).toBe(before);
    expect((await run(["status"])).code).toBe(0);
    const renewed = await signCsr(side, "PPR", rn.csrFile, rn.keyFile);
    await fs.writeFile(path.join(tmp, "renewed.pem"), renewed.chainPem);
    const done = await run(["--json", "cert", "install", "renewed.pem", "--profile", "d1-pp"]);
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ ok: true, promoted: true });
    expect(await fs.readFile(certFile, "utf8")).not.toBe(before);
  });

  it("refusals: wrong key, wrong environment, expired certificate, asset of the wrong environment, a leaf where a CA is needed", async () => {
    await d1Profile();
    const c = JSON.parse((await run(["--json", "csr", "create", "--profile", "d1-pp"])).stdout) as { csrFile: string; keyFileInProfile: string };
    const other = await side.business["PPR"]!.issue({ subject: `${SUBJECT}/CN=TLSMA-ECDSA\\/123456\\/D1.PPR`, validityHours: 24 * 365 });
    await fs.writeFile(path.join(tmp, "other.pem"), other.chainPem);
    expect(expectError(await run(["cert", "install", "other.pem", "--profile", "d1-pp"]), "CERTIFICATE_REFUSED")).toContain("[KEY_MISMATCH]");

    const prd = await signCsr(side, "PRD", c.csrFile, c.keyFileInProfile);
    await fs.writeFile(path.join(tmp, "prd.pem"), prd.chainPem);
    expectError(await run(["cert", "install", "prd.pem", "--profile", "d1-pp"]), "ENVIRONMENT_MISMATCH");

    const old = await signCsr(side, "PPR", c.csrFile, c.keyFileInProfile, { notBefore: new Date(Date.now() - 9 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    await fs.writeFile(path.join(tmp, "old.pem"), old.chainPem);
    expect(expectError(await run(["cert", "install", "old.pem", "--profile", "d1-pp"]), "CERTIFICATE_REFUSED")).toContain("[EXPIRED]");

    await standardBundle(path.join(tmp, "prod"), side, "d1", "production", "123456");
    expectError(await run(["assets", "import", "prod", "--profile", "d1-pp"]), "ENVIRONMENT_MISMATCH");
    const leaf = await side.client.issue({ cn: "thales-notifier.d1-preprod.thalescloud.test", validityHours: 24 * 300 });
    await fs.writeFile(path.join(tmp, "leaf.pem"), leaf.certPem);
    expect(expectError(await run(["assets", "import", "leaf.pem", "--profile", "d1-pp"]), "CA_CERTIFICATE_REQUIRED")).toContain("Thales Client CA");

    const st = await run(["--json", "status"]);
    expect(st.code).toBe(1); // nothing was installed: nothing is wrong, but the profile cannot call Thales (issue 10: fail loudly)
    expect(JSON.parse(st.stdout).reasons.join("\n")).toContain("[NOT_READY] the outbound side is not ready");
    expect(JSON.parse(st.stdout).profiles[0].missing.map((m: { item: string }) => m.item)).toContain("client certificate");
    expect((await run(["assets", "status", "--profile", "d1-pp"])).code).toBe(1);
  });

  it("issue 10: cert install refuses a file with the leaf twice, naming the copy once (CERTIFICATE_DUPLICATED)", async () => {
    await d1Profile();
    const c = JSON.parse((await run(["--json", "csr", "create", "--profile", "d1-pp"])).stdout) as { csrFile: string; keyFileInProfile: string };
    const signed = await signCsr(side, "PPR", c.csrFile, c.keyFileInProfile);
    const leafPem = signed.chainPem.split(/(?<=-----END CERTIFICATE-----\n?)/)[0]!;
    await fs.writeFile(path.join(tmp, "twice.pem"), `${signed.chainPem.trimEnd()}\n${leafPem}`);
    const msg = expectError(await run(["cert", "install", "twice.pem", "--profile", "d1-pp"]), "CERTIFICATE_DUPLICATED");
    expect(msg).toMatch(/same certificate more than once: .*TLSMA-ECDSA.*\(certificates 1, \d of the file\)/);
    expect(msg.match(/TLSMA-ECDSA/g)).toHaveLength(1);
    await expect(fs.stat(path.join(home, "d1-preprod-123456", "client.crt"))).rejects.toThrow();
  });

  it("status exits 1 when a key file is readable by others", async () => {
    await d1Profile();
    const c = JSON.parse((await run(["--json", "csr", "create", "--profile", "d1-pp"])).stdout) as { keyFileInProfile: string };
    await fs.chmod(c.keyFileInProfile, 0o640);
    const st = await run(["status"]);
    expect(st.code).toBe(1);
    expect(st.stdout).toContain("[KEY_FILE_EXPOSED]");
    expect(st.stdout).toContain(`chmod 600 ${c.keyFileInProfile}`);
  });
});

describe("MT from the command line", () => {
  it("cert self-signed --profile takes the CN from the profile; without --profile the flags stay required", async () => {
    expect((await run(["profile", "add", "mt-sbx", "--program", "mt", "--env", "sandbox", "--id", "654321", "--cn", "MT-654321-SBX"])).code).toBe(0);
    const r = await run(["--json", "cert", "self-signed", "--profile", "mt-sbx", "--days", "365"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, commonName: "MT-654321-SBX", certificateFile: path.join(home, "mt-sandbox-654321", "client.crt") });
    const again = await run(["cert", "self-signed", "--profile", "mt-sbx"]);
    expect(expectError(again, "FILE_EXISTS")).toContain("mtlskit renew");
    expect(expectError(await run(["cert", "self-signed", "--env", "sandbox", "--cn", "x", "--out", "c.crt"]), "USAGE")).toContain("required option '--program <program>' not specified");
    expect(expectError(await run(["csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "1", "--out", "c.csr"]), "USAGE")).toContain("required option '--subject <dn>' not specified");
    const exp = await run(["assets", "export", "--profile", "mt-sbx", "--out", "to-thales"]);
    expect(exp.code, exp.stderr).toBe(0);
    expect(exp.stdout).toContain("SHA-256 fingerprint for Thales");
    expect(await fs.readFile(path.join(tmp, "to-thales", "README.md"), "utf8")).toContain("CUSTOMER_TLS_CLIENT_CERTIFICATE");
  });
});
