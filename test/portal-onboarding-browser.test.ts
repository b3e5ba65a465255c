/**
 * Issue 15's end-to-end browser test: D1 and MT onboarding done through the emulator's portal
 * pages (in Chromium) and the real `mtlskit` binary only, no hand-written JSON: the CSR file
 * uploaded and the signed chain downloaded (D1) or the self-signed certificate file uploaded and
 * endorsed (MT) through the page, the asset bundle downloaded as a zip from the page, unzipped
 * (`unzip`) and imported with the CLI, the endpoint registered through the page (files uploaded),
 * `mtlskit serve` in front of an application, `mtlskit check` green, then a notification sent
 * from the page, delivered by the emulator's notifier through `serve` to the application, and
 * seen as "delivered" in the page's live deliveries table.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMerchantPki, type MerchantPki } from "../src/cli/demo/merchant-pki.js";
import { startDashboard } from "../src/cli/dashboard/server.js";
import { startEmulator, type Emulator } from "../src/emulator/index.js";
import { cliSession, startMtlskit } from "./support/cli.js";
import { runTool, startUpstream, type TestUpstream } from "./support/server-fixtures.js";
import { chromiumPath, requireTool } from "./support/tools.js";

const OUTPUT = path.resolve(process.env.MTLSKIT_TEST_OUTPUT ?? "test-output", "screenshots");
const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
const D1_HOST = "notify-d1.merchant.test";
const MT_HOST = "notify-mt.merchant.test";
const API_KEY = "k3y-of-mt-notifications";

let tmp: string;
let home: string;
let emu: Emulator;
let app: TestUpstream;
let merchant: MerchantPki;
let browser: Browser;
const children: ChildProcess[] = [];
const { runs, ok, json, run } = cliSession(() => ({ cwd: tmp, home }));

/** `mtlskit --json serve ...` in the background; resolves with its JSON document once it listens. */
async function serve(profile: string): Promise<{ port: number; adminUrl: string }> {
  const { child, doc } = await startMtlskit<{ port: number; adminUrl: string }>(["--json", "serve", "--profile", profile, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--upstream", app.url], { cwd: tmp, env: { MTLSKIT_HOME: home } });
  children.push(child);
  return doc;
}

/** Fills a form field with a file's content, as a user pasting it. */
async function paste(page: Page, selector: string, file: string): Promise<void> {
  await page.fill(selector, await fs.readFile(file, "utf8"));
}

let unzipped = 0;

/** The asset bundle of an environment, downloaded as a zip through the page and unzipped; resolves with its folder and manifest. */
async function bundleThroughPage(page: Page, p: string, env: string, customerId: string): Promise<{ directory: string; assets: Record<string, string> }> {
  await page.goto(emu.portalUrl);
  await page.fill(`#${p}-${env}-assets-customer`, customerId);
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator(`#${p}-${env}-assets-customer`).locator("xpath=ancestor::form").locator("button").click()]);
  const zip = path.join(tmp, download.suggestedFilename());
  await download.saveAs(zip);
  const into = path.join(tmp, `unzipped-${++unzipped}`);
  const r = await runTool("unzip", ["-q", zip, "-d", into]);
  expect(r.code, r.stderr).toBe(0);
  const directory = path.join(into, `${p}-${env}-${customerId}`);
  const m = JSON.parse(await fs.readFile(path.join(directory, "manifest.json"), "utf8")) as { assets: Record<string, string> };
  return { directory, assets: m.assets };
}

