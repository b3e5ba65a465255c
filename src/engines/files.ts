/**
 * The whole folder an engine runs from: configuration, certificates, CA file, key (0600), error
 * pages. `engineFolderFiles` is pure (same inputs, same bytes); `writeEngineFolder` writes each
 * file atomically.
 */
import { X509Certificate } from "node:crypto";
import { promises as fs } from "node:fs";
import { userInfo } from "node:os";
import * as path from "node:path";
import { MtlsError } from "../errors/index.js";
import { findPkcs11Engine, formatPkcs11Uri, isPkcs11Uri, keysMatch, parsePkcs11Uri, resolvePkcs11Module, resolvePkcs11Pin, type Pkcs11Options } from "../pki/index.js";
import { replaceFile } from "../store/fs-ops.js";
import { readTokenPublicKey } from "../store/token-keys.js";
import { haproxyCfg, haproxyErrorFiles } from "./haproxy.js";
import { ENGINE_FILES, type EngineModel, type EngineName, type EngineTokenKey } from "./model.js";
import { nginxConf, nginxServerBlock } from "./nginx.js";

/** The PEM texts the engine serves. */
export interface EngineMaterial {
  readonly certPem: string;
  readonly chainPem?: string;
  /** The key file's text; absent when the key is in a PKCS#11 token (`token`). */
  readonly keyPem?: string;
  readonly caPem: string;
  /** The key is in a PKCS#11 token (nginx only): the PIN and the pieces of the OpenSSL engine configuration. */
  readonly token?: { readonly uri: string; readonly pin: string; readonly module: string; readonly engine: string };
}

/** The OpenSSL configuration that loads and initialises the pkcs11 engine for nginx (no PIN: it is in its own file). */
export function opensslPkcs11Conf(engine: string, module: string): string {
  return [
    "# mtlskit: loads OpenSSL's pkcs11 engine (libp11) for nginx's key in a token. Generated.",
    "openssl_conf = mtlskit_openssl_init",
    "",
    "[mtlskit_openssl_init]",
    "engines = mtlskit_engines",
    "",
    "[mtlskit_engines]",
    "pkcs11 = mtlskit_pkcs11",
    "",
    "[mtlskit_pkcs11]",
    "engine_id = pkcs11",
    `dynamic_path = ${engine}`,
    `MODULE_PATH = ${module}`,
    "init = 1",
    "",
  ].join("\n");
}

/** One file of the folder. */
export interface EngineFile {
  readonly data: string;
  readonly mode: number;
}

function nl(s: string): string {
  return s.endsWith("\n") ? s : `${s}\n`;
}

/** HAProxy loads its keys from files only: no OpenSSL engine or PKCS#11 URI for a certificate's key. */
export function haproxyTokenRefusal(): MtlsError {
  return new MtlsError("ENGINE_KEY_UNSUPPORTED", "HAProxy cannot use a key in a PKCS#11 token: it loads private keys from PEM files only (no OpenSSL engine or PKCS#11 URI for a certificate's key)", {
    hint: "Use --engine nginx (engine:pkcs11 key) or --engine node for a key in a token, or give HAProxy a key file.",
  });
}

/** Where and how a key in a token is used, resolved once: the PIN-free URI, the PIN, module and engine. */
export function tokenKeyMaterial(uri: string, options: Pkcs11Options = {}): { uri: string; pin: string; module: string; engine: string } {
  const u = parsePkcs11Uri(uri);
  const module = resolvePkcs11Module(u, options);
  const pin = resolvePkcs11Pin(u, options);
  const { pinSource: _source, pinValue: _value, modulePath: _module, ...where } = u;
  return { uri: formatPkcs11Uri({ ...where, type: "private" }), pin, module, engine: findPkcs11Engine(options.env) };
}

/** Environment variables of PKCS#11 modules, passed to nginx's workers when set (SoftHSM2, Luna, YubiHSM, p11-kit). */
export const TOKEN_MODULE_ENV = ["SOFTHSM2_CONF", "ChrystokiConfigurationPath", "YUBIHSM_PKCS11_CONF", "P11_KIT_SERVER_ADDRESS"] as const;

/** The model's `tokenKey` for a key in a token: the PIN-free URI, the module's variables set here, and `user` when running as root. */
export function engineTokenKey(token: { uri: string }, env: NodeJS.ProcessEnv = process.env): EngineTokenKey {
  const user = typeof process.getuid === "function" && process.getuid() === 0 ? userInfo().username : undefined;
  return { uri: token.uri, passEnv: TOKEN_MODULE_ENV.filter((n) => env[n] !== undefined), ...(user !== undefined ? { user } : {}) };
}

/** The environment nginx runs (and is validated) with for a folder: OPENSSL_CONF when the key is in a token. */
export function engineEnv(m: EngineModel, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return m.tokenKey ? { ...env, OPENSSL_CONF: `${m.dir.replace(/\/$/, "")}/${ENGINE_FILES.opensslConf}` } : env;
}

/**
 * Opens the key in the token once (module, token, PIN, object) and checks it is the certificate's
 * key, so that a wrong PIN or URI is a coded error before the engine starts: `nginx -t` does not
 * load an engine key (nginx loads it per handshake), so it would otherwise show only as failed
 * handshakes. The key is never read; the session is closed at once.
 */
