/**
 * The one place where mtlskit hands a token-held key to Node's TLS: through OpenSSL's pkcs11
 * engine (libp11, Debian package libengine-pkcs11-openssl) and Node's `privateKeyEngine` /
 * `privateKeyIdentifier` options. Node marks those options documentation-deprecated (DEP0183):
 * when Node offers OpenSSL 3 providers for TLS keys, only this file changes.
 */
import { existsSync } from "node:fs";
import { basename, dirname } from "node:path";
import { MtlsError } from "../../errors/index.js";
import { formatPkcs11Uri, parsePkcs11Uri } from "./uri.js";
import { resolvePkcs11Module, resolvePkcs11Pin, type Pkcs11Options } from "./token.js";

const ENGINE_CANDIDATES = [
  "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so",
  "/usr/lib/aarch64-linux-gnu/engines-3/pkcs11.so",
  "/usr/lib64/engines-3/pkcs11.so",
  "/usr/lib/engines-3/pkcs11.so",
  "/usr/local/lib/engines-3/pkcs11.so",
];

/** The OpenSSL pkcs11 engine: `MTLSKIT_PKCS11_ENGINE`, else the usual places. */
export function findPkcs11Engine(env: NodeJS.ProcessEnv = process.env): string {
  const given = env["MTLSKIT_PKCS11_ENGINE"];
  if (given !== undefined) {
    if (!existsSync(given)) throw new MtlsError("PKCS11_ENGINE_NOT_FOUND", `MTLSKIT_PKCS11_ENGINE names ${given}, which does not exist`, { subject: given });
    return given;
  }
  const found = ENGINE_CANDIDATES.find((p) => existsSync(p));
  if (!found) throw new MtlsError("PKCS11_ENGINE_NOT_FOUND", `OpenSSL's pkcs11 engine was not found (looked in ${ENGINE_CANDIDATES.join(", ")})`);
  return found;
}

/** TLS options that make Node's TLS sign the handshake with the key in the token. */
export interface TlsTokenKeyOptions {
  readonly privateKeyEngine: string;
  readonly privateKeyIdentifier: string;
}

/**
 * The `privateKeyEngine`/`privateKeyIdentifier` pair for `tls.connect`, `tls.createServer`,
 * `https` and undici's `connect` options. The identifier carries the PIN for the engine: it is
 * a secret, never to be logged (mtlskit logs the URI from `formatPkcs11Uri`, which has none).
 * The engine loads the same module as mtlskit (`PKCS11_MODULE_PATH`, read by libp11).
 */
export function tlsTokenKeyOptions(uri: string, options: Pkcs11Options = {}): TlsTokenKeyOptions {
  const u = parsePkcs11Uri(uri);
  const module = resolvePkcs11Module(u, options);
  const pin = resolvePkcs11Pin(u, options);
  process.env["PKCS11_MODULE_PATH"] = module;
  const { pinSource: _source, pinValue: _value, modulePath: _module, ...where } = u;
  const base = formatPkcs11Uri({ ...where, type: "private" });
  const identifier = `${base}${base.includes("?") ? "&" : "?"}pin-value=${encodeURIComponent(pin)}`;
  // Node loads an engine given by path only once per process (a second secure context fails
  // with "engine routines::init failed"); by id, OpenSSL finds the loaded one again. The id
  // is the file name, found in OPENSSL_ENGINES.
  const engine = findPkcs11Engine(options.env);
  let privateKeyEngine = engine;
  if (basename(engine) === "pkcs11.so") {
    process.env["OPENSSL_ENGINES"] = dirname(engine);
    privateKeyEngine = "pkcs11";
  }
  return { privateKeyEngine, privateKeyIdentifier: identifier };
}