/** Submits a form of the page and resolves with its answer page's heading. */
async function submit(page: Page, firstField: string): Promise<string> {
  await Promise.all([page.waitForURL(/\/ui\//), page.locator(firstField).locator("xpath=ancestor::form").locator("button[type=submit]").click()]);
  return page.locator("h2").first().innerText();
}

/** What `assets export` wrote: the manifest's assets, files resolved. */
async function exported(profile: string): Promise<{ dir: string; assets: Record<string, string> }> {
  const dir = path.join(tmp, `to-thales-${profile}-${Date.now()}`);
  await ok(["assets", "export", "--profile", profile, "--out", dir]);
  const m = JSON.parse(await fs.readFile(path.join(dir, "manifest.json"), "utf8")) as { assets: Record<string, string> };
  return { dir, assets: m.assets };
}

/** Registers the endpoint through the page: issuer host with serve's port, the exported server chain, and the program's key. */
async function registerThroughPage(page: Page, p: "d1" | "mt", env: string, customerId: string, host: string, port: number, out: { dir: string; assets: Record<string, string> }): Promise<string> {
  const id = `${p}-${env}`;
  await page.goto(emu.portalUrl);
  await page.fill(`#${id}-reg-customer`, customerId);
  await page.fill(`#${id}-reg-host`, `${host}:${port}`);
  await page.setInputFiles(`#${id}-reg-chain-file`, path.join(out.dir, out.assets["CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN"]!));
  if (p === "d1") {
    await paste(page, `#${id}-reg-oauth`, path.join(out.dir, out.assets["D1_OAUTH_PUBLIC_KEY"]!));
    await page.fill(`#${id}-reg-kid`, out.assets["D1_OAUTH_KID"]!);
  } else {
    await page.fill(`#${id}-reg-apikey`, API_KEY);
  }
  return submit(page, `#${id}-reg-customer`);
}

/** Sends one notification through the page, then waits for the live deliveries table to show it delivered. */
async function notifyThroughPage(page: Page, p: string, env: string, customerId: string, shot: string): Promise<void> {
  const id = `${p}-${env}`;
  await page.goto(emu.portalUrl);
  await page.fill(`#${id}-notify-customer`, customerId);
  expect(await submit(page, `#${id}-notify-customer`)).toBe("Done (202)");
  const sent = JSON.parse(await page.locator("#answer").innerText()) as { ids: string[] };
  expect(sent.ids).toHaveLength(1);
  await page.goto(emu.portalUrl);
  // The table refreshes without a reload (live.js); the row of this notification turns "delivered".
  const row = page.locator(`[data-live="/ui/${p}/${env}/deliveries"] tr`, { hasText: sent.ids[0]! });
  await row.locator("td.ok", { hasText: "delivered" }).waitFor({ timeout: 30_000 });
  expect(await row.innerText()).toContain(customerId);
  await row.scrollIntoViewIfNeeded();
  mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: path.join(OUTPUT, shot), fullPage: true });
}

describe.skipIf(!requireTool("chromium") || !requireTool("unzip"))("onboarding through the portal pages and the CLI only (Chromium)", () => {
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-portal-e2e-"));
    home = path.join(tmp, "ws");
    // The customer's endpoints are on this machine: the emulator's DNS stand-in answers for their names.
    emu = await startEmulator({
      dir: path.join(tmp, "emulator"),
      dnsRecords: [D1_HOST, MT_HOST].map((name) => ({ name, address: "127.0.0.1", ttlSeconds: 30 })),
    });
    app = await startUpstream(() => ({ status: 204, body: "" }));
    merchant = await createMerchantPki(path.join(tmp, "merchant-pki"));
    browser = await chromium.launch({ executablePath: chromiumPath()!, args: ["--no-sandbox"] });
  }, 60_000);

  afterAll(async () => {
    for (const c of children) c.kill("SIGTERM");
    await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once("exit", r)))));
    await browser?.close();
    await app?.stop();
    await emu?.close();
    for (const r of runs) expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it("D1 preprod: CSR signed in the page, bundle from the page, endpoint registered in the page, check green, a notification delivered", async () => {
    const page = await browser.newPage({ acceptDownloads: true });
    await ok(["profile", "add", "d1-pp", "--program", "d1", "--env", "preprod", "--id", "123456", "--subject", SUBJECT]);
    const csr = await json<{ csrFile: string }>(["csr", "create", "--profile", "d1-pp"]);

    await page.goto(emu.portalUrl);
    await page.fill("#d1-preprod-csr-customer", "123456");
    await page.setInputFiles("#d1-preprod-csr-file", csr.csrFile);
    const [signed] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Sign and download the certificate and chain (.pem)" }).first().click()]);
    await signed.saveAs(path.join(tmp, "d1-signed.pem"));
    expect((await json<{ commonName: string }>(["cert", "install", "d1-signed.pem", "--profile", "d1-pp"])).commonName).toBe("TLSMA-ECDSA/123456/D1.PPR");

    const bundle = await bundleThroughPage(page, "d1", "preprod", "123456");
    await ok(["assets", "import", bundle.directory, "--profile", "d1-pp"]);
    await ok(["oauth", "key", "create", "--profile", "d1-pp"]);
    const files = await merchant.issue(D1_HOST);
    await ok(["server-cert", "set", "--profile", "d1-pp", "--cert", files.certFile, "--key", files.keyFile, "--chain", files.chainFile, "--host", D1_HOST]);
    const out = await exported("d1-pp");
    const srv = await serve("d1-pp");
    expect(await registerThroughPage(page, "d1", "preprod", "123456", D1_HOST, srv.port, out)).toMatch(/^Done \(20[01]\)$/);

    const check = await run(["check", "--profile", "d1-pp"]);
    expect(check.code, check.stdout + check.stderr).toBe(0);

    await notifyThroughPage(page, "d1", "preprod", "123456", "portal-d1-delivered.png");
    const got = app.received.filter((r) => r.url.startsWith("/merchant-gateways/123456/") && r.url.endsWith("/notify-update"));
    expect(got.length).toBeGreaterThanOrEqual(1);

    // The dashboard over the same workspace and serve's admin listener: the forwarded
    // notification in serve's metrics, and `check` run from its button, steps streamed.
    const board = await startDashboard({ dir: home, serveAdmin: srv.adminUrl });
    try {
      await page.goto(board.url);
      expect(Number(await page.locator('[data-metric="forwarded"]').innerText())).toBeGreaterThanOrEqual(1);
      expect(Number(await page.locator('[data-metric="handshakes-accepted"]').innerText())).toBeGreaterThanOrEqual(1);
      expect(await page.locator('#serve-metrics tr[data-role="server"] td.subject').innerText()).toContain(D1_HOST);
      mkdirSync(OUTPUT, { recursive: true });
      await page.screenshot({ path: path.join(OUTPUT, "dashboard-serve-metrics.png"), fullPage: true });
      await page.getByRole("button", { name: "Run check for d1-pp" }).click();
      await page.locator("#result").waitFor({ timeout: 60_000 });
      expect(await page.locator("#result").innerText()).toMatch(/^all green/);
      const statuses = await page.locator("#steps li").evaluateAll((lis) => lis.map((li) => `${li.getAttribute("data-step")}:${li.getAttribute("data-status")}`));
      // Each step shown starting, then passing.
      expect(statuses.filter((x) => x.endsWith(":running")).length).toBe(statuses.filter((x) => x.endsWith(":ok")).length);
      expect(statuses).toContain("token:ok");
      await page.screenshot({ path: path.join(OUTPUT, "dashboard-check.png"), fullPage: true });
    } finally {
      await board.close();
    }
    await page.close();
  }, 180_000);

  it("MT sandbox: CN from the page's bundle, certificate endorsed in the page, endpoint and API key registered in the page, check green, a notification delivered", async () => {
    const page = await browser.newPage({ acceptDownloads: true });
    const pre = await bundleThroughPage(page, "mt", "sandbox", "654321");
    const cn = pre.assets["TSH_CLIENT_CN"]!;
    expect(cn).toBeTruthy();
    await ok(["profile", "add", "mt-sbx", "--program", "mt", "--env", "sandbox", "--id", "654321", "--cn", cn]);
    const cert = await json<{ certificateFile: string; sha256Fingerprint: string }>(["cert", "self-signed", "--profile", "mt-sbx"]);

    await page.goto(emu.portalUrl);
    await page.fill("#mt-sandbox-endorse-customer", "654321");
    await page.setInputFiles("#mt-sandbox-endorse-cert-file", cert.certificateFile);
    expect(await submit(page, "#mt-sandbox-endorse-customer")).toBe("Done (201)");
    const endorsed = JSON.parse(await page.locator("#answer").innerText()) as { fingerprint: string };
    expect(endorsed.fingerprint).toBe(cert.sha256Fingerprint.replace(/:/g, "").toLowerCase());

    const bundle = await bundleThroughPage(page, "mt", "sandbox", "654321");
    await ok(["assets", "import", bundle.directory, "--profile", "mt-sbx"]);
    const files = await merchant.issue(MT_HOST);
    await ok(["server-cert", "set", "--profile", "mt-sbx", "--cert", files.certFile, "--key", files.keyFile, "--chain", files.chainFile, "--host", MT_HOST]);
    const out = await exported("mt-sbx");
    const srv = await serve("mt-sbx");
    expect(await registerThroughPage(page, "mt", "sandbox", "654321", MT_HOST, srv.port, out)).toMatch(/^Done \(20[01]\)$/);

    const check = await run(["check", "--profile", "mt-sbx"]);
    expect(check.code, check.stdout + check.stderr).toBe(0);

    await notifyThroughPage(page, "mt", "sandbox", "654321", "portal-mt-delivered.png");
    const got = app.received.filter((r) => r.url.endsWith("notify-merchant-update"));
    expect(got.length).toBeGreaterThanOrEqual(1);
    expect(got.every((r) => r.headers["authorization"] === `APIKEY ${API_KEY}`)).toBe(true);
    await page.close();
  }, 180_000);
});
