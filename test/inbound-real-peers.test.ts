/**
 * curl and `openssl s_client` as Thales: accepted with a certificate from the Thales Client CA
 * (TLS 1.2 and 1.3), refused without one, with one from another CA, expired, and below TLS
 * 1.2; every refusal logged with its reason and counted. A rotated Thales leaf from the same CA
 * is accepted with no change, and renegotiation is refused.
 */
import { promises as fs } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInboundServer, type InboundServer } from "../src/server/index.js";
import { captureLogger, createInboundPki, curl, runTool, startUpstream, type CapturedLogger, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";
import { requireTool } from "./support/tools.js";

const HOST = "notify.customer.test";
const haveTools = requireTool("curl") && requireTool("openssl");

describe.skipIf(!haveTools)("inbound mTLS with curl and openssl as Thales", () => {
  let pki: InboundPki;
  let upstream: TestUpstream;
  let log: CapturedLogger;
  let srv: InboundServer;
  let port: number;
  const client: Record<string, { cert: string; key: string }> = {};

  beforeAll(async () => {
    pki = await createInboundPki();
    upstream = await startUpstream();
    log = captureLogger();
    srv = await createInboundServer({ credentials: pki.files, upstream: upstream.url, listen: { host: "127.0.0.1", port: 0 }, logger: log, reload: { watch: false } });
    port = srv.address.port;
    client.thales = await pki.writeClient("thales", pki.client);
    client.other = await pki.writeClient("other", await pki.other.issue({ subject: "/O=Thales DIS/CN=thales-notifier-1" }));
    client.expired = await pki.writeClient("expired", await pki.thales.expired({ subject: "/O=Thales DIS/CN=thales-notifier-old" }));
    client.rotated = await pki.writeClient("rotated", await pki.thales.issue({ subject: "/C=FR/O=Thales DIS/CN=thales-notifier-2", keyType: "ecdsa-p384" }));
  });

  afterAll(async () => {
    await srv?.close();
    await upstream?.stop();
    if (pki) await fs.rm(pki.dir, { recursive: true, force: true });
  });

  const handshakes = (result: string) => srv.metrics.handshakes.get({ result });
  const refusals = (reason: string) => log.lines.filter((l) => l.event === "handshake_refused" && l.reason === reason);
  const sClient = (args: string[]) =>
    runTool("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", HOST, "-CAfile", pki.serverCaFile, "-verify_return_error", "-ign_eof", "-quiet", ...args], {
      input: `GET /hello HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
    });

  it.each([["--tlsv1.2", "--tls-max", "1.2"], ["--tlsv1.3"]])("curl %s with the Thales client certificate is forwarded", async (...version) => {
    const before = upstream.received.length;
    const r = await curl(port, pki, [...version, "--cert", client.thales!.cert, "--key", client.thales!.key, "-w", "\n%{http_code}"]);
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n").pop()).toBe("200");
    expect(upstream.received.length).toBe(before + 1);
    expect(upstream.received.at(-1)!.headers["x-client-cert-subject"]).toBe("CN=thales-notifier-1,O=Thales DIS,C=FR");
  });

  it("openssl s_client with the Thales client certificate gets the upstream's answer", async () => {
    const r = await sClient(["-cert", client.thales!.cert, "-key", client.thales!.key]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200 OK/m);
  });

  it("refuses a client without a certificate (curl and s_client), logs and counts it", async () => {
    const before = upstream.received.length;
    const c = await curl(port, pki, []);
    expect(c.code).not.toBe(0);
    expect(c.stderr).toMatch(/alert certificate required|handshake failure/);
    const o = await sClient(["-tls1_2"]);
    expect(o.stdout).not.toMatch(/^HTTP\/1\.1/m);
    expect(o.stderr).toMatch(/handshake failure/);
    expect(upstream.received.length).toBe(before);
    expect(handshakes("no_certificate")).toBe(2);
    expect(refusals("no_certificate")).toHaveLength(2);
    expect(refusals("no_certificate")[0]).toMatchObject({ level: "warn", remote: "127.0.0.1", detail: "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE" });
  });

  it("refuses a certificate from another CA as unknown_ca", async () => {
    const c = await curl(port, pki, ["--cert", client.other!.cert, "--key", client.other!.key]);
    expect(c.code).not.toBe(0);
    const o = await sClient(["-cert", client.other!.cert, "-key", client.other!.key]);
    expect(o.stdout).not.toMatch(/^HTTP\/1\.1/m);
    expect(handshakes("unknown_ca")).toBe(2);
    expect(refusals("unknown_ca")[0]).toMatchObject({ detail: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", remote: "127.0.0.1" });
  });

  it("refuses an expired certificate from the right CA as expired", async () => {
    const c = await curl(port, pki, ["--cert", client.expired!.cert, "--key", client.expired!.key]);
    expect(c.code).not.toBe(0);
    const o = await sClient(["-tls1_2", "-cert", client.expired!.cert, "-key", client.expired!.key]);
    expect(o.stdout).not.toMatch(/^HTTP\/1\.1/m);
    expect(handshakes("expired")).toBe(2);
    expect(refusals("expired")[0]).toMatchObject({ detail: "CERT_HAS_EXPIRED" });
  });

  it("refuses TLS 1.1 (s_client -tls1_1) as protocol_version, and curl --tls-max 1.1", async () => {
    const o = await sClient(["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-cert", client.thales!.cert, "-key", client.thales!.key]);
    expect(o.code).not.toBe(0);
    expect(o.stdout).not.toMatch(/^HTTP\/1\.1/m);
    expect(o.stdout + o.stderr).toMatch(/protocol version|unsupported protocol|no protocols available/i);
    const c = await curl(port, pki, ["--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0", "--cert", client.thales!.cert, "--key", client.thales!.key]);
    expect(c.code).not.toBe(0);
    expect(handshakes("protocol_version")).toBeGreaterThanOrEqual(1);
    expect(refusals("protocol_version")[0]).toMatchObject({ level: "warn" });
  });

  it("accepts a rotated Thales leaf (new key, new serial) from the same CA with no change on our side", async () => {
    const r = await curl(port, pki, ["--cert", client.rotated!.cert, "--key", client.rotated!.key, "-w", "\n%{http_code}"]);
    expect(r.stdout.split("\n").pop()).toBe("200");
    expect(upstream.received.at(-1)!.headers["x-client-cert-subject"]).toBe("CN=thales-notifier-2,O=Thales DIS,C=FR");
    expect(srv.metrics.reloads.get({ result: "changed", trigger: "api" })).toBe(0);
  });

  it("refuses renegotiation", async () => {
    const r = await runTool("bash", [
      "-c",
      `(sleep 0.3; echo R; sleep 0.5) | openssl s_client -connect 127.0.0.1:${port} -servername ${HOST} -tls1_2 -CAfile ${pki.serverCaFile} -cert ${client.thales!.cert} -key ${client.thales!.key}`,
    ]);
    expect(r.stderr).toContain("RENEGOTIATING");
    expect(r.stderr).toMatch(/no renegotiation/);
  });

  it("keeps keys and certificate bodies out of the log", () => {
    const text = log.text();
    expect(text).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE|MII[A-Za-z0-9+/]{20}/);
  });
});
