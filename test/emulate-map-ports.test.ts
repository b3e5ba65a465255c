/**
 * `mtlskit emulate --map HOST=ADDRESS` and the emulator's ports across restarts (issue 10):
 * a customer registers `notify.example.com:<port>` as its ISSUER_HOST and a notification is
 * delivered on one machine, through the real `mtlskit emulate` process and a real endpoint;
 * the ports of a start are kept in `<dir>/ports.json` and taken again by the next start, or
 * fixed by `--port-base N`; bad values exit 2 (USAGE).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createInboundServer, type InboundServer } from "../src/server/index.js";
import { createTestPki } from "../src/testing/index.js";
import { MTLSKIT_BIN, mtlskit } from "./support/cli.js";
import { captureLogger, startUpstream, waitFor, type TestUpstream } from "./support/server-fixtures.js";

interface EmulateDoc {
  portalUrl: string;
  dnsServer: string;
  environments: Array<{ program: string; environment: string; apiUrl: string; address: string; assetsDir: string }>;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
  for (const f of cleanups.splice(0)) await f();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Starts `mtlskit emulate --json ...args` and resolves with its document and a stop function. */
async function emulate(args: string[]): Promise<{ doc: EmulateDoc; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [MTLSKIT_BIN, "emulate", "--json", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const doc = await new Promise<EmulateDoc>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      try {
        resolve(JSON.parse(out) as EmulateDoc);
      } catch {
        // not complete yet
      }
    });
    child.on("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    await exited;
  };
  return { doc, stop };
}

const portOf = (hostPort: string) => Number(/:(\d+)$/.exec(hostPort)?.[1]);

describe("mtlskit emulate --map", () => {
  it("delivers a notification to a customer's own ISSUER_HOST (notify.example.com) on one machine", async () => {
    const dir = tempDir("mtlskit-emulate-map-");
    const { doc, stop } = await emulate(["--program", "mt", "--dir", path.join(dir, "emu"), "--map", "notify.example.com=127.0.0.1"]);
    cleanups.push(stop);
    const sandbox = doc.environments.find((e) => e.environment === "sandbox")!;
    const manifest = JSON.parse(readFileSync(path.join(sandbox.assetsDir, "manifest.json"), "utf8")) as { assets: Record<string, string> };
    const clientChain = readFileSync(path.join(sandbox.assetsDir, manifest.assets["TSH_TLS_CLIENT_CERTIFICATE"]!), "utf8");
    const certs = clientChain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!;

    // The customer's endpoint, with a certificate for notify.example.com, trusting the Thales Client CA.
    const serverPki = await createTestPki({ rootCn: "Customer Root", intermediateCn: "Customer CA" });
    const leaf = await serverPki.issue({ cn: "notify.example.com", usage: "server", dns: ["notify.example.com"], ip: [] });
    const files = { certFile: path.join(dir, "server.crt"), keyFile: path.join(dir, "server.key"), chainFile: path.join(dir, "chain.pem"), caFile: path.join(dir, "thales-client-ca.pem") };
    writeFileSync(files.certFile, leaf.certPem);
    writeFileSync(files.keyFile, leaf.keyPem, { mode: 0o600 });
    writeFileSync(files.chainFile, serverPki.intermediate.certPem);
    writeFileSync(files.caFile, certs.slice(1).join(""));
    const app: TestUpstream = await startUpstream(() => ({ status: 204, body: "" }));
    cleanups.push(() => app.stop());
    const srv: InboundServer = await createInboundServer({ credentials: files, upstream: app.url, listen: { host: "127.0.0.1", port: 0 }, logger: captureLogger(), reload: { watch: false } });
    cleanups.push(() => srv.close({ graceMs: 100 }));

    const put = await fetch(`${doc.portalUrl}/v1/mt/sandbox/customers/CUST-0001`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ issuerHost: `notify.example.com:${srv.address.port}`, serverChain: leaf.certPem + serverPki.intermediate.certPem, apiKey: "k3y-for-mt-notifications" }),
    });
    expect(put.status, await put.clone().text()).toBeLessThan(300);
    const sent = await fetch(`${doc.portalUrl}/v1/mt/sandbox/notifications`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ customerId: "CUST-0001" }) });
    expect(sent.status, await sent.clone().text()).toBeLessThan(300);
    await waitFor(() => app.received.length >= 1, 20_000, "the notification to reach the application");
    expect(app.received[0]!.headers["x-client-cert-subject"]).toMatch(/CN=/);
    expect(app.received[0]!.headers["authorization"] ?? app.received[0]!.headers["x-api-key"]).toBeDefined();
  });

  it.each([["notify.example.com=10.0.0.1"], ["notify.example.com"], ["not a host=127.0.0.1"], ["notify.example.com=127.0.0.300"]])("refuses --map %s with USAGE (exit 2)", async (m) => {
    const r = await mtlskit(["emulate", "--program", "mt", "--dir", path.join(tempDir("mtlskit-emulate-bad-"), "emu"), "--map", m]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^error \[USAGE\]: --map /);
  });
});

