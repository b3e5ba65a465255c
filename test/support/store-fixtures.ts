/**
 * Test support for the store's tests (unit and black-box): a Thales side made with the test
 * PKI, named like the real one, and asset bundles in the contract's format. Imported by tests
 * only; never by the library.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { createTestPki, type TestCertificate, type TestPki } from "../../src/testing/index.js";
import { parseCsr, parsePem, readPrivateKeyFile } from "../../src/pki/index.js";

const YEAR_HOURS = 24 * 365;

/** Thales's side for one program, as the emulator builds it (long-lived CAs, so that `status` is green). */
export interface ThalesSide {
  /** Server CAs: MT "DigiCert SHA2 High Assurance Server CA" under a root; D1 "Amazon RSA 2048 M02" under "Amazon Root CA 1". */
  server: TestPki;
  /** The Thales Client CA (a root) and one client leaf per environment. */
  client: TestPki;
  /** D1: a Business PKI CA per environment code (PPR, PRD), under one root. */
  business: Record<string, TestPki>;
}

/** Builds the Thales side of a program. */
export async function makeThalesSide(program: "d1" | "mt"): Promise<ThalesSide> {
  const validityHours = 20 * YEAR_HOURS;
  const server =
    program === "mt"
      ? await createTestPki({ rootCn: "DigiCert High Assurance EV Root CA (test)", intermediateCn: "DigiCert SHA2 High Assurance Server CA", validityHours })
      : await createTestPki({ rootCn: "Amazon Root CA 1", intermediateCn: "Amazon RSA 2048 M02", validityHours });
  const client = await createTestPki({ rootCn: "Thales Client CA", intermediateCn: "Thales Client Issuing CA", validityHours });
  const business: Record<string, TestPki> = {};
  if (program === "d1") {
    for (const code of ["PPR", "PRD"]) business[code] = await createTestPki({ rootCn: "Thales Business PKI Root", intermediateCn: `Thales Business PKI CA ${code}`, validityHours });
  }
  return { server, client, business };
}

/** The server chain asset (intermediate + root). */
export function serverChainPem(side: ThalesSide): string {
  return side.server.intermediate.certPem + side.server.root.certPem;
}

/** Thales's client certificate for an environment, followed by its issuing CA and root. */
export async function thalesClientCertificate(side: ThalesSide, program: string, env: string, validityHours = 365 * 24): Promise<{ leaf: TestCertificate; pem: string }> {
  const leaf = await side.client.issue({ cn: `thales-notifier.${program}-${env}.thalescloud.test`, usage: "client", validityHours });
  return { leaf, pem: leaf.certPem + side.client.intermediate.certPem + side.client.root.certPem };
}

/** Signs a CSR file as Thales Business PKI would: the CSR's subject and key, 5 years. */
export async function signCsr(side: ThalesSide, envCode: string, csrFile: string, keyFile: string, options: { validityHours?: number; notBefore?: Date; notAfter?: Date } = {}): Promise<TestCertificate> {
  const pki = side.business[envCode];
  if (!pki) throw new Error(`no business CA for ${envCode}`);
  const csr = parseCsr(parsePem(await fs.readFile(csrFile, "latin1"), csrFile)[0]!.der);
  const privateKey = await readPrivateKeyFile(keyFile);
  return pki.issue({ subject: csr.subject, privateKey, usage: "client", validityHours: options.validityHours ?? 5 * YEAR_HOURS, ...(options.notBefore ? { notBefore: options.notBefore } : {}), ...(options.notAfter ? { notAfter: options.notAfter } : {}) });
}

/** Writes a bundle folder: `manifest.json` and one file per PEM asset. */
export async function writeBundle(
  dir: string,
  manifest: { program: string; environment: string; customerId?: string; direction?: string; dnsServers?: string[] },
  files: Record<string, string>,
  values: Record<string, string> = {},
): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const assets: Record<string, string> = { ...values };
  for (const [name, pem] of Object.entries(files)) {
    await fs.writeFile(path.join(dir, `${name}.pem`), pem);
    assets[name] = `${name}.pem`;
  }
  await fs.writeFile(
    path.join(dir, "manifest.json"),
    JSON.stringify({ format: "mtlskit-assets/1", direction: "from-thales", ...manifest, assets }, null, 2),
  );
  return dir;
}

/** The standard bundle of an environment, as the emulator would hand it over. */
export async function standardBundle(dir: string, side: ThalesSide, program: "d1" | "mt", env: string, customerId: string, extra: { values?: Record<string, string>; files?: Record<string, string> } = {}): Promise<string> {
  const host = program === "mt" ? (env === "sandbox" ? "tmg.dbp-stg.thalescloud.test:40003" : "tmg.dbp.thalescloud.test:40004") : env === "preprod" ? "api.d1-stg.thalescloud.test:40003" : "api.d1.thalescloud.test:40004";
  const client = await thalesClientCertificate(side, program, env);
  const files: Record<string, string> =
    program === "mt"
      ? { TSH_TLS_SERVER_CERTIFICATE_CHAIN: serverChainPem(side), TSH_TLS_CLIENT_CERTIFICATE: client.pem }
      : { D1_TLS_SERVER_CA_CHAIN: serverChainPem(side), D1_TLS_CLIENT_CA: client.pem };
  const values: Record<string, string> =
    program === "mt" ? { TSH_INBOUND_HOST: host } : { D1_API_HOST: host, D1_AUTHZ_URL: `https://${host}/authz/v1` };
  return writeBundle(dir, { program, environment: env, customerId, dnsServers: ["127.0.0.1:40002"] }, { ...files, ...extra.files }, { ...values, ...extra.values });
}
