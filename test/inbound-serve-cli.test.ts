/**
 * `mtlskit serve` as a user runs it: from files (--cert/--key/--chain/--client-ca) and from a
 * profile; one JSON document once listening (--json); curl through it; SIGHUP reloads; SIGTERM
 * stops it with exit 0. Bad input exits 2 with one line and a hint: a Thales leaf given as the
 * client CA (never pin the leaf), a profile without its server certificate or Client CA, a bad
 * listen address.
 */
import type { ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInboundPki, curl, startUpstream, waitFor, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";
import { mtlskit, startMtlskit } from "./support/cli.js";
import { requireTool } from "./support/tools.js";

let pki: InboundPki;
let upstream: TestUpstream;
const children: ChildProcess[] = [];

beforeAll(async () => {
  pki = await createInboundPki();
  upstream = await startUpstream();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await upstream?.stop();
  if (pki) await fs.rm(pki.dir, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  doc: { ok: boolean; url: string; port: number; adminUrl: string | null; profile: string; server: { subject: string }; clientCas: Array<{ subject: string }>; watched: string[] };
  stderr: () => string;
  exited: Promise<number>;
}

/** Starts `mtlskit --json serve ...` and waits for its JSON document. */
async function serve(args: string[], cwd?: string): Promise<Running> {
  const r = await startMtlskit<Running["doc"]>(["--json", ...args], { cwd: cwd ?? pki.dir, timeoutMs: 20_000 });
  children.push(r.child);
  return r;
}

describe.skipIf(!requireTool("curl"))("mtlskit serve", () => {
  it("serves from files, reloads on SIGHUP, stops on SIGTERM with exit 0", async () => {
    const client = await pki.writeClient("thales", pki.client);
    const r = await serve(["serve", "--cert", pki.files.certFile, "--key", pki.files.keyFile, "--chain", pki.files.chainFile, "--client-ca", pki.files.caFile, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--upstream", upstream.url]);
    expect(r.doc).toMatchObject({ ok: true, profile: "default", server: { subject: "CN=notify.customer.test" } });
    expect(r.doc.clientCas.map((c) => c.subject)).toContain("CN=Thales Client CA");
    expect(r.doc.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await curl(r.doc.port, pki, ["--cert", client.cert, "--key", client.key, "-w", "\n%{http_code}"]);
    expect(res.stdout.split("\n").pop()).toBe("200");
    expect(upstream.received.at(-1)!.headers["x-client-cert-subject"]).toBe("CN=thales-notifier-1,O=Thales DIS,C=FR");
    const refused = await curl(r.doc.port, pki, []);
    expect(refused.code).not.toBe(0);

    r.child.kill("SIGHUP");
    let metrics = "";
    await waitFor(async () => {
      metrics = await (await fetch(`${r.doc.adminUrl}/metrics`)).text();
      return metrics.includes('mtlskit_inbound_reloads_total{result="unchanged",trigger="signal"} 1');
    }, 5000, "the SIGHUP reload");
    expect(metrics).toContain('mtlskit_inbound_handshakes_total{result="no_certificate"} 1');

    const lines = r.stderr().trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.event === "listening")).toMatchObject({ level: "info", profile: "default" });
    // issue 10: pino's standard options, ISO times and level names.
    for (const l of lines) expect(l.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(lines.every((l) => typeof l.level === "string")).toBe(true);
    expect(lines.find((l) => l.event === "handshake_refused")).toMatchObject({ level: "warn", reason: "no_certificate" });
    expect(r.stderr()).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);

    r.child.kill("SIGTERM");
    expect(await r.exited).toBe(0);
  });

  it("serves a profile's server certificate and Thales Client CA", async () => {
    const ws = path.join(pki.dir, "ws");
    const add = await mtlskit(["--dir", ws, "profile", "add", "mt-sbx", "--program", "mt", "--env", "sandbox", "--id", "654321", "--cn", "MT-654321-SBX"]);
    expect(add.code, add.stderr).toBe(0);
    const notReady = await mtlskit(["--dir", ws, "serve", "--profile", "mt-sbx", "--upstream", upstream.url, "--listen", "127.0.0.1:0"]);
    expect(notReady.code).toBe(2);
    expect(notReady.stderr).toMatch(/^error \[INBOUND_NOT_READY\]: profile 'mt-sbx' lacks the server certificate and key .* and the Thales Client CA/m);
    expect(notReady.stderr).toMatch(/hint: Run: mtlskit server-cert set --profile mt-sbx .*; then mtlskit assets import DIR --profile mt-sbx/);

    const folder = path.join(ws, "mt-sandbox-654321");
    await fs.mkdir(path.join(folder, "server"), { recursive: true });
    await fs.mkdir(path.join(folder, "assets"), { recursive: true });
    await fs.copyFile(pki.files.certFile, path.join(folder, "server", "server.crt"));
    await fs.copyFile(pki.files.keyFile, path.join(folder, "server", "server.key"));
    await fs.copyFile(pki.files.chainFile, path.join(folder, "server", "server-chain.pem"));
    await fs.copyFile(pki.files.caFile, path.join(folder, "assets", "inbound-client-ca.pem"));
    const r = await serve(["--dir", ws, "serve", "--profile", "mt-sbx", "--listen", "127.0.0.1:0", "--admin", "off", "--upstream", upstream.url]);
    expect(r.doc).toMatchObject({ ok: true, profile: "mt-sbx", adminUrl: null });
    expect(r.doc.watched.sort()).toEqual([path.join(folder, "assets"), path.join(folder, "server")]);
    const client = await pki.writeClient("thales2", pki.client);
    const res = await curl(r.doc.port, pki, ["--cert", client.cert, "--key", client.key, "-w", "\n%{http_code}"]);
    expect(res.stdout.split("\n").pop()).toBe("200");
    r.child.kill("SIGINT");
    expect(await r.exited).toBe(0);
  });

  it("refuses a Thales leaf as the client CA, with the reason", async () => {
    const leaf = path.join(pki.dir, "thales-leaf.pem");
    await fs.writeFile(leaf, pki.client.certPem);
    const r = await mtlskit(["serve", "--cert", pki.files.certFile, "--key", pki.files.keyFile, "--client-ca", leaf, "--listen", "127.0.0.1:0", "--admin", "off", "--upstream", upstream.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error \[LEAF_AS_CA\]: .*is not a CA certificate; trusting it would pin a leaf, which Thales may rotate at any time/m);
    expect(r.stderr).toMatch(/hint: Trust the issuing CA/);
  });

  it.each([
    [["--listen", "nowhere:port"], "LISTEN_ADDRESS_INVALID"],
    [["--listen", "127.0.0.1:0", "--upstream-errors", "sometimes"], "USAGE"],
    [["--listen", "127.0.0.1:0", "--upstream", "ftp://x"], "UPSTREAM_INVALID"],
  ])("exits 2 for %j (%s)", async (extra, code) => {
    const r = await mtlskit(["serve", "--cert", pki.files.certFile, "--key", pki.files.keyFile, "--client-ca", pki.files.caFile, "--admin", "off", "--upstream", upstream.url, ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`[${code}]`);
  });

  it("needs a profile or the files", async () => {
    const r = await mtlskit(["serve", "--upstream", upstream.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[USAGE\]: give --profile NAME, or all of --cert, --key and --client-ca/);
  });
});
