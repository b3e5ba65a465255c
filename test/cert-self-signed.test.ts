import { createHash, generateKeyPairSync, type KeyObject } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { colonHex, keysMatch, loadPrivateKey, OID, parseCertificate, parsePem, spkiPin, type CertificateInfo } from "../src/pki/index.js";
import { mtlskit, type CliRun, expectCodedError } from "./support/cli.js";

const DAY = 86_400_000;
const CN = "MT-123456-SBX";
const PASS = "s3cret";

let fixtures: string;
let dir: string;
let ec: KeyObject;
let p384: KeyObject;
let rsa2048: KeyObject;

beforeAll(async () => {
  fixtures = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-mt-keys-"));
  ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
  p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey;
  rsa2048 = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  await fs.writeFile(path.join(fixtures, "pass.txt"), `${PASS}\n`);
});

afterAll(async () => {
  await fs.rm(fixtures, { recursive: true, force: true });
});

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-mt-"));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function selfSigned(extra: string[], env = "sandbox", cn = CN): Promise<CliRun> {
  return mtlskit(["cert", "self-signed", "--program", "mt", "--env", env, "--cn", cn, ...extra], { cwd: dir });
}

async function readCert(file: string): Promise<CertificateInfo> {
  const blocks = parsePem(await fs.readFile(path.join(dir, file), "utf8"));
  expect(blocks.map((b) => b.label)).toEqual(["CERTIFICATE"]);
  return parseCertificate(blocks[0]!.der);
}

async function modeOf(file: string): Promise<number> {
  return (await fs.stat(path.join(dir, file))).mode & 0o777;
}

const expectError = expectCodedError;

/** Everything an MT client certificate must be. */
function expectClientCertificate(info: CertificateInfo, rsa: boolean): void {
  expect(info.version).toBe(3);
  expect(info.selfIssued).toBe(true);
  expect(info.x509.verify(info.publicKey)).toBe(true);
  expect(info.basicConstraints).toEqual({ ca: false });
  expect(info.extensions.find((e) => e.name === "basicConstraints")?.critical).toBe(true);
  expect(info.keyUsage).toEqual(rsa ? ["digitalSignature", "keyEncipherment"] : ["digitalSignature"]);
  expect(info.extensions.find((e) => e.name === "keyUsage")?.critical).toBe(true);
  expect(info.extKeyUsage).toEqual([OID.clientAuth]);
  expect(info.subjectKeyIdentifier).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
  expect(info.subjectAltNames).toBeUndefined();
  expect(info.extensions.some((e) => e.oid === OID.subjectAltName)).toBe(false);
}

