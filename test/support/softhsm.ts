/**
 * A fresh SoftHSM2 token in a temporary folder, for tests of keys in a token. SoftHSM reads
 * SOFTHSM2_CONF when the module is initialised, which mtlskit does once per process: call
 * {@link softHsm} before anything loads the module (vitest runs each test file in its own process).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTool } from "./tools.js";

export const SOFTHSM_MODULE_CANDIDATES = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"];

export interface SoftHsm {
  /** The module path. */
  module: string;
  /** Folder of the token store and the conf file. */
  dir: string;
  /** Environment for child processes (SOFTHSM2_CONF, MTLSKIT_PKCS11_MODULE). */
  env: Record<string, string>;
  /** A file holding the user PIN. */
  pinFile: string;
  pin: string;
  /** Initialises another token in the same store; returns its label. */
  addToken(label: string): string;
}

/** True when softhsm2 and pkcs11-tool are installed (a failure in CI, a printed skip elsewhere). */
export function haveSoftHsm(): boolean {
  if (!requireTool("softhsm2-util") || !requireTool("pkcs11-tool")) return false;
  const module = SOFTHSM_MODULE_CANDIDATES.find((m) => existsSync(m));
  if (module) return true;
  if (process.env.MTLSKIT_REQUIRE_TOOLS === "1") throw new Error("libsofthsm2.so not found: install softhsm2");
  console.warn("skipping the token tests: libsofthsm2.so not found");
  return false;
}

/** Makes a token store with one token, `label`, and points this process at it. */
export function softHsm(label = "mtlskit-test", pin = "123456"): SoftHsm {
  const module = SOFTHSM_MODULE_CANDIDATES.find((m) => existsSync(m))!;
  const dir = mkdtempSync(join(tmpdir(), "mtlskit-softhsm-"));
  mkdirSync(join(dir, "tokens"));
  const conf = join(dir, "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { SOFTHSM2_CONF: conf, MTLSKIT_PKCS11_MODULE: module };
  process.env.SOFTHSM2_CONF = conf;
  const pinFile = join(dir, "pin.txt");
  writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
  const addToken = (l: string): string => {
    execFileSync("softhsm2-util", ["--init-token", "--free", "--label", l, "--pin", pin, "--so-pin", "987654"], { env: { ...process.env, ...env }, stdio: "pipe" });
    return l;
  };
  addToken(label);
  return { module, dir, env, pinFile, pin, addToken };
}
