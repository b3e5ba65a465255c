import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki } from "../testing/index.js";
import { requireTool } from "../../test/support/tools.js";
import { looksLikePkcs12, readPkcs12, writePkcs12 } from "./pkcs12.js";

let pki: TestPki;
const tmp = mkdtempSync(path.join(os.tmpdir(), "mtlskit-p12-"));
const PW = "s3cret-pass";

beforeAll(async () => {
  pki = await createTestPki();
});

async function clientP12(legacy: boolean, keyType: "ecdsa-p256" | "rsa-2048" = "ecdsa-p256"): Promise<{ der: Uint8Array; leafDer: Uint8Array }> {
  const leaf = await pki.issue({ cn: "client.test", keyType });
  const id = createHash("sha1").update(leaf.der).digest();
  const der = writePkcs12({
    password: PW,
    legacy,
    key: { key: leaf.privateKey, friendlyName: "client", localKeyId: id },
    certificates: [{ der: leaf.der, friendlyName: "client", localKeyId: id }, { der: pki.intermediate.der, friendlyName: "intermediate" }],
  });
  return { der, leafDer: leaf.der };
}

function file(name: string, data: Uint8Array | string): string {
  const f = path.join(tmp, name);
  writeFileSync(f, data);
  return f;
}

describe("PKCS#12 written by mtlskit, read back", () => {
  it("round-trips key, chain, friendly names and local key id (default and legacy)", async () => {
    for (const legacy of [false, true]) {
      const { der, leafDer } = await clientP12(legacy);
      expect(looksLikePkcs12(der)).toBe(true);
      const r = readPkcs12(der, PW);
      expect(r.keys).toHaveLength(1);
      expect(r.keys[0]!.friendlyName).toBe("client");
      expect(r.certificates.map((c) => c.friendlyName)).toEqual(["client", "intermediate"]);
      expect(Buffer.from(r.certificates[0]!.der).equals(Buffer.from(leafDer))).toBe(true);
      expect(r.keys[0]!.localKeyId).toBe(r.certificates[0]!.localKeyId);
      if (legacy) expect(r.legacyWarning).toMatch(/3DES/);
      else {
        expect(r.legacyWarning).toBeUndefined();
        expect(r.mac).toBe("HMAC-SHA-256, 2048 iterations");
        expect(r.encryptions[0]).toMatch(/PBES2 \(PBKDF2-HMAC-SHA-256, AES-256-CBC/);
      }
    }
  });

  it("wrong passphrase and damaged files give coded errors", async () => {
    const { der } = await clientP12(false);
    expect(() => readPkcs12(der, "wrong")).toThrow(expect.objectContaining({ code: "PKCS12_BAD_PASSPHRASE" }));
    const cut = der.slice(0, der.length - 40);
    expect(() => readPkcs12(cut, PW)).toThrow(expect.objectContaining({ code: "PKCS12_INVALID" }));
    const flipped = new Uint8Array(der);
    flipped[flipped.length - 100]! ^= 0xff;
    expect(() => readPkcs12(flipped, PW)).toThrow(expect.objectContaining({ code: expect.stringMatching(/PKCS12_(BAD_PASSPHRASE|INVALID)/) }));
  });

  it("round-trips random keys and chains (property)", async () => {
    const leaves = [await pki.issue({ cn: "a.test" }), await pki.issue({ cn: "b.test", keyType: "rsa-2048" }), await pki.selfSigned({ cn: "c.test" })];
    await fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.boolean(), fc.string({ minLength: 1, maxLength: 20 }), fc.integer({ min: 0, max: 2 }), (li, legacy, password, extra) => {
        const leaf = leaves[li]!;
        const chain = [pki.intermediate, pki.root].slice(0, extra);
        const id = createHash("sha1").update(leaf.der).digest();
        const der = writePkcs12({ password, legacy, iterations: 16, key: { key: leaf.privateKey, friendlyName: "k", localKeyId: id }, certificates: [{ der: leaf.der, localKeyId: id }, ...chain.map((c) => ({ der: c.der }))] });
        const r = readPkcs12(der, password);
        expect(r.keys[0]!.key.export({ format: "der", type: "pkcs8" }).equals(leaf.privateKey.export({ format: "der", type: "pkcs8" }))).toBe(true);
        expect(r.certificates.map((c) => Buffer.from(c.der).toString("hex"))).toEqual([leaf, ...chain].map((c) => Buffer.from(c.der).toString("hex")));
      }),
      { numRuns: 25 },
    );
  });
});

