import { promises as fs, mkdirSync } from "node:fs";
import { request as httpRequest } from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeThalesSide, signCsr } from "../../../test/support/store-fixtures.js";
import { chromiumPath, requireTool } from "../../../test/support/tools.js";
import { installCertificate } from "../../store/cert-install.js";
import { createProfileCsr } from "../../store/profile-credentials.js";
import { addProfile } from "../../store/profiles.js";
import { openProfile } from "../../store/workspace.js";
import { doctorSteps } from "../../client/doctor.js";
import { d1 } from "../../policy/index.js";
import { workspaceStatus } from "../../store/status.js";
import { createInboundServer, silentLogger } from "../../server/index.js";
import { call, clientAgent, createInboundPki, startUpstream } from "../../../test/support/server-fixtures.js";
import { mtlskit } from "../../../test/support/cli.js";
import { parseMetrics } from "./serve-metrics.js";
import { startDashboard, timelineAxis, TIMELINE_COLOURS, type Dashboard } from "./server.js";

const OUTPUT = path.resolve(process.env.MTLSKIT_TEST_OUTPUT ?? "test-output", "screenshots");
const MARKUP = "<img src=x onerror=alert(1)>";
const DAY = 86_400_000;
let tmp: string;
let dashboard: Dashboard;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-dashboard-"));
  const ws = path.join(tmp, "ws");
  const side = await makeThalesSide("d1");
  await addProfile(ws, "d1-pp", { program: "d1", environment: "preprod", customerId: "123456", subject: `/C=FR/ST=Paris/L=Paris/O=${MARKUP}/OU=Payments` });
  await createProfileCsr(ws, "d1-pp");
  const p = (await openProfile(ws, "d1-pp")).paths;
  // Issued 20 days ago, 10 days left: inside the 30-day renewal window.
  const cert = await signCsr(side, "PPR", p.client.csr, p.client.key, { notBefore: new Date(Date.now() - 20 * DAY), notAfter: new Date(Date.now() + 10 * DAY) });
  const file = path.join(tmp, "signed.pem");
  await fs.writeFile(file, cert.chainPem);
  await installCertificate(ws, "d1-pp", file);
  dashboard = await startDashboard({ dir: ws });
}, 60_000);

