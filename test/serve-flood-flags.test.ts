/**
 * `mtlskit serve --first-byte-timeout / --max-pending-handshakes / --max-pending-per-address`
 * (issue 10): the flood limits of the node engine from the command line. The real binary on
 * loopback, silent TCP sockets, and the admin listener's /metrics to see what the server did.
 */
import type { ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInboundPki, startUpstream, waitFor, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";
import { mtlskit, startMtlskit } from "./support/cli.js";

let pki: InboundPki;
let upstream: TestUpstream;
const children: ChildProcess[] = [];
const sockets: net.Socket[] = [];

beforeAll(async () => {
  pki = await createInboundPki();
  upstream = await startUpstream();
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await upstream?.stop();
  if (pki) await fs.rm(pki.dir, { recursive: true, force: true });
});

const base = (): string[] => ["serve", "--cert", pki.files.certFile, "--key", pki.files.keyFile, "--chain", pki.files.chainFile, "--client-ca", pki.files.caFile, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--upstream", upstream.url];

async function serve(extra: string[]): Promise<{ port: number; adminUrl: string; child: ChildProcess }> {
  const { child, doc } = await startMtlskit<{ port: number; adminUrl: string }>(["--json", ...base(), ...extra], { cwd: pki.dir });
  children.push(child);
  return { ...doc, child };
}

/** A TCP connection that never sends a byte; resolves once connected. */
function silent(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => resolve(s));
    s.on("error", () => undefined);
    s.once("error", reject);
    sockets.push(s);
  });
}

const closed = (s: net.Socket): Promise<void> => new Promise((r) => (s.destroyed || s.closed ? r() : s.once("close", () => r())));

async function limitCount(adminUrl: string, limit: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const m = new RegExp(`^mtlskit_inbound_limits_total\\{[^}]*limit="${limit}"[^}]*\\} (\\d+)`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

describe("mtlskit serve: flood limit flags", () => {
  it("--first-byte-timeout: a silent loopback socket is closed by the server and counted as first_byte_timeout", async () => {
    const srv = await serve(["--first-byte-timeout", "200ms"]);
    const s = await silent(srv.port);
    await closed(s);
    await waitFor(async () => (await limitCount(srv.adminUrl, "first_byte_timeout")) === 1, 10_000, "the first_byte_timeout metric");
    srv.child.kill("SIGTERM");
  });

  it("--max-pending-per-address 2: a third silent socket from the same address closes the oldest one (the default allows 256)", async () => {
    const srv = await serve(["--max-pending-per-address", "2", "--first-byte-timeout", "10s"]);
    const first = await silent(srv.port);
    const second = await silent(srv.port);
    const third = await silent(srv.port);
    // One of the three (the oldest the server saw) is closed by the server, without any timeout.
    await Promise.race([closed(first), closed(second), closed(third)]);
    await waitFor(async () => (await limitCount(srv.adminUrl, "pending_evicted")) === 1, 10_000, "the pending_evicted metric");
    expect(await limitCount(srv.adminUrl, "first_byte_timeout")).toBe(0);
    srv.child.kill("SIGTERM");
  });

  it("--max-pending-handshakes 1: a second silent socket closes the first", async () => {
    const srv = await serve(["--max-pending-handshakes", "1", "--first-byte-timeout", "10s"]);
    const a = await silent(srv.port);
    const b = await silent(srv.port);
    await Promise.race([closed(a), closed(b)]);
    await waitFor(async () => (await limitCount(srv.adminUrl, "pending_evicted")) === 1, 10_000, "the pending_evicted metric");
    srv.child.kill("SIGTERM");
  });

  it("bad values are USAGE errors (exit 2); the flags are for the node engine; --help lists them", async () => {
    for (const extra of [
      ["--first-byte-timeout", "0"],
      ["--first-byte-timeout", "soon"],
      ["--first-byte-timeout", "-1s"],
      ["--max-pending-handshakes", "0"],
      ["--max-pending-handshakes", "-5"],
      ["--max-pending-handshakes", "many"],
      ["--max-pending-per-address", "0"],
      ["--max-pending-per-address", "1.5"],
      ["--engine", "nginx", "--max-pending-handshakes", "10"],
    ]) {
      const r = await mtlskit([...base(), ...extra], { cwd: pki.dir });
      expect(r.code, `${extra.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr, extra.join(" ")).toMatch(/^error \[USAGE\]: /m);
    }
    const help = await mtlskit(["serve", "--help"]);
    expect(help.code).toBe(0);
    for (const flag of ["--first-byte-timeout <duration>", "--max-pending-handshakes <n>", "--max-pending-per-address <n>"]) expect(help.stdout).toContain(flag);
  });
});
