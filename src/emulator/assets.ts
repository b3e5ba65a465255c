/**
 * Asset bundles the emulator hands to the customer (docs/architecture.md, "Contracts between parts",
 * "Asset bundle"): a folder with `manifest.json` and one PEM file per certificate asset.
 *
 * ```json
 * { "format": "mtlskit-assets/1", "program": "mt", "environment": "sandbox",
 *   "customerId": "123456", "direction": "from-thales", "dnsServers": ["127.0.0.1:40002"],
 *   "assets": { "TSH_TLS_SERVER_CERTIFICATE_CHAIN": "TSH_TLS_SERVER_CERTIFICATE_CHAIN.pem",
 *               "TSH_INBOUND_HOST": "tmg.dbp-stg.thalescloud.test:40003", ... } }
 * ```
 *
 * MT assets: `TSH_TLS_SERVER_CERTIFICATE_CHAIN` (the server CA chain: intermediate + root),
 * `TSH_TLS_CLIENT_CERTIFICATE` (the emulator's client leaf followed by the Thales Client CA:
 * trust the CA, never pin the leaf), `TSH_INBOUND_HOST` (host:port of the emulator's listener),
 * `TSH_CLIENT_CN` (the portal's CN for the customer), and what the customer registered:
 * `CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN`, `CUSTOMER_TLS_CLIENT_CERTIFICATE` (the latest
 * endorsed certificate), `ISSUER_HOST`.
 * D1 assets: `D1_TLS_SERVER_CA_CHAIN`, `D1_TLS_CLIENT_CA` (leaf + Client CA, as above),
 * `D1_API_HOST`, `D1_AUTHZ_URL`, `D1_CLIENT_CERTIFICATE` (the latest signed certificate
 * followed by the Business PKI CA), and the registered `CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN`,
 * `ISSUER_HOST`, `D1_OAUTH_PUBLIC_KEY`, `D1_OAUTH_KID`.
 * Customer-specific assets appear only when a customer id is given and the value is known.
 *
 * @module
 */
import { promises as fs } from "node:fs";
import { isIP } from "node:net";
import * as path from "node:path";
import { MtlsError } from "../errors/index.js";
import { writeFileAtomic } from "../pki/index.js";
import { assertCustomerId, getEnvironment, getProgram, type ProgramId } from "../policy/index.js";
import type { EmulatorPki } from "./emulator-pki.js";
import type { EmulatorState } from "./state.js";

/** The `format` of every bundle. */
export const ASSET_FORMAT = "mtlskit-assets/1";

/** The manifest of a bundle, exactly as written to `manifest.json`. */
export interface AssetManifest {
  format: typeof ASSET_FORMAT;
  program: ProgramId;
  environment: string;
  /** Present when the bundle is for one customer. */
  customerId?: string;
  direction: "from-thales";
  /** The emulator's DNS stand-in (`address:port`); importing the bundle sets the profile's resolver to it. */
  dnsServers: string[];
  /** Asset name -> file name (PEM assets) or the value itself (hosts, URLs, CN, kid). */
  assets: Record<string, string>;
}

/** Where the emulator listens for one environment (the `environments` entries of `mtlskit emulate --json`). */
export interface AssetEndpoint {
  /** `https://<host>:<port>` (MT: with the base path; D1: the API base). Its host:port is the API host asset. */
  apiUrl: string;
  /** D1: the OAuth 2.0 base, `https://<host>:<port>/authz/v1`. */
  authzUrl?: string;
}

/** What a bundle is made from. */
export interface AssetSources {
  pki: EmulatorPki;
  state: EmulatorState;
  endpoint: AssetEndpoint;
  /** The DNS stand-in's `address:port`, e.g. `["127.0.0.1:40002"]`. */
  dnsServers: readonly string[];
}

/** A bundle in memory: its manifest, and the PEM content of each file asset by asset name. */
export interface AssetBundle {
  manifest: AssetManifest;
  /** Asset name -> PEM text, for every asset the manifest names a file for. */
  files: Record<string, string>;
}

/** A bundle written to disk. */
export interface WrittenAssetBundle extends AssetBundle {
  /** Absolute path of the bundle's folder. */
  dir: string;
}

/** The folder name of a bundle: `<program>-<env>` or `<program>-<env>-<customerId>`. */
export function assetBundleDirName(program: ProgramId, environment: string, customerId?: string): string {
  return customerId === undefined ? `${program}-${environment}` : `${program}-${environment}-${customerId}`;
}

/** The `host[:port]` of a URL, refusing IP addresses (hosts in bundles are DNS names). */
function hostOf(url: string, what: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch (e) {
    throw new MtlsError("USAGE", `${what} '${url}' is not a URL`, { cause: e });
  }
  const hostname = u.hostname.replace(/^\[|\]$/g, "");
  if (isIP(hostname) !== 0) throw new MtlsError("USAGE", `${what} '${url}' names an IP address; asset bundles carry DNS names`);
  return u.host;
}

/**
 * Builds the bundle of a program and environment, for one customer or none (then only the
 * assets every customer gets).
 *
 * @throws MtlsError UNKNOWN_PROGRAM, UNKNOWN_ENVIRONMENT, GATEWAY_ID_INVALID, USAGE (an
 *   endpoint URL that is not a URL or names an IP address).
 */
