/**
 * Bad input through the real CLI: every way a key file, an option or an output path can be
 * wrong exits 2 with one line `error [CODE]: <file>: <problem>` and one hint line, no stack
 * trace, and leaves no output behind (neither --out nor a key generated for --key-out).
 */
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { existsSync, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { isMtlsError } from "../src/errors/index.js";
import { createCertificate, createClientCsr, createCsr, createSelfSignedClientCertificate, parseSubject, toPem } from "../src/pki/index.js";
import { mtlskit, type CliRun } from "./support/cli.js";

const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
const root = path.join(os.tmpdir(), `mtlskit-bad-input-${process.pid}-${Date.now()}`);
let fixtures: Record<string, string | Uint8Array>;
let caseNo = 0;

beforeAll(async () => {
  await fs.mkdir(root, { recursive: true });
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const subject = parseSubject("/CN=not a key");
  const cert = createCertificate({ subject, publicKey: createPublicKey(privateKey), signingKey: privateKey, notAfter: new Date(Date.now() + 86_400_000) });
  fixtures = {
    "empty.key": "",
    "blank.key": "\n  \n",
    "random.key": new Uint8Array(Array.from({ length: 600 }, (_, i) => (i * 151 + 89) & 0xff)),
    "truncated.key": pem.slice(0, Math.floor(pem.length / 2)),
    "cut-base64.key": pem.replace(/\n[A-Za-z0-9+/=]+\n-----END/, "\n-----END").replace(/^(-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/]{10})/, "$1%"),
    "client.crt": toPem("CERTIFICATE", cert),
    "client.der": cert,
    "request.csr": toPem("CERTIFICATE REQUEST", createCsr({ subject, privateKey })),
    "public.pem": createPublicKey(privateKey).export({ type: "spki", format: "pem" }).toString(),
    "encrypted.key": privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "right" }).toString(),
    "right.txt": "right\n",
    "wrong.txt": "wrong\n",
  };
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** A fresh working directory holding the fixtures and a `keys/` directory. */
async function workdir(): Promise<string> {
  const dir = path.join(root, `case-${++caseNo}`);
  await fs.mkdir(path.join(dir, "keys"), { recursive: true });
  for (const [name, data] of Object.entries(fixtures)) await fs.writeFile(path.join(dir, name), data);
  return dir;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The contract of a bad-input failure, in text mode. */
function expectBadInput(r: CliRun, code: string, file: string | undefined, problem?: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe("");
  expect(r.stderr).not.toMatch(/^ {4}at /m);
  expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(2);
  expect(lines[0]).toMatch(new RegExp(`^error \\[${code}\\]: ${file ? `${escape(file)}: ` : ""}\\S`));
  if (problem) expect(lines[0]).toMatch(problem);
  expect(lines[1]).toMatch(/^ {2}hint: \S/);
}

/** The contract of a bad-input failure with --json: one document, nothing on stderr. */
function expectJsonError(r: CliRun, code: string, file: string | undefined): void {
  expect(r.code, r.stdout + r.stderr).toBe(2);
  expect(r.stderr).toBe("");
  const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string; hint: string; subject?: string } };
  expect(doc.ok).toBe(false);
  expect(doc.error.code).toBe(code);
  expect(doc.error.hint.length).toBeGreaterThan(0);
  if (file) expect(doc.error.message.startsWith(`${file}: `)).toBe(true);
}

async function leftovers(dir: string): Promise<string[]> {
  const names = await fs.readdir(dir);
  return names.filter((n) => !(n in fixtures) && n !== "keys");
}