describe.skipIf(!requireTool("openssl"))("PKCS#12 and OpenSSL 3", () => {
  it("openssl pkcs12 -info reads the default file without -legacy and the legacy one with -legacy", async () => {
    const d = file("default.p12", (await clientP12(false)).der);
    const pw = file("pw.txt", PW);
    const err = execFileSync("sh", ["-c", `openssl pkcs12 -info -noout -in ${d} -passin file:${pw} 2>&1`], { encoding: "utf8" });
    expect(err).toMatch(/MAC: sha256/);
    expect(err).toMatch(/PBES2, PBKDF2, AES-256-CBC/);
    const l = file("legacy.p12", (await clientP12(true)).der);
    const legacy = execFileSync("sh", ["-c", `openssl pkcs12 -legacy -info -noout -in ${l} -passin file:${pw} 2>&1`], { encoding: "utf8" });
    expect(legacy).toMatch(/MAC: sha1/);
    expect(legacy).toMatch(/pbeWithSHA1And3-KeyTripleDES-CBC/);
  });

  it("reads what openssl pkcs12 -export writes (default, -legacy with RC2-40, 3DES)", async () => {
    const leaf = await pki.issue({ cn: "from-openssl.test" });
    const k = file("o.key", leaf.keyPem);
    const c = file("o.crt", leaf.certPem);
    const pw = file("pw.txt", PW);
    for (const extra of [[], ["-legacy"], ["-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1"]]) {
      const out = path.join(tmp, `o${extra.length}.p12`);
      execFileSync("openssl", ["pkcs12", "-export", ...extra, "-inkey", k, "-in", c, "-name", "ossl", "-out", out, "-passout", `file:${pw}`]);
      const r = readPkcs12(readFileSync(out), PW);
      if (extra[0] === "-legacy") {
        // OpenSSL's -legacy encrypts the certificates with RC2-40 (Node's OpenSSL 3 has no RC2).
        expect(r.encryptions.join(" ")).toMatch(/RC2-40/);
        expect(r.legacyWarning).toMatch(/RC2/);
        expect(r.certificates[0]!.der).toEqual(new Uint8Array(leaf.der));
      }
      expect(r.keys[0]!.friendlyName).toBe("ossl");
      expect(r.certificates).toHaveLength(1);
      expect(() => readPkcs12(readFileSync(out), "nope")).toThrow(expect.objectContaining({ code: "PKCS12_BAD_PASSPHRASE" }));
    }
  });
});

describe.skipIf(!requireTool("keytool"))("PKCS#12 and keytool", () => {
  it("keytool lists the client PKCS#12 as a PrivateKeyEntry and a certificate-only store as trustedCertEntry", async () => {
    const cp = file("client.p12", (await clientP12(false)).der);
    const list = execFileSync("keytool", ["-list", "-storetype", "PKCS12", "-keystore", cp, "-storepass", PW], { encoding: "utf8" });
    expect(list).toMatch(/client, .*PrivateKeyEntry/);
    const ts = writePkcs12({ password: PW, certificates: [pki.root, pki.intermediate].map((c, i) => ({ der: c.der, friendlyName: `thales-ca-${i + 1}`, javaTrusted: true })) });
    const tf = file("trust.p12", ts);
    const tl = execFileSync("keytool", ["-list", "-storetype", "PKCS12", "-keystore", tf, "-storepass", PW], { encoding: "utf8" });
    expect(tl.match(/trustedCertEntry/g)).toHaveLength(2);
    expect(tl).toMatch(/thales-ca-1/);
  });

  it("reads what keytool -genkeypair -storetype PKCS12 writes", () => {
    const ks = path.join(tmp, "kt.p12");
    execFileSync("keytool", ["-genkeypair", "-storetype", "PKCS12", "-keystore", ks, "-storepass", PW, "-alias", "kt", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=kt.test", "-validity", "2"], { stdio: "ignore" });
    const r = readPkcs12(readFileSync(ks), PW);
    expect(r.keys).toHaveLength(1);
    expect(r.keys[0]!.friendlyName).toBe("kt");
    expect(r.certificates).toHaveLength(1);
  });
});
