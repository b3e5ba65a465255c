/**
 * The package as a user gets it: `npm pack` (the built dist/, without running the build again),
 * installed from the tarball into a temporary project with `npm install --prefer-offline` (the
 * tarballs come from the npm cache that `npm ci` filled; `npm ci` fetches no registry metadata,
 * which resolving the tarball's dependency ranges needs, so that may come from the registry),
 * then type-checked by tsc in strict
 * mode with `moduleResolution: nodenext` and run: a consumer of `mtlskit`, `mtlskit/testing` and
 * `mtlskit/emulator`. publint checks the package's exports map. Needs `npm run build` first
 * (`npm test` does it).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

const consumer = `
import { MtlsError, decodePkiObjects, lintItems, createThalesDispatcher, openWorkspace, type LintResult, type ProfileHandle, type Workspace, type WorkspaceStatus } from "mtlskit";
import { createTestPki, type TestCertificate } from "mtlskit/testing";
import { startEmulator, type Emulator, type StartEmulatorOptions } from "mtlskit/emulator";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const pki = await createTestPki();
const leaf: TestCertificate = await pki.issue({ cn: "consumer.test", usage: "client" });
const items = decodePkiObjects(new TextEncoder().encode(leaf.certPem), "leaf.pem");
const result: LintResult = lintItems(items, { program: "d1", environment: "preprod" });

let coded = "";
try {
  decodePkiObjects(new TextEncoder().encode("not a certificate"), "junk.pem");
} catch (e) {
  if (e instanceof MtlsError) coded = e.code;
}
const make: typeof createThalesDispatcher = createThalesDispatcher;

const wsRoot = await mkdtemp(join(tmpdir(), "consumer-ws-"));
const ws: Workspace = openWorkspace(join(wsRoot, "ws"));
await ws.addProfile("d1-pp", { program: "d1", environment: "preprod", customerId: "123456", subject: "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments" });
const d1pp: ProfileHandle = ws.profile("d1-pp");
const csr = await d1pp.createCsr();
const status: WorkspaceStatus = await ws.status();
let unknown = "";
try {
  await ws.profile("nope").open();
} catch (e) {
  if (e instanceof MtlsError) unknown = e.code;
}
await rm(wsRoot, { recursive: true, force: true });

const options: StartEmulatorOptions = { dir: await mkdtemp(join(tmpdir(), "consumer-emu-")), host: "127.0.0.1" };
const emu: Emulator = await startEmulator(options);
const portal = emu.portalUrl;
await emu.close();
console.log(JSON.stringify({ findings: result.findings.length, coded, portal: typeof portal, make: typeof make, csr: csr.commonName, profiles: status.profiles.map((p) => p.name), unknown }));
`;

let dir = "";

describe.sequential("the packed package in a consumer project", () => {
  beforeAll(async () => {
    if (!existsSync(join(repo, "dist/types/index.d.ts"))) throw new Error("dist/types is missing: run `npm run build` first");
    dir = await mkdtemp(join(tmpdir(), "mtlskit-consumer-"));
    await run(npm, ["pack", "--ignore-scripts", "--pack-destination", dir], { cwd: repo });
    const tarball = (await readdir(dir)).find((f) => f.endsWith(".tgz"));
    if (tarball === undefined) throw new Error("npm pack wrote no tarball");
    await writeFile(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    await writeFile(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: false,
          outDir: "out",
          skipLibCheck: false,
          types: ["node"],
          typeRoots: [join(repo, "node_modules/@types")],
        },
        files: ["consumer.ts"],
      }),
    );
    await writeFile(join(dir, "consumer.ts"), consumer);
    await run(npm, ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", `./${tarball}`], { cwd: dir, timeout: 240_000 });
  }, 300_000);

  afterAll(async () => {
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  it("ships declarations for the three entry points and no CLI, fixture or test declarations", async () => {
    const types = join(dir, "node_modules/mtlskit/dist/types");
    for (const f of ["index.d.ts", "testing/index.d.ts", "emulator/index.d.ts"]) expect(existsSync(join(types, f)), f).toBe(true);
    const top = await readdir(types);
    expect(top).not.toContain("cli");
    expect(existsSync(join(dir, "node_modules/mtlskit/test"))).toBe(false);
    expect(existsSync(join(dir, "node_modules/mtlskit/src"))).toBe(false);
  });

  it("type-checks in strict mode with nodenext resolution, and runs", async () => {
    const tsc = join(repo, "node_modules/typescript/bin/tsc");
    await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: dir }).catch((e: { stdout?: string }) => {
      throw new Error(`tsc failed in the consumer project:\n${e.stdout ?? String(e)}`);
    });
    const { stdout } = await run(process.execPath, ["out/consumer.js"], { cwd: dir, timeout: 60_000 });
    const out = JSON.parse(stdout) as { findings: number; coded: string; portal: string; make: string; csr: string; profiles: string[]; unknown: string };
    expect(out.portal).toBe("string");
    expect(out.coded).toMatch(/^[A-Z0-9_]+$/);
    expect(out.make).toBe("function");
    expect(out.findings).toBeGreaterThanOrEqual(0);
    expect(out.csr).toBe("TLSMA-ECDSA/123456/D1.PPR");
    expect(out.profiles).toEqual(["d1-pp"]);
    expect(out.unknown).toBe("PROFILE_NOT_FOUND");
  }, 120_000);

  it("passes publint", async () => {
    const bin = join(repo, "node_modules/publint/src/cli.js");
    const { stdout } = await run(process.execPath, [bin, "--strict", join(dir, "node_modules/mtlskit")], { cwd: repo });
    expect(stdout).toContain("All good");
  }, 60_000);
});
