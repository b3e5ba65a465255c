/**
 * sslscan against the endpoint Thales calls (ECDSA and RSA server keys), once without and once
 * with a Thales client certificate (without one, TLS 1.2 handshakes stop at the certificate
 * request, so only a scan with one lists the TLS 1.2 suites): nothing below TLS 1.2, only
 * forward-secret AEAD suites, no renegotiation, no compression.
 */
import { promises as fs } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { createInboundServer, type InboundServer } from "../src/server/index.js";
import { captureLogger, createInboundPki, runTool, startUpstream, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";
import type { KeyType } from "../src/policy/index.js";
import { requireTool } from "./support/tools.js";

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

async function serve(serverKeyType: KeyType): Promise<{ srv: InboundServer; pki: InboundPki }> {
  const pki = await createInboundPki(undefined, { serverKeyType });
  const upstream: TestUpstream = await startUpstream();
  const srv = await createInboundServer({ credentials: pki.files, upstream: upstream.url, listen: { host: "127.0.0.1", port: 0 }, logger: captureLogger(), reload: { watch: false } });
  cleanup.push(() => upstream.stop(), () => srv.close({ graceMs: 100 }), () => fs.rm(pki.dir, { recursive: true, force: true }));
  return { srv, pki };
}

describe.skipIf(!requireTool("sslscan"))("sslscan", () => {
  it.each(["ecdsa-p256", "rsa-2048"] as const)("finds only TLS 1.2/1.3 with forward-secret AEAD suites (%s server key)", async (keyType) => {
    const { srv, pki } = await serve(keyType);
    const client = await pki.writeClient("thales", pki.client);
    const target = `127.0.0.1:${srv.address.port}`;
    const [anonymous, withCert] = await Promise.all([
      runTool("sslscan", ["--no-colour", target], { timeoutMs: 60_000 }),
      runTool("sslscan", ["--no-colour", `--certs=${client.cert}`, `--pk=${client.key}`, target], { timeoutMs: 60_000 }),
    ]);
    for (const scan of [anonymous, withCert]) {
      expect(scan.code).toBe(0);
      const out = scan.stdout;
      for (const old of ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"]) expect(out).toMatch(new RegExp(`^${old.replace(".", "\\.")}\\s+disabled`, "m"));
      expect(out).toMatch(/^TLSv1\.2\s+enabled/m);
      expect(out).toMatch(/^TLSv1\.3\s+enabled/m);
      expect(out).toMatch(/Session renegotiation not supported/);
      expect(out).not.toMatch(/Compression enabled/);
      const suites = out.split("\n").filter((l) => /^(Preferred|Accepted)\s/.test(l));
      expect(suites.length).toBeGreaterThan(0);
      for (const line of suites) {
        const [, protocol, , , name] = line.trim().split(/\s+/);
        if (protocol === "TLSv1.3") continue; // every TLS 1.3 suite is ECDHE/FFDHE + AEAD
        expect(protocol).toBe("TLSv1.2");
        expect(name).toMatch(/^ECDHE-(ECDSA|RSA)-/);
        expect(name).toMatch(/GCM|CHACHA20-POLY1305/);
      }
    }
    const tls12 = withCert.stdout.split("\n").filter((l) => /^(Preferred|Accepted)\s+TLSv1\.2/.test(l));
    expect(tls12.length).toBeGreaterThanOrEqual(3);
  });
});