export function buildAssetBundle(program: ProgramId, environment: string, customerId: string | undefined, sources: AssetSources): AssetBundle {
  const policy = getProgram(program);
  const env = getEnvironment(policy, environment).id;
  if (customerId !== undefined) assertCustomerId(policy, customerId);
  const { pki, state, endpoint } = sources;
  const assets: Record<string, string> = {};
  const files: Record<string, string> = {};
  const file = (name: string, pem: string): void => {
    assets[name] = `${name}.pem`;
    files[name] = pem;
  };
  const value = (name: string, v: string): void => {
    assets[name] = v;
  };
  const client = pki.clientCredential(program, env);
  const customer = customerId === undefined ? undefined : state.getCustomer(program, env, customerId);

  if (program === "mt") {
    file("TSH_TLS_SERVER_CERTIFICATE_CHAIN", pki.serverTrustPem(program, env));
    file("TSH_TLS_CLIENT_CERTIFICATE", client.chainPem);
    value("TSH_INBOUND_HOST", hostOf(endpoint.apiUrl, "apiUrl"));
    if (customerId !== undefined) {
      value("TSH_CLIENT_CN", state.portalCommonName(env, customerId));
      if (customer?.serverChainPem) file("CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN", customer.serverChainPem);
      const endorsed = state.endorsements(env).filter((e) => e.customerId === customerId);
      const latest = endorsed[endorsed.length - 1];
      if (latest) file("CUSTOMER_TLS_CLIENT_CERTIFICATE", latest.certificatePem);
      if (customer?.issuerHost) value("ISSUER_HOST", customer.issuerHost);
    }
  } else {
    file("D1_TLS_SERVER_CA_CHAIN", pki.serverTrustPem(program, env));
    file("D1_TLS_CLIENT_CA", client.chainPem);
    value("D1_API_HOST", hostOf(endpoint.apiUrl, "apiUrl"));
    if (endpoint.authzUrl) {
      hostOf(endpoint.authzUrl, "authzUrl");
      value("D1_AUTHZ_URL", endpoint.authzUrl);
    }
    if (customerId !== undefined) {
      const issued = state.issued(env, customerId);
      const latest = issued[issued.length - 1];
      if (latest) file("D1_CLIENT_CERTIFICATE", latest.chainPem);
      if (customer?.serverChainPem) file("CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN", customer.serverChainPem);
      if (customer?.issuerHost) value("ISSUER_HOST", customer.issuerHost);
      if (customer?.oauthPublicKeyPem) file("D1_OAUTH_PUBLIC_KEY", customer.oauthPublicKeyPem);
      if (customer?.kid) value("D1_OAUTH_KID", customer.kid);
    }
  }

  const manifest: AssetManifest = {
    format: ASSET_FORMAT,
    program,
    environment: env,
    ...(customerId !== undefined ? { customerId } : {}),
    direction: "from-thales",
    dnsServers: [...sources.dnsServers],
    assets,
  };
  return { manifest, files };
}

/** Pending writes per bundle folder. */
const writing = new Map<string, Promise<unknown>>();

/**
 * Builds the bundle (see {@link buildAssetBundle}) and writes it to
 * `<assetsDir>/<program>-<env>[-<customerId>]/`: one `<ASSET>.pem` per file asset, then
 * `manifest.json`, each atomically. PEM files of an earlier bundle that the new manifest no
 * longer names are removed.
 */
export async function writeAssetBundle(
  assetsDir: string,
  program: ProgramId,
  environment: string,
  customerId: string | undefined,
  sources: AssetSources,
): Promise<WrittenAssetBundle> {
  const bundle = buildAssetBundle(program, environment, customerId, sources);
  const dir = path.join(path.resolve(assetsDir), assetBundleDirName(program, bundle.manifest.environment, customerId));
  // Writes of one folder run one after the other, so that a folder never mixes two bundles.
  const previous = writing.get(dir) ?? Promise.resolve();
  const done = previous.then(
    () => writeBundleFiles(dir, bundle),
    () => writeBundleFiles(dir, bundle),
  );
  const tail = done.catch(() => undefined);
  writing.set(dir, tail);
  void tail.then(() => {
    if (writing.get(dir) === tail) writing.delete(dir);
  });
  await done;
  return { ...bundle, dir };
}

async function writeBundleFiles(dir: string, bundle: AssetBundle): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (e) {
    throw new MtlsError("WRITE_FAILED", `${dir}: the asset folder cannot be created (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { subject: dir, cause: e });
  }
  for (const [name, pem] of Object.entries(bundle.files)) {
    await writeFileAtomic(path.join(dir, bundle.manifest.assets[name]!), pem, { mode: 0o644, overwrite: true });
  }
  const keep = new Set(Object.keys(bundle.files).map((name) => bundle.manifest.assets[name]));
  for (const entry of await fs.readdir(dir)) {
    if (entry.endsWith(".pem") && !keep.has(entry)) await fs.rm(path.join(dir, entry), { force: true });
  }
  await writeFileAtomic(path.join(dir, "manifest.json"), `${JSON.stringify(bundle.manifest, null, 2)}\n`, { mode: 0o644, overwrite: true });
}