describe("mtlskit cert self-signed --type (a new key)", () => {
  it("MT Sandbox, ECDSA P-256: a client certificate for 730 days, fingerprint, pin and next step printed", async () => {
    const r = await selfSigned(["--type", "ecdsa-p256", "--out", "mt-sandbox.crt"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    const info = await readCert("mt-sandbox.crt");
    expectClientCertificate(info, false);
    expect(info.subjectText).toBe(`CN=${CN}`);
    expect(info.signatureAlgorithm.name).toBe("ecdsa-with-SHA256");
    expect(info.notAfter.getTime() - info.notBefore.getTime()).toBe(730 * DAY);
    expect(Math.abs(info.notBefore.getTime() - Date.now())).toBeLessThan(60_000);
    const key = loadPrivateKey(await fs.readFile(path.join(dir, "mt-sandbox.key")));
    expect(keysMatch(key, info.publicKey)).toBe(true);
    expect(await modeOf("mt-sandbox.key")).toBe(0o600);
    expect(await modeOf("mt-sandbox.crt")).toBe(0o644);

    const fingerprint = colonHex(createHash("sha256").update(info.der).digest());
    expect(r.stdout).toContain(`SHA-256 fingerprint: ${fingerprint}\n`);
    expect(r.stdout).toContain(`SPKI pin: ${spkiPin(info.publicKey)}\n`);
    expect(r.stdout).toContain(`wrote mt-sandbox.crt (self-signed, ecdsa-p256, CN=${CN})`);
    expect(r.stdout).toContain("wrote mt-sandbox.key (private key, mode 0600)");
    expect(r.stdout).toMatch(/Next:\n {2}1\. Upload mt-sandbox\.crt \(the certificate only, never the key\) in the Thales portal for the MT Sandbox environment/);
    expect(r.stdout).toContain(`mtlskit cert needs-renewal mt-sandbox.crt`);
  });

  it("ECDSA P-384 with --hash sha384", async () => {
    const r = await selfSigned(["--type", "ecdsa-p384", "--hash", "sha384", "--out", "c.crt"], "production");
    expect(r.code, r.stderr).toBe(0);
    const info = await readCert("c.crt");
    expectClientCertificate(info, false);
    expect(info.keyType).toBe("ecdsa-p384");
    expect(info.signatureAlgorithm.name).toBe("ecdsa-with-SHA384");
    expect(r.stdout).toContain("MT Production environment");
  });

  it("RSA 2048: keyEncipherment as well", async () => {
    const r = await selfSigned(["--type", "rsa-2048", "--out", "c.crt", "--key-out", "rsa.key"]);
    expect(r.code, r.stderr).toBe(0);
    const info = await readCert("c.crt");
    expectClientCertificate(info, true);
    expect(info.signatureAlgorithm.name).toBe("sha256WithRSAEncryption");
    expect(keysMatch(loadPrivateKey(await fs.readFile(path.join(dir, "rsa.key"))), info.publicKey)).toBe(true);
  });

  it("--subject adds attributes in order, the CN last; a CN in it must be the portal's", async () => {
    const r = await selfSigned(["--type", "ecdsa-p256", "--subject", "/C=FR/O=Exemple Société/OU=Paiements", "--out", "c.crt"]);
    expect(r.code, r.stderr).toBe(0);
    expect((await readCert("c.crt")).subjectText).toBe(`C=FR, O=Exemple Société, OU=Paiements, CN=${CN}`);
    const same = await selfSigned(["--type", "ecdsa-p256", "--subject", `/CN=${CN}/O=Acme`, "--out", "d.crt"]);
    expect(same.code, same.stderr).toBe(0);
    expect((await readCert("d.crt")).subjectText).toBe(`CN=${CN}, O=Acme`);
    const other = await selfSigned(["--type", "ecdsa-p256", "--subject", "/O=Acme/CN=something-else", "--out", "e.crt"]);
    expect(expectError(other, "CN_MISMATCH")).toContain("something-else");
    expect(await fs.readdir(dir)).not.toContain("e.crt");
    expect(await fs.readdir(dir)).not.toContain("e.key");
  });

  it("takes the portal CN as given, slashes and spaces included", async () => {
    const cn = "Merchant 123456/Sandbox";
    const r = await selfSigned(["--type", "ecdsa-p256", "--out", "c.crt"], "sandbox", cn);
    expect(r.code, r.stderr).toBe(0);
    expect((await readCert("c.crt")).commonName).toBe(cn);
  });

  it.each([
    ["1", 1],
    ["365", 365],
    ["730", 730],
  ])("--days %s", async (days, n) => {
    const r = await selfSigned(["--type", "ecdsa-p256", "--days", days, "--out", "c.crt"]);
    expect(r.code, r.stderr).toBe(0);
    const info = await readCert("c.crt");
    expect(info.notAfter.getTime() - info.notBefore.getTime()).toBe(n * DAY);
  });

  it("refuses more than 730 days (VALIDITY_TOO_LONG), leaving no file", async () => {
    const line = expectError(await selfSigned(["--type", "ecdsa-p256", "--days", "731", "--out", "c.crt"]), "VALIDITY_TOO_LONG");
    expect(line).toContain("730");
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it("--json prints one JSON document", async () => {
    const r = await mtlskit(["--json", "cert", "self-signed", "--program", "mt", "--env", "sandbox", "--cn", CN, "--type", "ecdsa-p256", "--days", "90", "--out", "c.crt"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    const doc = JSON.parse(r.stdout) as Record<string, unknown>;
    const info = await readCert("c.crt");
    expect(doc).toMatchObject({
      ok: true,
      certificateFile: "c.crt",
      keyFile: "c.key",
      commonName: CN,
      keyType: "ecdsa-p256",
      sha256Fingerprint: info.sha256Fingerprint,
      spkiPin: info.spkiPin,
      notBefore: info.notBefore.toISOString(),
      notAfter: info.notAfter.toISOString(),
    });
    expect((doc["nextSteps"] as string[]).length).toBeGreaterThan(0);
  });

  it("refuses RSA 4096 for MT, P-256 with SHA-384, and D1 (WRONG_PROGRAM)", async () => {
    expect(expectError(await selfSigned(["--type", "rsa-4096", "--out", "c.crt"]), "KEY_TYPE_REFUSED")).toContain("RSA 4096");
    expectError(await selfSigned(["--type", "ecdsa-p256", "--hash", "sha384", "--out", "c.crt"]), "HASH_REFUSED");
    const d1 = await mtlskit(["cert", "self-signed", "--program", "d1", "--env", "preprod", "--cn", "x", "--type", "ecdsa-p256", "--out", "c.crt"], { cwd: dir });
    expectError(d1, "WRONG_PROGRAM");
    expect(d1.stderr).toContain("mtlskit csr create");
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it("needs --cn", async () => {
    const r = await mtlskit(["cert", "self-signed", "--program", "mt", "--env", "sandbox", "--type", "ecdsa-p256", "--out", "c.crt"], { cwd: dir });
    expect(expectError(r, "USAGE")).toContain("--cn");
  });

  it("never replaces the certificate or the key without --force", async () => {
    await fs.writeFile(path.join(dir, "c.crt"), "old cert");
    expect(expectError(await selfSigned(["--type", "ecdsa-p256", "--out", "c.crt"]), "FILE_EXISTS")).toContain("c.crt: ");
    expect(await fs.readdir(dir)).toEqual(["c.crt"]);
    await fs.rm(path.join(dir, "c.crt"));
    await fs.writeFile(path.join(dir, "c.key"), "old key");
    expect(expectError(await selfSigned(["--type", "ecdsa-p256", "--out", "c.crt"]), "FILE_EXISTS")).toContain("c.key: ");
    expect(await fs.readFile(path.join(dir, "c.key"), "utf8")).toBe("old key");
    expect(await fs.readdir(dir)).toEqual(["c.key"]);
    const forced = await selfSigned(["--type", "ecdsa-p256", "--out", "c.crt", "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(keysMatch(loadPrivateKey(await fs.readFile(path.join(dir, "c.key"))), (await readCert("c.crt")).publicKey)).toBe(true);
  });
});

describe("mtlskit cert self-signed --key (an existing key made by node)", () => {
  const forms = (): Array<[string, KeyObject, string | Uint8Array, boolean]> => [
    ["P-256 PKCS#8 PEM", ec, ec.export({ type: "pkcs8", format: "pem" }), false],
    ["P-256 PKCS#8 DER", ec, ec.export({ type: "pkcs8", format: "der" }), false],
    ["P-256 SEC1 PEM", ec, ec.export({ type: "sec1", format: "pem" }), false],
    ["P-256 SEC1 DER", ec, ec.export({ type: "sec1", format: "der" }), false],
    ["P-384 encrypted PKCS#8 PEM", p384, p384.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: PASS }), true],
    ["P-384 encrypted PKCS#8 DER", p384, p384.export({ type: "pkcs8", format: "der", cipher: "aes-256-cbc", passphrase: PASS }), true],
    ["RSA 2048 PKCS#1 PEM", rsa2048, rsa2048.export({ type: "pkcs1", format: "pem" }), false],
    ["RSA 2048 PKCS#1 DER", rsa2048, rsa2048.export({ type: "pkcs1", format: "der" }), false],
    ["RSA 2048 PKCS#8 DER", rsa2048, rsa2048.export({ type: "pkcs8", format: "der" }), false],
    ["RSA 2048 legacy-encrypted PKCS#1 PEM", rsa2048, rsa2048.export({ type: "pkcs1", format: "pem", cipher: "aes-256-cbc", passphrase: PASS }), true],
  ];

  it("certifies the key of every form and writes no key", async () => {
    for (const [name, key, data, encrypted] of forms()) {
      const base = name.replace(/[^A-Za-z0-9]+/g, "-");
      const file = path.join(fixtures, `${base}.key`);
      await fs.writeFile(file, data);
      const r = await selfSigned(["--key", file, ...(encrypted ? ["--passphrase-file", path.join(fixtures, "pass.txt")] : []), "--out", `${base}.crt`]);
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stdout).not.toContain("private key, mode 0600");
      const info = await readCert(`${base}.crt`);
      expect(keysMatch(key, info.publicKey), name).toBe(true);
      expectClientCertificate(info, key.asymmetricKeyType === "rsa");
    }
    expect((await fs.readdir(dir)).every((f) => f.endsWith(".crt"))).toBe(true);
  });

  it("refuses an RSA 4096 key file, naming it", async () => {
    const rsa4096 = generateKeyPairSync("rsa", { modulusLength: 4096 }).privateKey;
    await fs.writeFile(path.join(dir, "big.key"), rsa4096.export({ type: "pkcs8", format: "pem" }));
    const line = expectError(await selfSigned(["--key", "big.key", "--out", "c.crt"]), "KEY_TYPE_REFUSED");
    expect(line).toMatch(/^error \[KEY_TYPE_REFUSED\]: big\.key: /);
    expect(await fs.readdir(dir)).toEqual(["big.key"]);
  });
});
