/**
 * `mtlskit export nginx|haproxy` with the real bin, from a workspace profile made with the CLI as
 * a user would (`profile add`, `server-cert set`, `assets import` of the Thales Client CA). The
 * test then starts the exported configuration itself with the command the export prints
 * (`nginx -p DIR -c DIR/nginx.conf`, `haproxy -f DIR/haproxy.cfg`, in the foreground) and sends
 * a real mutual-TLS request with curl: Thales's client certificate reaches the application with
 * its identity, a caller without a client certificate is refused and the application sees
 * nothing. A second export without --force exits 2 with EXPORT_TARGET_EXISTS.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./support/net.js";
import { findEngineBinary } from "../src/engines/index.js";
import { mtlskit } from "./support/cli.js";
import { createInboundPki, curl, startUpstream, waitFor, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";
import { requireTool } from "./support/tools.js";

let pki: InboundPki;
let upstream: TestUpstream;
let ws: string;
const children: ChildProcess[] = [];


beforeAll(async () => {
  pki = await createInboundPki();
  upstream = await startUpstream();
  ws = path.join(pki.dir, "ws");
  // A private server CA: its root goes with the chain (server-cert set requires a complete chain).
  const fullChain = path.join(pki.dir, "server-full-chain.pem");
  await fs.writeFile(fullChain, (await fs.readFile(pki.files.chainFile, "utf8")) + pki.serverPki.root.certPem);
  const steps = [
    ["profile", "add", "mt-sbx", "--program", "mt", "--env", "sandbox", "--id", "654321", "--cn", "MT-654321-SBX"],
    ["server-cert", "set", "--profile", "mt-sbx", "--cert", pki.files.certFile, "--key", pki.files.keyFile, "--chain", fullChain, "--host", "notify.customer.test:8443"],
    ["assets", "import", pki.files.caFile, "--profile", "mt-sbx"],
  ];
  for (const args of steps) {
    const r = await mtlskit(["--dir", ws, ...args]);
    expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
  }
});
afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill("SIGTERM");
      await new Promise((r) => c.once("exit", r));
    }
  }
  await upstream?.stop();
  if (pki) await fs.rm(pki.dir, { recursive: true, force: true });
});

describe("mtlskit export nginx|haproxy from a workspace profile", () => {
  for (const engine of ["nginx", "haproxy"] as const) {
    it.skipIf(!requireTool(engine))(`${engine}: the exported configuration, started as printed, serves mutual TLS`, async () => {
      const out = path.join(pki.dir, `export-${engine}`);
      const port = await freePort();
      const r = await mtlskit(["--dir", ws, "export", engine, "--profile", "mt-sbx", "--out", out, "--listen", `127.0.0.1:${port}`, "--upstream", upstream.url]);
      expect(r.code, r.stderr).toBe(0);
      const main = engine === "nginx" ? "nginx.conf" : "haproxy.cfg";
      const keyFile = engine === "nginx" ? "certs/server.key" : "certs/server-bundle.pem";
      expect(r.stdout).toContain(`wrote ${engine} configuration for 'mt-sbx' in ${out}:`);
      expect(r.stdout).toContain(`  ${keyFile} (0600)`);
      const printed = engine === "nginx" ? `run: nginx -p ${out} -c ${out}/nginx.conf` : `run: haproxy -f ${out}/haproxy.cfg`;
      expect(r.stdout).toContain(printed);
      expect((await fs.stat(path.join(out, keyFile))).mode & 0o777).toBe(0o600);
      if (engine === "nginx") await fs.access(path.join(out, "conf.d", "thales-mt-sbx.conf"));
      // The profile's Thales Client CA, not a leaf.
      expect(await fs.readFile(path.join(out, "certs", "thales-client-ca.pem"), "utf8")).toContain(pki.thales.intermediate.certPem.trim());

      // Again without --force: refused, nothing changed.
      const before = await fs.readFile(path.join(out, main), "utf8");
      const again = await mtlskit(["--dir", ws, "export", engine, "--profile", "mt-sbx", "--out", out, "--listen", "127.0.0.1:1", "--upstream", upstream.url]);
      expect(again.code).toBe(2);
      expect(again.stderr).toContain("EXPORT_TARGET_EXISTS");
      expect(await fs.readFile(path.join(out, main), "utf8")).toBe(before);

      // Started by the test, as printed (in the foreground so that the test owns the process).
      const bin = await findEngineBinary(engine);
      const args = engine === "nginx" ? ["-p", out, "-c", path.join(out, "nginx.conf"), "-g", "daemon off;"] : ["-db", "-f", path.join(out, "haproxy.cfg")];
      const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
      children.push(child);
      let err = "";
      child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
      await waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`${engine} exited ${child.exitCode}: ${err}`);
          return new Promise<boolean>((res) => net.connect(port, "127.0.0.1").once("connect", function (this: net.Socket) { this.destroy(); res(true); }).once("error", () => res(false)));
        },
        10_000,
        `${engine} listening`,
      );

      // Thales's client certificate: forwarded with the verified identity.
      const client = await pki.writeClient(`export-${engine}`, pki.client);
      const seen = upstream.received.length;
      const ok = await curl(port, pki, ["-o", "/dev/null", "-w", "%{http_code}", "--cert", client.cert, "--key", client.key, "-H", "x-client-cert-subject: CN=evil", "-d", '{"n":1}'], "/notify");
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toBe("200");
      expect(upstream.received.length).toBe(seen + 1);
      const got = upstream.received.at(-1)!;
      expect(got.body).toBe('{"n":1}');
      expect(got.headers["x-client-cert-subject"]).toBe("CN=thales-notifier-1,O=Thales DIS,C=FR");
      expect(got.headers["x-client-cert-issuer"]).toBe("CN=Thales Client CA");

      // No client certificate: refused (HAProxy in the handshake, nginx with 400 after it); nothing reaches the application.
      const none = await curl(port, pki, ["-o", "/dev/null", "-w", "%{http_code}", "-d", "{}"], "/notify");
      if (none.code === 0) expect(["400", "403", "495", "496"]).toContain(none.stdout);
      else expect(none.stdout === "" || none.stdout === "000").toBe(true);
      expect(upstream.received.length).toBe(seen + 1);

      child.kill("SIGTERM");
      await new Promise((res) => child.once("exit", res));
    });
  }
});
