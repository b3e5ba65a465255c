/**
 * The customer's own server certificate for the endpoint Thales calls. In real life it comes
 * from the customer's CA (public or private); here the demo makes a small private CA, the way
 * an internal PKI would, and hands its root to Thales as the PEM trust store.
 */
import { createPublicKey } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { createCertificate, generateKey, keyIdentifier, OID, parseCertificate, parseSubject, privateKeyToPem, toPem } from "../../pki/index.js";

/** Files of a server certificate, as `mtlskit server-cert set` takes them. */
export interface ServerCertificateFiles {
  certFile: string;
  keyFile: string;
  chainFile: string;
}

const DAY = 86_400_000;

/** The customer's private CA; `issue(host)` makes a server certificate for `host`, written into the folder. */
export interface MerchantPki {
  issue(host: string): Promise<ServerCertificateFiles>;
}

/** A root CA "Example Merchant Demo Root CA" (kept in memory, its certificate written into `dir`). */
export async function createMerchantPki(dir: string): Promise<MerchantPki> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const now = Date.now();
  const ca = await generateKey("ecdsa-p256");
  const caPublic = createPublicKey(ca.privateKey);
  const caDer = createCertificate({
    subject: parseSubject("/C=FR/O=Example Payments SA/CN=Example Merchant Demo Root CA"),
    publicKey: caPublic,
    signingKey: ca.privateKey,
    notAfter: new Date(now + 5 * 365 * DAY),
    extensions: { basicConstraints: { ca: true }, keyUsage: ["digitalSignature", "keyCertSign", "cRLSign"] },
  });
  const caInfo = parseCertificate(caDer);
  const chainFile = path.join(dir, "merchant-root-ca.crt");
  await fs.writeFile(chainFile, toPem("CERTIFICATE", caDer));
  return {
    async issue(host) {
      const leaf = await generateKey("ecdsa-p256");
      const leafDer = createCertificate({
        subject: parseSubject(`/C=FR/O=Example Payments SA/CN=${host}`),
        publicKey: createPublicKey(leaf.privateKey),
        signingKey: ca.privateKey,
        issuer: { subjectDer: caInfo.subjectDer, subjectKeyIdentifier: keyIdentifier(caPublic) },
        // 397 days: the longest a public TLS server certificate may live.
        notAfter: new Date(Date.now() + 397 * DAY),
        extensions: { basicConstraints: { ca: false }, keyUsage: ["digitalSignature"], extKeyUsage: [OID.serverAuth], subjectAltNames: { dns: [host] } },
      });
      const base = host.split(".")[0]!;
      const files: ServerCertificateFiles = { certFile: path.join(dir, `${base}.crt`), keyFile: path.join(dir, `${base}.key`), chainFile };
      await fs.writeFile(files.keyFile, privateKeyToPem(leaf.privateKey), { mode: 0o600 });
      await fs.writeFile(files.certFile, toPem("CERTIFICATE", leafDer));
      return files;
    },
  };
}
