/**
 * `mtlskit serve --engine nginx|haproxy` as a user runs it: one JSON document once the engine
 * listens, a notification through it, SIGTERM stops engine and mtlskit with exit 0; a missing
 * engine binary exits 2 with ENGINE_NOT_FOUND naming the Debian package.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInboundPki, curl, startUpstream, tempDir, waitFor, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";
import { MTLSKIT_BIN, mtlskit, startMtlskit } from "./support/cli.js";
import { requireTool } from "./support/tools.js";
import { freePort } from "./support/net.js";

let pki: InboundPki;
let upstream: TestUpstream;
const children: ChildProcess[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  pki = await createInboundPki();
  upstream = await startUpstream();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await upstream?.stop();
  for (const d of [pki?.dir, ...dirs]) if (d) await fs.rm(d, { recursive: true, force: true });
});

function fileArgs(): string[] {
  return ["--cert", pki.files.certFile, "--key", pki.files.keyFile, "--chain", pki.files.chainFile, "--client-ca", pki.files.caFile, "--upstream", upstream.url];
}

describe("serve --engine", () => {
  for (const engine of ["nginx", "haproxy"] as const) {
    it.skipIf(!requireTool(engine))(`runs ${engine} in the foreground and stops it on SIGTERM`, async () => {
      const port = await freePort();
      const runDir = await tempDir(`mtlskit-cli-${engine}-`);
      dirs.push(runDir);
      const child = spawn(process.execPath, [MTLSKIT_BIN, "--json", "serve", "--engine", engine, "--run-dir", runDir, "--listen", `127.0.0.1:${port}`, "--admin", "127.0.0.1:0", ...fileArgs()], {
        cwd: pki.dir,
        env: { ...process.env, NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(child);
      let out = "";
      let err = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
      child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
      const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));
      let doc: { engine: string; port: number; adminUrl: string; runDir: string } | undefined;
      await waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${err}`);
          try {
            doc = JSON.parse(out);
            return true;
          } catch {
            return false;
          }
        },
        20_000,
        "serve --engine to listen",
      );
      expect(doc!.engine).toBe(engine);
      expect(doc!.port).toBe(port);
      const client = await pki.writeClient("cli", pki.client);
      const r = await curl(port, pki, ["--cert", client.cert, "--key", client.key, "-H", "x-client-cert-subject: CN=evil", "-d", "{}"], "/notify");
      expect(r.code).toBe(0);
      const got = upstream.received.at(-1)!;
      expect(got.headers["x-client-cert-subject"]).toBe("CN=thales-notifier-1,O=Thales DIS,C=FR");
      expect((await fetch(`${doc!.adminUrl}/readyz`)).status).toBe(200);
      // No client certificate: refused (the reason reaches mtlskit's log for nginx, below).
      const refused = await curl(port, pki, ["-o", "/dev/null", "-w", "%{http_code}"], "/notify");
      expect(refused.stdout.trim()).not.toBe("200");
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      if (engine === "nginx") {
        // nginx's access log (written in blocks, the last one as it stops) reaches mtlskit's log as
        // one JSON line per request, with the verified subject: none is lost at the stop.
        const requests = `${out}\n${err}`.split("\n").filter((l) => l.includes('"path":"/notify"') && l.includes('"status":200'));
        expect(requests).toHaveLength(1);
        const line = JSON.parse(requests[0]!) as Record<string, unknown>;
        expect(line).toMatchObject({ engine: "nginx", status: 200, method: "POST", verify: "SUCCESS" });
        expect(String(line["subject"])).toContain("CN=thales-notifier-1");
        // nginx's error log: the refusal, with its reason, as a warning of the node engine's shape.
        const refusals = `${out}\n${err}`.split("\n").filter((l) => l.includes('"event":"handshake_failed"'));
        expect(refusals.length).toBeGreaterThanOrEqual(1);
        expect(JSON.parse(refusals[0]!)).toMatchObject({ engine: "nginx", reason: "client sent no required SSL certificate" });
        // A closed keep-alive connection is no line at the default level.
        expect(`${out}\n${err}`).not.toContain("closed keepalive connection");
      }
      // The engine is gone too: nothing listens any more.
      const open = await new Promise<boolean>((res) => net.connect(port, "127.0.0.1").once("connect", function (this: net.Socket) { this.destroy(); res(true); }).once("error", () => res(false)));
      expect(open).toBe(false);
      expect(err).not.toContain("PRIVATE KEY");
      await fs.access(path.join(runDir, engine === "nginx" ? "nginx.conf" : "haproxy.cfg"));
    });
  }

  it.skipIf(!requireTool("nginx"))("nginx in a run folder used again: the earlier run's log lines are not logged again", async () => {
    const runDir = await tempDir("mtlskit-cli-nginx-again-");
    dirs.push(runDir);
    const client = await pki.writeClient("again", pki.client);
    const once = async (request: boolean): Promise<string> => {
      const port = await freePort();
      const run = await startMtlskit<{ port: number }>(["--json", "serve", "--engine", "nginx", "--run-dir", runDir, "--listen", `127.0.0.1:${port}`, "--admin", "off", ...fileArgs()], { cwd: pki.dir });
      children.push(run.child);
      if (request) {
        expect((await curl(port, pki, ["--cert", client.cert, "--key", client.key, "-d", "{}"], "/notify")).code).toBe(0);
        await curl(port, pki, ["-o", "/dev/null"], "/notify");
      }
      run.child.kill("SIGTERM");
      expect(await run.exited).toBe(0);
      return run.stderr();
    };
    const first = await once(true);
    expect(first).toContain('"path":"/notify"');
    expect(first).toContain('"event":"handshake_failed"');
    const second = await once(false);
    expect(second).not.toContain('"path":"/notify"');
    expect(second).not.toContain('"event":"handshake_failed"');
  });

  it("ENGINE_NOT_FOUND names the Debian package", async () => {
    const r = await mtlskit(["serve", "--engine", "nginx", "--engine-bin", "/nonexistent/nginx", "--listen", "127.0.0.1:0", "--admin", "off", ...fileArgs()], { cwd: pki.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("ENGINE_NOT_FOUND");
    expect(r.stderr).toContain("nginx-light");
  });
});
