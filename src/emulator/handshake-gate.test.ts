import { createDecipheriv, createHmac, randomBytes } from "node:crypto";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { d1, getEnvironment } from "../policy/index.js";
import { createTestPki, type TestCertificate, type TestPki } from "../testing/index.js";
import { startTestApiServer } from "../../test/support/emulator-fixtures.js";
import type { ApiServer, HandshakeLogEntry } from "./api-server.js";
import { ALERT, hkdfExpandLabel, TLS13_SUITES, tls13AlertRecord } from "./handshake-gate.js";

/** The TLS 1.3 cipher suites of RFC 8446 that OpenSSL (and so Node) negotiates by default. */
const SUITES = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"] as const;

/**
 * HKDF-Expand (RFC 5869 §2.3) written out block by block, independently of the gate's
 * one-block shortcut, with the HkdfLabel of RFC 8446 §7.1 (empty context).
 */
function referenceExpandLabel(hash: string, secret: Buffer, label: string, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, "ascii");
  const hkdfLabel = Buffer.concat([Buffer.alloc(2), Buffer.from([full.length]), full, Buffer.from([0])]);
  hkdfLabel.writeUInt16BE(length, 0);
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(blocks).length < length; i++) {
    previous = createHmac(hash, secret).update(Buffer.concat([previous, hkdfLabel, Buffer.from([i])])).digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

describe("TLS 1.3 alert record, for each cipher suite", () => {
  it("knows exactly the three TLS 1.3 suites", () => {
    expect(Object.keys(TLS13_SUITES).sort()).toEqual([...SUITES].sort());
    expect(tls13AlertRecord("TLS_AES_128_CCM_SHA256", randomBytes(32), ALERT.unknown_ca)).toBeUndefined();
  });

  for (const suite of SUITES) {
    it(`${suite}: the record decrypts with node:crypto to the fatal alert`, () => {
      const { hash, keyLength, cipher } = TLS13_SUITES[suite]!;
      const secret = Buffer.from(Array.from({ length: hash === "sha384" ? 48 : 32 }, (_, i) => i * 7 + 1));
      const key = referenceExpandLabel(hash, secret, "key", keyLength);
      const iv = referenceExpandLabel(hash, secret, "iv", 12);
      expect(hkdfExpandLabel(hash, secret, "key", keyLength)).toEqual(key);
      expect(hkdfExpandLabel(hash, secret, "iv", 12)).toEqual(iv);

      for (const description of [ALERT.certificate_required, ALERT.unknown_ca, ALERT.access_denied]) {
        const record = tls13AlertRecord(suite, secret, description)!;
        // Outer header: application_data, legacy version 0x0303, length of inner (3) + tag (16).
        expect([...record.subarray(0, 5)]).toEqual([23, 3, 3, 0, 19]);
        expect(record.length).toBe(5 + 19);
        const decipher = createDecipheriv(cipher as "aes-128-gcm", key, iv, { authTagLength: 16 });
        decipher.setAAD(record.subarray(0, 5), { plaintextLength: 3 });
        decipher.setAuthTag(record.subarray(5 + 3));
        const inner = Buffer.concat([decipher.update(record.subarray(5, 5 + 3)), decipher.final()]);
        // TLSInnerPlaintext: fatal (2), the description, content type alert (21).
        expect([...inner]).toEqual([2, description, 21]);
      }
    });

    it(`${suite}: a record under another secret does not authenticate`, () => {
      const { hash, keyLength, cipher } = TLS13_SUITES[suite]!;
      const secret = randomBytes(hash === "sha384" ? 48 : 32);
      const record = tls13AlertRecord(suite, secret, ALERT.unknown_ca)!;
      const other = randomBytes(secret.length);
      const decipher = createDecipheriv(cipher as "aes-128-gcm", referenceExpandLabel(hash, other, "key", keyLength), referenceExpandLabel(hash, other, "iv", 12), { authTagLength: 16 });
      decipher.setAAD(record.subarray(0, 5), { plaintextLength: 3 });
      decipher.setAuthTag(record.subarray(8));
      decipher.update(record.subarray(5, 8));
      expect(() => decipher.final()).toThrow();
    });
  }
});

/** One connection with a Node client offering TLS 1.3 and only `suite`, sending one request once connected. */
function connect(port: number, ca: string, suite: string, client?: TestCertificate): Promise<{ secureConnect: boolean; cipher: string | undefined; error: string | undefined; response: string }> {
  return new Promise((resolve) => {
    const result = { secureConnect: false, cipher: undefined as string | undefined, error: undefined as string | undefined, response: "" };
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      ca,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      // Node sends the TLS_* names of `ciphers` to OpenSSL as the TLS 1.3 suites.
      ciphers: suite,
      ...(client ? { cert: client.chainPem, key: client.keyPem } : {}),
    });
    socket.on("secureConnect", () => {
      result.secureConnect = true;
      result.cipher = socket.getCipher()?.standardName;
      socket.write("GET /nowhere HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    });
    socket.on("data", (b: Buffer) => (result.response += b.toString()));
    socket.on("error", (e: NodeJS.ErrnoException) => (result.error ??= e.code));
    socket.on("close", () => resolve(result));
  });
}

describe("the gate refuses in TLS 1.3 with each cipher suite, seen by a real Node client", () => {
  const env = getEnvironment(d1, "preprod");
  const log: HandshakeLogEntry[] = [];
  let pki: TestPki;
  let otherPki: TestPki;
  let api: ApiServer;
  let good: TestCertificate;
  let foreign: TestCertificate;
  let otherEnv: TestCertificate;

  beforeAll(async () => {
    pki = await createTestPki({ intermediateCn: "Thales Business PKI CA (test)" });
    otherPki = await createTestPki({ rootCn: "Other Root", intermediateCn: "Other CA" });
    api = await startTestApiServer(pki, d1, env, log, { clientTrust: { kind: "ca", caPem: pki.caBundlePem } });
    good = await pki.issue({ cn: "TLSMA-ECDSA/gw1/D1.PPR" });
    foreign = await otherPki.issue({ cn: "TLSMA-ECDSA/gw1/D1.PPR" });
    otherEnv = await pki.issue({ cn: "TLSMA-ECDSA/gw1/D1.PRD" });
  });

  afterAll(async () => {
    await api?.close();
  });

  for (const suite of SUITES) {
    describe(suite, () => {
      it("accepted: the gate opens and HTTP flows", async () => {
        const r = await connect(api.port, pki.root.certPem, suite, good);
        expect(r).toMatchObject({ secureConnect: true, cipher: suite, error: undefined });
        expect(r.response).toMatch(/^HTTP\/1\.1 404/);
      });

      const refusals: Array<[string, () => TestCertificate | undefined, string, string]> = [
        ["no certificate", () => undefined, "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", "NO_CLIENT_CERTIFICATE"],
        ["another CA", () => foreign, "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "UNKNOWN_CA"],
        ["another environment", () => otherEnv, "ERR_SSL_TLSV1_ALERT_ACCESS_DENIED", "WRONG_ENVIRONMENT"],
      ];
      for (const [what, client, alert, code] of refusals) {
        it(`${what}: the client reads the encrypted alert, never an HTTP response`, async () => {
          const from = log.length;
          const r = await connect(api.port, pki.root.certPem, suite, client());
          expect(r).toMatchObject({ secureConnect: true, cipher: suite, error: alert, response: "" });
          // The log entry is written before the alert goes out.
          expect(log.slice(from)).toContainEqual(expect.objectContaining({ result: "refused", code, tlsVersion: "TLSv1.3" }));
        });
      }
    });
  }
});
