import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { unzipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { portalTestEnvironments } from "../../test/support/emulator-fixtures.js";
import { chromiumPath, requireTool } from "../../test/support/tools.js";
import { createCsr, generateKey, parseSubject, toPem } from "../pki/index.js";
import { escapeHtml, html, isLoopbackAddress, isLoopbackHostHeader } from "../web/index.js";
import { loadOrCreateEmulatorPki } from "./emulator-pki.js";
import { startPortal, type Portal, type PortalEnvironment } from "./portal.js";
import { EmulatorState } from "./state.js";

/** Where screenshots go: `$MTLSKIT_TEST_OUTPUT` or `test-output/` at the repository root. */
const OUTPUT = path.resolve(process.env.MTLSKIT_TEST_OUTPUT ?? "test-output", "screenshots");

const environments: PortalEnvironment[] = portalTestEnvironments();

let dir: string;
let portal: Portal;
const deliveries = [{ id: "n-1", customerId: "123456", state: "delivered", url: "https://notify.example.test/<b>x</b>", attempts: [{ at: "2026-01-01T00:00:00Z", status: 204, durationMs: 3 }], createdAt: "2026-01-01T00:00:00Z" }];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "mtlskit-portal-page-"));
  const pki = await loadOrCreateEmulatorPki(dir);
  const state = await EmulatorState.load(dir);
  portal = await startPortal({ pki, state, assetsDir: path.join(dir, "assets"), environments, deliveries: () => deliveries, handshakes: () => [] });
});