export function checkTokenKey(uri: string, options: Pkcs11Options, certPem: string, certFile: string): void {
  const key = readTokenPublicKey(uri, options);
  let certKey;
  try {
    certKey = new X509Certificate(certPem).publicKey;
  } catch (e) {
    throw new MtlsError("SERVER_CERT_INVALID", `${certFile}: not a readable certificate: ${(e as Error).message}`, { subject: certFile });
  }
  if (!keysMatch(key.publicKey, certKey)) {
    throw new MtlsError("KEY_MISMATCH", `${certFile}: the certificate is not for the key in the token (${key.info.summary})`, {
      subject: certFile,
      hint: "Give the token key the certificate was issued for (server-cert set --key pkcs11:...), or the certificate of this key.",
    });
  }
}

/** Reads the profile's (or options') PEM files; a key in a token is resolved (PIN, module), opened once to check it, never read. */
export async function readMaterial(files: { certFile: string; keyFile: string; chainFile?: string; caFile: string; pkcs11?: Pkcs11Options }): Promise<EngineMaterial> {
  const read = async (f: string) => {
    try {
      return await fs.readFile(f, "utf8");
    } catch (e) {
      throw new MtlsError("FILE_NOT_FOUND", `cannot read ${f}: ${(e as Error).message}`, { subject: f });
    }
  };
  const certPem = await read(files.certFile);
  if (isPkcs11Uri(files.keyFile)) checkTokenKey(files.keyFile, files.pkcs11 ?? {}, certPem, files.certFile);
  return {
    certPem,
    ...(files.chainFile ? { chainPem: await read(files.chainFile) } : {}),
    ...(isPkcs11Uri(files.keyFile) ? { token: tokenKeyMaterial(files.keyFile, files.pkcs11) } : { keyPem: await read(files.keyFile) }),
    caPem: await read(files.caFile),
  };
}

/** Every file of the engine's folder, relative path -> content and mode. Pure. */
export function engineFolderFiles(engine: EngineName, m: EngineModel, mat: EngineMaterial, options: { daemon?: boolean; masterWorker?: boolean } = {}): Record<string, EngineFile> {
  const fullchain = nl(mat.certPem) + (mat.chainPem ? nl(mat.chainPem) : "");
  const out: Record<string, EngineFile> = {
    [ENGINE_FILES.clientCa]: { data: nl(mat.caPem), mode: 0o644 },
  };
  if ((mat.token !== undefined) !== (m.tokenKey !== undefined) || (mat.token === undefined && mat.keyPem === undefined)) {
    throw new MtlsError("INTERNAL", "engine material and model disagree on where the key is");
  }
  if (engine === "nginx") {
    out[ENGINE_FILES.serverChain] = { data: fullchain, mode: 0o644 };
    if (mat.token) {
      out[ENGINE_FILES.tokenPin] = { data: mat.token.pin, mode: 0o600 };
      out[ENGINE_FILES.opensslConf] = { data: opensslPkcs11Conf(mat.token.engine, mat.token.module), mode: 0o600 };
    } else {
      out[ENGINE_FILES.serverKey] = { data: nl(mat.keyPem!), mode: 0o600 };
    }
    out[`conf.d/thales-${m.profile}.conf`] = { data: nginxServerBlock(m), mode: 0o644 };
    out["nginx.conf"] = { data: nginxConf(m, options.daemon === undefined ? {} : { daemon: options.daemon }), mode: 0o644 };
  } else {
    if (mat.token) throw haproxyTokenRefusal();
    out[ENGINE_FILES.serverBundle] = { data: fullchain + nl(mat.keyPem!), mode: 0o600 };
    for (const [rel, data] of Object.entries(haproxyErrorFiles(m))) out[rel] = { data, mode: 0o644 };
    out["haproxy.cfg"] = { data: haproxyCfg(m, options.masterWorker ? { masterWorker: true } : {}), mode: 0o644 };
  }
  return out;
}

/** The main configuration file of an engine, relative to its folder. */
export function mainConfigFile(engine: EngineName): string {
  return engine === "nginx" ? "nginx.conf" : "haproxy.cfg";
}

/**
 * Writes the folder: each file atomically, keys 0600, plus the empty folders the engine needs
 * (logs, temp). Without `force`, `EXPORT_TARGET_EXISTS` when a main configuration is there.
 */
export async function writeEngineFolder(dir: string, engine: EngineName, files: Record<string, EngineFile>, options: { force?: boolean } = {}): Promise<string[]> {
  const main = path.join(dir, mainConfigFile(engine));
  if (!options.force) {
    const there = await fs.stat(main).then(
      () => true,
      () => false,
    );
    if (there) throw new MtlsError("EXPORT_TARGET_EXISTS", `${main} already exists`, { subject: main });
  }
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (engine === "nginx") {
    await fs.mkdir(path.join(dir, "logs"), { recursive: true });
    await fs.mkdir(path.join(dir, "temp"), { recursive: true });
  }
  const names = Object.keys(files).sort();
  // Configuration last: a folder with a main file is always complete.
  const ordered = [...names.filter((n) => n !== mainConfigFile(engine)), mainConfigFile(engine)].filter((n) => files[n] !== undefined);
  for (const rel of ordered) {
    const f = files[rel]!;
    await replaceFile(path.join(dir, rel), f.data, { mode: f.mode });
    await fs.chmod(path.join(dir, rel), f.mode);
  }
  return ordered;
}
