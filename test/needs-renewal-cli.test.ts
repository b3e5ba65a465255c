// `mtlskit cert needs-renewal FILE [--within 30d|20%]`: exit 0 fresh, 1 due or expired, 2 bad input.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, writeTestCertificate, type TestPki } from "../src/testing/index.js";
import { mtlskit } from "./support/cli.js";

const DAY = 86_400_000;
let pki: TestPki;
let dir: string;

beforeAll(async () => {
  pki = await createTestPki();
  dir = mkdtempSync(path.join(tmpdir(), "mtlskit-renewal-"));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A certificate valid from `startedDaysAgo` days ago until `daysLeft` days from now (plus an hour, so whole days read as given). */
async function certFile(name: string, startedDaysAgo: number, daysLeft: number): Promise<string> {
  const now = Date.now();
  const c = await pki.issue({ cn: name, notBefore: new Date(now - startedDaysAgo * DAY), notAfter: new Date(now + daysLeft * DAY + 3_600_000) });
  return (await writeTestCertificate(dir, name, c)).cert;
}

describe("mtlskit cert needs-renewal", () => {
  it("fresh: exit 0 and one line saying when to renew", async () => {
    const file = await certFile("fresh", 10, 90);
    const r = await mtlskit(["cert", "needs-renewal", file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: fresh: expires on \\S+Z, in 90 days; renew from \\S+Z\n$`));
  });

  it("inside the default 30-day window: exit 1, renewal due", async () => {
    const file = await certFile("soon", 300, 10);
    const r = await mtlskit(["cert", "needs-renewal", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/: renewal due: expires on \S+Z, in 10 days \(window: 30 days\)\n$/);
    expect(r.stdout.split("\n")).toHaveLength(2);
  });

  it("--within in days and as a share of the validity", async () => {
    const file = await certFile("hundred", 70, 30); // 100 days in all, 30 left
    expect((await mtlskit(["cert", "needs-renewal", file, "--within", "20d"])).code).toBe(0);
    expect((await mtlskit(["cert", "needs-renewal", file, "--within", "45d"])).code).toBe(1);
    expect((await mtlskit(["cert", "needs-renewal", file, "--within", "20%"])).code).toBe(0);
    const due = await mtlskit(["cert", "needs-renewal", file, "--within", "40%"]);
    expect(due.code).toBe(1);
    expect(due.stdout).toContain("(window: 40% of its validity)");
  });

  it("expired: exit 1", async () => {
    const c = await pki.expired({ cn: "old" });
    const { cert } = await writeTestCertificate(dir, "old", c);
    const r = await mtlskit(["cert", "needs-renewal", cert]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/: expired on \S+Z \((1 day|\d+ days) ago\): renew now\n$/); // issue 10: never "1 days"
  });

  it("a chain: the first certificate (the leaf) is the one checked", async () => {
    // The test intermediate lives 48 hours: inside any 30-day window. The leaf is fresh.
    const leaf = await pki.issue({ cn: "leaf", notAfter: new Date(Date.now() + 200 * DAY) });
    const { chain } = await writeTestCertificate(dir, "leaf", leaf);
    const r = await mtlskit(["cert", "needs-renewal", chain]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(": fresh: ");
    const reversed = path.join(dir, "reversed.pem");
    writeFileSync(reversed, pki.intermediate.certPem + leaf.certPem);
    expect((await mtlskit(["cert", "needs-renewal", reversed])).code).toBe(1);
  });

  it("--json: one document with the verdict, exit code as without it", async () => {
    const file = await certFile("json", 300, 10);
    const r = await mtlskit(["cert", "needs-renewal", file, "--within", "15d", "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, file, subject: "CN=json", due: true, expired: false, daysLeft: 10, window: { days: 15 } });
  });

  it("bad input: exit 2 with a coded one-line reason", async () => {
    const file = await certFile("bad", 1, 100);
    const window = await mtlskit(["cert", "needs-renewal", file, "--within", "soon"]);
    expect(window.code).toBe(2);
    expect(window.stderr).toMatch(/^error \[VALIDITY_INVALID\]: 'soon' is not a renewal window\n {2}hint: /);
    const missing = await mtlskit(["cert", "needs-renewal", path.join(dir, "missing.crt")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error \[FILE_NOT_FOUND\]: /);
    const key = (await writeTestCertificate(dir, "keyonly", await pki.issue({ cn: "k" }))).key;
    const notCert = await mtlskit(["cert", "needs-renewal", key]);
    expect(notCert.code).toBe(2);
    expect(notCert.stderr).toMatch(/^error \[CERTIFICATE_EXPECTED\]: /);
    expect((await mtlskit(["cert", "needs-renewal"])).code).toBe(2);
  });
});
