import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MtlsError } from "../src/errors/index.js";
import { parseCertificate } from "../src/pki/x509-parse.js";
import { dayCount } from "../src/pki/index.js";
import { mtlskit } from "./support/cli.js";
import { requireTool } from "./support/tools.js";

// issue 10, "Inputs and messages".
let tmp: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-inputs-"));
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

function derOf(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
}

/** A self-signed certificate made by the real openssl. */
function opensslCert(name: string, args: string[]): { pemFile: string; der: Buffer } {
  const pemFile = path.join(tmp, `${name}.pem`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path.join(tmp, `${name}.key`), "-subj", `/CN=${name}`, "-out", pemFile, ...args], { stdio: "ignore" });
  return { pemFile, der: derOf(execFileSync("openssl", ["x509", "-in", pemFile], { encoding: "utf8" })) };
}

function expectTimeInvalid(der: Buffer, what: RegExp): void {
  try {
    parseCertificate(der, "bad.pem");
  } catch (e) {
    expect(e).toBeInstanceOf(MtlsError);
    expect((e as MtlsError).code).toBe("TIME_INVALID");
    expect((e as MtlsError).message).toMatch(what);
    expect((e as MtlsError).message).toContain("bad.pem");
    return;
  }
  throw new Error("parseCertificate accepted an out-of-range time");
}

describe.skipIf(!requireTool("openssl"))("serial numbers and times, against openssl", () => {
  it("a serial whose first byte has its high bit set is printed as openssl prints it (no DER sign byte)", async () => {
    const { pemFile, der } = opensslCert("high-serial", ["-days", "10", "-set_serial", "0x80A1B2C3D4E5"]);
    const openssl = execFileSync("openssl", ["x509", "-in", pemFile, "-noout", "-serial"], { encoding: "utf8" }).trim();
    expect(openssl).toBe("serial=80A1B2C3D4E5");
    expect(`serial=${parseCertificate(der).serialNumber}`).toBe(openssl);
    const r = await mtlskit(["--json", "inspect", pemFile], { cwd: tmp });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('"80:A1:B2:C3:D4:E5"');
    expect(r.stdout).not.toContain("00:80:A1");
  });

  it("a serial without the high bit keeps its bytes", () => {
    const { pemFile, der } = opensslCert("low-serial", ["-days", "10", "-set_serial", "0x0102"]);
    const openssl = execFileSync("openssl", ["x509", "-in", pemFile, "-noout", "-serial"], { encoding: "utf8" }).trim();
    expect(`serial=${parseCertificate(der).serialNumber}`).toBe(openssl);
  });

  it("UTCTime and GeneralizedTime with a field out of range are refused with TIME_INVALID", () => {
    const { der } = opensslCert("times", ["-days", "36500"]); // notBefore UTCTime, notAfter GeneralizedTime (after 2049)
    const utc = der.indexOf(Buffer.from([0x17, 0x0d]));
    const gen = der.indexOf(Buffer.from([0x18, 0x0f]));
    expect(utc).toBeGreaterThan(0);
    expect(gen).toBeGreaterThan(0);
    const patched = (at: number, text: string) => {
      const b = Buffer.from(der);
      b.write(text, at, "latin1");
      return b;
    };
    // UTCTime YYMMDDHHMMSSZ from utc + 2.
    expectTimeInvalid(patched(utc + 4, "13"), /UTCTime .* month 13/);
    expectTimeInvalid(patched(utc + 4, "00"), /month 0/);
    expectTimeInvalid(patched(utc + 4, "0132"), /day 32/);
    expectTimeInvalid(patched(utc + 4, "0230"), /day 30/);
    expectTimeInvalid(patched(utc + 8, "24"), /hour 24/);
    expectTimeInvalid(patched(utc + 10, "60"), /minute 60/);
    expectTimeInvalid(patched(utc + 12, "60"), /second 60/);
    // GeneralizedTime YYYYMMDDHHMMSSZ from gen + 2.
    expectTimeInvalid(patched(gen + 6, "13"), /GeneralizedTime .* month 13/);
    expectTimeInvalid(patched(gen + 10, "24"), /hour 24/);
    // The untouched certificate parses.
    expect(parseCertificate(der).notAfter.getUTCFullYear()).toBeGreaterThan(2049);
  });

  it("the CLI refuses such a certificate with exit 2 and TIME_INVALID", async () => {
    const { der } = opensslCert("cli-times", ["-days", "10"]);
    const utc = der.indexOf(Buffer.from([0x17, 0x0d]));
    const b = Buffer.from(der);
    b.write("13", utc + 4, "latin1");
    await fs.writeFile(path.join(tmp, "bad.der"), b);
    const r = await mtlskit(["inspect", "bad.der"], { cwd: tmp });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("[TIME_INVALID]");
  });
});

