/**
 * The bad input corpus through the real `mtlskit` binary: every hostile file through every
 * command that takes such a file (lint, inspect, cert needs-renewal, csr create --key, cert
 * self-signed --key, cert install, assets import, server-cert set), hostile subjects, names and
 * ids through the commands that take them, broken mtlskit.yaml files and asset bundles.
 *
 * Each run must keep the contract of harness.ts: exit 2 (or, for a well-formed input, what the
 * command normally answers), never 3 or a signal; one `error [CODE]:` line with a code of the
 * table and a hint; no stack trace; no raw control characters; done in bounded time; nothing
 * written by a failed run.
 *
 * Spawning costs ~0.3 s a run on a quiet machine; runs share a small process pool
 * (MTLSKIT_CORPUS_CONCURRENCY). By default a few commands whose reading path is the same as
 * another's take only the inputs aimed at them; MTLSKIT_CORPUS_FULL=1 runs the whole cross
 * product.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { addProfile, createProfileCsr, loadConfig } from "../../src/store/index.js";
import { makeThalesSide, standardBundle } from "../support/store-fixtures.js";
import { mtlskit } from "../support/cli.js";
import { requireTool } from "../support/tools.js";
import {
  brokenBundles,
  brokenConfigs,
  buildFileCorpus,
  buildMaterials,
  D1_SUBJECT,
  hostileSubjects,
  opensslIn,
  type FileInput,
  type SubjectInput,
} from "./corpus.js";
import { changes, CONCURRENCY, expectContract, expectNoTerminalControl, KILL_AFTER_MS, leftoversIn, Limiter, snapshot, type Expectation, type RunRecord } from "./harness.js";

const FULL = process.env.MTLSKIT_CORPUS_FULL === "1";
const ROOT = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-corpus-cli-"));
const INPUTS = path.join(ROOT, "inputs");
const SUPPORT = path.join(ROOT, "support");
const BASE_WS = path.join(ROOT, "base-ws");
const BASE_BUNDLE = path.join(ROOT, "base-bundle");
const PROFILE = "d1-pp";

// --- The corpus and what the runs need, made once --------------------------------------------
const materials = await buildMaterials();
const hasOpenssl = requireTool("openssl");
const { files, pairs } = await buildFileCorpus(materials, path.join(ROOT, "openssl"), hasOpenssl ? opensslIn(path.join(ROOT, "openssl")) : undefined);
await fs.mkdir(INPUTS, { recursive: true });
await fs.mkdir(SUPPORT, { recursive: true });
for (const f of files) await fs.writeFile(path.join(INPUTS, `${f.name}.${f.ext}`), f.data);
for (const p of pairs) {
  await fs.writeFile(path.join(INPUTS, `${p.name}.${p.objectKind === "csr" ? "csr" : "crt"}`), p.object);
  await fs.writeFile(path.join(INPUTS, `${p.name}.key`), p.key);
}
await fs.writeFile(path.join(SUPPORT, "good.key"), materials.keyPem, { mode: 0o600 });
await fs.writeFile(path.join(SUPPORT, "good.csr"), materials.csrPem);
await fs.writeFile(path.join(SUPPORT, "server-chain.pem"), materials.server.certPem + materials.pki.intermediate.certPem + materials.pki.root.certPem);
await fs.writeFile(path.join(SUPPORT, "server.key"), materials.server.keyPem, { mode: 0o600 });
// A D1 preprod workspace with a key and a CSR, built with the library (no spawn).
await addProfile(BASE_WS, PROFILE, { program: "d1", environment: "preprod", customerId: "123456", subject: D1_SUBJECT });
await createProfileCsr(BASE_WS, PROFILE);
await standardBundle(BASE_BUNDLE, await makeThalesSide("d1"), "d1", "preprod", "123456");
const inputsBefore = await snapshot(INPUTS);

afterAll(async () => {
  // No run may touch the shared inputs (a command writing next to its input would show here).
  expect(changes(inputsBefore, await snapshot(INPUTS))).toEqual([]);
  await fs.rm(ROOT, { recursive: true, force: true });
});

// --- Running one case ---------------------------------------------------------------------------
const limiter = new Limiter(CONCURRENCY);
let caseNo = 0;

interface CaseOptions {
  /** Copy the D1 workspace into `ws/` (MTLSKIT_HOME). */
  workspace?: boolean;
  /** Extra set-up in the case folder before the snapshot. */
  prepare?: (dir: string) => Promise<void>;
}

