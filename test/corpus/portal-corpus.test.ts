/**
 * The bad input corpus against the emulator's portal (docs/architecture.md, "The emulator's face"): raw
 * HTTP/1.1 requests, oversized, malformed, smuggling, hostile JSON and PEM. Every answer is a
 * 4xx with `{ errors: [{ code, message }] }` (never a 5xx, never a hang), the portal reports no
 * internal error, and it still answers afterwards.
 */
import { promises as fs } from "node:fs";
import { connect } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DEFAULT_MAX_BODY_BYTES } from "../../src/emulator/portal.js";
import { startEmulator, type Emulator } from "../../src/emulator/index.js";
import { toPem } from "../../src/pki/index.js";
import { buildMaterials, flipBit, hostileHttpRequests, type HttpInput } from "./corpus.js";
import { exchange } from "./http-exchange.js";

/** Longest an exchange may take: the portal answers bad input at once (its own timeouts are 15-30 s). */
const EXCHANGE_MS = 10_000;

let emu: Emulator;
let dir: string;
let port: number;
const errorLog = vi.spyOn(console, "error");

const m = await buildMaterials();
const inputs = hostileHttpRequests(
  {
    csrPem: m.csrPem,
    certPem: m.certPem,
    keyPem: m.keyPem,
    badSignatureCsrPem: toPem("CERTIFICATE REQUEST", flipBit(m.csrDer, (m.csrDer.length - 3) * 8)),
  },
  DEFAULT_MAX_BODY_BYTES,
);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-corpus-portal-"));
  emu = await startEmulator({ dir: path.join(dir, "state") });
  port = Number(new URL(emu.portalUrl).port);
});

afterAll(async () => {
  await emu?.close();
  errorLog.mockRestore();
  await fs.rm(dir, { recursive: true, force: true });
});

function send(request: Buffer) {
  return exchange(() => connect({ host: "127.0.0.1", port }), request, EXCHANGE_MS);
}

/** The portal is up and answers a sound request. */
async function expectAlive(): Promise<void> {
  const a = await send(Buffer.from("GET /v1/d1/preprod/deliveries HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n"));
  expect(a.status, a.body).toBe(200);
}

describe("hostile HTTP requests to the portal: a 4xx JSON answer, no internal error, still up", () => {
  it("the harness: a sound request answers 200", async () => {
    await expectAlive();
  });

  it.each(inputs)("$name: $why", async (input: HttpInput) => {
    errorLog.mockClear();
    const a = await send(input.request);
    const why = `${input.name}: answered ${a.status} ${JSON.stringify(a.headers)}\n${a.body.slice(0, 600)}`;
    expect(a.status, why).toBeGreaterThanOrEqual(400);
    expect(a.status, why).toBeLessThan(500);
    expect(input.statuses, why).toContain(a.status);
    const doc = JSON.parse(a.body) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    expect(Array.isArray(doc.errors) && doc.errors.length > 0, why).toBe(true);
    for (const e of doc.errors ?? []) {
      expect(typeof e.code === "string" && /^[A-Z][A-Z0-9_]*$/.test(e.code), why).toBe(true);
      expect(typeof e.message === "string" && e.message.length > 0, why).toBe(true);
      // A message never echoes a private key or raw control characters back.
      expect(String(e.message), why).not.toMatch(/PRIVATE KEY/);
    }
    if (input.code) expect((doc.errors ?? []).map((e) => e.code), why).toContain(input.code);
    expect(errorLog, `the portal logged an internal error for ${input.name}`).not.toHaveBeenCalled();
    await expectAlive();
  });

  it("after the whole corpus, the portal still serves every route it served", async () => {
    await expectAlive();
    const a = await send(Buffer.from("GET /v1/mt/sandbox/handshakes HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n"));
    expect(a.status).toBe(200);
  });
});
