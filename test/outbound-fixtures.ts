/**
 * Test support for the outbound scenarios (test/outbound-*.test.ts): a Thales side on
 * loopback made of the emulator's API endpoint and DNS stand-in, with a throwaway PKI named
 * like Thales's, and the customer's files in a temporary folder. Imported by tests only.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { promises as fs } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { TLSSocket } from "node:tls";
import { ReloadableCredentials, type CredentialFiles } from "../src/credentials/index.js";
import { createThalesDispatcher, type ThalesDispatcher, type ThalesDispatcherOptions } from "../src/client/index.js";
import { startApiServer, type ApiServer, type HandshakeLogEntry } from "../src/emulator/api-server.js";
import { startDnsStandIn, type DnsStandIn } from "../src/emulator/dns/dns-server.js";
import { emulatorHost } from "../src/emulator/hosts.js";
import { d1, getEnvironment, mt, type EnvironmentPolicy, type ProgramPolicy } from "../src/policy/index.js";
import { createTestPki, type TestCertificate, type TestPki } from "../src/testing/index.js";
import { freePort } from "./support/net.js";

export const CUSTOMER_ID = "123456";
export const MT_CN = "MT-123456-SBX";
export const D1_CN = "TLSMA-ECDSA/123456/D1.PPR";

/** A Thales side and a customer, wired on loopback. */
export interface World {
  program: ProgramPolicy;
  environment: EnvironmentPolicy;
  /** The environment's `.test` host name, answered by the DNS stand-in. */
  host: string;
  origin: string;
  /** MT: the environment's base path; D1: the emulator's resource path. */
  basePath: string;
  serverPki: TestPki;
  /** D1: the Business PKI CA of the environment. */
  businessPki: TestPki | undefined;
  client: TestCertificate;
  /** The endpoint's certificate (for more servers of the same name). */
  serverLeaf: TestCertificate;
  dir: string;
  files: CredentialFiles;
  credentials: ReloadableCredentials;
  api: ApiServer;
  dns: DnsStandIn;
  handshakes: HandshakeLogEntry[];
  /** D1: the OAuth key registered with the emulator. */
  oauth: { kid: string; privateKey: KeyObject; publicKey: KeyObject } | undefined;
  /** A dispatcher on this world's credentials and resolver (closed by `close()`). */
  dispatcher(options?: Partial<ThalesDispatcherOptions>): ThalesDispatcher;
  /** Writes a client certificate (and key) as the customer's files. */
  writeClient(c: TestCertificate): Promise<void>;
  close(): Promise<void>;
}

export interface WorldOptions {
  /** TTL of the host's A record. Default 30. */
  ttlSeconds?: number;
  /** Loopback address of the API endpoint. Default 127.0.0.1. */
  address?: string;
  port?: number;
}

/** The server chain of the program, named like the real one (the policy's trust rule holds). */
export function thalesServerPki(program: ProgramPolicy): Promise<TestPki> {
  return program.id === "mt"
    ? createTestPki({ rootCn: "DigiCert High Assurance EV Root CA (test)", intermediateCn: "DigiCert SHA2 High Assurance Server CA" })
    : createTestPki({ rootCn: "Amazon Root CA 1", intermediateCn: "Amazon RSA 2048 M02" });
}

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(tmpdir(), `mtlskit-${prefix}-`));
}