/** Runs `args(dir)` in a fresh case folder; returns the record the contract is checked on. */
async function runCase(args: (dir: string) => string[], options: CaseOptions = {}): Promise<RunRecord & { dir: string }> {
  const dir = path.join(ROOT, "cases", String(++caseNo));
  await fs.mkdir(dir, { recursive: true });
  if (options.workspace) await fs.cp(BASE_WS, path.join(dir, "ws"), { recursive: true });
  await options.prepare?.(dir);
  const before = await snapshot(dir);
  const argv = args(dir);
  const { run, ms } = await limiter.run(async () => {
    const started = Date.now();
    const r = await mtlskit(argv, { cwd: dir, env: { MTLSKIT_HOME: path.join(dir, "ws"), MTLSKIT_LOCK_WAIT_MS: "100" }, timeoutMs: KILL_AFTER_MS });
    return { run: r, ms: Date.now() - started };
  });
  const after = await snapshot(dir);
  return { dir, args: argv, run, ms, changes: changes(before, after), leftovers: leftoversIn(after) };
}

/** Path of a corpus input, relative to a case folder (messages then show a short path). */
function input(dir: string, f: FileInput): string {
  return path.relative(dir, path.join(INPUTS, `${f.name}.${f.ext}`));
}
function support(dir: string, name: string): string {
  return path.relative(dir, path.join(SUPPORT, name));
}

// --- Files through the commands that take them -------------------------------------------------
type Role = "lint" | "inspect" | "certificate" | "key";

interface FileCommand {
  readonly id: string;
  readonly role: Role;
  readonly workspace: boolean;
  /** The inputs it takes by default; all of them with MTLSKIT_CORPUS_FULL=1. */
  readonly takes: (f: FileInput) => boolean;
  readonly args: (dir: string, file: string) => string[];
}

const wellFormed = (f: FileInput) => f.kinds.length > 0;
/** Certificates and CSRs lint reads whole: linted all in one run (see below). */
const batchable = (f: FileInput) => f.kinds.length > 0 && f.kinds.every((k) => k === "certificate" || k === "csr") && !f.lintMustFail;
/** Well-formed certificates whose checks after reading differ between the store commands. */
const STORE_SET = new Set([
  "certificate-expired",
  "pem-thousand-copies-of-a-certificate",
  "openssl-certificate-without-extensions",
  "openssl-certificate-basic-constraints-null",
  "openssl-certificate-eku-not-oids",
  "openssl-certificate-ca-leaf-mix",
  "openssl-certificate-san-empty",
  "openssl-certificate-san-dns-with-nul",
  "openssl-certificate-duplicate-san",
  "openssl-certificate-subject-escape-sequence",
  "openssl-certificate-subject-rtl-override",
  "openssl-certificate-subject-newline",
]);

/**
 * The commands that take a file, and which inputs each takes by default (every one with
 * MTLSKIT_CORPUS_FULL=1). A malformed input (nothing gets past the reader) goes through the
 * command of what it is aimed at: the readers are shared (lint, needs-renewal, cert install and
 * assets import read with readPkiObjects; csr create, cert self-signed, lint --key and
 * server-cert set --key with loadPrivateKey), and library-corpus.test.ts puts every input
 * through every reader in-process. A well-formed one also goes through inspect and lint, whose
 * rendering differs, and a chosen set through the store commands, whose checks come after reading.
 */
