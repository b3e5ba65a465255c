import { execFileSync } from "node:child_process";
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pkijs from "pkijs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTool } from "../../test/support/tools.js";
import { OID } from "./oids.js";
import { toPem } from "./pem.js";
import { encodeSubject, parseSubject } from "./subject.js";
import { createCertificate, createCsr, keyIdentifier } from "./x509-build.js";
import { colonHex, isSignedBy, parseCertificate, parseCsr } from "./x509-parse.js";

const DAY = 86_400_000;
let ec: KeyObject;
let p384: KeyObject;
let rsa: KeyObject;

beforeAll(() => {
  ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
  p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey;
  rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
});

function clientCert(key: KeyObject, extra: Partial<Parameters<typeof createCertificate>[0]> = {}): Uint8Array {
  const isRsa = key.asymmetricKeyType === "rsa";
  return createCertificate({
    subject: parseSubject("/C=FR/O=Société Exemple/CN=MT-123456-SBX"),
    publicKey: createPublicKey(key),
    signingKey: key,
    notAfter: new Date(Date.now() + 30 * DAY),
    extensions: {
      basicConstraints: { ca: false },
      keyUsage: isRsa ? ["digitalSignature", "keyEncipherment"] : ["digitalSignature"],
      extKeyUsage: [OID.clientAuth],
    },
    ...extra,
  });
}

/** The DER of one extension's extnValue, found by OID with pkijs (independent of x509-parse). */
function extnValue(der: Uint8Array, oid: string): string | undefined {
  const cert = pkijs.Certificate.fromBER(der);
  const ext = cert.extensions?.find((e) => e.extnID === oid);
  return ext ? Buffer.from(ext.extnValue.valueBlock.valueHexView).toString("hex") : undefined;
}

