import { createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { keysMatch, loadPrivateKey, parseCsr, parsePem, type CsrInfo } from "../src/pki/index.js";
import { mtlskit, type CliRun, expectCodedError } from "./support/cli.js";

const SUBJECT = "/C=FR/ST=Ile-de-France/L=Paris/O=Example SA/OU=Payments";
const PASS = "pass phrase with spaces";

let fixtures: string;
let dir: string;
let ec: KeyObject;
let rsa4096: KeyObject;
let rsa2048: KeyObject;

beforeAll(async () => {
  fixtures = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-csr-keys-"));
  ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
  rsa4096 = generateKeyPairSync("rsa", { modulusLength: 4096 }).privateKey;
  rsa2048 = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  await fs.writeFile(path.join(fixtures, "pass.txt"), `${PASS}\n`);
});

afterAll(async () => {
  await fs.rm(fixtures, { recursive: true, force: true });
});

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-csr-"));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const run = (args: string[]): Promise<CliRun> => mtlskit(args, { cwd: dir });

function csrCreate(extra: string[], opts: { env?: string; gatewayId?: string; subject?: string } = {}): Promise<CliRun> {
  return run(["csr", "create", "--program", "d1", "--env", opts.env ?? "preprod", "--gateway-id", opts.gatewayId ?? "123456", "--subject", opts.subject ?? SUBJECT, ...extra]);
}

async function readCsr(file: string): Promise<CsrInfo> {
  const [block] = parsePem(await fs.readFile(path.join(dir, file), "utf8"));
  expect(block?.label).toBe("CERTIFICATE REQUEST");
  return parseCsr(block!.der);
}

async function modeOf(file: string): Promise<number> {
  return (await fs.stat(path.join(dir, file))).mode & 0o777;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(path.join(dir, file)).then(
    () => true,
    () => false,
  );
}

const expectError = expectCodedError;

describe("mtlskit csr create --type (a new key)", () => {
  it("D1 PreProd, ECDSA P-256: CN derived, key 0600 beside the CSR, next step in plain words", async () => {
    const r = await csrCreate(["--type", "ecdsa-p256", "--out", "d1-preprod.csr"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    const csr = await readCsr("d1-preprod.csr");
    expect(csr.commonName).toBe("TLSMA-ECDSA/123456/D1.PPR");
    expect(csr.subjectText).toBe("C=FR, ST=Ile-de-France, L=Paris, O=Example SA, OU=Payments, CN=TLSMA-ECDSA/123456/D1.PPR");
    expect(csr.signatureValid).toBe(true);
    expect(csr.signatureAlgorithm.name).toBe("ecdsa-with-SHA256");
    expect(csr.keyType).toBe("ecdsa-p256");
    expect(csr.extensions).toEqual([]);
    // The key goes next to the CSR by default: --out with .key.
    const key = loadPrivateKey(await fs.readFile(path.join(dir, "d1-preprod.key")));
    expect(keysMatch(key, csr.publicKey)).toBe(true);
    expect(await modeOf("d1-preprod.key")).toBe(0o600);
    expect(await modeOf("d1-preprod.csr")).toBe(0o644);
    expect(r.stdout).toContain("wrote d1-preprod.csr (CSR, ecdsa-p256, CN=TLSMA-ECDSA/123456/D1.PPR)");
    expect(r.stdout).toContain("wrote d1-preprod.key (private key, mode 0600)");
    expect(r.stdout).toContain(`subject: ${SUBJECT}/CN=TLSMA-ECDSA\\/123456\\/D1.PPR`);
    expect(r.stdout).toContain(`public key pin: ${csr.spkiPin}`);
    expect(r.stdout).toMatch(/Next:\n {2}1\. Send d1-preprod\.csr to your Thales representative for the D1 PreProd environment/);
    expect(r.stdout).toContain("never sent to Thales");
    expect((await fs.readdir(dir)).sort()).toEqual(["d1-preprod.csr", "d1-preprod.key"]);
  });

  it("D1 Production, RSA 4096: TLSMA-RSA/<id>/D1.PRD, sha256WithRSAEncryption, --key-out honoured", async () => {
    const r = await csrCreate(["--type", "rsa-4096", "--key-out", "prod.key", "--out", "prod.csr"], { env: "production", gatewayId: "GW_77.a-b" });
    expect(r.code, r.stderr).toBe(0);
    const csr = await readCsr("prod.csr");
    expect(csr.commonName).toBe("TLSMA-RSA/GW_77.a-b/D1.PRD");
    expect(csr.keyType).toBe("rsa-4096");
    expect(csr.signatureAlgorithm.name).toBe("sha256WithRSAEncryption");
    expect(keysMatch(loadPrivateKey(await fs.readFile(path.join(dir, "prod.key"))), csr.publicKey)).toBe(true);
    expect(await modeOf("prod.key")).toBe(0o600);
  });

  it("--json prints one JSON document with what was made and the next steps", async () => {
    const r = await csrCreate(["--type", "ecdsa-p256", "--out", "a.csr", "--key-out", "a.key"]);
    const j = await mtlskit(["--json", "csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "42", "--subject", SUBJECT, "--type", "ecdsa-p256", "--out", "b.csr"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(j.code, j.stderr).toBe(0);
    expect(j.stderr).toBe("");
    const doc = JSON.parse(j.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({ ok: true, csrFile: "b.csr", keyFile: "b.key", commonName: "TLSMA-ECDSA/42/D1.PPR", keyType: "ecdsa-p256" });
    expect(doc["subject"]).toBe(`${SUBJECT}/CN=TLSMA-ECDSA\\/42\\/D1.PPR`);
    expect(doc["spkiPin"]).toBe((await readCsr("b.csr")).spkiPin);
    expect(Array.isArray(doc["nextSteps"]) && (doc["nextSteps"] as string[]).length).toBeGreaterThan(0);
  });

  it("accepts --cn equal to the derived value, and a CN in --subject equal to it, without doubling it", async () => {
    expect((await csrCreate(["--type", "ecdsa-p256", "--cn", "TLSMA-ECDSA/123456/D1.PPR", "--out", "a.csr"])).code).toBe(0);
    expect((await readCsr("a.csr")).subjectText).toMatch(/OU=Payments, CN=TLSMA-ECDSA\/123456\/D1\.PPR$/);
    const r = await csrCreate(["--type", "ecdsa-p256", "--out", "b.csr"], { subject: "/C=FR/ST=Paris/L=Paris/O=Example SA/CN=TLSMA-ECDSA\\/123456\\/D1.PPR/OU=Payments" });
    expect(r.code, r.stderr).toBe(0);
    const csr = await readCsr("b.csr");
    expect(csr.subjectText).toBe("C=FR, ST=Paris, L=Paris, O=Example SA, CN=TLSMA-ECDSA/123456/D1.PPR, OU=Payments");
  });

  it.each([
    ["another value", ["--cn", "my-gateway"]],
    ["the other key family", ["--cn", "TLSMA-RSA/123456/D1.PPR"]],
    ["the other environment", ["--cn", "TLSMA-ECDSA/123456/D1.PRD"]],
  ])("refuses --cn with %s (CN_MISMATCH), leaving no file", async (_, cn) => {
    const r = await csrCreate(["--type", "ecdsa-p256", ...cn, "--out", "a.csr"]);
    const line = expectError(r, "CN_MISMATCH");
    expect(line).toContain("TLSMA-ECDSA/123456/D1.PPR");
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it("refuses a CN in --subject that differs from the derived one", async () => {
    const r = await csrCreate(["--type", "ecdsa-p256", "--out", "a.csr"], { subject: `${SUBJECT}/CN=gateway.example.com` });
    expect(expectError(r, "CN_MISMATCH")).toContain("gateway.example.com");
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it("refuses RSA 2048 with a sentence citing the rule", async () => {
    const r = await csrCreate(["--type", "rsa-2048", "--out", "a.csr"]);
    const line = expectError(r, "KEY_TYPE_REFUSED");
    expect(line).toContain("RSA 2048");
    expect(line).toContain("Can I use an RSA 2048 client certificate? No, it is not possible.");
    expect(r.stderr).toContain("ecdsa-p256, rsa-4096");
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it("refuses ECDSA P-384, which D1 does not list", async () => {
    expectError(await csrCreate(["--type", "ecdsa-p384", "--out", "a.csr"]), "KEY_TYPE_REFUSED");
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it("refuses SHA-384 for D1 and an unknown --hash", async () => {
    expectError(await csrCreate(["--type", "ecdsa-p256", "--hash", "sha384", "--out", "a.csr"]), "HASH_REFUSED");
    expectError(await csrCreate(["--type", "ecdsa-p256", "--hash", "md5", "--out", "a.csr"]), "USAGE");
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it("sends MT users to cert self-signed (WRONG_PROGRAM)", async () => {
    const r = await run(["csr", "create", "--program", "mt", "--env", "sandbox", "--gateway-id", "1", "--subject", SUBJECT, "--type", "ecdsa-p256", "--out", "a.csr"]);
    expectError(r, "WRONG_PROGRAM");
    expect(r.stderr).toContain("mtlskit cert self-signed");
    expect(await fs.readdir(dir)).toEqual([]);
  });
});

describe("mtlskit csr create: existing files", () => {
  it("never replaces an existing CSR without --force, and then writes no key either", async () => {
    await fs.writeFile(path.join(dir, "a.csr"), "old csr");
    const r = await csrCreate(["--type", "ecdsa-p256", "--out", "a.csr"]);
    expect(expectError(r, "FILE_EXISTS")).toMatch(/^error \[FILE_EXISTS\]: a\.csr: /);
    expect(await fs.readFile(path.join(dir, "a.csr"), "utf8")).toBe("old csr");
    expect(await exists("a.key")).toBe(false);
  });

  it("never replaces an existing key without --force, and then writes no CSR either", async () => {
    await fs.writeFile(path.join(dir, "a.key"), "old key", { mode: 0o600 });
    const r = await csrCreate(["--type", "ecdsa-p256", "--out", "a.csr"]);
    expect(expectError(r, "FILE_EXISTS")).toMatch(/^error \[FILE_EXISTS\]: a\.key: /);
    expect(await fs.readFile(path.join(dir, "a.key"), "utf8")).toBe("old key");
    expect(await exists("a.csr")).toBe(false);
  });

  it("replaces both with --force", async () => {
    await fs.writeFile(path.join(dir, "a.key"), "old key");
    await fs.writeFile(path.join(dir, "a.csr"), "old csr");
    const r = await csrCreate(["--type", "ecdsa-p256", "--out", "a.csr", "--force"]);
    expect(r.code, r.stderr).toBe(0);
    const csr = await readCsr("a.csr");
    expect(keysMatch(loadPrivateKey(await fs.readFile(path.join(dir, "a.key"))), csr.publicKey)).toBe(true);
    expect(await modeOf("a.key")).toBe(0o600);
  });

  it("refuses --out that is also where the new key would go", async () => {
    expectError(await csrCreate(["--type", "ecdsa-p256", "--out", "client.key"]), "USAGE");
    expectError(await csrCreate(["--type", "ecdsa-p256", "--out", "x.csr", "--key-out", "./x.csr"]), "USAGE");
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it("refuses --out naming the --key file, even with --force", async () => {
    await fs.writeFile(path.join(dir, "client.key"), ec.export({ type: "pkcs8", format: "pem" }));
    expectError(await csrCreate(["--key", "client.key", "--out", "client.key", "--force"]), "USAGE");
    expect(await fs.readFile(path.join(dir, "client.key"), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it("needs exactly one of --key and --type, and --key-out only with --type", async () => {
    await fs.writeFile(path.join(dir, "client.key"), ec.export({ type: "pkcs8", format: "pem" }));
    expectError(await csrCreate(["--out", "a.csr"]), "USAGE");
    expectError(await csrCreate(["--key", "client.key", "--type", "ecdsa-p256", "--out", "a.csr"]), "USAGE");
    expectError(await csrCreate(["--key", "client.key", "--key-out", "other.key", "--out", "a.csr"]), "USAGE");
    expect(await fs.readdir(dir)).toEqual(["client.key"]);
  });
});

describe("mtlskit csr create --key (an existing key made by node)", () => {
  const forms = (): Array<[string, KeyObject, string | Uint8Array, boolean]> => [
    ["EC PKCS#8 PEM", ec, ec.export({ type: "pkcs8", format: "pem" }), false],
    ["EC PKCS#8 DER", ec, ec.export({ type: "pkcs8", format: "der" }), false],
    ["EC SEC1 PEM", ec, ec.export({ type: "sec1", format: "pem" }), false],
    ["EC SEC1 DER", ec, ec.export({ type: "sec1", format: "der" }), false],
    ["EC encrypted PKCS#8 PEM", ec, ec.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: PASS }), true],
    ["EC encrypted PKCS#8 DER", ec, ec.export({ type: "pkcs8", format: "der", cipher: "aes-256-cbc", passphrase: PASS }), true],
    ["RSA 4096 PKCS#8 PEM", rsa4096, rsa4096.export({ type: "pkcs8", format: "pem" }), false],
    ["RSA 4096 PKCS#8 DER", rsa4096, rsa4096.export({ type: "pkcs8", format: "der" }), false],
    ["RSA 4096 PKCS#1 PEM", rsa4096, rsa4096.export({ type: "pkcs1", format: "pem" }), false],
    ["RSA 4096 PKCS#1 DER", rsa4096, rsa4096.export({ type: "pkcs1", format: "der" }), false],
    ["RSA 4096 legacy-encrypted PKCS#1 PEM", rsa4096, rsa4096.export({ type: "pkcs1", format: "pem", cipher: "aes-128-cbc", passphrase: PASS }), true],
  ];

  it("signs with every form, writes no key, and the CN follows the key's family", async () => {
    for (const [name, key, data, encrypted] of forms()) {
      const file = path.join(fixtures, `${name.replace(/[^A-Za-z0-9]+/g, "-")}.key`);
      await fs.writeFile(file, data);
      const out = `${name.replace(/[^A-Za-z0-9]+/g, "-")}.csr`;
      const r = await csrCreate(["--key", file, ...(encrypted ? ["--passphrase-file", path.join(fixtures, "pass.txt")] : []), "--out", out]);
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stdout).not.toContain("private key, mode 0600");
      const csr = await readCsr(out);
      expect(keysMatch(key, csr.publicKey), name).toBe(true);
      expect(csr.signatureValid, name).toBe(true);
      expect(csr.commonName, name).toBe(key.asymmetricKeyType === "ec" ? "TLSMA-ECDSA/123456/D1.PPR" : "TLSMA-RSA/123456/D1.PPR");
      expect(r.stdout).toContain(`Keep ${file} on this machine`);
      expect(r.stdout).toContain(`--key ${file}`);
    }
    expect((await fs.readdir(dir)).every((f) => f.endsWith(".csr"))).toBe(true);
  });

  it("refuses an RSA 2048 key file, naming the file and citing the rule", async () => {
    await fs.writeFile(path.join(dir, "old-rsa.key"), rsa2048.export({ type: "pkcs1", format: "pem" }));
    const r = await csrCreate(["--key", "old-rsa.key", "--out", "a.csr"]);
    const line = expectError(r, "KEY_TYPE_REFUSED");
    expect(line).toMatch(/^error \[KEY_TYPE_REFUSED\]: old-rsa\.key: D1 does not accept RSA 2048/);
    expect(await exists("a.csr")).toBe(false);
  });

  it("refuses a key of a kind no program uses (KEY_UNSUPPORTED)", async () => {
    await fs.writeFile(path.join(dir, "ed.key"), generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }));
    const r = await csrCreate(["--key", "ed.key", "--out", "a.csr"]);
    expect(expectError(r, "KEY_UNSUPPORTED")).toContain("ed.key: ");
    expect(await exists("a.csr")).toBe(false);
  });

  it("the public key of the CSR is the key's, byte for byte", async () => {
    await fs.writeFile(path.join(dir, "k.key"), ec.export({ type: "sec1", format: "der" }));
    expect((await csrCreate(["--key", "k.key", "--out", "a.csr"])).code).toBe(0);
    const csr = await readCsr("a.csr");
    expect(Buffer.from(csr.publicKey.export({ type: "spki", format: "der" })).equals(createPublicKey(ec).export({ type: "spki", format: "der" }))).toBe(true);
  });
});