afterAll(async () => {
  await portal?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw HTTP request, so that Host and Origin can be set as a browser or an attacker would. */
function raw(method: string, route: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const u = new URL(portal.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path: route, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function d1Csr(o = "Example Gateway"): Promise<string> {
  const { privateKey } = await generateKey("ecdsa-p256");
  return toPem("CERTIFICATE REQUEST", createCsr({ subject: parseSubject(`/C=FR/ST=IDF/L=Paris/O=${o}/OU=Payments/CN=TLSMA-ECDSA\\/123456\\/D1.PPR`), privateKey, hash: "sha256" }));
}

describe("web layer", () => {
  it("escapes every character that opens markup or leaves an attribute, once", () => {
    expect(escapeHtml(`<script>"a'&b\``)).toBe("&#60;script&#62;&#34;a&#39;&#38;b&#96;");
    expect(html`<p title="${'"x'}">${"<b>"}${html`<i>ok</i>`}</p>`.value).toBe('<p title="&#34;x">&#60;b&#62;<i>ok</i></p>');
  });

  it("judges loopback on addresses and Host headers on names and addresses", () => {
    for (const a of ["127.0.0.1", "127.8.9.10", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "[::1]"]) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ["128.0.0.1", "1127.0.0.1", "127.evil.com", "::2", "::ffff:10.0.0.1", "localhost"]) expect(isLoopbackAddress(a), a).toBe(false);
    for (const h of ["localhost", "localhost:8080", "app.localhost:1", "127.0.0.1:3000", "[::1]:9", "LOCALHOST."]) expect(isLoopbackHostHeader(h), h).toBe(true);
    for (const h of [undefined, "", "evil.example", "evil.example:80", "127.0.0.1.nip.io", "localhost.evil.example", "127.0.0.1:99999", "[::2]:80"]) expect(isLoopbackHostHeader(h), String(h)).toBe(false);
  });
});

describe("portal: Host and cross-site checks", () => {
  it("refuses a Host that is not loopback (DNS rebinding), on pages and JSON routes", async () => {
    const api = await raw("GET", "/v1/d1/preprod/deliveries", { host: "rebind.example:80" });
    expect(api.status).toBe(403);
    expect(api.headers["content-type"]).toContain("application/json");
    expect(JSON.parse(api.text).errors[0].code).toBe("HOST_NOT_ALLOWED");
    // Pages answer with a page: same status, code and message.
    for (const route of ["/", "/ui/d1/preprod/deliveries", "/static/style.css"]) {
      const a = await raw("GET", route, { host: "<b>rebind.example</b>" });
      expect(a.status, route).toBe(403);
      expect(a.headers["content-type"]).toContain("text/html");
      expect(a.headers["content-security-policy"]).toContain("default-src 'self'");
      expect(a.text).toContain("<code>HOST_NOT_ALLOWED</code>");
      expect(a.text).toContain("&#60;b&#62;rebind.example&#60;/b&#62;");
      expect(a.text).not.toContain("<b>rebind");
    }
    expect((await raw("GET", "/", { host: `localhost:${portal.port}` })).status).toBe(200);
  });

  it("refuses a state-changing request from another site, JSON route or form", async () => {
    const host = `127.0.0.1:${portal.port}`;
    const json = await raw("POST", "/v1/d1/preprod/rotate-client-certificate", { host, origin: "https://evil.example", "content-type": "application/json" }, "{}");
    expect(json.status).toBe(403);
    expect(JSON.parse(json.text).errors[0].code).toBe("CROSS_SITE_REQUEST");
    const form = await raw("POST", "/ui/d1/preprod/rotate-client-certificate", { host, "sec-fetch-site": "cross-site", "content-type": "application/x-www-form-urlencoded" }, "");
    expect(form.status).toBe(403);
    expect(form.headers["content-type"]).toContain("text/html");
    expect(form.text).toContain("Refused (403)");
    expect(form.text).toContain(`<code>CROSS_SITE_REQUEST</code>: ${escapeHtml(JSON.parse(json.text).errors[0].message)}`);
    const same = await raw("POST", "/ui/d1/preprod/rotate-client-certificate", { host, origin: `http://${host}`, "sec-fetch-site": "same-origin", "content-type": "application/x-www-form-urlencoded" }, "");
    expect(same.status).toBe(200);
  });

  it("serves the page with a strict CSP and no inline script, and escapes what it shows", async () => {
    const page = await raw("GET", "/", { host: `127.0.0.1:${portal.port}` });
    expect(page.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(page.headers["content-security-policy"]).not.toContain("unsafe-inline");
    expect(page.text).not.toMatch(/<script>|<script [^>]*>[^<]/);
    const fragment = await raw("GET", "/ui/d1/preprod/deliveries", { host: `127.0.0.1:${portal.port}` });
    expect(fragment.text).toContain("&#60;b&#62;x&#60;/b&#62;");
    expect(fragment.text).not.toContain("<b>x");
  });

  it("takes an uploaded file (multipart) instead of the pasted text, and answers a download's refusal with a page", async () => {
    const form = new FormData();
    form.set("customerId", "123456");
    form.set("csr", "");
    form.set("csr.file", new Blob([await d1Csr()]), "request.csr");
    const signed = await fetch(`${portal.url}/ui/d1/preprod/signed-chain.pem`, { method: "POST", body: form });
    expect(signed.status).toBe(200);
    expect(signed.headers.get("content-disposition")).toBe('attachment; filename="d1-preprod-123456-signed-chain.pem"');
    expect(signed.headers.get("content-security-policy")).toContain("default-src 'self'");
    const chain = await signed.text();
    expect(chain.match(/BEGIN CERTIFICATE/g)!.length).toBeGreaterThanOrEqual(2);
    expect(new X509Certificate(chain).subject).toContain("CN=TLSMA-ECDSA/123456/D1.PPR");

    const refused = await raw("POST", "/ui/d1/preprod/signed-chain.pem", { host: `127.0.0.1:${portal.port}`, "content-type": "application/x-www-form-urlencoded" }, new URLSearchParams({ customerId: "123456", csr: "not a csr" }).toString());
    expect(refused.status).toBe(422);
    expect(refused.headers["content-type"]).toContain("text/html");
    expect(refused.headers["content-disposition"]).toBeUndefined();
    expect(refused.text).toContain("Refused (422)");

    const badZip = await raw("GET", "/ui/d1/preprod/assets.zip?customerId=x%3Cy", { host: `127.0.0.1:${portal.port}` });
    expect(badZip.status).toBeGreaterThanOrEqual(400);
    expect(badZip.headers["content-type"]).toContain("text/html");
  });

  it("answers a refused form with the JSON route's status, codes and messages", async () => {
    const body = new URLSearchParams({ customerId: "999999", csr: await d1Csr() }).toString();
    const json = await fetch(`${portal.url}/v1/d1/preprod/csr`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ customerId: "999999", csr: new URLSearchParams(body).get("csr") }) });
    const jsonErrors = ((await json.json()) as { errors: { code: string; message: string }[] }).errors;
    const form = await raw("POST", "/ui/d1/preprod/csr", { host: `127.0.0.1:${portal.port}`, "content-type": "application/x-www-form-urlencoded" }, body);
    expect(form.status).toBe(json.status);
    for (const e of jsonErrors) {
      expect(form.text).toContain(`<code>${escapeHtml(e.code)}</code>: ${escapeHtml(e.message)}`);
    }
  });
});


describe.skipIf(!requireTool("chromium"))("portal page in Chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: chromiumPath()!, args: ["--no-sandbox"] });
    mkdirSync(OUTPUT, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it("signs a D1 CSR through the form, shows a subject with markup as text, refreshes the deliveries table live", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    await page.goto(`${portal.url}/`);
    await page.locator("#d1-preprod-h").waitFor();
    // live.js replaces "Loading…" with the table fetched from /ui/d1/preprod/deliveries.
    await page.locator('[data-live="/ui/d1/preprod/deliveries"] table td', { hasText: "delivered" }).waitFor();
    expect(await page.locator('[data-live="/ui/d1/preprod/deliveries"]').innerText()).toContain("https://notify.example.test/<b>x</b>");
    await page.screenshot({ path: path.join(OUTPUT, "portal.png"), fullPage: true });

    await page.getByLabel("merchantGatewayId").first().fill("123456");
    await page.getByLabel("CSR (PEM)").first().fill(await d1Csr("<img src=x onerror=alert(1)>"));
    await page.getByRole("button", { name: "Sign the CSR" }).first().click();
    await page.waitForLoadState();
    if ((await page.locator("#answer").count()) === 0) throw new Error((await page.content()).slice(0, 600));
    const answer = JSON.parse(await page.locator("#answer").innerText()) as { subject: string; certificate: string };
    expect(answer.subject).toContain("<img src=x onerror=alert(1)>");
    expect(answer.certificate).toContain("BEGIN CERTIFICATE");
    expect(await page.locator("img").count()).toBe(0);
    await page.screenshot({ path: path.join(OUTPUT, "portal-csr-signed.png"), fullPage: true });
    expect(errors.filter((e) => /Content Security Policy/i.test(e))).toEqual([]);
    await page.close();
  }, 60_000);

  it("uploads a CSR file and downloads the signed chain; downloads the asset bundle as a zip of its folder", async () => {
    const page = await browser.newPage({ acceptDownloads: true });
    const csrFile = path.join(dir, "upload.csr");
    writeFileSync(csrFile, await d1Csr());
    await page.goto(`${portal.url}/`);
    await page.fill("#d1-preprod-csr-customer", "123456");
    await page.setInputFiles("#d1-preprod-csr-file", csrFile);
    const [pem] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Sign and download the certificate and chain (.pem)" }).first().click()]);
    expect(pem.suggestedFilename()).toBe("d1-preprod-123456-signed-chain.pem");
    const chainText = readFileSync((await pem.path())!, "utf8");
    const certs = chainText.split(/(?<=-----END CERTIFICATE-----\n?)/).filter((c) => c.includes("BEGIN CERTIFICATE")).map((c) => new X509Certificate(c));
    expect(certs.length).toBeGreaterThanOrEqual(2);
    expect(certs[0]!.subject).toContain("CN=TLSMA-ECDSA/123456/D1.PPR");
    expect(certs[0]!.checkIssued(certs[1]!)).toBe(true);
    expect(certs[0]!.verify(certs[1]!.publicKey)).toBe(true);

    await page.fill("#d1-preprod-assets-customer", "123456");
    const [zip] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download the bundle (.zip of its folder)" }).first().click()]);
    expect(zip.suggestedFilename()).toBe("d1-preprod-123456.zip");
    const entries = unzipSync(readFileSync((await zip.path())!));
    const manifest = JSON.parse(Buffer.from(entries["d1-preprod-123456/manifest.json"]!).toString("utf8")) as { customerId: string; program: string; assets: Record<string, string> };
    expect(manifest).toMatchObject({ program: "d1", environment: "preprod", customerId: "123456" });
    const folder = path.join(dir, "assets", "d1-preprod-123456");
    for (const file of Object.values(manifest.assets).filter((v) => v.endsWith(".pem"))) {
      expect(Buffer.from(entries[`d1-preprod-123456/${file}`]!).equals(readFileSync(path.join(folder, file))), file).toBe(true);
    }
    expect(Object.keys(entries).length).toBe(1 + Object.values(manifest.assets).filter((v) => v.endsWith(".pem")).length);
    await page.screenshot({ path: path.join(OUTPUT, "portal-downloads.png") });
    await page.close();
  }, 60_000);
});
