/**
 * Scenario 4: the customer's client certificate is renewed while requests stream to the Thales
 * API (the emulator's mTLS endpoint) through the profile's dispatcher (`openThalesDispatcher`,
 * which polls its credential files). The workspace does what a user does: `renew`, Thales
 * signs the CSR (D1) or endorses the new self-signed certificate (MT), then `cert install`
 * (D1) or `cert activate` (MT) puts the new key and certificate in place. Expected: no request
 * fails or is lost, and once the new certificate is first seen, every later request presents it.
 */
import { X509Certificate } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openThalesDispatcher, createOAuthKey, type ThalesDispatcher } from "../../src/client/index.js";
import { startEmulator, type Emulator } from "../../src/emulator/index.js";
import { activateCertificate, addProfile, createProfileCsr, createProfileSelfSigned, importAssets, installCertificate, renewProfile } from "../../src/store/index.js";
import { portalBundle, portalOk } from "../support/emulator-fixtures.js";
import { tempDir } from "../support/server-fixtures.js";
import { createTestPki } from "../../src/testing/index.js";
import { Recovery, reportLoad, startLoad, stopAfterRecovery } from "./harness.js";

/** Upper bound; the stream stops 100 requests after the new certificate is first seen. */
const MAX_REQUESTS = 2000;
const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";

let dir: string;
let emu: Emulator;
let ws: string;