describe("createCertificate: the extensions of a client certificate, read back", () => {
  it("ECDSA P-256: CA:false, digitalSignature, clientAuth, SKI and AKI, no SAN", () => {
    const der = clientCert(ec);
    const info = parseCertificate(der);
    expect(info.version).toBe(3);
    expect(info.basicConstraints).toEqual({ ca: false });
    expect(info.keyUsage).toEqual(["digitalSignature"]);
    expect(info.extKeyUsage).toEqual([OID.clientAuth]);
    expect(info.subjectAltNames).toBeUndefined();
    expect(info.extensions.map((e) => [e.name, e.critical])).toEqual([
      ["basicConstraints", true],
      ["keyUsage", true],
      ["extendedKeyUsage", false],
      ["subjectKeyIdentifier", false],
      ["authorityKeyIdentifier", false],
    ]);
    const ski = colonHex(keyIdentifier(createPublicKey(ec)));
    expect(info.subjectKeyIdentifier).toBe(ski);
    expect(info.authorityKeyIdentifier).toBe(ski);
    expect(info.selfIssued).toBe(true);
    expect(info.signatureAlgorithm.name).toBe("ecdsa-with-SHA256");
    expect(info.x509.verify(createPublicKey(ec))).toBe(true);
    expect(Buffer.from(info.subjectDer).equals(Buffer.from(encodeSubject(parseSubject("/C=FR/O=Société Exemple/CN=MT-123456-SBX"))))).toBe(true);
    expect(info.commonName).toBe("MT-123456-SBX");
    expect(info.sha256Fingerprint).toBe(colonHex(createHash("sha256").update(der).digest()));
  });

  it("RSA: keyEncipherment too, sha256WithRSAEncryption with its NULL parameters", () => {
    const der = clientCert(rsa);
    const info = parseCertificate(der);
    expect(info.keyUsage).toEqual(["digitalSignature", "keyEncipherment"]);
    expect(info.signatureAlgorithm.name).toBe("sha256WithRSAEncryption");
    expect(info.x509.verify(createPublicKey(rsa))).toBe(true);
    const alg = pkijs.Certificate.fromBER(der).signatureAlgorithm;
    expect(alg.algorithmParams?.constructor.name).toBe("Null");
  });

  it("ECDSA P-384 with SHA-384", () => {
    const info = parseCertificate(clientCert(p384, { hash: "sha384" }));
    expect(info.signatureAlgorithm.name).toBe("ecdsa-with-SHA384");
    expect(info.keyType).toBe("ecdsa-p384");
    expect(info.x509.verify(createPublicKey(p384))).toBe(true);
  });

  it("encodes keyUsage as a DER BIT STRING: no trailing zero byte, exact unused bits", () => {
    const ku = (names: Parameters<typeof createCertificate>[0]["extensions"] & object): string | undefined =>
      extnValue(createCertificate({ subject: parseSubject("/CN=ku"), publicKey: createPublicKey(ec), signingKey: ec, notAfter: new Date(Date.now() + DAY), extensions: names }), OID.keyUsage);
    expect(ku({ keyUsage: ["digitalSignature"] })).toBe("03020780");
    expect(ku({ keyUsage: ["digitalSignature", "keyEncipherment"] })).toBe("030205a0");
    expect(ku({ keyUsage: ["keyCertSign", "cRLSign"] })).toBe("03020106");
    expect(ku({ keyUsage: ["digitalSignature", "decipherOnly"] })).toBe("0303078080");
    expect(ku({ keyUsage: [] })).toBeUndefined();
  });

  it("encodes basicConstraints CA:FALSE as an empty SEQUENCE (DER leaves out the default)", () => {
    expect(extnValue(clientCert(ec), OID.basicConstraints)).toBe("3000");
  });

  it("builds a CA and a leaf it signs: AKI of the leaf is the SKI of the CA", () => {
    const ca = createCertificate({
      subject: parseSubject("/O=Test/CN=Test CA"),
      publicKey: createPublicKey(p384),
      signingKey: p384,
      notAfter: new Date(Date.now() + DAY),
      hash: "sha384",
      extensions: { basicConstraints: { ca: true, pathLength: 0 }, keyUsage: ["keyCertSign", "cRLSign"] },
    });
    const caInfo = parseCertificate(ca);
    expect(caInfo.basicConstraints).toEqual({ ca: true, pathLength: 0 });
    const leaf = createCertificate({
      subject: parseSubject("/CN=localhost"),
      publicKey: createPublicKey(ec),
      signingKey: p384,
      issuer: { subjectDer: caInfo.subjectDer, subjectKeyIdentifier: keyIdentifier(createPublicKey(p384)) },
      notAfter: new Date(Date.now() + DAY),
      extensions: { basicConstraints: { ca: false }, extKeyUsage: [OID.serverAuth], subjectAltNames: { dns: ["localhost", "api.example.test"], ip: ["127.0.0.1", "::1", "2001:db8::8:800:200c:417a"] } },
    });
    const info = parseCertificate(leaf);
    expect(info.issuerText).toBe("O=Test, CN=Test CA");
    expect(info.authorityKeyIdentifier).toBe(caInfo.subjectKeyIdentifier);
    expect(info.subjectKeyIdentifier).not.toBe(caInfo.subjectKeyIdentifier);
    expect(info.selfIssued).toBe(false);
    expect(isSignedBy(info, caInfo)).toBe(true);
    expect(info.subjectAltNames).toEqual(["DNS:localhost", "DNS:api.example.test", "IP:127.0.0.1", "IP:0:0:0:0:0:0:0:1", "IP:2001:db8:0:0:8:800:200c:417a"]);
  });

  it("leaves out the subject key identifier when asked", () => {
    const info = parseCertificate(clientCert(ec, { extensions: { basicConstraints: { ca: false }, subjectKeyIdentifier: false } }));
    expect(info.subjectKeyIdentifier).toBeUndefined();
  });

  it("takes the serial number given, and by default a positive random one of 16 bytes", () => {
    expect(parseCertificate(clientCert(ec, { serialNumber: new Uint8Array([0x01, 0x02, 0x03]) })).serialNumber).toBe("010203");
    const serials = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const s = parseCertificate(clientCert(ec)).serialNumber;
      expect(s).toMatch(/^[0-7][0-9A-F]{31}$/);
      serials.add(s);
    }
    expect(serials.size).toBe(5);
  });
});