export async function startWorld(programId: "d1" | "mt", options: WorldOptions = {}): Promise<World> {
  const program = programId === "d1" ? d1 : mt;
  const environment = getEnvironment(program, programId === "d1" ? "preprod" : "sandbox");
  const host = emulatorHost(environment);
  const serverPki = await thalesServerPki(program);
  const serverLeaf = await serverPki.issue({ cn: host, usage: "server", dns: [host], ip: [] });
  const businessPki = programId === "d1" ? await createTestPki({ rootCn: "Thales Business PKI Root", intermediateCn: "Thales Business PKI CA PPR" }) : undefined;
  const client = businessPki ? await businessPki.issue({ cn: D1_CN }) : await serverPki.selfSigned({ cn: MT_CN });
  const dir = await tempDir(`outbound-${programId}`);
  const files: CredentialFiles = { certFile: path.join(dir, "client.crt"), keyFile: path.join(dir, "client.key"), caFile: path.join(dir, "thales-server-trust.pem") };
  await fs.writeFile(files.caFile!, serverPki.caBundlePem);
  const writeClient = async (c: TestCertificate): Promise<void> => {
    await fs.writeFile(files.keyFile, c.keyPem, { mode: 0o600 });
    await fs.writeFile(files.certFile, c.chainPem);
  };
  await writeClient(client);
  const credentials = await ReloadableCredentials.load(files);

  let oauth: World["oauth"];
  if (programId === "d1") {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    oauth = { kid: "key-1", privateKey, publicKey };
  }
  const handshakes: HandshakeLogEntry[] = [];
  const api = await startApiServer({
    program,
    environment,
    host: options.address ?? "127.0.0.1",
    port: options.port ?? 0,
    credential: { chainPem: serverLeaf.chainPem, keyPem: serverLeaf.keyPem },
    clientTrust: businessPki ? { kind: "ca", caPem: businessPki.caBundlePem } : { kind: "pinned", certificatesPem: [client.certPem] },
    ...(oauth ? { oauthKey: (gw: string, kid: string) => (gw === CUSTOMER_ID && kid === oauth!.kid ? oauth!.publicKey : undefined) } : {}),
    onHandshake: (e) => handshakes.push(e),
  });
  const dns = await startDnsStandIn({ records: [{ name: host, address: options.address ?? "127.0.0.1", ttlSeconds: options.ttlSeconds ?? 30 }] });
  const origin = `https://${host}:${api.port}`;
  const basePath = programId === "mt" ? new URL(environment.baseUrl!).pathname : "/d1/v1/";
  const dispatchers: ThalesDispatcher[] = [];
  return {
    program,
    environment,
    host,
    origin,
    basePath,
    serverPki,
    businessPki,
    client,
    serverLeaf,
    dir,
    files,
    credentials,
    api,
    dns,
    handshakes,
    oauth,
    writeClient,
    dispatcher(o = {}) {
      const d = createThalesDispatcher({
        program,
        credentials,
        dns: { servers: [dns.server] },
        ...(oauth ? { oauth: { apiOrigin: origin, tokenUrl: `${origin}${new URL(environment.authzUrl!).pathname}/oauth2/token`, issuer: CUSTOMER_ID, kid: oauth.kid, privateKey: oauth.privateKey } } : {}),
        ...o,
      });
      dispatchers.push(d);
      return d;
    },
    async close() {
      await Promise.all(dispatchers.map((d) => d.destroy().catch(() => undefined)));
      await api.close();
      await dns.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** A plain mTLS HTTPS server for scenarios the emulator does not play (status codes, counting, addresses). */
export interface PlainServer {
  port: number;
  address: string;
  /** Full handshakes and resumed ones, as the server saw them. */
  handshakes: { full: number; resumed: number };
  /** Requests served, with the client certificate's CN and fingerprint. */
  requests: Array<{ method: string; path: string; clientCn: string | undefined; fingerprint: string | undefined; correlationId: string | undefined; at: number }>;
  /** Connections open now. */
  openConnections(): Promise<number>;
  close(): Promise<void>;
}

export async function startPlainServer(options: {
  server: TestCertificate;
  clientCaPem: string;
  address?: string;
  port?: number;
  /** Wait this long before answering (to keep requests in flight). */
  delayMs?: number;
  handler?: (req: import("node:http").IncomingMessage & { socket: TLSSocket }, res: import("node:http").ServerResponse) => void;
}): Promise<PlainServer> {
  const handshakes = { full: 0, resumed: 0 };
  const requests: PlainServer["requests"] = [];
  const server = https.createServer(
    { cert: options.server.chainPem, key: options.server.keyPem, ca: options.clientCaPem, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2" },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      const peer = socket.getPeerCertificate();
      const cn = peer?.subject?.CN;
      const fingerprint = peer?.fingerprint256;
      const correlationId = req.headers["x-correlation-id"];
      requests.push({ method: req.method ?? "", path: req.url ?? "", clientCn: Array.isArray(cn) ? cn[0] : cn, fingerprint, correlationId: Array.isArray(correlationId) ? correlationId[0] : correlationId, at: Date.now() });
      req.resume();
      req.on("end", () => {
        if (options.handler) return options.handler(req as import("node:http").IncomingMessage & { socket: TLSSocket }, res);
        const reply = () => {
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify({ server: socket.localAddress, clientCn: cn, fingerprint }));
        };
        if (options.delayMs) setTimeout(reply, options.delayMs);
        else reply();
      });
    },
  );
  server.keepAliveTimeout = 30_000;
  server.on("secureConnection", (s: TLSSocket) => {
    if (s.isSessionReused()) handshakes.resumed += 1;
    else handshakes.full += 1;
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.address ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    address: options.address ?? "127.0.0.1",
    handshakes,
    requests,
    openConnections: () => new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n))),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Reads an undici body as JSON. */
export async function json<T = Record<string, unknown>>(body: { text(): Promise<string> }): Promise<T> {
  return JSON.parse(await body.text()) as T;
}

/** `openssl s_server` with the given certificate and extra arguments, once it accepts connections. */
export async function startOpensslServer(dir: string, server: TestCertificate, extra: string[]): Promise<{ port: number; output: () => string; close(): Promise<void> }> {
  const { spawn } = await import("node:child_process");
  const cert = path.join(dir, `s_server-${Date.now()}.crt`);
  const key = path.join(dir, `s_server-${Date.now()}.key`);
  await fs.writeFile(cert, server.chainPem);
  await fs.writeFile(key, server.keyPem, { mode: 0o600 });
  const port = await freePort();
  const child = spawn("openssl", ["s_server", "-accept", `127.0.0.1:${port}`, "-cert", cert, "-key", key, "-www", "-quiet", ...extra], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
  const net = await import("node:net");
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`openssl s_server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    output: () => out,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** A workspace with one profile on this world: the world's client files, trust, host, resolver (and D1 OAuth key). */
export async function worldWorkspace(world: World, options: { name?: string; apiHost?: string; dnsServers?: string[]; kid?: string; withOAuthKey?: boolean } = {}): Promise<{ dir: string; name: string; profile: import("../src/store/index.js").Profile }> {
  const { addProfile, openProfile, writeWorkspace } = await import("../src/store/index.js");
  const dir = path.join(world.dir, `ws-${Math.random().toString(36).slice(2, 8)}`);
  const name = options.name ?? `${world.program.id}-test`;
  const profile = await addProfile(dir, name, { program: world.program.id, environment: world.environment.id, customerId: CUSTOMER_ID, ...(world.program.id === "mt" ? { cn: MT_CN } : {}) });
  const p = profile.paths;
  await fs.mkdir(p.assets.dir, { recursive: true });
  await fs.writeFile(p.client.key, world.client.keyPem, { mode: 0o600 });
  await fs.writeFile(p.client.cert, world.client.certPem);
  if (world.client.chainPem !== world.client.certPem) await fs.writeFile(p.client.chain, world.client.chainPem.slice(world.client.certPem.length));
  await fs.writeFile(p.assets.serverTrust, world.serverPki.caBundlePem);
  const apiHost = options.apiHost ?? `${world.host}:${world.api.port}`;
  await writeWorkspace(dir, async (txn) => {
    txn.set(["profiles", name, "thales", "apiHost"], apiHost);
    if (world.program.id === "d1") txn.set(["profiles", name, "thales", "authzUrl"], `https://${apiHost}/authz/v1`);
    txn.set(["profiles", name, "dns", "servers"], options.dnsServers ?? [world.dns.server]);
    if (world.oauth && options.withOAuthKey !== false) {
      await fs.mkdir(p.oauth.dir, { recursive: true });
      await fs.writeFile(p.oauth.key, world.oauth.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), { mode: 0o600 });
      txn.set(["profiles", name, "oauth", "kid"], options.kid ?? world.oauth.kid);
    }
  });
  return { dir, name, profile: await openProfile(dir, name) };
}
