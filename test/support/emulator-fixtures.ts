/**
 * Test-only helpers for tests that drive the emulator: its portal's JSON routes (as a customer
 * or a test calls them), the environments a portal started on its own serves, and an API
 * endpoint started on its own. Not exported by the library.
 */
import { startApiServer, type ApiServer, type ApiServerOptions, type HandshakeLogEntry } from "../../src/emulator/api-server.js";
import { emulatorHost } from "../../src/emulator/hosts.js";
import type { PortalEnvironment } from "../../src/emulator/portal.js";
import { d1, mt, type EnvironmentPolicy, type ProgramPolicy } from "../../src/policy/index.js";
import { createTestPki, type TestPki } from "../../src/testing/index.js";

/** What has a portal: an emulator, or a portal started alone. */
export interface HasPortal {
  readonly portalUrl: string;
}

/** What a portal route answered: its status and JSON body (`{}` when the body is not JSON). */
export interface PortalAnswer<T> {
  status: number;
  body: T;
}

function portalFetch(emu: HasPortal, method: string, route: string, body: unknown): Promise<Response> {
  return fetch(`${emu.portalUrl}${route}`, { method, ...(body !== undefined ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}) });
}

/** Calls a portal route (JSON in when `body` is given, JSON out), whatever it answers. */
export async function portalCall<T>(emu: HasPortal, method: string, route: string, body?: unknown): Promise<PortalAnswer<T>> {
  const res = await portalFetch(emu, method, route, body);
  return { status: res.status, body: (await res.json().catch(() => ({}))) as T };
}

/** Calls a portal route that must succeed; throws with the status and the answer otherwise. */
export async function portalOk<T>(emu: HasPortal, method: string, route: string, body?: unknown): Promise<T> {
  const res = await portalFetch(emu, method, route, body);
  const text = await res.text();
  if (res.status >= 300) throw new Error(`portal ${method} ${route}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** An asset bundle as the portal serves it: the folder it wrote, the manifest's assets, the PEM files by asset name. */
export interface PortalBundle {
  directory: string;
  assets: Record<string, string>;
  files: Record<string, string>;
}

/** The asset bundle of a program's environment for a customer (`GET .../assets?customerId=`). */
export function portalBundle(emu: HasPortal, program: string, environment: string, customerId: string): Promise<PortalBundle> {
  return portalOk<PortalBundle>(emu, "GET", `/v1/${program}/${environment}/assets?customerId=${customerId}`);
}

/**
 * Registers D1 preprod customer 123456 at the portal with this OAuth key, its issuer host
 * `notify.example.test` and a server chain of a throwaway PKI, as Thales's onboarding would.
 */
export async function registerD1Customer(emu: HasPortal, oauth: { kid: string; publicKeyPem: string }): Promise<PortalAnswer<unknown>> {
  const pki = await createTestPki({ rootCn: "Customer Root" });
  const server = await pki.issue({ usage: "server", dns: ["notify.example.test"], ip: [] });
  return portalCall(emu, "PUT", "/v1/d1/preprod/customers/123456", { issuerHost: "notify.example.test", serverChain: server.chainPem + pki.root.certPem, oauthPublicKey: oauth.publicKeyPem, kid: oauth.kid });
}

/**
 * Every D1 and MT environment, each on its emulated host and a fixed port of 127.0.0.1 (40100
 * and up for D1, 40110 and up for MT): what a portal started alone in a unit test serves. Nothing
 * listens on those ports; the portal only names them.
 */
export function portalTestEnvironments(): PortalEnvironment[] {
  return [d1, mt].flatMap((p) =>
    p.environments.map((e, i) => {
      const host = emulatorHost(e);
      const port = 40_100 + i + (p.id === "mt" ? 10 : 0);
      return {
        program: p.id,
        environment: e.id,
        host,
        address: `127.0.0.1:${port}`,
        apiUrl: p.id === "mt" ? `https://${host}:${port}${new URL(e.baseUrl!).pathname}` : `https://${host}:${port}`,
        ...(p.id === "d1" ? { authzUrl: `https://${host}:${port}/authz/v1` } : {}),
      };
    }),
  );
}

/**
 * The emulator's API endpoint of one environment started on its own, with a server certificate
 * `pki` issues for the environment's emulated host; every handshake is logged into `log`.
 */
export async function startTestApiServer(pki: TestPki, program: ProgramPolicy, environment: EnvironmentPolicy, log: HandshakeLogEntry[], options: Pick<ApiServerOptions, "clientTrust" | "oauthKey">): Promise<ApiServer> {
  const host = emulatorHost(environment);
  const server = await pki.issue({ cn: host, usage: "server", dns: [host] });
  return startApiServer({ program, environment, credential: { chainPem: server.chainPem, keyPem: server.keyPem }, ...options, onHandshake: (e) => log.push(e) });
}
