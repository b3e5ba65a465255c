import { spawn, type ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import * as dns from "node:dns";
import type { IncomingMessage, ServerResponse } from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { requireTool } from "../../test/support/tools.js";
import { isMtlsError } from "../errors/index.js";
import type { ProgramId } from "../policy/index.js";
import { createTestPki, writeTestCertificate, type TestCertificate, type TestPki } from "../testing/index.js";
import { MAX_DELIVERY_LOG, MAX_ENQUEUE_COUNT, startNotifier, type ClientCredential, type Delivery, type NotificationTarget, type Notifier, type NotifierOptions } from "./notifier.js";

const CORRELATION_ID = /^[A-Za-z0-9_-]{1,64}$/;
const HOST = "notify.customer.test";

/** Resolves every `.test` name to 127.0.0.1, the rest as usual: ISSUER_HOST is always a name. */
const lookup: net.LookupFunction = (hostname, options, callback) => {
  if (!hostname.endsWith(".test")) return dns.lookup(hostname, options, callback);
  if (options.all) callback(null, [{ address: "127.0.0.1", family: 4 }]);
  else callback(null, "127.0.0.1", 4);
};

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
  clientCn: string | undefined;
  clientSerial: string;
}

interface Receiver {
  port: number;
  received: Received[];
  close(): Promise<void>;
}

type Respond = (req: Received, n: number) => { status: number; headers?: Record<string, string> } | "hang";

let clientPki: TestPki;
let serverPki: TestPki;
let otherPki: TestPki;
let server: TestCertificate;
let credential: ClientCredential;
let tmp: string;
const targets = new Map<string, NotificationTarget>();
const notifiers: Notifier[] = [];
const receivers: Receiver[] = [];

function credentialOf(c: TestCertificate): ClientCredential {
  return { certPem: c.certPem, keyPem: c.keyPem, chainPem: c.chainPem };
}

function register(program: ProgramId, environment: string, customerId: string, target: NotificationTarget): void {
  targets.set(`${program}/${environment}/${customerId}`, target);
}

/** An mTLS receiver as a customer would run it: trusts the Thales Client CA hierarchy, not the leaf. */
async function startReceiver(cert: TestCertificate, respond: Respond = () => ({ status: 204 }), port = 0): Promise<Receiver> {
  const received: Received[] = [];
  const srv = https.createServer(
    { key: cert.keyPem, cert: cert.chainPem, ca: clientPki.root.certPem, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2" },
    (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        const r: Received = {
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>,
          clientCn: [peer.subject?.CN].flat()[0],
          clientSerial: peer.serialNumber,
        };
        received.push(r);
        const answer = respond(r, received.length);
        if (answer === "hang") return;
        res.writeHead(answer.status, answer.headers ?? {});
        res.end(answer.status === 204 ? undefined : "{}");
      });
    },
  );
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => resolve());
  });
  const receiver: Receiver = {
    port: (srv.address() as net.AddressInfo).port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  };
  receivers.push(receiver);
  return receiver;
}

async function open(options: Partial<NotifierOptions> = {}): Promise<Notifier> {
  const n = await startNotifier({
    stateFile: path.join(tmp, `state-${Math.random().toString(36).slice(2)}.json`),
    clientCredential: () => credential,
    target: (program, environment, customerId) => targets.get(`${program}/${environment}/${customerId}`),
    lookup,
    backoff: { initialMs: 20, maxMs: 200, jitter: 0.2, maxAttempts: 4 },
    requestTimeoutMs: 5_000,
    ...options,
  });
  notifiers.push(n);
  return n;
}