afterAll(async () => {
  await dashboard?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

function get(route: string, headers: Record<string, string> = {}, method = "GET"): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const u = new URL(dashboard.baseUrl);
  return new Promise((resolve, reject) => {
    httpRequest({ host: u.hostname, port: u.port, path: route, method, headers: { host: u.host, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
    })
      .on("error", reject)
      .end();
  });
}

describe("dashboard: safe by default", () => {
  it("refuses a non-loopback address unless told", async () => {
    await expect(startDashboard({ dir: tmp, host: "0.0.0.0" })).rejects.toMatchObject({ code: "USAGE" });
  });

  it("refuses a request without the token, and a wrong token", async () => {
    expect((await get("/")).status).toBe(401);
    expect((await get("/?token=nope")).status).toBe(401);
    expect((await get("/", { cookie: "mtlskit_dashboard=nope" })).status).toBe(401);
  });

  it("trades the token for an HttpOnly SameSite=Strict cookie, then shows the page with a strict CSP", async () => {
    const token = new URL(dashboard.url).searchParams.get("token")!;
    const first = await get(`/?token=${token}`);
    expect(first.status).toBe(303);
    expect(first.headers["location"]).toBe("/");
    const cookie = String(first.headers["set-cookie"]);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const page = await get("/", { cookie: cookie.split(";")[0]! });
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(page.text).not.toContain(MARKUP);
    expect(page.text).toContain("&#60;img src&#61;x onerror&#61;alert(1)&#62;");
  });

  it("refuses a Host that is not loopback, even with the cookie (DNS rebinding)", async () => {
    const token = new URL(dashboard.url).searchParams.get("token")!;
    expect((await get(`/?token=${token}`, { host: "rebind.example" })).status).toBe(403);
  });
});


async function cookie(): Promise<string> {
  const token = new URL(dashboard.url).searchParams.get("token")!;
  return String((await get(`/?token=${token}`)).headers["set-cookie"]).split(";")[0]!;
}

describe("dashboard: run check", () => {
  it("streams the doctor's steps as NDJSON events, each step running then ending, then the result with its diagnoses", async () => {
    const r = await get("/check/d1-pp", { cookie: await cookie(), accept: "application/x-ndjson", origin: dashboard.baseUrl }, "POST");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toContain("application/x-ndjson");
    const events = r.text.trimEnd().split("\n").map((l) => JSON.parse(l) as { event: string; id?: string; status?: string; code?: string; ok?: boolean; diagnoses?: Array<{ code: string }> });
    const steps = events.filter((e) => e.event === "step");
    const ids = doctorSteps({ program: d1 }).map((x) => x.id);
    expect([...new Set(steps.map((e) => e.id))]).toEqual(ids);
    for (const id of ids) {
      const mine = steps.filter((e) => e.id === id).map((e) => e.status);
      expect(mine.length === 1 ? mine : [mine[0], mine.length], id).toEqual(mine.length === 1 ? ["skip"] : ["running", 2]);
    }
    // No OAuth key nor Thales assets in this workspace: the first step fails, naming what is missing; the rest are skipped.
    expect(steps[1]).toMatchObject({ id: "config", status: "fail", code: "OAUTH_KEY_MISSING" });
    const done = events[events.length - 1]!;
    expect(done).toMatchObject({ event: "done", ok: false });
    expect(done.diagnoses![0]!.code).toBe("OAUTH_KEY_MISSING");
  });

  it("streams an HTML page without JavaScript; a profile that does not exist is a diagnosis, not a crash", async () => {
    const c = await cookie();
    const page = await get("/check/d1-pp", { cookie: c }, "POST");
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(page.text).toMatch(/<ol id="steps"[\s\S]*data-step="config" data-status="fail"[\s\S]*<p id="result" class="bad">failed<\/p>/);
    const none = await get(`/check/${encodeURIComponent("<none>")}`, { cookie: c, accept: "application/x-ndjson" }, "POST");
    expect(none.status).toBe(200);
    expect(JSON.parse(none.text.trimEnd().split("\n").pop()!)).toMatchObject({ event: "done", ok: false });
  });

  it("runs only for the token's holder, from this page, with POST", async () => {
    expect((await get("/check/d1-pp", {}, "POST")).status).toBe(401);
    const c = await cookie();
    expect((await get("/check/d1-pp", { cookie: c, origin: "https://evil.example" }, "POST")).status).toBe(403);
    expect((await get("/check/d1-pp", { cookie: c, "sec-fetch-site": "cross-site" }, "POST")).status).toBe(403);
    expect((await get("/check/d1-pp", { cookie: c })).status).toBe(405);
    expect((await get("/", { cookie: c }, "POST")).status).toBe(405);
    expect((await get("/", { cookie: c })).text).toContain('<form method="post" action="/check/d1-pp">');
  });
});

describe("dashboard: serve's metrics (--serve-admin)", () => {
  it("parses the text format, labels with escapes included", () => {
    expect(parseMetrics('# HELP x y\nmtlskit_x_total{a="b\\"c",d="e"} 3\nplain 1.5\n')).toEqual([
      { name: "mtlskit_x_total", labels: { a: 'b"c', d: "e" }, value: 3 },
      { name: "plain", labels: {}, value: 1.5 },
    ]);
  });

  it("shows a real serve's certificates, handshakes accepted and refused, and forwarded requests", async () => {
    const pki = await createInboundPki();
    const app = await startUpstream(() => ({ status: 204, body: "" }));
    const srv = await createInboundServer({ credentials: pki.files, upstream: app.url, listen: { host: "127.0.0.1", port: 0 }, admin: { host: "127.0.0.1", port: 0 }, logger: silentLogger, reload: { watch: false }, profile: "mt-sbx" });
    const board = await startDashboard({ dir: path.join(tmp, "ws"), serveAdmin: srv.adminUrl! });
    const agent = clientAgent(pki, pki.client);
    const stranger = clientAgent(pki, undefined);
    try {
      expect((await call(agent, `${srv.url}/tsh-cof/notify-merchant-update`, { method: "POST", body: "{}" })).status).toBe(204);
      await expect(call(stranger, `${srv.url}/x`)).rejects.toBeTruthy();
      const u = new URL(board.url);
      const jar = String((await fetch(board.url, { redirect: "manual" })).headers.get("set-cookie")).split(";")[0]!;
      const text = await (await fetch(`${u.origin}/`, { headers: { cookie: jar } })).text();
      const metric = (name: string): string => new RegExp(`data-metric="${name}">([^<]*)`).exec(text)?.[1] ?? "";
      expect(metric("handshakes-accepted")).toBe("1");
      expect(Number(metric("handshakes-refused"))).toBeGreaterThanOrEqual(1);
      expect(metric("forwarded")).toBe("1");
      expect(metric("requests")).toContain("204: 1");
      expect(text).toMatch(/<tr data-role="server"><td>server<\/td><td class="subject">[^<]*notify\.customer\.test/);
      expect(text).toMatch(/<tr data-role="inbound-client-ca">/);
    } finally {
      await agent.close();
      await stranger.close();
      await board.close();
      await srv.close({ graceMs: 100 });
      await app.stop();
      await fs.rm(pki.dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("mtlskit dashboard refuses a --serve-admin that is not an http URL, and a non-loopback --listen, with exit 2 (real binary)", async () => {
    for (const args of [["--serve-admin", "ftp://127.0.0.1:1"], ["--listen", "0.0.0.0:0"]]) {
      const r = await mtlskit(["--dir", path.join(tmp, "ws"), "dashboard", ...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^error \[USAGE\]/);
    }
  }, 60_000);

  it("says so when serve's admin listener does not answer; refuses a --serve-admin that is not an http URL", async () => {
    const gone = await startUpstream();
    await gone.stop();
    const board = await startDashboard({ dir: path.join(tmp, "ws"), serveAdmin: gone.url });
    try {
      const jar = String((await fetch(board.url, { redirect: "manual" })).headers.get("set-cookie")).split(";")[0]!;
      const res = await fetch(`${board.baseUrl}/`, { headers: { cookie: jar } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("Its admin listener did not answer (ECONNREFUSED)");
    } finally {
      await board.close();
    }
    await expect(startDashboard({ dir: tmp, serveAdmin: "ftp://127.0.0.1:1" })).rejects.toMatchObject({ code: "USAGE" });
  });
});

describe("dashboard: timeline", () => {
  it("status gives each certificate its notBefore", async () => {
    const s = await workspaceStatus(path.join(tmp, "ws"));
    const client = s.profiles[0]!.certificates.find((c) => c.role === "client")!;
    expect(Math.round((Date.now() - Date.parse(client.notBefore)) / DAY)).toBe(20);
  });

  it("the axis starts a little before the earliest notBefore, at most 90 days back, and ends at most a year ahead", () => {
    const now = new Date("2026-06-01T00:00:00Z");
    const at = (days: number): string => new Date(now.getTime() + days * DAY).toISOString();
    expect(timelineAxis([{ notBefore: at(-20), notAfter: at(10) }], now)).toEqual({ start: now.getTime() - 25 * DAY, end: now.getTime() + 105 * DAY });
    expect(timelineAxis([{ notBefore: at(-5 * 365), notAfter: at(15 * 365) }], now)).toEqual({ start: now.getTime() - 90 * DAY, end: now.getTime() + 365 * DAY });
  });

  it("draws each bar from its notBefore: the client's starts between the left edge and today; a 20-year CA runs off the right edge", async () => {
    const token = new URL(dashboard.url).searchParams.get("token")!;
    const cookie = String((await get(`/?token=${token}`)).headers["set-cookie"]).split(";")[0]!;
    const text = (await get("/", { cookie })).text;
    const group = /<g class="cert"[^>]*data-role="client"[^>]*data-clipped="([^"]*)">[\s\S]*?<rect x="([\d.]+)"[^>]*width="([\d.]+)"/.exec(text)!;
    const today = Number(/<line x1="([\d.]+)"/.exec(text)![1]);
    const [barX, width] = [Number(group[2]), Number(group[3])];
    expect(group[1]).toBe("");
    // The axis starts 25 days back (20 + 5): the bar starts a fifth of the way to today, and ends 10 days after it.
    expect(barX).toBeGreaterThan(280 + (today - 280) * 0.15);
    expect(barX).toBeLessThan(280 + (today - 280) * 0.25);
    expect(barX + width).toBeGreaterThan(today);
    expect(text).toMatch(/data-role="client-chain"[^>]*data-clipped="end"/);
  });
});

describe.skipIf(!requireTool("chromium"))("dashboard in Chromium", () => {
  it("draws the certificate inside its renewal window in the warning colour, the subject with markup as text", async () => {
    const browser = await chromium.launch({ executablePath: chromiumPath()!, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage();
      await page.goto(dashboard.url);
      expect(new URL(page.url()).searchParams.get("token")).toBeNull();
      const bar = page.locator('g.cert[data-role="client"] rect').first();
      expect(await page.locator('g.cert[data-role="client"]').getAttribute("data-state")).toBe("warning");
      expect(await bar.getAttribute("fill")).toBe(TIMELINE_COLOURS.warning);
      expect(await page.locator("td.subject").first().innerText()).toContain(MARKUP);
      expect(await page.locator("img").count()).toBe(0);
      mkdirSync(OUTPUT, { recursive: true });
      await page.screenshot({ path: path.join(OUTPUT, "dashboard.png"), fullPage: true });
      const fresh = await browser.newPage();
      const refused = await fresh.goto(dashboard.baseUrl + "/");
      expect(refused?.status()).toBe(401);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