beforeAll(async () => {
  dir = await tempDir("mtlskit-scenario-");
  emu = await startEmulator({ dir: path.join(dir, "emulator") });
  ws = path.join(dir, "ws");
});
afterAll(async () => {
  await emu?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const portal = <T>(method: string, route: string, body?: unknown) => portalOk<T>(emu, method, route, body);

const hex = (fp: string) => fp.replace(/:/g, "").toLowerCase();
const bundle = (program: string, env: string, customerId: string) => portalBundle(emu, program, env, customerId);

/** MT sandbox profile, onboarded: self-signed certificate endorsed, assets imported. */
async function onboardMt(): Promise<string> {
  const name = "mt-sbx";
  const cn = (await bundle("mt", "sandbox", "654321")).assets["TSH_CLIENT_CN"]!;
  await addProfile(ws, name, { program: "mt", environment: "sandbox", customerId: "654321", cn });
  const cert = await createProfileSelfSigned(ws, name);
  await portal("POST", "/v1/mt/sandbox/endorsements", { customerId: "654321", certificate: await fs.readFile(cert.certificateFile, "utf8") });
  await importAssets(ws, name, (await bundle("mt", "sandbox", "654321")).directory);
  return name;
}

/** D1 preprod profile, onboarded: CSR signed and installed, OAuth key registered, assets imported. */
async function onboardD1(): Promise<string> {
  const name = "d1-pp";
  await addProfile(ws, name, { program: "d1", environment: "preprod", customerId: "123456", subject: SUBJECT });
  const csr = await createProfileCsr(ws, name);
  const signed = await portal<{ chain: string }>("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: await fs.readFile(csr.csrFile, "utf8") });
  const file = path.join(dir, "d1-signed.pem");
  await fs.writeFile(file, signed.chain);
  await installCertificate(ws, name, file);
  const key = await createOAuthKey(ws, name);
  const serverPki = await createTestPki({ rootCn: "Customer Server Root CA", intermediateCn: "Customer Server CA" });
  const server = await serverPki.issue({ cn: "notify.customer.test", usage: "server", dns: ["notify.customer.test"] });
  await portal("PUT", "/v1/d1/preprod/customers/123456", { issuerHost: "notify.customer.test", serverChain: server.chainPem, oauthPublicKey: key.publicKeyPem, kid: key.kid });
  await importAssets(ws, name, (await bundle("d1", "preprod", "123456")).directory);
  return name;
}

/** Renews the profile's certificate with Thales's part done by the portal; resolves with the new fingerprint and a function that puts it in force. */
async function renew(program: "d1" | "mt", name: string): Promise<{ fingerprint: string; install: () => Promise<unknown> }> {
  const r = await renewProfile(ws, name);
  if (program === "mt") {
    await portal("POST", "/v1/mt/sandbox/endorsements", { customerId: "654321", certificate: await fs.readFile(r.certificateFile!, "utf8") });
    return { fingerprint: hex(r.sha256Fingerprint!), install: () => activateCertificate(ws, name) };
  }
  const signed = await portal<{ certificate: string; chain: string }>("POST", "/v1/d1/preprod/csr", { customerId: "123456", csr: await fs.readFile(r.csrFile!, "utf8") });
  const file = path.join(dir, "d1-renewed.pem");
  await fs.writeFile(file, signed.chain);
  return { fingerprint: hex(new X509Certificate(signed.certificate).fingerprint256), install: () => installCertificate(ws, name, file) };
}

interface Answer {
  status: number;
  fingerprint: string;
}

describe("scenario 4: outbound client certificate renewed during load", () => {
  it.each(["mt", "d1"] as const)("%s: no request fails while the renewal is installed, and the new certificate is used from then on", async (program) => {
    const name = program === "mt" ? await onboardMt() : await onboardD1();
    let dispatcher: ThalesDispatcher | undefined;
    try {
      const opened = await openThalesDispatcher(ws, name, { reloadIntervalMs: 100 });
      dispatcher = opened.dispatcher;
      const d = dispatcher;
      const url = program === "mt" ? `${opened.endpoints.origin}${opened.endpoints.basePath}echo` : `${opened.endpoints.origin}/d1/v1/echo`;
      const oldFingerprint = hex(d.credentials.current().leaf.sha256Fingerprint);
      let expected = "";
      const recovery = new Recovery();
      const load = startLoad<Answer>({
        requests: MAX_REQUESTS,
        concurrency: 4,
        timeLimitMs: 30_000,
        paceMs: 5,
        send: async (i) => {
          const post = i % 2 === 1;
          const res = await request(url, { dispatcher: d, method: post ? "POST" : "GET", ...(post ? { body: `{"n":${i}}`, headers: { "content-type": "application/json" } } : {}) });
          const body = (await res.body.json()) as { identity?: { fingerprint?: string } };
          return { status: res.statusCode, fingerprint: hex(body.identity?.fingerprint ?? "") };
        },
        check: (a) => (a.status !== 200 ? `status ${a.status}` : a.fingerprint !== oldFingerprint && a.fingerprint !== expected ? `unexpected certificate ${a.fingerprint}` : undefined),
        recovery,
        recoveredWhen: (a) => a.fingerprint === expected,
      });

      await load.reached(100);
      const renewal = await renew(program, name);
      expected = renewal.fingerprint;
      // The old certificate is still the one in use while the renewal waits.
      await load.reached(150);
      recovery.fault();
      await renewal.install();
      const result = await stopAfterRecovery(load, recovery, 100);

      const firstNew = result.records.find((r) => r.answer?.fingerprint === expected);
      const oldAfterNew = firstNew ? result.records.filter((r) => r.start > firstNew.end && r.answer?.fingerprint !== expected) : [];
      await reportLoad(`04-outbound-client-cert-renewed (${program})`, result, recovery, { swaps: d.stats.swaps, retries: d.stats.retries, withOld: result.records.filter((r) => r.answer?.fingerprint === oldFingerprint).length, withNew: result.records.filter((r) => r.answer?.fingerprint === expected).length, oldAfterNew: oldAfterNew.length });

      expect(result.firstFailures).toEqual([]);
      expect(result.sent).toBeLessThan(MAX_REQUESTS);
      expect(result.failed + result.lost).toBe(0);
      expect(d.stats.retries).toBe(0);
      expect(d.stats.swaps).toBe(1);
      expect(result.records.filter((r) => r.answer?.fingerprint === oldFingerprint).length).toBeGreaterThanOrEqual(150);
      expect(result.records.filter((r) => r.answer?.fingerprint === expected).length).toBeGreaterThan(90);
      expect(oldAfterNew.map((r) => r.i)).toEqual([]);
      expect(recovery.ms).toBeDefined();
      expect(recovery.ms!).toBeLessThan(10_000);
    } finally {
      await dispatcher?.destroy();
    }
  });
});