const FILE_COMMANDS: readonly FileCommand[] = [
  { id: "lint", role: "lint", workspace: false, takes: (f) => (!wellFormed(f) && f.aim === "csr") || (wellFormed(f) && !batchable(f)), args: (_, file) => ["lint", file, "--program", "d1", "--env", "preprod", "--gateway-id", "123456"] },
  { id: "inspect", role: "inspect", workspace: false, takes: (f) => wellFormed(f) || f.aim === "any", args: (_, file) => ["inspect", file] },
  { id: "cert needs-renewal", role: "certificate", workspace: false, takes: (f) => f.aim === "certificate" && !f.kinds.includes("certificate"), args: (_, file) => ["cert", "needs-renewal", file] },
  {
    id: "csr create --key",
    role: "key",
    workspace: false,
    takes: (f) => f.aim === "key",
    args: (_, file) => ["csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "123456", "--subject", D1_SUBJECT, "--key", file, "--out", "out.csr"],
  },
  {
    id: "cert self-signed --key",
    role: "key",
    workspace: false,
    takes: () => false,
    args: (_, file) => ["cert", "self-signed", "--program", "mt", "--env", "sandbox", "--cn", "MT-123456-SBX", "--key", file, "--out", "out.crt"],
  },
  { id: "lint --key", role: "key", workspace: false, takes: () => false, args: (dir, file) => ["lint", support(dir, "good.csr"), "--program", "d1", "--key", file] },
  { id: "cert install", role: "certificate", workspace: true, takes: (f) => STORE_SET.has(f.name) || (f.aim === "certificate" && wellFormed(f) && !f.kinds.includes("certificate")), args: (_, file) => ["cert", "install", file, "--profile", PROFILE] },
  { id: "assets import", role: "certificate", workspace: true, takes: (f) => STORE_SET.has(f.name), args: (_, file) => ["assets", "import", file, "--profile", PROFILE] },
  {
    id: "server-cert set --cert",
    role: "certificate",
    workspace: true,
    takes: (f) => STORE_SET.has(f.name),
    args: (dir, file) => ["server-cert", "set", "--profile", PROFILE, "--cert", file, "--key", support(dir, "server.key"), "--host", "notify.example.com"],
  },
  {
    id: "server-cert set --key",
    role: "key",
    workspace: true,
    takes: () => false,
    args: (dir, file) => ["server-cert", "set", "--profile", PROFILE, "--cert", support(dir, "server-chain.pem"), "--key", file, "--host", "notify.example.com"],
  },
];

/** What a command may answer for a file, from what the file really holds. */
function expectationFor(role: Role, f: FileInput): Expectation {
  switch (role) {
    case "lint": {
      const lintable = f.kinds.some((k) => k === "certificate" || k === "csr" || k === "key");
      return { exits: !lintable ? [2] : f.lintMustFail ? [1, 2] : [0, 1, 2] };
    }
    case "inspect":
      return { exits: f.kinds.length > 0 ? [0, 2] : [2] };
    case "certificate":
      return { exits: f.kinds.includes("certificate") ? [0, 1, 2] : [2] };
    case "key":
      return { exits: f.kinds.includes("key") && !f.refusedAsClientKey ? [0, 2] : [2] };
  }
}

describe("the harness itself: sound inputs pass (else every refusal below would prove nothing)", () => {
  it.concurrent.each([
    ["csr create --key", (dir: string) => ["csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "123456", "--subject", D1_SUBJECT, "--key", support(dir, "good.key"), "--out", "out.csr"], false],
    ["cert self-signed --key", (dir: string) => ["cert", "self-signed", "--program", "mt", "--env", "sandbox", "--cn", "MT-123456-SBX", "--key", support(dir, "good.key"), "--out", "out.crt"], false],
    ["lint", (dir: string) => ["lint", support(dir, "good.csr"), "--program", "d1", "--env", "preprod", "--gateway-id", "123456", "--key", support(dir, "good.key")], false],
    ["server-cert set", (dir: string) => ["server-cert", "set", "--profile", PROFILE, "--cert", support(dir, "server-chain.pem"), "--key", support(dir, "server.key"), "--host", "notify.example.com"], true],
    ["profile list", () => ["profile", "list"], true],
  ] as const)("%s", async (_, args, workspace) => {
    const r = await runCase(args, { workspace });
    expectContract(r, { exits: [0] });
  });

  it("assets import of the sound bundle", async () => {
    const r = await runCase(() => ["assets", "import", "bundle", "--profile", PROFILE], { workspace: true, prepare: (dir) => fs.cp(BASE_BUNDLE, path.join(dir, "bundle"), { recursive: true }) });
    expectContract(r, { exits: [0] });
  });

  it(`the corpus has at least 60 hostile inputs (files ${files.length}, subjects ${hostileSubjects().length}, configs ${brokenConfigs().length}, bundles ${brokenBundles().length})`, () => {
    expect(files.length + pairs.length + hostileSubjects().length + brokenConfigs().length + brokenBundles().length).toBeGreaterThanOrEqual(60);
  });
});

for (const command of FILE_COMMANDS) {
  const taken = files.filter((f) => FULL || command.takes(f));
  if (taken.length === 0) continue;
  describe(`mtlskit ${command.id} <hostile file>`, () => {
    it.concurrent.each(taken)("$name: $why", async (f) => {
      const r = await runCase((dir) => command.args(dir, input(dir, f)), { workspace: command.workspace });
      expectContract(r, expectationFor(command.role, f));
      expectNoTerminalControl(r);
    });
  });
}

/** True when the run keeps the contract (for bisecting a batch). */
function keeps(r: RunRecord, e: Expectation): string | undefined {
  try {
    expectContract(r, e);
    expectNoTerminalControl(r);
    return undefined;
  } catch (err) {
    return (err as Error).message.split("\n")[0];
  }
}

if (!FULL) {
  describe("mtlskit lint <every well-formed certificate and CSR at once>", () => {
    // One run for all (lint takes many files); on failure, halves are run until each failing
    // input is named, so the message lists the culprits and why.
    const batch = files.filter(batchable);
    const lintArgs = (dir: string, list: FileInput[]) => ["lint", ...list.map((f) => input(dir, f)), "--program", "d1", "--env", "preprod", "--gateway-id", "123456"];
    const culprits = async (list: FileInput[]): Promise<string[]> => {
      const r = await runCase((dir) => lintArgs(dir, list));
      const problem = keeps(r, { exits: list.length === 1 ? expectationFor("lint", list[0]!).exits : [0, 1] });
      if (problem === undefined) return [];
      if (list.length === 1) return [`${list[0]!.name}: ${problem}`];
      const half = Math.ceil(list.length / 2);
      return (await Promise.all([culprits(list.slice(0, half)), culprits(list.slice(half))])).flat();
    };
    it(`${batch.length} inputs in one run, bisected on failure`, async () => {
      const found = await culprits(batch);
      expect(found, `inputs that break the contract:\n${found.join("\n")}`).toEqual([]);
    }, 300_000);
  });
}

describe("mismatched keys and certificates", () => {
  const cases = pairs.flatMap((p) => {
    const object = (dir: string) => path.relative(dir, path.join(INPUTS, `${p.name}.${p.objectKind === "csr" ? "csr" : "crt"}`));
    const key = (dir: string) => path.relative(dir, path.join(INPUTS, `${p.name}.key`));
    const list: Array<{ label: string; args: (dir: string) => string[]; workspace: boolean; exits: number[] }> = [
      { label: `lint --key: ${p.name}`, args: (dir) => ["lint", object(dir), "--program", "d1", "--key", key(dir)], workspace: false, exits: [1, 2] },
    ];
    if (p.objectKind === "certificate") {
      list.push({ label: `server-cert set: ${p.name}`, args: (dir) => ["server-cert", "set", "--profile", PROFILE, "--cert", object(dir), "--key", key(dir), "--host", "notify.example.com"], workspace: true, exits: [2] });
      list.push({ label: `cert install (not the profile's key): ${p.name}`, args: (dir) => ["cert", "install", object(dir), "--profile", PROFILE], workspace: true, exits: [2] });
    }
    return list;
  });
  it.concurrent.each(cases)("$label", async (c) => {
    const r = await runCase(c.args, { workspace: c.workspace });
    expectContract(r, { exits: c.exits });
  });
});

// --- Subjects, Common Names and ids on the command line ------------------------------------
interface SubjectCase {
  label: string;
  input: SubjectInput;
  workspace: boolean;
  args: (value: string) => string[];
  /** A profile was added: the workspace must still load. */
  writesConfig: boolean;
}

const subjectCases: SubjectCase[] = hostileSubjects().flatMap((s): SubjectCase[] => {
  const d1Csr = (over: Record<string, string>) => {
    const o = { program: "d1", env: "preprod", "gateway-id": "123456", subject: D1_SUBJECT, type: "ecdsa-p256", ...over };
    return ["csr", "create", ...Object.entries(o).flatMap(([k, v]) => [`--${k}`, v]), "--key-out", "new.key", "--out", "out.csr"];
  };
  switch (s.option) {
    case "subject":
      return [
        { label: `profile add --subject: ${s.name}`, input: s, workspace: true, writesConfig: true, args: (v) => ["profile", "add", "d1-new", "--program", "d1", "--env", "preprod", "--id", "777777", "--subject", v] },
        { label: `csr create --subject: ${s.name}`, input: s, workspace: false, writesConfig: false, args: (v) => d1Csr({ subject: v }) },
      ];
    case "cn":
      return [
        { label: `profile add --cn: ${s.name}`, input: s, workspace: true, writesConfig: true, args: (v) => ["profile", "add", "mt-new", "--program", "mt", "--env", "sandbox", "--id", "654321", "--cn", v] },
        { label: `cert self-signed --cn: ${s.name}`, input: s, workspace: false, writesConfig: false, args: (v) => ["cert", "self-signed", "--program", "mt", "--env", "sandbox", "--cn", v, "--type", "ecdsa-p256", "--key-out", "new.key", "--out", "out.crt"] },
      ];
    case "id":
      return [
        { label: `profile add --id: ${s.name}`, input: s, workspace: true, writesConfig: true, args: (v) => ["profile", "add", "d1-new", "--program", "d1", "--env", "preprod", "--id", v, "--subject", D1_SUBJECT] },
        { label: `csr create --gateway-id: ${s.name}`, input: s, workspace: false, writesConfig: false, args: (v) => d1Csr({ "gateway-id": v }) },
      ];
  }
});

/**
 * By default one command each (parseSubject and the id checks are shared): a refused subject
 * through csr create (which would encode it), a tolerated one through profile add (which
 * stores it), a CN through cert self-signed, an id through profile add (a folder name).
 */
const defaultSubjectCase = (c: SubjectCase): boolean =>
  c.input.option === "subject" ? (c.input.expect === "refuse") !== c.writesConfig : c.input.option === "cn" ? !c.writesConfig : c.writesConfig;

describe("hostile subjects, Common Names and ids", () => {
  it.concurrent.each(subjectCases.filter((c) => FULL || defaultSubjectCase(c)))("$label ($input.why)", async (c) => {
    const r = await runCase(() => c.args(c.input.value), { workspace: c.workspace });
    const refuse = c.input.expect === "refuse";
    expectContract(r, { exits: refuse ? [2] : [0, 2], ...(refuse && c.input.codes ? { codes: c.input.codes } : {}) });
    expectNoTerminalControl(r);
    // Whatever was accepted must not leave a workspace that no longer loads.
    if (r.run.code === 0 && c.writesConfig) await expect(loadConfig(path.join(r.dir, "ws"))).resolves.toBeDefined();
  });
});

// --- Broken mtlskit.yaml --------------------------------------------------------------------
describe("broken mtlskit.yaml", () => {
  // Every command loads the file the same way (loadConfig); a write shows also that the file is left as it was.
  // library-corpus.test.ts reads every file with parseConfig; here a sample through the binary.
  const sample = new Set([
    "yaml-alias-bomb",
    "yaml-huge-over-4mib",
    "yaml-profile-named-proto",
    "yaml-key-is-a-collection",
    "yaml-is-a-directory",
    "yaml-invalid-utf8",
    "yaml-nul-bytes",
    "yaml-nested-flow-20000",
    "yaml-customer-id-path-traversal",
    "yaml-unknown-profile-field",
    "yaml-bom-and-comments",
    "yaml-empty",
  ]);
  const cases = brokenConfigs().filter((c) => FULL || sample.has(c.name)).flatMap((c) => [
    ...(FULL ? [{ label: `profile list: ${c.name}`, config: c, args: ["profile", "list"] }] : []),
    { label: `profile add (a write): ${c.name}`, config: c, args: ["profile", "add", "mt-new", "--program", "mt", "--env", "sandbox", "--id", "654321"] },
  ]);
  it.concurrent.each(cases)("$label ($config.why)", async ({ config, args }) => {
    const r = await runCase(() => args, {
      workspace: true,
      prepare: async (dir) => {
        const file = path.join(dir, "ws", "mtlskit.yaml");
        await fs.rm(file);
        if (config.data === "directory") await fs.mkdir(file);
        else await fs.writeFile(file, config.data);
      },
    });
    expectContract(r, config.expect === "refuse" ? { exits: [2], codes: ["CONFIG_INVALID", "FILE_TOO_LARGE", "FILE_UNREADABLE"] } : { exits: [0, 2] });
    expectNoTerminalControl(r);
  });
});

// --- Broken asset bundles -------------------------------------------------------------------------
describe("broken asset bundles: mtlskit assets import DIR", () => {
  it.concurrent.each(brokenBundles())("$name: $why", async (b) => {
    const r = await runCase(() => ["assets", "import", "bundle", "--profile", PROFILE], {
      workspace: true,
      prepare: async (dir) => {
        const bundle = path.join(dir, "bundle");
        await fs.cp(BASE_BUNDLE, bundle, { recursive: true });
        const manifest = JSON.parse(await fs.readFile(path.join(bundle, "manifest.json"), "utf8")) as Record<string, unknown> & { assets: Record<string, string> };
        await b.mutate(bundle, manifest);
      },
    });
    expectContract(r, b.expect === "refuse" ? { exits: [2], ...(b.code ? { codes: [b.code] } : {}) } : { exits: [0, 2] });
    expectNoTerminalControl(r);
  });
});
