import { X509Certificate } from "node:crypto";
import type { AddressInfo } from "node:net";
import * as tls from "node:tls";
import { beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestCertificate, type TestPki } from "../testing/index.js";
import { checkAllowList, identityOf, IDENTITY_HEADERS, isIdentityHeader, peerIdentity, rfc4514, type ClientIdentity } from "./identity.js";

let cert: TestCertificate;
let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki({ intermediateCn: "Thales Client CA" });
  cert = await pki.issue({ subject: "/C=FR/O=Thales, Inc. \\/ é€/OU=a\\+b/CN=TLSMA-ECDSA\\/123\\/D1.PPR" });
});

describe("client identity", () => {
  it("writes subject and issuer as RFC 4514 strings, most specific first, ASCII only", () => {
    const id = identityOf(new X509Certificate(cert.certPem));
    expect(id.subject).toBe("CN=TLSMA-ECDSA/123/D1.PPR,OU=a\\+b,O=Thales\\, Inc. / \\C3\\A9\\E2\\82\\AC,C=FR");
    expect(id.issuer).toBe("CN=Thales Client CA");
    expect(id.subjectAttributes["O"]).toEqual(["Thales, Inc. / é€"]);
    expect(id.subjectAttributes["CN"]).toEqual(["TLSMA-ECDSA/123/D1.PPR"]);
  });

  it("carries fingerprint, serial, not-after, URL-encoded PEM and the RFC 9440 Client-Cert", () => {
    const id = identityOf(new X509Certificate(cert.certPem));
    const h = new Map<string, string>();
    for (let i = 0; i < id.headers.length; i += 2) h.set(id.headers[i]!, id.headers[i + 1]!);
    expect(h.get(IDENTITY_HEADERS.fingerprint)).toBe(cert.info.sha256Fingerprint);
    expect(h.get(IDENTITY_HEADERS.serial)).toBe(cert.info.serialNumber);
    expect(h.get(IDENTITY_HEADERS.notAfter)).toBe(cert.info.notAfter.toISOString().replace(/\.\d{3}Z$/, "Z"));
    expect(decodeURIComponent(h.get(IDENTITY_HEADERS.pem)!)).toBe(cert.certPem);
    expect(h.get(IDENTITY_HEADERS.rfc9440)).toBe(`:${Buffer.from(cert.der).toString("base64")}:`);
    for (const v of h.values()) expect(v).toMatch(/^[\x20-\x7e]*$/);
  });

  it("recognises every name that could pass for an identity", () => {
    for (const n of [...Object.values(IDENTITY_HEADERS), "client-cert-chain", "x-forwarded-client-cert", "x-client-cert-anything", "x-ssl-client-s-dn"]) expect(isIdentityHeader(n)).toBe(true);
    expect(isIdentityHeader("content-type")).toBe(false);
  });

  it("applies the CN / O allow-list on top of verification", () => {
    const id = identityOf(new X509Certificate(cert.certPem));
    expect(checkAllowList(id, undefined)).toBeUndefined();
    expect(checkAllowList(id, { commonNames: ["TLSMA-ECDSA/123/D1.PPR"] })).toBeUndefined();
    expect(checkAllowList(id, { organizations: ["Thales, Inc. / é€"] })).toBeUndefined();
    expect(checkAllowList(id, { commonNames: ["someone else"] })).toMatch(/CN/);
    expect(checkAllowList(id, { commonNames: ["TLSMA-ECDSA/123/D1.PPR"], organizations: ["Evil"] })).toMatch(/O/);
  });

  it("rfc4514 reverses Node's multi-line names", () => {
    expect(rfc4514("C=FR\nO=X\nCN=y")).toBe("CN=y,O=X,C=FR");
  });
});

describe("peerIdentity on a real mutual-TLS connection", () => {
  it("reads the verified peer's identity and leaves the chain it presented on the socket", async () => {
    const serverPki = await createTestPki();
    const server = await serverPki.issue({ cn: "localhost", usage: "server" });
    const client = await pki.issue({ subject: "/O=Thales DIS/CN=peer-identity", usage: "client" });
    const seen = new Promise<{ first: ClientIdentity | undefined; again: ClientIdentity | undefined; issuer: string | undefined }>((resolve, reject) => {
      const srv = tls.createServer({ cert: server.certPem + serverPki.intermediate.certPem, key: server.keyPem, ca: pki.caBundlePem, requestCert: true, rejectUnauthorized: true }, (socket) => {
        const first = peerIdentity(socket);
        const again = peerIdentity(socket);
        // The chain the client sent is still there for the trust check after a reload.
        const issuer = socket.getPeerX509Certificate()?.issuerCertificate?.subject;
        socket.end();
        srv.close();
        resolve({ first, again, issuer });
      });
      srv.listen(0, "127.0.0.1", () => {
        const c = tls.connect({ port: (srv.address() as AddressInfo).port, host: "127.0.0.1", servername: "localhost", ca: serverPki.root.certPem, cert: client.chainPem, key: client.keyPem });
        c.on("error", (e) => {
          srv.close();
          reject(e);
        });
        c.resume();
      });
    });
    const { first, again, issuer } = await seen;
    expect(first?.subject).toBe("CN=peer-identity,O=Thales DIS");
    expect(first?.fingerprint256).toBe(client.info.sha256Fingerprint);
    expect(again).toBe(first);
    expect(issuer).toBe("CN=Thales Client CA");
  });
});