const commands = {
  "csr create": (key: string[]) => ["csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "123456", "--subject", SUBJECT, ...key, "--out", "out.pem"],
  "cert self-signed": (key: string[]) => ["cert", "self-signed", "--program", "mt", "--env", "sandbox", "--cn", "MT-123456-SBX", ...key, "--out", "out.pem"],
};

describe.each(Object.entries(commands))("mtlskit %s --key <bad file>", (_, command) => {
  const cases: Array<[string, string[], string, string, RegExp]> = [
    ["an empty file", ["--key", "empty.key"], "FILE_EMPTY", "empty.key", /is empty/],
    ["a file of blank lines", ["--key", "blank.key"], "FILE_EMPTY", "blank.key", /is empty/],
    ["random bytes", ["--key", "random.key"], "INPUT_NOT_RECOGNIZED", "random.key", /not a private key/],
    ["a truncated PEM", ["--key", "truncated.key"], "PEM_MALFORMED", "truncated.key", /no '-----END PRIVATE KEY-----' line/],
    ["a PEM with broken base64", ["--key", "cut-base64.key"], "PEM_MALFORMED", "cut-base64.key", /base64/],
    ["a certificate (PEM)", ["--key", "client.crt"], "KEY_EXPECTED", "client.crt", /holds a certificate, not a private key/],
    ["a certificate (DER)", ["--key", "client.der"], "KEY_EXPECTED", "client.der", /certificate or CSR/],
    ["a CSR", ["--key", "request.csr"], "KEY_EXPECTED", "request.csr", /certificate signing request/],
    ["a public key", ["--key", "public.pem"], "KEY_EXPECTED", "public.pem", /public key/],
    ["an encrypted key without passphrase", ["--key", "encrypted.key"], "KEY_ENCRYPTED", "encrypted.key", /encrypted and no passphrase/],
    ["an encrypted key with a wrong passphrase", ["--key", "encrypted.key", "--passphrase-file", "wrong.txt"], "KEY_BAD_PASSPHRASE", "encrypted.key", /could not be decrypted/],
    ["a missing passphrase file", ["--key", "encrypted.key", "--passphrase-file", "nope.txt"], "FILE_NOT_FOUND", "nope.txt", /no such file/],
    ["a directory", ["--key", "keys"], "FILE_IS_DIRECTORY", "keys", /is a directory/],
    ["a missing file", ["--key", "missing.key"], "FILE_NOT_FOUND", "missing.key", /no such file/],
    ["a file under a missing directory", ["--key", "nowhere/client.key"], "FILE_NOT_FOUND", "nowhere/client.key", /no such file/],
  ];

  it.concurrent.each(cases)("%s: exit 2, one line naming the file, a hint, no output", async (_name, key, code, file, problem) => {
    const dir = await workdir();
    const r = await mtlskit(command(key), { cwd: dir });
    expectBadInput(r, code, file, problem);
    expect(await leftovers(dir)).toEqual([]);
    const j = await mtlskit(["--json", ...command(key)], { cwd: dir });
    expectJsonError(j, code, file);
    expect(await leftovers(dir)).toEqual([]);
  });

  it("the right passphrase works (the fixtures are sound)", async () => {
    const dir = await workdir();
    const r = await mtlskit(command(["--key", "encrypted.key", "--passphrase-file", "right.txt"]), { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(await leftovers(dir)).toEqual(["out.pem"]);
  });
});

describe("bad options: exit 2, a hint, and neither --out nor the new key left", () => {
  const csr = (over: Record<string, string> = {}, extra: string[] = []): string[] => {
    const o = { program: "d1", env: "preprod", "gateway-id": "123456", subject: SUBJECT, type: "ecdsa-p256", ...over };
    return ["csr", "create", ...Object.entries(o).flatMap(([k, v]) => [`--${k}`, v]), "--key-out", "new.key", "--out", "out.csr", ...extra];
  };
  const mt = (over: Record<string, string> = {}, extra: string[] = []): string[] => {
    const o = { program: "mt", env: "sandbox", cn: "MT-123456-SBX", type: "ecdsa-p256", ...over };
    return ["cert", "self-signed", ...Object.entries(o).flatMap(([k, v]) => [`--${k}`, v]), "--key-out", "new.key", "--out", "out.crt", ...extra];
  };

  const cases: Array<[string, string[], string, string | undefined, RegExp]> = [
    ["csr: unknown program", csr({ program: "d3" }), "UNKNOWN_PROGRAM", undefined, /unknown program 'd3'/],
    ["csr: unknown environment", csr({ env: "sandbox" }), "UNKNOWN_ENVIRONMENT", undefined, /'sandbox'/],
    ["csr: unknown key type", csr({ type: "rsa-1024" }), "UNKNOWN_KEY_TYPE", undefined, /'rsa-1024'/],
    ["csr: RSA 2048", csr({ type: "rsa-2048" }), "KEY_TYPE_REFUSED", undefined, /RSA 2048/],
    ["csr: subject without the leading slash", csr({ subject: "C=FR/ST=Paris/L=Paris/O=Example/OU=Payments" }), "SUBJECT_SYNTAX", undefined, /does not start with "\/"/],
    ["csr: subject with a part without '='", csr({ subject: "/C=FR/ST=Paris/L=Paris/O=Example/Payments" }), "SUBJECT_SYNTAX", undefined, /Payments/],
    ["csr: subject with an unknown attribute", csr({ subject: "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments/XX=1" }), "SUBJECT_ATTRIBUTE_UNKNOWN", undefined, /XX/],
    ["csr: subject with a 3-letter country", csr({ subject: "/C=FRA/ST=Paris/L=Paris/O=Example/OU=Payments" }), "SUBJECT_SYNTAX", undefined, /C="FRA"/],
    ["csr: subject missing OU", csr({ subject: "/C=FR/ST=Paris/L=Paris/O=Example" }), "SUBJECT_INCOMPLETE", undefined, /lacks OU/],
    ["csr: empty subject", csr({ subject: "" }), "SUBJECT_INCOMPLETE", undefined, /lacks C, ST, L, O, OU/],
    ["csr: gateway id with '/'", csr({ "gateway-id": "12/34" }), "GATEWAY_ID_INVALID", undefined, /'12\/34'/],
    ["csr: gateway id making the CN too long", csr({ "gateway-id": "9".repeat(46) }), "GATEWAY_ID_INVALID", undefined, /65 characters/],
    ["csr: --cn differing from the derived one", csr({ cn: "gateway.example.com" }), "CN_MISMATCH", undefined, /TLSMA-ECDSA\/123456\/D1\.PPR/],
    ["csr: --key-out is a directory", csr({}, ["--key-out", "keys"]), "FILE_IS_DIRECTORY", "keys", /directory/],
    ["csr: --out is a directory", csr({}, ["--out", "keys"]), "FILE_IS_DIRECTORY", "keys", /directory/],
    ["csr: --out in a missing directory", csr({}, ["--out", "nowhere/out.csr"]), "WRITE_FAILED", "nowhere/out.csr", /'nowhere' does not exist/],
    ["mt: unknown program", mt({ program: "tokens" }), "UNKNOWN_PROGRAM", undefined, /'tokens'/],
    ["mt: unknown environment", mt({ env: "preprod" }), "UNKNOWN_ENVIRONMENT", undefined, /'preprod'/],
    ["mt: unknown key type", mt({ type: "ed25519" }), "UNKNOWN_KEY_TYPE", undefined, /'ed25519'/],
    ["mt: malformed subject", mt({ subject: "/O=Acme/junk" }), "SUBJECT_SYNTAX", undefined, /junk/],
    ["mt: CN over 64 characters", mt({ cn: "c".repeat(65) }), "USAGE", undefined, /65 characters/],
    ["mt: --days 0", mt({ days: "0" }), "VALIDITY_INVALID", undefined, /'0'/],
    ["mt: --days abc", mt({ days: "abc" }), "VALIDITY_INVALID", undefined, /'abc'/],
    ["mt: --days -5", mt({ days: "-5" }), "VALIDITY_INVALID", undefined, /'-5'/],
    ["mt: --days 1.5", mt({ days: "1.5" }), "VALIDITY_INVALID", undefined, /'1\.5'/],
    ["mt: --days 800", mt({ days: "800" }), "VALIDITY_TOO_LONG", undefined, /800 days is more than the 730 days/],
    ["mt: --key-out is a directory", mt({}, ["--key-out", "keys"]), "FILE_IS_DIRECTORY", "keys", /directory/],
    ["key create: unknown type", ["key", "create", "--type", "rsa-1024", "--out", "new.key"], "UNKNOWN_KEY_TYPE", undefined, /'rsa-1024'/],
    ["key create: --out is a directory", ["key", "create", "--type", "ecdsa-p256", "--out", "keys"], "FILE_IS_DIRECTORY", "keys", /directory/],
    ["key create: --out in a missing directory", ["key", "create", "--type", "ecdsa-p256", "--out", "nowhere/new.key"], "WRITE_FAILED", "nowhere/new.key", /'nowhere' does not exist/],
    ["key create: --out exists", ["key", "create", "--type", "ecdsa-p256", "--out", "client.crt"], "FILE_EXISTS", "client.crt", /already exists/],
  ];

  it.concurrent.each(cases)("%s", async (_name, args, code, file, problem) => {
    const dir = await workdir();
    const r = await mtlskit(args, { cwd: dir });
    expectBadInput(r, code, file, problem);
    expect(await leftovers(dir)).toEqual([]);
    expect(await fs.readdir(path.join(dir, "keys"))).toEqual([]);
    const j = await mtlskit(["--json", ...args], { cwd: dir });
    expectJsonError(j, code, file);
    expect(await leftovers(dir)).toEqual([]);
    expect(await fs.readFile(path.join(dir, "client.crt"), "utf8")).toBe(fixtures["client.crt"]);
  });
});

describe("a failure after the key was generated leaves no key behind", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  // /proc exists but takes no new file: the key is written, then the output fails.
  it.skipIf(!existsSync("/proc/self"))("through the CLI: the output cannot be written, so the new key is removed", async () => {
    for (const args of [
      ["csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "123456", "--subject", SUBJECT, "--type", "ecdsa-p256", "--key-out", "new.key", "--out", "/proc/mtlskit-test.csr"],
      ["cert", "self-signed", "--program", "mt", "--env", "sandbox", "--cn", "MT-1", "--type", "ecdsa-p256", "--key-out", "new.key", "--out", "/proc/mtlskit-test.crt"],
    ]) {
      const dir = await workdir();
      const r = await mtlskit(args, { cwd: dir });
      expectBadInput(r, "WRITE_FAILED", args[args.length - 1]);
      expect(await leftovers(dir)).toEqual([]);
    }
  });

  it("in the library: the CSR write fails after the key write, and the key is removed", async () => {
    const dir = await workdir();
    const keyOut = path.join(dir, "new.key");
    const out = path.join(dir, "out.csr");
    const realLink = fs.link.bind(fs);
    let keyWasWritten = false;
    vi.spyOn(fs, "link").mockImplementation(async (from, to) => {
      if (String(to) === out) {
        keyWasWritten = existsSync(keyOut);
        throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
      }
      return realLink(from, to);
    });
    const failure = await createClientCsr({ program: "d1", environment: "preprod", gatewayId: "123456", subject: SUBJECT, key: { keyType: "ecdsa-p256", keyOut }, out }).catch((e: unknown) => e);
    expect(isMtlsError(failure, "WRITE_FAILED")).toBe(true);
    expect(keyWasWritten).toBe(true);
    expect(await leftovers(dir)).toEqual([]);
  });

  it("in the library: the same for a self-signed certificate", async () => {
    const dir = await workdir();
    const keyOut = path.join(dir, "new.key");
    const out = path.join(dir, "out.crt");
    const realLink = fs.link.bind(fs);
    vi.spyOn(fs, "link").mockImplementation(async (from, to) => {
      if (String(to) === out) throw Object.assign(new Error("I/O error"), { code: "EIO" });
      return realLink(from, to);
    });
    const failure = await createSelfSignedClientCertificate({ program: "mt", environment: "sandbox", cn: "MT-1", key: { keyType: "ecdsa-p256", keyOut }, out }).catch((e: unknown) => e);
    expect(isMtlsError(failure, "WRITE_FAILED")).toBe(true);
    expect(await leftovers(dir)).toEqual([]);
  });
});