/** A base port with `count` free ports above it (probed on 127.0.0.1). */
async function freeRange(count: number): Promise<number> {
  const bind = (port: number) =>
    new Promise<net.Server | undefined>((resolve) => {
      const s = net.createServer();
      s.once("error", () => resolve(undefined));
      s.listen(port, "127.0.0.1", () => resolve(s));
    });
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = await bind(0);
    const base = (first!.address() as net.AddressInfo).port;
    first!.close();
    if (base + count > 65535) continue;
    const held: net.Server[] = [];
    let ok = true;
    for (let p = base; p < base + count; p++) {
      const s = await bind(p);
      if (!s) {
        ok = false;
        break;
      }
      held.push(s);
    }
    await Promise.all(held.map((s) => new Promise<void>((r) => s.close(() => r()))));
    if (ok) return base;
  }
  throw new Error("no free port range");
}

describe("the emulator's ports across restarts", () => {
  it("keeps the ports of the last start (ports.json in its state folder)", async () => {
    const dir = path.join(tempDir("mtlskit-emulate-ports-"), "emu");
    const first = await emulate(["--program", "d1", "--dir", dir]);
    await first.stop();
    const kept = JSON.parse(readFileSync(path.join(dir, "ports.json"), "utf8")) as Record<string, number>;
    expect(kept["portal"]).toBe(portOf(first.doc.portalUrl));
    const second = await emulate(["--program", "d1", "--dir", dir]);
    cleanups.push(second.stop);
    expect(second.doc.portalUrl).toBe(first.doc.portalUrl);
    expect(second.doc.dnsServer).toBe(first.doc.dnsServer);
    expect(second.doc.environments.map((e) => e.apiUrl)).toEqual(first.doc.environments.map((e) => e.apiUrl));
  });

  it("--port-base N: DNS on N, the portal on N+1, the APIs from N+2, the same after a restart", async () => {
    const base = await freeRange(8);
    const dir = path.join(tempDir("mtlskit-emulate-base-"), "emu");
    const first = await emulate(["--program", "both", "--dir", dir, "--port-base", String(base)]);
    await first.stop();
    expect(portOf(first.doc.dnsServer)).toBe(base);
    expect(portOf(first.doc.portalUrl)).toBe(base + 1);
    expect(first.doc.environments.map((e) => portOf(e.address))).toEqual([base + 2, base + 3, base + 4, base + 5]);
    const second = await emulate(["--program", "mt", "--dir", dir, "--port-base", String(base)]);
    cleanups.push(second.stop);
    expect(second.doc.environments.map((e) => portOf(e.address))).toEqual([base + 4, base + 5]);
  });

  it.each([["abc"], ["80"], ["65534"], ["-1"], ["1.5"]])("refuses --port-base %s with USAGE (exit 2)", async (v) => {
    const r = await mtlskit(["emulate", "--dir", path.join(tempDir("mtlskit-emulate-badbase-"), "emu"), "--port-base", v]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^error \[USAGE\]: --port-base /);
  });
});