describe("createCertificate: validity times", () => {
  function times(notBefore: Date, notAfter: Date): { der: Uint8Array; types: number[] } {
    const der = clientCert(ec, { notBefore, notAfter });
    const cert = pkijs.Certificate.fromBER(der);
    return { der, types: [cert.notBefore.type, cert.notAfter.type] };
  }

  it("writes UTCTime through 2049 and GeneralizedTime from 2050, in whole seconds", () => {
    const { der, types } = times(new Date("2049-12-31T23:59:59.750Z"), new Date("2050-01-01T00:00:00.250Z"));
    expect(types).toEqual([pkijs.TimeType.UTCTime, pkijs.TimeType.GeneralizedTime]);
    const info = parseCertificate(der);
    expect(info.notBefore.toISOString()).toBe("2049-12-31T23:59:59.000Z");
    expect(info.notAfter.toISOString()).toBe("2050-01-01T00:00:00.000Z");
    // DER GeneralizedTime: YYYYMMDDHHMMSSZ, no fraction.
    expect(Buffer.from(der).includes(Buffer.from("180f32303530303130313030303030305a", "hex"))).toBe(true);
  });

  it("reads a certificate valid until 2051 back as 2051, not 1951", () => {
    const { der, types } = times(new Date("2026-01-01T00:00:00Z"), new Date("2051-06-30T12:00:00Z"));
    expect(types).toEqual([pkijs.TimeType.UTCTime, pkijs.TimeType.GeneralizedTime]);
    const info = parseCertificate(der);
    expect(info.notAfter.toISOString()).toBe("2051-06-30T12:00:00.000Z");
    expect(new Date(info.x509.validTo).getUTCFullYear()).toBe(2051);
  });

  it("writes a time before 1950 as GeneralizedTime", () => {
    const { der, types } = times(new Date("1949-06-01T00:00:00Z"), new Date("2030-01-01T00:00:00Z"));
    expect(types).toEqual([pkijs.TimeType.GeneralizedTime, pkijs.TimeType.UTCTime]);
    expect(parseCertificate(der).notBefore.toISOString()).toBe("1949-06-01T00:00:00.000Z");
  });

  describe.skipIf(!requireTool("openssl"))("with the openssl CLI", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-x509-"));
    });
    afterAll(async () => {
      await fs.rm(dir, { recursive: true, force: true });
    });

    it("openssl x509 reads a certificate valid until 2051", async () => {
      const file = path.join(dir, "2051.crt");
      await fs.writeFile(file, toPem("CERTIFICATE", times(new Date("2026-01-01T00:00:00Z"), new Date("2051-06-30T12:00:00Z")).der));
      const out = execFileSync("openssl", ["x509", "-in", file, "-noout", "-startdate", "-enddate"], { encoding: "utf8" });
      expect(out).toContain("notBefore=Jan  1 00:00:00 2026 GMT");
      expect(out).toContain("notAfter=Jun 30 12:00:00 2051 GMT");
      const text = execFileSync("openssl", ["x509", "-in", file, "-noout", "-text"], { encoding: "utf8" });
      expect(text).toContain("Not After : Jun 30 12:00:00 2051 GMT");
    });
  });
});

describe("createCsr", () => {
  it("signs a PKCS#10 request with the subject bytes of encodeSubject and no attributes", () => {
    const subject = parseSubject("/C=JP/ST=東京都/L=千代田区/O=株式会社テスト/OU=決済/CN=TLSMA-ECDSA\\/gw-1\\/D1.PPR");
    const der = createCsr({ subject, privateKey: ec });
    const info = parseCsr(der);
    expect(info.signatureValid).toBe(true);
    expect(info.signatureAlgorithm.name).toBe("ecdsa-with-SHA256");
    expect(Buffer.from(info.subjectDer).equals(Buffer.from(encodeSubject(subject)))).toBe(true);
    expect(info.commonName).toBe("TLSMA-ECDSA/gw-1/D1.PPR");
    expect(info.extensions).toEqual([]);
    expect(info.keyType).toBe("ecdsa-p256");
    const csr = pkijs.CertificationRequest.fromBER(der);
    expect(csr.version).toBe(0);
    expect(csr.attributes ?? []).toEqual([]);
  });

  it("signs with RSA and with SHA-384", () => {
    const r = parseCsr(createCsr({ subject: parseSubject("/CN=r"), privateKey: rsa }));
    expect(r.signatureValid).toBe(true);
    expect(r.signatureAlgorithm.name).toBe("sha256WithRSAEncryption");
    const p = parseCsr(createCsr({ subject: parseSubject("/CN=p"), privateKey: p384, hash: "sha384" }));
    expect(p.signatureValid).toBe(true);
    expect(p.signatureAlgorithm.name).toBe("ecdsa-with-SHA384");
  });
});