function only(n: Notifier, id: string): Delivery {
  const d = n.deliveries().find((x) => x.id === id);
  if (!d) throw new Error(`no delivery ${id}`);
  return d;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", () => resolve()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function usageError(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isMtlsError(e) ? e.code : String(e);
  }
  return undefined;
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-notifier-"));
  clientPki = await createTestPki({ rootCn: "Thales Test Root CA", intermediateCn: "Thales Client CA" });
  serverPki = await createTestPki({ rootCn: "Customer Root CA", intermediateCn: "Customer Server CA" });
  otherPki = await createTestPki({ rootCn: "Other Root CA", intermediateCn: "Other Server CA" });
  credential = credentialOf(await clientPki.issue({ cn: "Thales Notifier 1", usage: "client" }));
  server = await serverPki.issue({ cn: HOST, usage: "server", dns: [HOST, "localhost"] });
});

afterEach(async () => {
  await Promise.all(notifiers.splice(0).map((n) => n.close()));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
  targets.clear();
});

afterAll(async () => {
  await Promise.all(notifiers.splice(0).map((n) => n.close()));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

describe("notifier: delivery over mTLS", () => {
  it("sends a D1 notify-update with the correlation id and the emulator's client certificate", async () => {
    const rx = await startReceiver(server);
    // The registered chain is leaf + intermediate, without the root: pinned all the same.
    register("d1", "preprod", "gw-123", { issuerHost: `${HOST}:${rx.port}`, serverChainPem: server.chainPem });
    const n = await open();
    const [id] = n.enqueue("d1", "preprod", "gw-123", 1);
    await n.idle(10_000);

    const d = only(n, id!);
    expect(d).toMatchObject({ state: "delivered", program: "d1", environment: "preprod", customerId: "gw-123", method: "POST" });
    expect(d.attempts).toHaveLength(1);
    expect(d.attempts[0]!.status).toBe(204);
    expect(d.correlationId).toMatch(CORRELATION_ID);
    expect(d.url).toMatch(new RegExp(`^https://${HOST.replace(/\./g, "\\.")}:${rx.port}/merchant-gateways/gw-123/merchants/[^/]+/tokens/[^/]+/notify-update$`));
    expect(d.deliveredAt).toBeDefined();
    expect(d.nextAttemptAt).toBeUndefined();

    expect(rx.received).toHaveLength(1);
    const r = rx.received[0]!;
    expect(r.method).toBe("POST");
    expect(`https://${HOST}:${rx.port}${r.url}`).toBe(d.url);
    expect(r.headers["x-correlation-id"]).toBe(d.correlationId);
    expect(r.headers["content-type"]).toBe("application/json");
    expect(r.headers.authorization).toBeUndefined();
    expect(r.headers.host).toBe(`${HOST}:${rx.port}`);
    expect(r.clientCn).toBe("Thales Notifier 1");
    expect(r.body).toMatchObject({ notificationId: id, merchantGatewayId: "gw-123" });
    expect(r.url).toContain(`/merchants/${String(r.body.merchantId)}/tokens/${String(r.body.tokenId)}/`);
  });

  it("sends an MT notify-merchant-update with the API key", async () => {
    const rx = await startReceiver(server);
    register("mt", "sandbox", "cust-1", { issuerHost: `${HOST}:${rx.port}`, serverChainPem: server.chainPem, apiKey: "k3y-Secret_1" });
    const n = await open();
    const ids = n.enqueue("mt", "sandbox", "cust-1", 3);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
    await n.idle(10_000);

    expect(rx.received).toHaveLength(3);
    for (const r of rx.received) {
      expect(r.method).toBe("POST");
      expect(r.url).toBe("/tsh-cof/notify-merchant-update");
      expect(r.headers.authorization).toBe("APIKEY k3y-Secret_1");
      expect(r.headers["x-correlation-id"]).toMatch(CORRELATION_ID);
      expect(r.headers["content-type"]).toBe("application/json");
      expect(r.clientCn).toBe("Thales Notifier 1");
    }
    expect(new Set(rx.received.map((r) => r.headers["x-correlation-id"])).size).toBe(3);
    expect(n.deliveries({ program: "mt" }).map((d) => d.state)).toEqual(["delivered", "delivered", "delivered"]);
    expect(n.deliveries({ program: "d1" })).toEqual([]);
    expect(n.deliveries({ environment: "production" })).toEqual([]);
  });

  it("uses a rotated client certificate for the next notification (the receiver trusts the CA, not the leaf)", async () => {
    const rx = await startReceiver(server);
    register("d1", "production", "gw-9", { issuerHost: `${HOST}:${rx.port}`, serverChainPem: server.chainPem });
    const n = await open();
    n.enqueue("d1", "production", "gw-9", 1);
    await n.idle(10_000);
    const before = credential;
    try {
      credential = credentialOf(await clientPki.issue({ cn: "Thales Notifier 2", usage: "client" }));
      n.enqueue("d1", "production", "gw-9", 1);
      await n.idle(10_000);
    } finally {
      credential = before;
    }
    expect(rx.received.map((r) => r.clientCn)).toEqual(["Thales Notifier 1", "Thales Notifier 2"]);
    expect(rx.received[0]!.clientSerial).not.toBe(rx.received[1]!.clientSerial);
    expect(n.deliveries().every((d) => d.state === "delivered")).toBe(true);
  });

  it("accepts a registration of a lone leaf and one of the CA chain only", async () => {
    const rx = await startReceiver(server);
    register("d1", "preprod", "leaf-only", { issuerHost: `${HOST}:${rx.port}`, serverChainPem: server.certPem });
    register("d1", "preprod", "ca-only", { issuerHost: `${HOST}:${rx.port}`, serverChainPem: serverPki.caBundlePem });
    const n = await open();
    n.enqueue("d1", "preprod", "leaf-only", 1);
    n.enqueue("d1", "preprod", "ca-only", 1);
    await n.idle(10_000);
    expect(n.deliveries().map((d) => d.state)).toEqual(["delivered", "delivered"]);
    expect(rx.received).toHaveLength(2);
  });
});

describe.skipIf(!requireTool("openssl"))("notifier against openssl s_server", () => {
  let proc: ChildProcess | undefined;
  afterAll(() => {
    proc?.kill();
  });

  // `s_server -www` answers GET only (OpenSSL 3.0 leaves a POST unanswered), so s_server runs
  // interactively: it prints what it receives and sends what it reads on stdin, and the test
  // plays the HTTP side by hand once the notification has arrived.
  it("is accepted by `openssl s_server -Verify 1` trusting only the Thales client CA hierarchy", async () => {
    const dir = path.join(tmp, "s_server");
    const files = await writeTestCertificate(dir, "server", server);
    const caFile = path.join(dir, "client-ca.pem");
    await fs.writeFile(caFile, clientPki.root.certPem);
    const port = await freePort();
    proc = spawn(
      "openssl",
      ["s_server", "-accept", `127.0.0.1:${port}`, "-cert", files.cert, "-key", files.key, "-cert_chain", files.chain, "-CAfile", caFile, "-Verify", "1", "-verify_return_error"],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let out = "";
    proc.stdout?.on("data", (b: Buffer) => (out += b.toString()));
    proc.stderr?.on("data", (b: Buffer) => (out += b.toString()));
    const waitFor = async (text: string): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!out.includes(text)) {
        if (Date.now() > deadline) throw new Error(`openssl s_server never printed ${JSON.stringify(text)}:\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await waitFor("ACCEPT");
    register("mt", "production", "cust-ossl", { issuerHost: `${HOST}:${port}`, serverChainPem: server.chainPem, apiKey: "abc" });
    const n = await open({ backoff: { maxAttempts: 1 } });
    const [id] = n.enqueue("mt", "production", "cust-ossl", 1);
    await waitFor(`"notificationId":"${id!}"`);
    proc.stdin?.write("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    await n.idle(10_000);

    const d = only(n, id!);
    expect(d.state).toBe("delivered");
    expect(d.attempts.map((a) => a.status)).toEqual([204]);
    expect(out).toMatch(/depth=0 CN = Thales Notifier 1\r?\nverify return:1/);
    expect(out).toContain("POST /tsh-cof/notify-merchant-update HTTP/1.1");
    expect(out).toMatch(/authorization: APIKEY abc/i);
    expect(out).toContain(`x-correlation-id: ${d.correlationId}`);
  });
});

describe("notifier: retries", () => {
  it("retries 503 with backoff and delivers on the third attempt, same correlation id each time", async () => {
    const rx = await startReceiver(server, (_r, k) => ({ status: k <= 2 ? 503 : 204 }));
    register("d1", "preprod", "gw-503", { issuerHost: `${HOST}:${rx.port}`, serverChainPem: server.chainPem });
    const n = await open();
    const [id] = n.enqueue("d1", "preprod", "gw-503", 1);
    await n.idle(10_000);
    const d = only(n, id!);
    expect(d.state).toBe("delivered");
    expect(d.attempts.map((a) => a.status)).toEqual([503, 503, 204]);
    expect(rx.received).toHaveLength(3);
    expect(new Set(rx.received.map((r) => r.headers["x-correlation-id"]))).toEqual(new Set([d.correlationId]));
    expect(new Set(rx.received.map((r) => r.url)).size).toBe(1);
    // exponential backoff: at least initialMs * (1 - jitter) between the attempts
    const t = d.attempts.map((a) => Date.parse(a.at));
    expect(t[1]! - t[0]!).toBeGreaterThanOrEqual(15);
    expect(t[2]! - t[1]!).toBeGreaterThanOrEqual(30);
  });

  it("retries 429 at once when Retry-After is 0, and caps a long Retry-After at maxMs", async () => {
    const rx = await startReceiver(server, (r, k) => {
      const longWait = r.url.includes("/gw-long/");
      if (k <= 2) return { status: 429, headers: { "retry-after": longWait ? "3600" : "0" } };
      return { status: 200 };
    });
    register("d1", "preprod", "gw-429", { issuerHost: `${HOST}:${rx.port}`, serverChainPem: server.chainPem });
    // A backoff this long would time idle() out: only Retry-After: 0 makes it in time.
    const n = await open({ backoff: { initialMs: 20_000, maxMs: 60_000, maxAttempts: 3 } });
    const [id] = n.enqueue("d1", "preprod", "gw-429", 1);
    await n.idle(5_000);
    expect(only(n, id!).attempts.map((a) => a.status)).toEqual([429, 429, 200]);

    rx.received.length = 0;
    register("d1", "preprod", "gw-long", { issuerHost: `${HOST}:${rx.port}`, serverChainPem: server.chainPem });
    const capped = await open({ backoff: { initialMs: 20, maxMs: 100, maxAttempts: 3 } });
    const [id2] = capped.enqueue("d1", "preprod", "gw-long", 1);
    await capped.idle(5_000);
    expect(only(capped, id2!).attempts.map((a) => a.status)).toEqual([429, 429, 200]);
  });

  it.each([400, 401, 404, 500])("does not retry %i", async (status) => {
    const rx = await startReceiver(server, () => ({ status }));
    register("d1", "preprod", `gw-${status}`, { issuerHost: `${HOST}:${rx.port}`, serverChainPem: server.chainPem });
    const n = await open();
    const [id] = n.enqueue("d1", "preprod", `gw-${status}`, 1);
    await n.idle(10_000);
    const d = only(n, id!);
    expect(d.state).toBe("failed");
    expect(d.attempts).toHaveLength(1);
    expect(d.attempts[0]!.status).toBe(status);
    expect(rx.received).toHaveLength(1);
  });

  it("gives up after maxAttempts on 503 and records every attempt", async () => {
    const rx = await startReceiver(server, () => ({ status: 503 }));
    register("mt", "sandbox", "always-503", { issuerHost: `${HOST}:${rx.port}`, serverChainPem: server.chainPem, apiKey: "k" });
    const n = await open({ backoff: { initialMs: 10, maxMs: 40, maxAttempts: 3 } });
    const [id] = n.enqueue("mt", "sandbox", "always-503", 1);
    await n.idle(10_000);
    const d = only(n, id!);
    expect(d.state).toBe("failed");
    expect(d.attempts.map((a) => a.status)).toEqual([503, 503, 503]);
    expect(rx.received).toHaveLength(3);
  });

  it("times out an attempt that gets no answer and retries it", async () => {
    const rx = await startReceiver(server, () => "hang");
    register("d1", "preprod", "gw-slow", { issuerHost: `${HOST}:${rx.port}`, serverChainPem: server.chainPem });
    const n = await open({ requestTimeoutMs: 200, backoff: { initialMs: 10, maxAttempts: 2 } });
    const [id] = n.enqueue("d1", "preprod", "gw-slow", 1);
    await n.idle(10_000);
    const d = only(n, id!);
    expect(d.state).toBe("failed");
    expect(d.attempts).toHaveLength(2);
    for (const a of d.attempts) expect(a.error).toMatch(/timeout/i);
    expect(rx.received).toHaveLength(2);
  });
});

describe("notifier: pinning the customer's server", () => {
  it("refuses a server certificate from the same CA that the customer did not register", async () => {
    const impostor = await serverPki.issue({ cn: HOST, usage: "server", dns: [HOST] });
    const rx = await startReceiver(impostor);
    register("d1", "preprod", "gw-pin", { issuerHost: `${HOST}:${rx.port}`, serverChainPem: server.chainPem });
    const n = await open({ backoff: { initialMs: 10, maxAttempts: 2 } });
    const [id] = n.enqueue("d1", "preprod", "gw-pin", 1);
    await n.idle(10_000);
    const d = only(n, id!);
    expect(d.state).toBe("failed");
    expect(d.attempts).toHaveLength(2);
    for (const a of d.attempts) {
      expect(a.status).toBeUndefined();
      expect(a.error).toMatch(/pinning: .* is not one the customer registered/);
    }
    expect(rx.received).toHaveLength(0);
  });

  it("refuses a server whose chain does not reach the registered chain", async () => {
    const foreign = await otherPki.issue({ cn: HOST, usage: "server", dns: [HOST] });
    const rx = await startReceiver(foreign);
    register("mt", "sandbox", "cust-foreign", { issuerHost: `${HOST}:${rx.port}`, serverChainPem: server.chainPem, apiKey: "k" });
    const n = await open({ backoff: { initialMs: 10, maxAttempts: 2 } });
    const [id] = n.enqueue("mt", "sandbox", "cust-foreign", 1);
    await n.idle(10_000);
    const d = only(n, id!);
    expect(d.state).toBe("failed");
    for (const a of d.attempts) expect(a.error).toMatch(/UNABLE_TO_GET_ISSUER_CERT|unable to get (local )?issuer certificate/i);
    expect(rx.received).toHaveLength(0);
  });

  it("refuses a registered certificate whose names do not match ISSUER_HOST", async () => {
    const elsewhere = await serverPki.issue({ cn: "elsewhere.test", usage: "server", dns: ["elsewhere.test"] });
    const rx = await startReceiver(elsewhere);
    register("d1", "preprod", "gw-name", { issuerHost: `${HOST}:${rx.port}`, serverChainPem: elsewhere.chainPem });
    const n = await open({ backoff: { initialMs: 10, maxAttempts: 2 } });
    const [id] = n.enqueue("d1", "preprod", "gw-name", 1);
    await n.idle(10_000);
    const d = only(n, id!);
    expect(d.state).toBe("failed");
    for (const a of d.attempts) expect(a.error).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    expect(rx.received).toHaveLength(0);
  });

  it("fails at once when the customer is no longer registered at attempt time", async () => {
    const rx = await startReceiver(server);
    const registered: NotificationTarget = { issuerHost: `${HOST}:${rx.port}`, serverChainPem: server.chainPem };
    let calls = 0;
    // The receiver is up, but the registration is gone after enqueue() has checked it.
    const n = await open({ target: () => (calls++ === 0 ? registered : undefined), backoff: { initialMs: 100, maxAttempts: 3 } });
    const [id] = n.enqueue("d1", "preprod", "gw-gone", 1);
    await n.idle(10_000);
    const d = only(n, id!);
    expect(d.state).toBe("failed");
    expect(d.attempts).toHaveLength(1);
    expect(d.attempts[0]!.error).toMatch(/no longer registered/);
    expect(rx.received).toHaveLength(0);
  });
});

describe("notifier: state", () => {
  it("resumes pending notifications after a restart and delivers them exactly once", async () => {
    const port = await freePort();
    const stateFile = path.join(tmp, "restart", "notifier.json");
    register("mt", "production", "cust-r", { issuerHost: `${HOST}:${port}`, serverChainPem: server.chainPem, apiKey: "k" });
    const backoff = { initialMs: 20, maxMs: 100, maxAttempts: 100 };
    const first = await open({ stateFile, backoff });
    const [id] = first.enqueue("mt", "production", "cust-r", 1);
    for (let i = 0; i < 200 && only(first, id!).attempts.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    const before = only(first, id!);
    expect(before.state).toBe("pending");
    expect(before.attempts.length).toBeGreaterThanOrEqual(2);
    expect(before.attempts[0]!.error).toMatch(/ECONNREFUSED/);
    await first.close();

    const saved = JSON.parse(await fs.readFile(stateFile, "utf8")) as { format: string; deliveries: Delivery[] };
    expect(saved.format).toBe("mtlskit-notifier/1");
    expect(saved.deliveries.map((d) => [d.id, d.state])).toEqual([[id, "pending"]]);
    expect((await fs.stat(stateFile)).mode & 0o777).toBe(0o600);
    const attemptsBefore = only(first, id!).attempts.length;

    const rx = await startReceiver(server, undefined, port);
    const second = await open({ stateFile, backoff });
    await second.idle(10_000);
    const d = only(second, id!);
    expect(d.state).toBe("delivered");
    expect(d.correlationId).toBe(before.correlationId);
    expect(d.attempts.length).toBe(attemptsBefore + 1);
    expect(d.attempts.at(-1)!.status).toBe(204);
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.received).toHaveLength(1);
    expect(rx.received[0]!.headers["x-correlation-id"]).toBe(before.correlationId);
    await second.close();

    const third = await open({ stateFile, backoff });
    expect(third.deliveries().map((x) => x.state)).toEqual(["delivered"]);
    await third.idle(1_000);
    expect(rx.received).toHaveLength(1);
  });

  it("keeps the newest finished deliveries and never drops a pending one", async () => {
    const rx = await startReceiver(server);
    register("d1", "preprod", "gw-log", { issuerHost: `${HOST}:${rx.port}`, serverChainPem: server.chainPem });
    const stateFile = path.join(tmp, "big-log.json");
    const at = new Date(Date.now() - 3_600_000).toISOString();
    const old = Array.from({ length: MAX_DELIVERY_LOG + 5 }, (_, i) => ({
      id: `ntf-old-${i}`,
      program: "d1",
      environment: "preprod",
      customerId: "gw-log",
      method: "POST",
      url: `https://${HOST}/x`,
      correlationId: `c${i}`,
      state: "failed",
      attempts: [{ at, status: 400, durationMs: 1 }],
      createdAt: at,
      path: "/x",
      body: {},
    }));
    await fs.writeFile(stateFile, JSON.stringify({ format: "mtlskit-notifier/1", deliveries: old }));
    const n = await open({ stateFile });
    expect(n.deliveries()).toHaveLength(MAX_DELIVERY_LOG + 5);
    const [id] = n.enqueue("d1", "preprod", "gw-log", 1);
    await n.idle(10_000);
    const log = n.deliveries();
    expect(log).toHaveLength(MAX_DELIVERY_LOG);
    expect(log[0]!.id).toBe("ntf-old-6");
    expect(log.at(-1)).toMatchObject({ id, state: "delivered" });
    await n.close();
    const saved = JSON.parse(await fs.readFile(stateFile, "utf8")) as { deliveries: Delivery[] };
    expect(saved.deliveries).toHaveLength(MAX_DELIVERY_LOG);
  });

  it("refuses a state file that is not a notifier state", async () => {
    const stateFile = path.join(tmp, "corrupt.json");
    await fs.writeFile(stateFile, "{ not json");
    await expect(startNotifier({ stateFile, clientCredential: () => credential, target: () => undefined })).rejects.toMatchObject({ code: "FILE_UNREADABLE" });
  });

  it("idle() rejects when deliveries stay pending past its time limit", async () => {
    const port = await freePort();
    register("d1", "preprod", "gw-down", { issuerHost: `${HOST}:${port}`, serverChainPem: server.chainPem });
    const n = await open({ backoff: { initialMs: 20, maxMs: 50, maxAttempts: 100 } });
    n.enqueue("d1", "preprod", "gw-down", 1);
    await expect(n.idle(150)).rejects.toMatchObject({ code: "TLS_CONNECT_FAILED" });
  });
});

describe("notifier: enqueue checks", () => {
  it("bounds the count and requires a registered customer with a DNS name (and an API key for MT)", async () => {
    const n = await open();
    register("d1", "preprod", "gw-ok", { issuerHost: HOST, serverChainPem: server.chainPem });
    register("d1", "preprod", "gw-ip", { issuerHost: "127.0.0.1:8443", serverChainPem: server.chainPem });
    register("d1", "preprod", "gw-ip6", { issuerHost: "[::1]:8443", serverChainPem: server.chainPem });
    register("mt", "sandbox", "no-key", { issuerHost: HOST, serverChainPem: server.chainPem });
    for (const count of [0, -1, 1.5, MAX_ENQUEUE_COUNT + 1, Number.NaN]) expect(usageError(() => n.enqueue("d1", "preprod", "gw-ok", count))).toBe("USAGE");
    expect(usageError(() => n.enqueue("d1", "preprod", "nobody", 1))).toBe("USAGE");
    expect(usageError(() => n.enqueue("d1", "preprod", "gw-ip", 1))).toBe("USAGE");
    expect(usageError(() => n.enqueue("d1", "preprod", "gw-ip6", 1))).toBe("USAGE");
    expect(usageError(() => n.enqueue("mt", "sandbox", "no-key", 1))).toBe("USAGE");
    expect(usageError(() => n.enqueue("d1", "sandbox", "gw-ok", 1))).toBe("UNKNOWN_ENVIRONMENT");
    expect(usageError(() => n.enqueue("d1", "preprod", "../x", 1))).toBe("GATEWAY_ID_INVALID");
    expect(usageError(() => n.enqueue("d1", "preprod", "..", 1))).toBe("GATEWAY_ID_INVALID");
    expect(n.deliveries()).toEqual([]);
  });

  it("refuses out-of-range options", async () => {
    const base = { stateFile: path.join(tmp, "opts.json"), clientCredential: () => credential, target: () => undefined };
    await expect(startNotifier({ ...base, backoff: { maxAttempts: 0 } })).rejects.toMatchObject({ code: "USAGE" });
    await expect(startNotifier({ ...base, backoff: { jitter: 2 } })).rejects.toMatchObject({ code: "USAGE" });
    await expect(startNotifier({ ...base, requestTimeoutMs: 0 })).rejects.toMatchObject({ code: "USAGE" });
  });
});