describe("messages", () => {
  it("days are counted with the right plural", () => {
    expect(dayCount(1)).toBe("1 day");
    expect(dayCount(-1)).toBe("-1 day");
    expect(dayCount(0)).toBe("0 days");
    expect(dayCount(30)).toBe("30 days");
  });
});

describe("one name per concept: old spellings stay as hidden aliases", () => {
  it("csr create and lint take --id; --gateway-id still works, hidden from help", async () => {
    const subject = "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments";
    const a = await mtlskit(["--json", "csr", "create", "--program", "d1", "--env", "preprod", "--id", "123456", "--subject", subject, "--type", "ecdsa-p256", "--out", "new.csr"], { cwd: tmp });
    expect(a.code, a.stderr).toBe(0);
    const b = await mtlskit(["--json", "csr", "create", "--program", "d1", "--env", "preprod", "--gateway-id", "123456", "--subject", subject, "--type", "ecdsa-p256", "--out", "old.csr"], { cwd: tmp });
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).commonName).toBe(JSON.parse(a.stdout).commonName);
    const both = await mtlskit(["csr", "create", "--program", "d1", "--env", "preprod", "--id", "1", "--gateway-id", "2", "--subject", subject, "--type", "ecdsa-p256", "--out", "x.csr"], { cwd: tmp });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("old spelling of --id");
    for (const args of [["csr", "create"], ["lint"]]) {
      const help = await mtlskit([...args, "--help"], { cwd: tmp });
      expect(help.stdout).toContain("--id <id>");
      expect(help.stdout).not.toMatch(/^\s+--gateway-id </m);
    }
    for (const flag of ["--id", "--gateway-id"]) {
      const r = await mtlskit(["--json", "lint", "new.csr", "--program", "d1", "--env", "preprod", flag, "999999"], { cwd: tmp });
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("999999");
    }
  });

  it("profile add takes --type like the other commands; --key-type still works", async () => {
    const help = await mtlskit(["profile", "add", "--help"], { cwd: tmp });
    expect(help.stdout).toContain("--type <type>");
    expect(help.stdout).not.toMatch(/^\s+--key-type/m);
    for (const [name, flag, id] of [["p1", "--type", "1"], ["p2", "--key-type", "2"]] as const) {
      const r = await mtlskit(["--dir", "ws-alias", "--json", "profile", "add", name, "--program", "mt", "--env", "sandbox", "--id", id, flag, "ecdsa-p384"], { cwd: tmp });
      expect(r.code, r.stderr).toBe(0);
    }
    const yaml = await fs.readFile(path.join(tmp, "ws-alias", "mtlskit.yaml"), "utf8");
    expect(yaml.match(/ecdsa-p384/g)).toHaveLength(2);
  });
});

describe.skipIf(!requireTool("openssl"))("inspect --passphrase-file", () => {
  it("shows an encrypted key's type with its passphrase; without it, says it is encrypted", async () => {
    opensslCert("enc-src", ["-days", "10"]);
    execFileSync("openssl", ["pkey", "-in", path.join(tmp, "enc-src.key"), "-aes256", "-passout", "pass:s3cret", "-out", path.join(tmp, "enc.key")]);
    await fs.writeFile(path.join(tmp, "pass.txt"), "s3cret\n");
    const without = await mtlskit(["inspect", "enc.key"], { cwd: tmp });
    expect(without.code).toBe(0);
    expect(without.stdout).toContain("encrypted");
    const withPass = await mtlskit(["inspect", "enc.key", "--passphrase-file", "pass.txt"], { cwd: tmp });
    expect(withPass.code, withPass.stderr).toBe(0);
    expect(withPass.stdout).toMatch(/Type:\s+ECDSA P-256/);
    expect(withPass.stdout).not.toContain("s3cret");
    await fs.writeFile(path.join(tmp, "wrong.txt"), "nope\n");
    const wrong = await mtlskit(["inspect", "enc.key", "--passphrase-file", "wrong.txt"], { cwd: tmp });
    expect(wrong.code).toBe(2);
  });
});
