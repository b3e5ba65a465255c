import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTool } from "../../test/support/tools.js";
import { isMtlsError } from "../errors/index.js";
import { createCsr, generateKey, getAttribute, OID, parseCertificate, parseCsr, parsePem, parseSubject, type CertificateInfo } from "../pki/index.js";
import { d1, mt } from "../policy/index.js";
import { loadOrCreateEmulatorPki, type EmulatorPki } from "./emulator-pki.js";
import { emulatorHost } from "./hosts.js";

const DAY = 86_400_000;

function certs(pem: string): CertificateInfo[] {
  return parsePem(pem).map((b) => parseCertificate(b.der));
}

let dir: string;
let pki: EmulatorPki;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "mtlskit-emulator-pki-"));
  pki = await loadOrCreateEmulatorPki(dir);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("loadOrCreateEmulatorPki", () => {
  it("gives the same CAs and certificates after a restart, with keys in 0600 files", async () => {
    const again = await loadOrCreateEmulatorPki(dir);
    for (const env of d1.environments) expect(again.businessCaPem(env.id)).toBe(pki.businessCaPem(env.id));
    expect(again.clientCaPem()).toBe(pki.clientCaPem());
    for (const program of [d1, mt]) {
      for (const env of program.environments) {
        expect(again.serverTrustPem(program.id, env.id)).toBe(pki.serverTrustPem(program.id, env.id));
        expect(again.serverCredential(program.id, env.id)).toMatchObject({ certPem: pki.serverCredential(program.id, env.id).certPem, keyPem: pki.serverCredential(program.id, env.id).keyPem });
        expect(again.clientCredential(program.id, env.id).certPem).toBe(pki.clientCredential(program.id, env.id).certPem);
      }
    }
    const keyFile = path.join(dir, "pki", "client-ca.key");
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, "utf8")).toContain("BEGIN PRIVATE KEY");
  });

  it("names the MT server intermediate exactly 'DigiCert SHA2 High Assurance Server CA' and the D1 chain after Amazon", () => {
    const [mtIntermediate, mtRoot] = certs(pki.serverTrustPem("mt", "sandbox"));
    expect(mtIntermediate!.commonName).toBe("DigiCert SHA2 High Assurance Server CA");
    expect(mtIntermediate!.basicConstraints).toEqual({ ca: true, pathLength: 0 });
    expect(mtRoot!.selfIssued).toBe(true);
    expect(mtRoot!.commonName).toMatch(/^DigiCert High Assurance EV Root CA/);
    const [d1Intermediate, d1Root] = certs(pki.serverTrustPem("d1", "preprod"));
    expect(d1Intermediate!.subjectText).toBe("C=US, O=Amazon, CN=Amazon RSA 2048 M02");
    expect(d1Intermediate!.key.label).toBe("RSA 2048");
    expect(d1Root!.subjectText).toBe("C=US, O=Amazon, CN=Amazon Root CA 1");
  });

  it("issues each server leaf for its environment's .test host, serverAuth, with the leaf + intermediate as chain", () => {
    for (const program of [d1, mt]) {
      for (const env of program.environments) {
        const cred = pki.serverCredential(program.id, env.id);
        expect(cred.info.subjectAltNames).toEqual([`DNS:${emulatorHost(env)}`]);
        expect(cred.info.extKeyUsage).toEqual([OID.serverAuth]);
        const chain = certs(cred.chainPem);
        expect(chain).toHaveLength(2);
        expect(chain[1]!.subjectText).toBe(certs(pki.serverTrustPem(program.id, env.id))[0]!.subjectText);
      }
    }
  });

  it("issues the emulator's client certificates from one self-signed Thales Client CA", () => {
    const cred = pki.clientCredential("mt", "sandbox");
    expect(cred.info.commonName).toBe("thales-notifier.mt-sandbox.thalescloud.test");
    expect(cred.info.extKeyUsage).toEqual([OID.clientAuth]);
    expect(cred.info.basicConstraints).toEqual({ ca: false });
    const [leaf, ca] = certs(cred.chainPem);
    expect(leaf!.der).toEqual(cred.info.der);
    expect(ca!.commonName).toBe("Thales Client CA");
    expect(ca!.selfIssued).toBe(true);
    expect(cred.caPem).toBe(pki.clientCaPem());
  });

  it("rotates a client certificate: new key and serial, same CA, kept after a restart", async () => {
    const before = pki.clientCredential("d1", "preprod");
    const other = pki.clientCredential("d1", "production");
    const rotated = await pki.rotateClientCertificate("d1", "preprod");
    expect(rotated.info.serialNumber).not.toBe(before.info.serialNumber);
    expect(rotated.keyPem).not.toBe(before.keyPem);
    expect(rotated.info.issuerText).toBe(before.info.issuerText);
    expect(rotated.caPem).toBe(before.caPem);
    expect(pki.clientCredential("d1", "preprod").certPem).toBe(rotated.certPem);
    expect(pki.clientCredential("d1", "production").certPem).toBe(other.certPem);
    const again = await loadOrCreateEmulatorPki(dir);
    expect(again.clientCredential("d1", "preprod").certPem).toBe(rotated.certPem);
  });

  it("signs a D1 CSR for 5 years, keeping the CSR's subject bytes and public key", async () => {
    const { privateKey, publicKey } = await generateKey("ecdsa-p256");
    const csr = createCsr({ subject: parseSubject("/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments/CN=TLSMA-ECDSA\\/123456\\/D1.PPR"), privateKey });
    const t0 = Date.now();
    const signed = pki.signD1Csr("preprod", csr, "123456");
    const cert = signed.info;
    expect(cert.issuerText).toBe("C=FR, O=Thales DIS, OU=Business PKI, CN=Thales Business PKI CA PPR");
    expect(cert.publicKey.export({ type: "spki", format: "der" })).toEqual(publicKey.export({ type: "spki", format: "der" }));
    expect(cert.notAfter.getTime() - cert.notBefore.getTime()).toBe(1825 * DAY);
    expect(Math.abs(cert.notBefore.getTime() - t0)).toBeLessThan(2000);
    expect(cert.extKeyUsage).toEqual([OID.clientAuth]);
    expect(cert.keyUsage).toEqual(["digitalSignature"]);
    expect(cert.basicConstraints).toEqual({ ca: false });
    const chain = certs(signed.chainPem);
    expect(chain.map((c) => c.subjectText)).toEqual([cert.subjectText, cert.issuerText]);
  });

  it("adds keyEncipherment for an RSA key", async () => {
    const { privateKey } = await generateKey("rsa-2048");
    const csr = createCsr({ subject: parseSubject("/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments/CN=TLSMA-RSA\\/123456\\/D1.PRD"), privateKey });
    const signed = pki.signD1Csr("production", csr, "123456");
    expect(signed.info.keyUsage).toEqual(["digitalSignature", "keyEncipherment"]);
    expect(signed.info.issuerText).toContain("Thales Business PKI CA PRD");
  });

  it("refuses a CSR whose signature does not verify, and an unknown environment", async () => {
    const { privateKey } = await generateKey("ecdsa-p256");
    const csr = createCsr({ subject: parseSubject("/CN=TLSMA-ECDSA\\/1\\/D1.PPR"), privateKey });
    const bad = new Uint8Array(csr);
    bad[bad.length - 1]! ^= 0x01;
    expect(() => pki.signD1Csr("preprod", bad, "1")).toThrow(/signature does not verify/);
    try {
      pki.signD1Csr("sandbox", csr, "1");
      expect.unreachable();
    } catch (e) {
      expect(isMtlsError(e, "UNKNOWN_ENVIRONMENT")).toBe(true);
    }
  });

  it("refuses to start on a damaged file, naming it", async () => {
    const other = mkdtempSync(path.join(tmpdir(), "mtlskit-emulator-pki-bad-"));
    try {
      await loadOrCreateEmulatorPki(other);
      writeFileSync(path.join(other, "pki", "client-ca.crt"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
      await expect(loadOrCreateEmulatorPki(other)).rejects.toMatchObject({ code: "EMULATOR_STATE_INVALID", message: expect.stringContaining("client-ca.crt") });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!requireTool("openssl"))("against the openssl CLI", () => {
  let work: string;
  const openssl = (args: string[]): string => execFileSync("openssl", args, { cwd: work, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const write = (name: string, text: string): string => {
    const file = path.join(work, name);
    writeFileSync(file, text);
    return file;
  };

  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), "mtlskit-emulator-pki-openssl-"));
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it("verifies every server chain: -CAfile root -untrusted intermediate leaf", () => {
    for (const program of [d1, mt]) {
      for (const env of program.environments) {
        const [intermediate, root] = parsePem(pki.serverTrustPem(program.id, env.id));
        const rootFile = write("root.pem", root!.text);
        const intermediateFile = write("intermediate.pem", intermediate!.text);
        const leafFile = write("leaf.pem", pki.serverCredential(program.id, env.id).certPem);
        expect(openssl(["verify", "-CAfile", rootFile, "-untrusted", intermediateFile, "-purpose", "sslserver", "-verify_hostname", emulatorHost(env), leafFile])).toContain("leaf.pem: OK");
      }
    }
  });

  it("verifies the client certificate against the Thales Client CA alone", () => {
    const cred = pki.clientCredential("mt", "production");
    const ca = write("client-ca.pem", cred.caPem);
    const leaf = write("client.pem", cred.certPem);
    expect(openssl(["verify", "-CAfile", ca, "-purpose", "sslclient", leaf])).toContain("client.pem: OK");
  });

  it("signs a CSR made by the D1 page's openssl commands; the certificate verifies with its environment's CA only", () => {
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "d1.key"]);
    openssl(["req", "-new", "-key", "d1.key", "-out", "d1.csr", "-subj", "/C=FR/ST=Ile-de-France/L=Paris/O=Example Gateway/OU=Payments/CN=TLSMA-ECDSA\\/987654\\/D1.PPR"]);
    const csrDer = parsePem(readFileSync(path.join(work, "d1.csr"), "latin1"))[0]!.der;
    const signed = pki.signD1Csr("preprod", csrDer, "987654");
    expect(Buffer.from(signed.info.subjectDer).equals(Buffer.from(parseCsr(csrDer).subjectDer))).toBe(true);
    const certFile = write("d1.crt", signed.certificatePem);
    expect(openssl(["verify", "-CAfile", write("ppr-ca.pem", pki.businessCaPem("preprod")), "-purpose", "sslclient", certFile])).toContain("d1.crt: OK");
    expect(() => openssl(["verify", "-CAfile", write("prd-ca.pem", pki.businessCaPem("production")), certFile])).toThrow();
    // The certificate carries the CSR's key: openssl sees the same public key in both.
    expect(openssl(["x509", "-in", certFile, "-noout", "-pubkey"])).toBe(openssl(["req", "-in", "d1.csr", "-noout", "-pubkey"]));
  });

  it("copies the subject byte for byte, whatever string types the CSR used", () => {
    // string_mask = default makes openssl write PrintableString where it can; mtlskit's own encoder would write UTF8String.
    write("req.cnf", "[req]\ndistinguished_name = dn\nstring_mask = default\n[dn]\n");
    openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "p.key", "-out", "p.csr", "-config", "req.cnf", "-subj", "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments/CN=TLSMA-ECDSA\\/1\\/D1.PPR"]);
    const csrDer = parsePem(readFileSync(path.join(work, "p.csr"), "latin1"))[0]!.der;
    const signed = pki.signD1Csr("preprod", csrDer, "1");
    const csrSubject = openssl(["req", "-in", "p.csr", "-noout", "-subject", "-nameopt", "RFC2253,show_type"]);
    const certSubject = openssl(["x509", "-in", write("p.crt", signed.certificatePem), "-noout", "-subject", "-nameopt", "RFC2253,show_type"]);
    expect(csrSubject).toContain("PRINTABLESTRING:Example");
    expect(certSubject).toBe(csrSubject);
    expect(Buffer.from(signed.info.subjectDer).equals(Buffer.from(parseCsr(csrDer).subjectDer))).toBe(true);
    expect(getAttribute(signed.info.subject, "O")).toEqual(["Example"]);
  });
});
