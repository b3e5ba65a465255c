/**
 * `assets import` reads only regular files inside the bundle folder: a FIFO (mkfifo), a symlink
 * to /dev/zero, a unix socket, a device are refused with ASSET_NOT_REGULAR_FILE before they are
 * opened, the command returns (no hang on the FIFO, no endless read of /dev/zero), and the
 * workspace lock is released. The real `mtlskit` binary, real special files.
 */
import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeThalesSide, standardBundle, type ThalesSide } from "./support/store-fixtures.js";
import { mtlskit, type CliRun } from "./support/cli.js";

let tmp: string;
let home: string;
let side: ThalesSide;
const servers: net.Server[] = [];

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-special-"));
  home = path.join(tmp, "ws");
  side = await makeThalesSide("d1");
  const r = await run(["profile", "add", "d1-pp", "--program", "d1", "--env", "preprod", "--id", "123456", "--subject", "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments"]);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(async () => {
  for (const s of servers) s.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

function run(args: string[]): Promise<CliRun> {
  // A hang (a FIFO opened for reading) would end at the timeout with code -1, not 2.
  return mtlskit(args, { cwd: tmp, env: { MTLSKIT_HOME: home, MTLSKIT_LOCK_WAIT_MS: "0" }, timeoutMs: 30_000 });
}

/** A standard bundle whose server chain file is replaced by `make(file)`. */
async function bundleWith(name: string, make: (file: string) => Promise<void>, asset = "D1_TLS_SERVER_CA_CHAIN.pem"): Promise<string> {
  const dir = path.join(tmp, name);
  await standardBundle(dir, side, "d1", "preprod", "123456");
  await fs.rm(path.join(dir, asset));
  await make(path.join(dir, asset));
  return dir;
}

async function expectRefused(args: string[], what: RegExp): Promise<void> {
  const r = await run(args);
  expect(r.code, r.stdout + r.stderr).toBe(2);
  expect(r.stderr).toMatch(/^error \[ASSET_NOT_REGULAR_FILE\]: /);
  expect(r.stderr).toMatch(what);
  // The lock is released: no .lock left, and the next write goes through at once.
  await expect(fs.lstat(path.join(home, ".lock"))).rejects.toThrow();
  expect((await run(["profile", "list"])).code).toBe(0);
}

describe("assets import refuses what is not a regular file", () => {
  it("a FIFO among the bundle's files (mkfifo): refused, never opened", async () => {
    const dir = await bundleWith("fifo", async (f) => void execFileSync("mkfifo", [f]));
    await expectRefused(["assets", "import", dir, "--profile", "d1-pp"], /FIFO/);
  });

  it("a manifest.json that is a FIFO", async () => {
    const dir = await bundleWith("fifo-manifest", async (f) => void execFileSync("mkfifo", [f]), "manifest.json");
    await expectRefused(["assets", "import", dir, "--profile", "d1-pp"], /FIFO/);
  });

  it("a symlink to /dev/zero: refused as a link, /dev/zero never read", async () => {
    const dir = await bundleWith("zero", (f) => fs.symlink("/dev/zero", f));
    await expectRefused(["assets", "import", dir, "--profile", "d1-pp"], /symbolic link/);
  });

  it("a symlink to a regular PEM outside the bundle is refused too", async () => {
    const outside = path.join(tmp, "outside.pem");
    await fs.writeFile(outside, side.server.intermediate.certPem + side.server.root.certPem);
    const dir = await bundleWith("link", (f) => fs.symlink(outside, f));
    await expectRefused(["assets", "import", dir, "--profile", "d1-pp"], /symbolic link/);
  });

  it("a unix socket among the bundle's files", async () => {
    const dir = await bundleWith("socket", async (f) => {
      const server = net.createServer((c) => c.end());
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(f, resolve));
    });
    await expectRefused(["assets", "import", dir, "--profile", "d1-pp"], /socket/);
  });

  it("a device given as the single file (/dev/zero)", async () => {
    await expectRefused(["assets", "import", "/dev/zero", "--profile", "d1-pp"], /device/);
  });

  it("a regular file over the input cap is refused without reading it all (FILE_TOO_LARGE)", async () => {
    const dir = await bundleWith("huge", async (f) => {
      await fs.writeFile(f, "");
      await fs.truncate(f, 64 * 1024 * 1024); // sparse
    });
    const r = await run(["assets", "import", dir, "--profile", "d1-pp"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^error \[FILE_TOO_LARGE\]: /);
    await expect(fs.lstat(path.join(home, ".lock"))).rejects.toThrow();
  });

  it("the same bundle with regular files imports", async () => {
    const dir = path.join(tmp, "good");
    await standardBundle(dir, side, "d1", "preprod", "123456");
    const r = await run(["assets", "import", dir, "--profile", "d1-pp"]);
    expect(r.code, r.stderr).toBe(0);
  });
});
