/**
 * Keys in a PKCS#11 token (SoftHSM2, a fresh token per run): generated inside the token,
 * signing CSRs and self-signed certificates that openssl verifies, TLS handshakes through
 * OpenSSL's pkcs11 engine on both ends, and a coded error for each way a token can be wrong.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import { beforeAll, describe, expect, it } from "vitest";
import { createClientCsr, createSelfSignedClientCertificate } from "../src/pki/index.js";
import { createTokenKey, openTokenKey, Pkcs11Session } from "../src/pki/pkcs11/token.js";
import { tlsTokenKeyOptions } from "../src/pki/pkcs11/tls-engine.js";
import { formatPkcs11Uri, parsePkcs11Uri } from "../src/pki/pkcs11/uri.js";
import { isMtlsError } from "../src/errors/index.js";
import { haveSoftHsm, softHsm, type SoftHsm } from "./support/softhsm.js";
import { requireTool } from "./support/tools.js";

describe("PKCS#11 URIs (RFC 7512)", () => {
  it("parses path and query attributes, percent-decoded, and never writes a PIN back", () => {
    const u = parsePkcs11Uri("pkcs11:token=my%20token;object=client-key;id=%01%02;type=private?pin-value=1234&module-path=/usr/lib/softhsm/libsofthsm2.so");
    expect(u.token).toBe("my token");
    expect(u.object).toBe("client-key");
    expect([...u.id!]).toEqual([1, 2]);
    expect(u.pinValue).toBe("1234");
    const back = formatPkcs11Uri(u);
    expect(back).toBe("pkcs11:token=my%20token;object=client-key;id=%01%02;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so");
    expect(back).not.toContain("1234");
    expect(parsePkcs11Uri(back).token).toBe("my token");
  });

  it.each([
    ["pkcs11:token=t", "names no object"],
    ["pkcs11:token=t;object=k;colour=red", '"colour" is not'],
    ["pkcs11:object=k;object=j", "given twice"],
    ["pkcs11:object=k%zz", "percent-escape"],
    ["pkcs11:object=k;type=banana", "type must be"],
  ])("refuses %s with PKCS11_URI_INVALID", (uri, why) => {
    try {
      parsePkcs11Uri(uri);
      expect.unreachable();
    } catch (e) {
      expect(isMtlsError(e, "PKCS11_URI_INVALID")).toBe(true);
      expect((e as Error).message).toContain(why);
    }
  });

  it("keeps a pin-value out of its error messages", () => {
    try {
      parsePkcs11Uri("pkcs11:token=t?pin-value=s3cret&colour=red");
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toContain("s3cret");
    }
  });
});

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return isMtlsError(e) ? e.code : `not coded: ${String(e)}`;
  }
  return "no error";
};

describe.skipIf(!haveSoftHsm())("keys in a SoftHSM2 token", () => {
  let hsm: SoftHsm;
  let dir: string;
  const opts = () => ({ module: hsm.module, pinFile: hsm.pinFile });

  beforeAll(() => {
    hsm = softHsm("mtlskit-test");
    dir = mkdtempSync(join(tmpdir(), "mtlskit-pkcs11-"));
  });

it("refuses a wrong PIN with PKCS11_PIN_INCORRECT (first: a login of this process is not re-checked)", () => {
    const bad = join(dir, "bad-pin.txt");
    writeFileSync(bad, "000000\n");
    expect(codeOf(() => openTokenKey("pkcs11:token=mtlskit-test;object=gen-p256", { module: hsm.module, pinFile: bad }))).toBe("PKCS11_PIN_INCORRECT");
  });

  const listObjects = (): string =>
    execFileSync("pkcs11-tool", ["--module", hsm.module, "--token-label", "mtlskit-test", "--login", "--pin", hsm.pin, "--list-objects"], { env: { ...process.env, ...hsm.env }, encoding: "utf8" });

  it("generates keys inside the token: sensitive, never extractable, with their public halves", () => {
    const p256 = createTokenKey("pkcs11:token=mtlskit-test;object=gen-p256", "ecdsa-p256", opts());
    const rsa = createTokenKey("pkcs11:token=mtlskit-test;object=gen-rsa", "rsa-2048", opts());
    for (const [k, label] of [[p256, "ECDSA P-256"], [rsa, "RSA 2048"]] as const) {
      expect(k.info.label).toBe(label);
      expect(k.info.sensitive).toBe(true);
      expect(k.info.extractable).toBe(false);
      expect(k.info.alwaysSensitive).toBe(true);
      expect(k.info.neverExtractable).toBe(true);
      expect(k.info.summary).toContain("non-extractable");
      k.close();
    }
    const listing = listObjects();
    expect(listing).toMatch(/Private Key Object; EC[\s\S]*label:\s+gen-p256[\s\S]*Access:\s+sensitive, always sensitive, never extractable/);
    expect(listing).toMatch(/Private Key Object; RSA[\s\S]*label:\s+gen-rsa[\s\S]*never extractable/);
  });

  it("signs a D1 CSR in the token that openssl verifies, and writes no key file", async () => {
    const out = join(dir, "d1.csr");
    const r = await createClientCsr({
      program: "d1",
      environment: "preprod",
      gatewayId: "123456",
      subject: "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments",
      key: { keyType: "ecdsa-p256", keyOut: "pkcs11:token=mtlskit-test;object=d1-client", pkcs11: opts() },
      out,
    });
    expect(r.keyFile).toBeUndefined();
    expect(r.keyUri).toMatch(/^pkcs11:token=mtlskit-test;object=d1-client;id=%[0-9a-f]{2}/);
    expect(r.keyInToken).toContain("non-extractable");
    expect(readdirSync(dir).filter((f) => f !== "bad-pin.txt")).toEqual(["d1.csr"]);
    const verify = execFileSync("openssl", ["req", "-in", out, "-noout", "-verify", "-subject"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(verify).toMatch(/CN ?= ?TLSMA-ECDSA\/123456\/D1\.PPR/);
    // The same key again, by URI: a second CSR carries the same public key.
    const again = await createClientCsr({
      program: "d1",
      environment: "preprod",
      gatewayId: "123456",
      subject: "/C=FR/ST=Paris/L=Paris/O=Example/OU=Payments",
      key: { keyUri: r.keyUri!, pkcs11: opts() },
      out: join(dir, "d1-again.csr"),
    });
    expect(again.spkiPin).toBe(r.spkiPin);
  });

  it("self-signs an MT certificate in the token with the same structure as a file key's", async () => {
    const tokenOut = join(dir, "mt-token.crt");
    const fileOut = join(dir, "mt-file.crt");
    createTokenKey("pkcs11:token=mtlskit-test;object=mt-client", "ecdsa-p384", opts()).close();
    await createSelfSignedClientCertificate({ program: "mt", environment: "sandbox", cn: "MT-123456-SBX", key: { keyUri: "pkcs11:token=mtlskit-test;object=mt-client", pkcs11: opts() }, days: 365, out: tokenOut });
    await createSelfSignedClientCertificate({ program: "mt", environment: "sandbox", cn: "MT-123456-SBX", key: { keyType: "ecdsa-p384", keyOut: join(dir, "mt-file.key") }, days: 365, out: fileOut });
    const verify = execFileSync("openssl", ["verify", "-check_ss_sig", "-CAfile", tokenOut, tokenOut], { encoding: "utf8" });
    expect(verify.trim()).toBe(`${tokenOut}: OK`);
    // Same structure: the same sequence of ASN.1 tags and OIDs, only values differ.
    const shape = (f: string) =>
      execFileSync("openssl", ["asn1parse", "-in", f], { encoding: "utf8" })
        .split("\n")
        .map((l) => l.replace(/^\s*\d+:d=(\d+)\s+hl=\d+ l=\s*\d+/, "d=$1").replace(/(INTEGER|BIT STRING|UTCTIME|OCTET STRING|UTF8STRING|PRINTABLESTRING)\s*(\[HEX DUMP\])?:.*/, "$1"))
        .join("\n");
    expect(shape(tokenOut)).toBe(shape(fileOut));
  });

  it("completes a mutual TLS 1.3 handshake with both keys in the token", async () => {
    const serverKey = createTokenKey("pkcs11:token=mtlskit-test;object=tls-server", "ecdsa-p256", opts());
    const clientKey = createTokenKey("pkcs11:token=mtlskit-test;object=tls-client", "ecdsa-p256", opts());
    const { createCertificate, toPem, parseSubject } = await import("../src/pki/index.js");
    const notAfter = new Date(Date.now() + 86_400_000);
    const serverCert = toPem("CERTIFICATE", createCertificate({ subject: parseSubject("/CN=localhost"), publicKey: serverKey.publicKey, signingKey: serverKey, notAfter, extensions: { subjectAltNames: { dns: ["localhost"] }, basicConstraints: { ca: false } } }));
    const clientCert = toPem("CERTIFICATE", createCertificate({ subject: parseSubject("/CN=token-client"), publicKey: clientKey.publicKey, signingKey: clientKey, notAfter, extensions: { basicConstraints: { ca: false } } }));
    serverKey.close();
    clientKey.close();
    const serverTls = tlsTokenKeyOptions("pkcs11:token=mtlskit-test;object=tls-server", opts());
    const server = tls.createServer({ cert: serverCert, ...serverTls, requestCert: true, rejectUnauthorized: true, ca: clientCert, minVersion: "TLSv1.3" }, (s) => {
      s.end(`hello ${(s.getPeerCertificate() as { subject?: { CN?: string } }).subject?.CN}`);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as { port: number }).port;
    const clientTls = tlsTokenKeyOptions("pkcs11:token=mtlskit-test;object=tls-client", opts());
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca: serverCert, cert: clientCert, ...clientTls });
    let text = "";
    socket.on("data", (d) => (text += String(d)));
    await once(socket, "end");
    socket.destroy();
    server.close();
    expect(text).toBe("hello token-client");
  });

  it("signs with openssl through the engine too (the same key, seen from another program)", () => {
    if (!requireTool("openssl")) return;
    const csr = join(dir, "engine.csr");
    execFileSync("openssl", ["req", "-new", "-engine", "pkcs11", "-keyform", "engine", "-key", `pkcs11:token=mtlskit-test;object=gen-p256;type=private;pin-value=${hsm.pin}`, "-subj", "/CN=engine", "-out", csr], { env: { ...process.env, ...hsm.env, PKCS11_MODULE_PATH: hsm.module }, stdio: "pipe" });
    expect(existsSync(csr)).toBe(true);
  });

  describe("coded errors, nothing changed", () => {
    const code = codeOf;

    it("a missing module, none set, a missing token, a missing key, a label in use, no PIN", () => {
      expect(code(() => openTokenKey("pkcs11:token=mtlskit-test;object=gen-p256", { module: "/nonexistent/libpkcs11.so", pinFile: hsm.pinFile }))).toBe("PKCS11_MODULE_NOT_FOUND");
      expect(code(() => openTokenKey("pkcs11:token=mtlskit-test;object=gen-p256", { pinFile: hsm.pinFile, env: {} }))).toBe("PKCS11_MODULE_NOT_FOUND");
      expect(code(() => openTokenKey("pkcs11:token=no-such-token;object=gen-p256", opts()))).toBe("PKCS11_TOKEN_NOT_FOUND");
      expect(code(() => openTokenKey("pkcs11:token=mtlskit-test;object=no-such-key", opts()))).toBe("PKCS11_KEY_NOT_FOUND");
      const before = listObjects();
      expect(code(() => createTokenKey("pkcs11:token=mtlskit-test;object=gen-p256", "ecdsa-p256", opts()))).toBe("PKCS11_KEY_EXISTS");
      expect(code(() => Pkcs11Session.open("pkcs11:token=mtlskit-test;object=gen-p256", { module: hsm.module, env: {} }))).toBe("PKCS11_PIN_MISSING");
      expect(listObjects()).toBe(before);
    });

    it("never puts the PIN in a message", () => {
      try {
        openTokenKey(`pkcs11:token=no-such-token;object=k?pin-value=${hsm.pin}`, { module: hsm.module, env: {} });
        expect.unreachable();
      } catch (e) {
        expect(isMtlsError(e, "PKCS11_TOKEN_NOT_FOUND")).toBe(true);
        expect(JSON.stringify({ m: (e as Error).message, h: (e as { hint?: string }).hint })).not.toContain(hsm.pin);
      }
      expect(readFileSync(hsm.pinFile, "utf8")).toContain(hsm.pin);
    });
  });
});
