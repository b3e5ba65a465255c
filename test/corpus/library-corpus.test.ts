/**
 * The whole corpus through every reader, in-process (milliseconds each, so every input meets
 * every reader; cli-corpus.test.ts takes the same inputs through the binary): each reader
 * returns, or throws an `MtlsError` whose code exits 2; a malformed input is refused; nothing
 * takes long. Also every mtlskit.yaml through parseConfig and every hostile subject through
 * parseSubject and back.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ERROR_CODES, isMtlsError } from "../../src/errors/index.js";
import { decodeName, decodePkiObjects, encodeSubject, inspectFile, loadPrivateKey, parseSubject, readCertificates, readPkiObjects, readPrivateKeyFile, type Rdn } from "../../src/pki/index.js";
import { MAX_INPUT_BYTES } from "../../src/pki/files.js";
import { parseConfig } from "../../src/store/index.js";
import { requireTool } from "../support/tools.js";
import { brokenConfigs, buildFileCorpus, buildMaterials, hostileSubjects, opensslIn, type FileInput, type ObjectKind } from "./corpus.js";

const ROOT = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-corpus-lib-"));
const materials = await buildMaterials();
const { files } = await buildFileCorpus(materials, path.join(ROOT, "openssl"), requireTool("openssl") ? opensslIn(path.join(ROOT, "openssl")) : undefined);
for (const f of files) await fs.writeFile(path.join(ROOT, `${f.name}.${f.ext}`), f.data);

afterAll(async () => {
  await fs.rm(ROOT, { recursive: true, force: true });
});

/** Longest one reader may take on one input. */
const MAX_MS = 5_000;

type Outcome = { ok: true } | { ok: false; error: unknown };

async function attempt(work: () => unknown): Promise<Outcome & { ms: number }> {
  const started = Date.now();
  try {
    await work();
    return { ok: true, ms: Date.now() - started };
  } catch (error) {
    return { ok: false, error, ms: Date.now() - started };
  }
}

function describeError(e: unknown): string {
  if (isMtlsError(e)) return `MtlsError ${e.code}: ${e.message.slice(0, 300)}`;
  return `${(e as Error)?.constructor?.name ?? typeof e} (not an MtlsError): ${String((e as Error)?.message ?? e).slice(0, 300)}\n${String((e as Error)?.stack ?? "").split("\n").slice(1, 4).join("\n")}`;
}

/**
 * A reader's answer to an input: in time; a throw is an MtlsError with an exit-2 code; and
 * when the input holds none of what the reader accepts, it throws.
 */
function expectReader(o: Outcome & { ms: number }, mayAccept: boolean, what: string): void {
  expect(o.ms, `${what}: took ${o.ms} ms`).toBeLessThan(MAX_MS);
  if (!o.ok) {
    expect(isMtlsError(o.error), `${what}: threw ${describeError(o.error)}`).toBe(true);
    if (isMtlsError(o.error)) expect(ERROR_CODES[o.error.code].exit, `${what}: ${describeError(o.error)}`).toBe(2);
  } else {
    expect(mayAccept, `${what}: accepted an input it must refuse`).toBe(true);
  }
}

const has = (f: FileInput, ...kinds: ObjectKind[]) => f.kinds.some((k) => kinds.includes(k));
/** Readers of bytes in memory have no size limit (readInputFile has): an over-limit input may then parse. */
const inMemoryMay = (f: FileInput, accepted: boolean) => accepted || f.data.length > MAX_INPUT_BYTES;

describe("every file of the corpus through every reader", () => {
  it.each(files)("$name: $why", async (f) => {
    const file = path.join(ROOT, `${f.name}.${f.ext}`);
    const source = `${f.name}.${f.ext}`;
    expectReader(await attempt(() => decodePkiObjects(f.data, source)), inMemoryMay(f, has(f, "certificate", "csr", "key")), "decodePkiObjects");
    expectReader(await attempt(() => loadPrivateKey(f.data, { source })), inMemoryMay(f, has(f, "key")), "loadPrivateKey");
    expectReader(await attempt(() => readPkiObjects(file)), has(f, "certificate", "csr", "key"), "readPkiObjects");
    expectReader(await attempt(() => readPrivateKeyFile(file)), has(f, "key"), "readPrivateKeyFile");
    expectReader(await attempt(() => readCertificates(file)), has(f, "certificate"), "readCertificates");
    expectReader(await attempt(() => inspectFile(file)), f.kinds.length > 0, "inspectFile");
  });
});

describe("every mtlskit.yaml of the corpus through parseConfig", () => {
  // The 5 MiB file is left to the CLI corpus, which can kill a run that never ends.
  const configs = brokenConfigs().filter((c) => c.data !== "directory" && c.name !== "yaml-huge-over-4mib");
  it.each(configs)("$name: $why", async (c) => {
    const text = Buffer.from(c.data as Uint8Array).toString("utf8");
    const o = await attempt(() => parseConfig(text, "mtlskit.yaml"));
    expectReader(o, c.expect === "tolerate", "parseConfig");
    if (!o.ok && c.expect === "refuse") expect(isMtlsError(o.error, "CONFIG_INVALID"), describeError(o.error)).toBe(true);
  });
});

describe("every hostile subject through parseSubject, encodeSubject and decodeName", () => {
  // Those refused by the programs' DN rules (SUBJECT_INCOMPLETE) are valid syntax: not here.
  const syntax = hostileSubjects().filter((s) => s.option === "subject" && (s.expect === "tolerate" || s.codes?.some((c) => c === "SUBJECT_SYNTAX" || c === "SUBJECT_ATTRIBUTE_UNKNOWN")));
  it.each(syntax)("$name: $why", async (s) => {
    let rdns: Rdn[] | undefined;
    const o = await attempt(() => (rdns = parseSubject(s.value)));
    expectReader(o, s.expect === "tolerate", "parseSubject");
    if (!o.ok && s.codes && isMtlsError(o.error)) expect(s.codes, describeError(o.error)).toContain(o.error.code);
    if (rdns) {
      // What parseSubject accepts must be encoded and read back unchanged.
      const back = decodeName(encodeSubject(rdns));
      expect(back.map((r) => r.map((a) => [a.oid, a.value]))).toEqual(rdns.map((r) => r.map((a) => [a.oid, a.value])));
    }
  });
});
