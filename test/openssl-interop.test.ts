/**
 * What mtlskit writes, read by the real openssl CLI; and keys openssl writes, read by mtlskit.
 */
import { spawnSync } from "node:child_process";
import { createHash, createPublicKey } from "node:crypto";
import { promises as fs, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { colonHex, keysMatch, loadPrivateKey, parseCertificate, parseCsr, parsePem, type CsrInfo } from "../src/pki/index.js";
import { mtlskit, type CliRun } from "./support/cli.js";
import { requireTool } from "./support/tools.js";

const SUBJECT = "/C=FR/ST=Ile-de-France/L=Paris/O=Example SA/OU=Payments";
const PASS = "openssl pass phrase";

let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-openssl-"));
  await fs.writeFile(path.join(dir, "pass.txt"), `${PASS}\n`);
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Runs openssl; returns stdout, throws with stderr when it fails. */
function openssl(args: string[], input?: Buffer | string): Buffer {
  const r = spawnSync("openssl", args, { cwd: dir, input, maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed (${r.status}): ${r.stderr.toString()}`);
  return r.stdout;
}

/** Runs openssl and returns stdout and stderr together, for the tools that report on stderr. */
function opensslText(args: string[]): string {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

const run = (args: string[]): Promise<CliRun> => mtlskit(args, { cwd: dir });

async function readCsr(file: string): Promise<CsrInfo> {
  const [block] = parsePem(await fs.readFile(path.join(dir, file), "utf8"));
  return parseCsr(block!.der);
}

describe.skipIf(!requireTool("openssl"))("openssl CLI interop", () => {
  describe("CSRs written by mtlskit csr create", () => {
    it.each([
      ["ecdsa-p256", "preprod", "TLSMA-ECDSA/123456/D1.PPR"],
      ["rsa-4096", "production", "TLSMA-RSA/123456/D1.PRD"],
    ])("openssl req -verify accepts a %s CSR (%s)", async (type, env, cn) => {
      const r = await run(["csr", "create", "--program", "d1", "--env", env, "--gateway-id", "123456", "--subject", SUBJECT, "--type", type, "--out", `${type}.csr`]);
      expect(r.code, r.stderr).toBe(0);
      const out = opensslText(["req", "-verify", "-in", `${type}.csr`, "-noout"]);
      expect(out).toMatch(/verify OK/);
      const subject = opensslText(["req", "-in", `${type}.csr`, "-noout", "-subject", "-nameopt", "RFC2253"]);
      expect(subject.trim()).toBe(`subject=CN=${cn},OU=Payments,O=Example SA,L=Paris,ST=Ile-de-France,C=FR`);
      const text = opensslText(["req", "-in", `${type}.csr`, "-noout", "-text"]);
      expect(text).toContain(type === "rsa-4096" ? "Public-Key: (4096 bit)" : "NIST CURVE: P-256");
      expect(text).toMatch(type === "rsa-4096" ? /Signature Algorithm: sha256WithRSAEncryption/ : /Signature Algorithm: ecdsa-with-SHA256/);
      // The CSR's public key is the one of the key file mtlskit wrote.
      const fromCsr = openssl(["req", "-in", `${type}.csr`, "-noout", "-pubkey"]).toString();
      const fromKey = openssl(["pkey", "-in", `${type}.key`, "-pubout"]).toString();
      expect(fromCsr).toBe(fromKey);
    });

    // Each subject is given to mtlskit without the CN and to openssl with the CN appended.
    const subjects: Array<[string, string]> = [
      ["ASCII with spaces", "/C=US/ST=New York/L=New York/O=Example Payments, Inc./OU=Card Services"],
      ["French accents", "/C=FR/ST=Île-de-France/L=Paris/O=Société Générale Paiements/OU=Équipe Sécurité"],
      ["Japanese", "/C=JP/ST=東京都/L=千代田区/O=株式会社テスト決済/OU=決済システム部"],
      ["German, escaped '/' and '+', multi-valued OU", "/C=DE/ST=Bayern/L=München/O=Zahl\\+Co \\/ GmbH/OU=Zahlungen+OU=API"],
      ["emoji and Greek", "/C=GR/ST=Αττική/L=Αθήνα/O=Πληρωμές ☕ 🚀/OU=Ομάδα"],
    ];
    it.each(subjects)("the subject is byte-identical to openssl req -utf8 -subj: %s", async (_, subject) => {
      const base = createHash("sha1").update(subject).digest("hex").slice(0, 8);
      const r = await run(["csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "gw-42", "--subject", subject, "--type", "ecdsa-p256", "--key-out", `${base}.key`, "--out", `${base}.csr`]);
      expect(r.code, r.stderr).toBe(0);
      openssl(["req", "-new", "-utf8", "-key", `${base}.key`, "-subj", `${subject}/CN=TLSMA-ECDSA\\/gw-42\\/D1.PPR`, "-out", `${base}-openssl.csr`]);
      const ours = await readCsr(`${base}.csr`);
      const theirs = await readCsr(`${base}-openssl.csr`);
      expect(Buffer.from(ours.subjectDer).toString("hex")).toBe(Buffer.from(theirs.subjectDer).toString("hex"));
      expect(ours.commonName).toBe("TLSMA-ECDSA/gw-42/D1.PPR");
      expect(opensslText(["req", "-verify", "-in", `${base}.csr`, "-noout"])).toMatch(/verify OK/);
    });
  });

  describe("certificates written by mtlskit cert self-signed", () => {
    it.each([
      ["ecdsa-p256", [] as string[], false],
      ["ecdsa-p384", ["--hash", "sha384"], false],
      ["rsa-2048", [] as string[], true],
    ])("%s: openssl x509 shows the client extensions; verify -purpose sslclient passes", async (type, extra, rsa) => {
      const crt = `mt-${type}.crt`;
      const r = await run(["cert", "self-signed", "--program", "mt", "--env", "sandbox", "--cn", "MT-123456-SBX", "--subject", "/C=FR/O=Example SA", "--type", type, ...extra, "--days", "730", "--out", crt]);
      expect(r.code, r.stderr).toBe(0);

      const text = opensslText(["x509", "-in", crt, "-noout", "-text"]);
      expect(text).toContain("Version: 3 (0x2)");
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature(, Key Encipherment)?\n/);
      expect(text.includes("Key Encipherment")).toBe(rsa);
      expect(text).toMatch(/X509v3 Extended Key Usage:\s*\n\s+TLS Web Client Authentication\n/);
      expect(text).toContain("X509v3 Subject Key Identifier");
      expect(text).not.toContain("Subject Alternative Name");
      expect(text).toMatch(/Subject: C ?= ?FR, O ?= ?Example SA, CN ?= ?MT-123456-SBX/);
      expect(text).toMatch(/Issuer: C ?= ?FR, O ?= ?Example SA, CN ?= ?MT-123456-SBX/);

      const verify = opensslText(["verify", "-CAfile", crt, "-purpose", "sslclient", crt]);
      expect(verify.trim()).toBe(`${crt}: OK`);

      // The fingerprint mtlskit prints is openssl's.
      const fp = opensslText(["x509", "-in", crt, "-noout", "-fingerprint", "-sha256"]).trim();
      const fingerprint = fp.replace(/^sha256 Fingerprint=/i, "");
      expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      expect(r.stdout).toContain(`SHA-256 fingerprint: ${fingerprint}\n`);

      // The pin mtlskit prints is: openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64
      const pubPem = openssl(["x509", "-in", crt, "-pubkey", "-noout"]);
      const spkiDer = openssl(["pkey", "-pubin", "-outform", "DER"], pubPem);
      const digest = openssl(["dgst", "-sha256", "-binary"], spkiDer);
      const b64 = openssl(["base64", "-A"], digest).toString().trim();
      expect(r.stdout).toContain(`SPKI pin: sha256/${b64}\n`);

      const dates = opensslText(["x509", "-in", crt, "-noout", "-startdate", "-enddate"]);
      const start = new Date(/notBefore=(.*)/.exec(dates)![1]!);
      const end = new Date(/notAfter=(.*)/.exec(dates)![1]!);
      expect(end.getTime() - start.getTime()).toBe(730 * 86_400_000);
    });

    it("the key mtlskit wrote is the certificate's: openssl x509 -noout -pubkey equals openssl pkey -pubout", async () => {
      const r = await run(["cert", "self-signed", "--program", "mt", "--env", "production", "--cn", "MT-9", "--type", "ecdsa-p256", "--out", "match.crt"]);
      expect(r.code, r.stderr).toBe(0);
      expect(openssl(["x509", "-in", "match.crt", "-noout", "-pubkey"]).toString()).toBe(openssl(["pkey", "-in", "match.key", "-pubout"]).toString());
    });
  });

  describe("keys written by openssl, read by mtlskit", () => {
    // Keys per family: made once, converted to every form.
    let forms: Array<{ name: string; file: string; family: "ec" | "rsa4096" | "rsa2048"; encrypted: boolean }>;

    beforeAll(() => {
      const g = (args: string[]): void => {
        openssl(args);
      };
      g(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ossl-ec.pem"]);
      g(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096", "-out", "ossl-rsa4096.pem"]);
      g(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "ossl-rsa2048.pem"]);
      g(["ecparam", "-name", "prime256v1", "-genkey", "-out", "ossl-ecparam.pem"]);
      forms = [
        { name: "genpkey EC (PKCS#8 PEM)", file: "ossl-ec.pem", family: "ec", encrypted: false },
        { name: "ecparam -genkey (EC PARAMETERS + SEC1)", file: "ossl-ecparam.pem", family: "ec", encrypted: false },
        { name: "genpkey RSA 4096 (PKCS#8 PEM)", file: "ossl-rsa4096.pem", family: "rsa4096", encrypted: false },
        { name: "genpkey RSA 2048 (PKCS#8 PEM)", file: "ossl-rsa2048.pem", family: "rsa2048", encrypted: false },
      ];
      const derive = (from: string, family: "ec" | "rsa4096" | "rsa2048", name: string, file: string, args: string[], encrypted = false): void => {
        g([...args.slice(0, 1), "-in", from, ...args.slice(1), "-out", file]);
        forms.push({ name, file, family, encrypted });
      };
      for (const [from, family] of [
        ["ossl-ec.pem", "ec"],
        ["ossl-rsa4096.pem", "rsa4096"],
        ["ossl-rsa2048.pem", "rsa2048"],
      ] as const) {
        const tag = family;
        derive(from, family, `${tag}: pkey -traditional (${family === "ec" ? "SEC1" : "PKCS#1"} PEM)`, `${tag}-trad.pem`, ["pkey", "-traditional"]);
        derive(from, family, `${tag}: pkcs8 -topk8 -nocrypt -outform DER (PKCS#8 DER)`, `${tag}-p8.der`, ["pkcs8", "-topk8", "-nocrypt", "-outform", "DER"]);
        // OpenSSL 3.0 writes the traditional form here, later versions PKCS#8: either must do.
        derive(from, family, `${tag}: pkey -outform DER`, `${tag}-pkey.der`, ["pkey", "-outform", "DER"]);
        derive(from, family, `${tag}: ${family === "ec" ? "ec" : "rsa -traditional"} -outform DER (${family === "ec" ? "SEC1" : "PKCS#1"} DER)`, `${tag}-trad.der`, family === "ec" ? ["ec", "-outform", "DER"] : ["rsa", "-traditional", "-outform", "DER"]);
        derive(from, family, `${tag}: pkcs8 -topk8 -v2 aes256 (encrypted PKCS#8 PEM)`, `${tag}-enc.pem`, ["pkcs8", "-topk8", "-v2", "aes256", "-passout", "file:pass.txt"], true);
        derive(from, family, `${tag}: pkcs8 -topk8 -v2 aes256 -outform DER (encrypted PKCS#8 DER)`, `${tag}-enc.der`, ["pkcs8", "-topk8", "-v2", "aes256", "-passout", "file:pass.txt", "-outform", "DER"], true);
      }
      derive("ossl-ec.pem", "ec", "ec: openssl ec (SEC1 PEM)", "ec-ec.pem", ["ec"]);
      derive("ossl-ec.pem", "ec", "ec: openssl ec -aes256 (legacy-encrypted SEC1 PEM)", "ec-legacy-enc.pem", ["ec", "-aes256", "-passout", "file:pass.txt"], true);
      derive("ossl-rsa2048.pem", "rsa2048", "rsa2048: openssl rsa -aes256 -traditional (legacy-encrypted PKCS#1 PEM)", "rsa2048-legacy-enc.pem", ["rsa", "-aes256", "-traditional", "-passout", "file:pass.txt"], true);
    });

    it("the forms are what they claim to be", async () => {
      const head = async (f: string): Promise<string> => (await fs.readFile(path.join(dir, f), "latin1")).split("\n")[0]!;
      expect(await head("ec-trad.pem")).toBe("-----BEGIN EC PRIVATE KEY-----");
      expect(await head("rsa4096-trad.pem")).toBe("-----BEGIN RSA PRIVATE KEY-----");
      expect(await head("ec-enc.pem")).toBe("-----BEGIN ENCRYPTED PRIVATE KEY-----");
      expect(await head("ossl-ecparam.pem")).toBe("-----BEGIN EC PARAMETERS-----");
      expect(await fs.readFile(path.join(dir, "ec-legacy-enc.pem"), "latin1")).toContain("Proc-Type: 4,ENCRYPTED");
      // PKCS#1 DER starts with INTEGER 0 then the modulus INTEGER; PKCS#8 DER with INTEGER 0 then a SEQUENCE.
      const p1 = await fs.readFile(path.join(dir, "rsa4096-trad.der"));
      const p8 = await fs.readFile(path.join(dir, "rsa4096-p8.der"));
      expect(p1.subarray(4, 8).toString("hex")).toBe("02010002");
      expect(p8.subarray(4, 8).toString("hex")).toBe("02010030");
    });

    it("mtlskit reads every form, with --passphrase-file for the encrypted ones", () => {
      const originals = {
        ec: loadPrivateKey(readFileSync(path.join(dir, "ossl-ec.pem"))),
        rsa4096: loadPrivateKey(readFileSync(path.join(dir, "ossl-rsa4096.pem"))),
        rsa2048: loadPrivateKey(readFileSync(path.join(dir, "ossl-rsa2048.pem"))),
      };
      for (const f of forms.filter((x) => x.file !== "ossl-ecparam.pem")) {
        const data = readFileSync(path.join(dir, f.file));
        const key = loadPrivateKey(data, { source: f.file, ...(f.encrypted ? { passphrase: PASS } : {}) });
        expect(keysMatch(key, createPublicKey(originals[f.family])), f.name).toBe(true);
      }
    });

    it("csr create --key takes every EC and RSA 4096 form; openssl verifies the CSR", async () => {
      for (const f of forms.filter((x) => x.family !== "rsa2048")) {
        const out = `${f.file}.csr`;
        const r = await run(["csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "123456", "--subject", SUBJECT, "--key", f.file, ...(f.encrypted ? ["--passphrase-file", "pass.txt"] : []), "--out", out]);
        expect(r.code, `${f.name}: ${r.stderr}`).toBe(0);
        expect(opensslText(["req", "-verify", "-in", out, "-noout"]), f.name).toMatch(/verify OK/);
        const pub = openssl(["pkey", "-in", f.file, ...(f.file.endsWith(".der") ? ["-inform", "DER"] : []), ...(f.encrypted ? ["-passin", "file:pass.txt"] : []), "-pubout"]).toString();
        expect(openssl(["req", "-in", out, "-noout", "-pubkey"]).toString(), f.name).toBe(pub);
        expect((await readCsr(out)).commonName, f.name).toBe(f.family === "ec" ? "TLSMA-ECDSA/123456/D1.PPR" : "TLSMA-RSA/123456/D1.PPR");
      }
    });

    it("csr create --key refuses the RSA 2048 key, in every form", async () => {
      for (const f of forms.filter((x) => x.family === "rsa2048")) {
        const r = await run(["csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "123456", "--subject", SUBJECT, "--key", f.file, ...(f.encrypted ? ["--passphrase-file", "pass.txt"] : []), "--out", "refused.csr"]);
        expect(r.code, f.name).toBe(2);
        expect(r.stderr, f.name).toMatch(new RegExp(`^error \\[KEY_TYPE_REFUSED\\]: ${f.file.replace(/\./g, "\\.")}: D1 does not accept RSA 2048`));
      }
      await expect(fs.access(path.join(dir, "refused.csr"))).rejects.toThrow();
    });

    it("cert self-signed --key takes every EC and RSA 2048 form; openssl verifies the certificate", async () => {
      for (const f of forms.filter((x) => x.family !== "rsa4096")) {
        const out = `${f.file}.crt`;
        const r = await run(["cert", "self-signed", "--program", "mt", "--env", "sandbox", "--cn", "MT-1", "--key", f.file, ...(f.encrypted ? ["--passphrase-file", "pass.txt"] : []), "--days", "30", "--out", out]);
        expect(r.code, `${f.name}: ${r.stderr}`).toBe(0);
        expect(opensslText(["verify", "-CAfile", out, "-purpose", "sslclient", out]).trim(), f.name).toBe(`${out}: OK`);
        const cert = parseCertificate(parsePem(await fs.readFile(path.join(dir, out), "utf8"))[0]!.der);
        expect(cert.keyUsage, f.name).toEqual(f.family === "ec" ? ["digitalSignature"] : ["digitalSignature", "keyEncipherment"]);
        expect(r.stdout).toContain(`SHA-256 fingerprint: ${colonHex(createHash("sha256").update(cert.der).digest())}`);
      }
    });

    it("an openssl-encrypted key without or with a wrong passphrase is refused, naming the file", async () => {
      for (const file of ["ec-enc.pem", "ec-enc.der", "ec-legacy-enc.pem"]) {
        const base = ["csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "1", "--subject", SUBJECT, "--key", file, "--out", "x.csr"];
        const none = await run(base);
        expect(none.code).toBe(2);
        expect(none.stderr).toMatch(new RegExp(`^error \\[KEY_ENCRYPTED\\]: ${file.replace(/\./g, "\\.")}: `));
        await fs.writeFile(path.join(dir, "bad-pass.txt"), "not it\n");
        const wrong = await run([...base, "--passphrase-file", "bad-pass.txt"]);
        expect(wrong.code).toBe(2);
        expect(wrong.stderr).toMatch(new RegExp(`^error \\[KEY_BAD_PASSPHRASE\\]: ${file.replace(/\./g, "\\.")}: `));
      }
      await expect(fs.access(path.join(dir, "x.csr"))).rejects.toThrow();
    });
  });
});
