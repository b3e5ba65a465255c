import { createHash, createPublicKey, randomBytes, type KeyObject } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { MtlsError } from "../../errors/index.js";
import type { HashName, KeyType } from "../../policy/index.js";
import { describeKey } from "../keys.js";
import { ecdsaRawToDer, type Signer } from "../signer.js";
import { formatPkcs11Uri, parsePkcs11Uri, type Pkcs11Uri } from "./uri.js";

// pkcs11js is a native addon: loaded on first use only, so that nothing else pays for it.
type P11 = typeof import("pkcs11js");
type Handle = Buffer;
let p11: P11 | undefined;
function lib(): P11 {
  p11 ??= createRequire(import.meta.url)("pkcs11js") as P11;
  return p11;
}

/** Where the module and the PIN come from, besides the URI. */
export interface Pkcs11Options {
  /** The PKCS#11 module (shared library). Default `MTLSKIT_PKCS11_MODULE`, then the URI's `module-path`. */
  module?: string;
  /** A file whose first line is the PIN. Default `MTLSKIT_PKCS11_PIN`, then the URI's `pin-source`. */
  pinFile?: string;
  /** The PIN itself (library use). */
  pin?: string;
  /** The environment to read `MTLSKIT_PKCS11_*` from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** What mtlskit knows of a private key held in a token. Never key material. */
export interface TokenKeyInfo {
  /** The key's URI, canonical, without any PIN. */
  readonly uri: string;
  readonly tokenLabel: string;
  readonly objectLabel: string;
  /** CKA_ID as lower-case hex. */
  readonly id: string;
  /** `ECDSA P-256`, `RSA 4096`, ... */
  readonly label: string;
  readonly type: KeyType | undefined;
  /** CKA_SENSITIVE and CKA_EXTRACTABLE of the private key. */
  readonly sensitive: boolean;
  readonly extractable: boolean;
  /** CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE: the key was made in the token and never left it. */
  readonly alwaysSensitive: boolean;
  readonly neverExtractable: boolean;
  /** One line for `lint`, `inspect`, `status`: `key in token mtlskit, object client-key, non-extractable`. */
  readonly summary: string;
}

/** Resolves the module path: option, then `MTLSKIT_PKCS11_MODULE`, then the URI. */
export function resolvePkcs11Module(uri: Pkcs11Uri, options: Pkcs11Options = {}): string {
  const env = options.env ?? process.env;
  const module = options.module ?? env["MTLSKIT_PKCS11_MODULE"] ?? uri.modulePath;
  if (!module) {
    throw new MtlsError("PKCS11_MODULE_NOT_FOUND", "no PKCS#11 module is set for this key", {
      hint: "Give --pkcs11-module PATH or set MTLSKIT_PKCS11_MODULE (SoftHSM: /usr/lib/softhsm/libsofthsm2.so, Debian package softhsm2).",
    });
  }
  let ok = false;
  try {
    ok = statSync(module).isFile();
  } catch {
    ok = false;
  }
  if (!ok) throw new MtlsError("PKCS11_MODULE_NOT_FOUND", `the PKCS#11 module ${module} does not exist or is not a file`, { subject: module });
  return module;
}

/** Resolves the PIN: option, `--pin-file`, `MTLSKIT_PKCS11_PIN`, the URI's `pin-source`, then its `pin-value`. */
export function resolvePkcs11Pin(uri: Pkcs11Uri, options: Pkcs11Options = {}): string {
  const env = options.env ?? process.env;
  if (options.pin !== undefined) return options.pin;
  const file = options.pinFile ?? (env["MTLSKIT_PKCS11_PIN"] === undefined ? uri.pinSource : undefined);
  if (file !== undefined) {
    if (!existsSync(file)) throw new MtlsError("FILE_NOT_FOUND", `the PIN file ${file} does not exist`, { subject: file });
    const st = statSync(file);
    if (!st.isFile() || st.size > 4096) throw new MtlsError("FILE_UNREADABLE", `the PIN file ${file} is not a small regular file`, { subject: file });
    return readFileSync(file, "utf8").split(/\r?\n/)[0] ?? "";
  }
  if (env["MTLSKIT_PKCS11_PIN"] !== undefined) return env["MTLSKIT_PKCS11_PIN"];
  if (uri.pinValue !== undefined) return uri.pinValue;
  throw new MtlsError("PKCS11_PIN_MISSING", "the token's PIN is not given", {
    hint: "Give --pin-file FILE (first line: the PIN) or set MTLSKIT_PKCS11_PIN; mtlskit never stores a PIN.",
  });
}

const modules = new Map<string, InstanceType<P11["PKCS11"]>>();

/** Loads and initialises a module once per process. */
function loadModule(path: string): InstanceType<P11["PKCS11"]> {
  const cached = modules.get(path);
  if (cached) return cached;
  const { PKCS11 } = lib();
  const m = new PKCS11();
  try {
    m.load(path);
  } catch (e) {
    throw new MtlsError("PKCS11_MODULE_NOT_FOUND", `${path} could not be loaded as a PKCS#11 module: ${(e as Error).message}`, { cause: e, subject: path });
  }
  try {
    m.C_Initialize();
  } catch (e) {
    if (ckr(e) !== lib().CKR_CRYPTOKI_ALREADY_INITIALIZED) throw pkcs11Failure(e, `initialising ${path}`);
  }
  modules.set(path, m);
  return m;
}

function ckr(e: unknown): number | undefined {
  return typeof (e as { code?: unknown })?.code === "number" ? (e as { code: number }).code : undefined;
}

function ckrName(e: unknown): string {
  return (e as Error)?.message?.split(/[:\n]/)[0] ?? "unknown error";
}

/** A coded error for a PKCS#11 failure (`what` says what mtlskit was doing). */
function pkcs11Failure(e: unknown, what: string): MtlsError {
  const P = lib();
  const code = ckr(e);
  if (code === P.CKR_PIN_INCORRECT || code === P.CKR_PIN_LEN_RANGE) return new MtlsError("PKCS11_PIN_INCORRECT", `the token refused the PIN while ${what}`, { cause: e });
  if (code === P.CKR_PIN_LOCKED) return new MtlsError("PKCS11_PIN_INCORRECT", `the token's user PIN is locked (too many wrong PINs) while ${what}`, { cause: e, hint: "Unlock it with the security officer PIN (softhsm2-util / pkcs11-tool --init-pin), then retry." });
  if (code === P.CKR_MECHANISM_INVALID || code === P.CKR_KEY_TYPE_INCONSISTENT || code === P.CKR_DOMAIN_PARAMS_INVALID || code === P.CKR_TEMPLATE_INCONSISTENT) {
    return new MtlsError("PKCS11_MECHANISM_UNSUPPORTED", `the token does not support what mtlskit asked while ${what} (${ckrName(e)})`, { cause: e });
  }
  return new MtlsError("PKCS11_ERROR", `the PKCS#11 module failed while ${what}: ${ckrName(e)}`, { cause: e });
}

/** CKA_EC_PARAMS (the DER OID of the curve) of the curves mtlskit uses: JWK name and coordinate size. */
const P256_PARAMS = "06082a8648ce3d030107";
const P384_PARAMS = "06052b81040022";
const EC_CURVES: Readonly<Record<string, { name: string; size: number }>> = {
  [P256_PARAMS]: { name: "P-256", size: 32 },
  [P384_PARAMS]: { name: "P-384", size: 48 },
};

const trimmed = (s: string): string => s.replace(/[\s\0]+$/, "");

/** A CK_ULONG attribute (4 or 8 bytes, little-endian on the platforms Node runs on). */
const ulong = (b: Buffer): number => (b.length >= 4 ? b.readUInt32LE(0) : b.readUIntLE(0, b.length));

/** An open, logged-in session on the token a URI names. */
export class Pkcs11Session {
  readonly uri: Pkcs11Uri;
  readonly tokenLabel: string;
  private readonly m: InstanceType<P11["PKCS11"]>;
  private readonly slot: Handle;
  private session: Handle | undefined;

  private constructor(uri: Pkcs11Uri, m: InstanceType<P11["PKCS11"]>, slot: Handle, tokenLabel: string, session: Handle) {
    this.uri = uri;
    this.m = m;
    this.slot = slot;
    this.tokenLabel = tokenLabel;
    this.session = session;
  }

  /**
   * Opens the token named by `uri` and logs in with the PIN. Coded errors:
   * `PKCS11_MODULE_NOT_FOUND`, `PKCS11_TOKEN_NOT_FOUND`, `PKCS11_PIN_MISSING`, `PKCS11_PIN_INCORRECT`.
   */
  static open(uri: string | Pkcs11Uri, options: Pkcs11Options = {}): Pkcs11Session {
    const u = typeof uri === "string" ? parsePkcs11Uri(uri) : uri;
    const modulePath = resolvePkcs11Module(u, options);
    const pin = resolvePkcs11Pin(u, options);
    const m = loadModule(modulePath);
    const P = lib();
    const slots = m.C_GetSlotList(true);
    const names: string[] = [];
    for (const [index, slot] of slots.entries()) {
      const info = m.C_GetTokenInfo(slot);
      const label = trimmed(info.label);
      names.push(label);
      if (u.token !== undefined && label !== u.token) continue;
      if (u.serial !== undefined && trimmed(info.serialNumber) !== u.serial) continue;
      if (u.manufacturer !== undefined && trimmed(info.manufacturerID) !== u.manufacturer) continue;
      if (u.model !== undefined && trimmed(info.model) !== u.model) continue;
      if (u.slotId !== undefined && slot.readUIntLE(0, Math.min(slot.length, 6)) !== u.slotId && index !== u.slotId) continue;
      let session: Handle;
      try {
        session = m.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
      } catch (e) {
        throw pkcs11Failure(e, `opening a session on token "${label}"`);
      }
      try {
        m.C_Login(session, P.CKU_USER, pin);
      } catch (e) {
        if (ckr(e) !== P.CKR_USER_ALREADY_LOGGED_IN) {
          try {
            m.C_CloseSession(session);
          } catch {
            /* the login error is the one to report */
          }
          throw pkcs11Failure(e, `logging in to token "${label}"`);
        }
      }
      return new Pkcs11Session(u, m, slot, label, session);
    }
    const wanted = u.token !== undefined ? `token "${u.token}"` : "a token matching the URI";
    throw new MtlsError("PKCS11_TOKEN_NOT_FOUND", `${wanted} is not present in ${modulePath} (tokens present: ${names.length ? names.map((n) => `"${n}"`).join(", ") : "none"})`, {
      subject: modulePath,
    });
  }

  private get h(): Handle {
    if (!this.session) throw new MtlsError("INTERNAL", "the PKCS#11 session is closed");
    return this.session;
  }

  /** Closes the session (the module stays loaded for the process). */
  close(): void {
    if (!this.session) return;
    try {
      this.m.C_CloseSession(this.session);
    } catch {
      /* already gone */
    }
    this.session = undefined;
  }

  private find(template: { type: number; value?: number | boolean | string | Buffer }[]): Handle[] {
    this.m.C_FindObjectsInit(this.h, template);
    try {
      return this.m.C_FindObjects(this.h, 16);
    } finally {
      this.m.C_FindObjectsFinal(this.h);
    }
  }

  private selector(u: Pkcs11Uri, cls: number): { type: number; value?: number | boolean | string | Buffer }[] {
    const P = lib();
    return [
      { type: P.CKA_CLASS, value: cls },
      ...(u.object !== undefined ? [{ type: P.CKA_LABEL, value: u.object }] : []),
      ...(u.id !== undefined ? [{ type: P.CKA_ID, value: Buffer.from(u.id) }] : []),
    ];
  }

  /** True when a private key with this label/id exists on the token. */
  hasPrivateKey(u: Pkcs11Uri = this.uri): boolean {
    return this.find(this.selector(u, lib().CKO_PRIVATE_KEY)).length > 0;
  }

  /** The private key the URI names, as a {@link Signer}, with what the token says of it. */
  key(u: Pkcs11Uri = this.uri): TokenKey {
    const P = lib();
    const found = this.find(this.selector(u, P.CKO_PRIVATE_KEY));
    const name = u.object !== undefined ? `"${u.object}"` : `id ${Buffer.from(u.id ?? []).toString("hex")}`;
    if (found.length === 0) throw new MtlsError("PKCS11_KEY_NOT_FOUND", `no private key ${name} on token "${this.tokenLabel}"`, { hint: "List the token's objects (pkcs11-tool --list-objects --login) and check object= or id= in the URI; or create it with mtlskit key create --out pkcs11:..." });
    if (found.length > 1) throw new MtlsError("PKCS11_KEY_NOT_FOUND", `${found.length} private keys match ${name} on token "${this.tokenLabel}"`, { hint: "Name the key by id= as well as object=." });
    const priv = found[0]!;
    const attrs = this.m.C_GetAttributeValue(this.h, priv, [
      { type: P.CKA_KEY_TYPE },
      { type: P.CKA_LABEL },
      { type: P.CKA_ID },
      { type: P.CKA_SENSITIVE },
      { type: P.CKA_EXTRACTABLE },
      { type: P.CKA_ALWAYS_SENSITIVE },
      { type: P.CKA_NEVER_EXTRACTABLE },
    ]);
    const keyType = ulong(attrs[0]!.value as Buffer);
    const label = String((attrs[1]!.value as Buffer | undefined)?.toString("utf8") ?? "");
    const id = Buffer.from((attrs[2]!.value as Buffer | undefined) ?? []);
    const flag = (i: number): boolean => ((attrs[i]!.value as Buffer | undefined)?.[0] ?? 0) !== 0;
    const publicKey = this.publicKey(keyType, priv, { object: label, id });
    const d = describeKey(publicKey);
    const canonical = formatPkcs11Uri({ token: this.tokenLabel, object: label, ...(id.length ? { id } : {}), type: "private" });
    const info: TokenKeyInfo = {
      uri: canonical,
      tokenLabel: this.tokenLabel,
      objectLabel: label,
      id: id.toString("hex"),
      label: d.label,
      type: d.type,
      sensitive: flag(3),
      extractable: flag(4),
      alwaysSensitive: flag(5),
      neverExtractable: flag(6),
      summary: `key in token ${this.tokenLabel}, object ${label}, ${d.label}, ${flag(4) ? "EXTRACTABLE" : "non-extractable"}`,
    };
    return new TokenKey(this, priv, publicKey, info);
  }

  private publicKey(keyType: number, priv: Handle, named: { object: string; id: Buffer }): KeyObject {
    const P = lib();
    if (keyType === P.CKK_RSA) {
      const a = this.m.C_GetAttributeValue(this.h, priv, [{ type: P.CKA_MODULUS }, { type: P.CKA_PUBLIC_EXPONENT }]);
      return createPublicKey({ key: { kty: "RSA", n: (a[0]!.value as Buffer).toString("base64url"), e: (a[1]!.value as Buffer).toString("base64url") }, format: "jwk" });
    }
    if (keyType !== P.CKK_EC) throw new MtlsError("PKCS11_MECHANISM_UNSUPPORTED", `the key "${named.object}" is of a PKCS#11 key type mtlskit cannot use (${keyType})`, { hint: "Use an ECDSA P-256/P-384 or RSA key." });
    // An EC private key object has no point: read the public key object of the same id/label.
    const pubs = this.find([{ type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY }, ...(named.id.length ? [{ type: P.CKA_ID, value: named.id }] : [{ type: P.CKA_LABEL, value: named.object }])]);
    if (pubs.length === 0) throw new MtlsError("PKCS11_KEY_NOT_FOUND", `the EC key "${named.object}" on token "${this.tokenLabel}" has no public key object beside it`, { hint: "Keep the public key object (same id) on the token; mtlskit needs it to build CSRs and certificates." });
    const a = this.m.C_GetAttributeValue(this.h, pubs[0]!, [{ type: P.CKA_EC_PARAMS }, { type: P.CKA_EC_POINT }]);
    const crv = EC_CURVES[(a[0]!.value as Buffer).toString("hex")];
    if (!crv) throw new MtlsError("PKCS11_MECHANISM_UNSUPPORTED", `the EC key "${named.object}" is on a curve mtlskit cannot use`, { hint: "Use an ECDSA P-256 or P-384 key." });
    let point = a[1]!.value as Buffer;
    // CKA_EC_POINT is a DER OCTET STRING around the uncompressed point 04||x||y (some modules give the bare point).
    if (point.length === 2 * crv.size + 3 || point.length === 2 * crv.size + 4) point = point.subarray(point.length - (2 * crv.size + 1));
    const x = point.subarray(1, 1 + crv.size).toString("base64url");
    const y = point.subarray(1 + crv.size).toString("base64url");
    return createPublicKey({ key: { kty: "EC", crv: crv.name, x, y }, format: "jwk" });
  }

  /**
   * Generates a key pair inside the token: private key sensitive and never extractable, both
   * halves token objects with the label of the URI and a random id. Refuses a label in use.
   */
  generate(type: KeyType, u: Pkcs11Uri = this.uri): TokenKey {
    const P = lib();
    if (u.object === undefined) throw new MtlsError("PKCS11_URI_INVALID", "a key to create needs a label: add object=LABEL to the URI");
    if (this.find([{ type: P.CKA_LABEL, value: u.object }]).length > 0) {
      throw new MtlsError("PKCS11_KEY_EXISTS", `token "${this.tokenLabel}" already holds an object labelled "${u.object}"`, { hint: "Choose another object= label; mtlskit never replaces a key in a token." });
    }
    const id = u.id ? Buffer.from(u.id) : randomBytes(8);
    const common = [{ type: P.CKA_TOKEN, value: true }, { type: P.CKA_LABEL, value: u.object }, { type: P.CKA_ID, value: id }];
    const priv = [...common, { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY }, { type: P.CKA_PRIVATE, value: true }, { type: P.CKA_SIGN, value: true }, { type: P.CKA_SENSITIVE, value: true }, { type: P.CKA_EXTRACTABLE, value: false }];
    const pub: { type: number; value: number | boolean | string | Buffer }[] = [...common, { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY }, { type: P.CKA_VERIFY, value: true }];
    const ec: Record<string, Buffer<ArrayBuffer>> = {
      "ecdsa-p256": Buffer.from(P256_PARAMS, "hex"),
      "ecdsa-p384": Buffer.from(P384_PARAMS, "hex"),
    };
    let mechanism: number;
    if (type in ec) {
      mechanism = P.CKM_EC_KEY_PAIR_GEN;
      pub.push({ type: P.CKA_EC_PARAMS, value: ec[type]! });
    } else {
      mechanism = P.CKM_RSA_PKCS_KEY_PAIR_GEN;
      pub.push({ type: P.CKA_MODULUS_BITS, value: type === "rsa-4096" ? 4096 : 2048 }, { type: P.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) });
    }
    this.requireMechanism(mechanism, `generating an ${type} key`);
    try {
      this.m.C_GenerateKeyPair(this.h, { mechanism }, pub, priv);
    } catch (e) {
      throw pkcs11Failure(e, `generating an ${type} key on token "${this.tokenLabel}"`);
    }
    return this.key({ ...u, id });
  }

  /** Refuses, with `PKCS11_MECHANISM_UNSUPPORTED`, a mechanism the token does not list. */
  requireMechanism(mechanism: number, what: string): void {
    if (!this.m.C_GetMechanismList(this.slot).includes(mechanism)) {
      throw new MtlsError("PKCS11_MECHANISM_UNSUPPORTED", `token "${this.tokenLabel}" does not offer the mechanism needed for ${what} (0x${mechanism.toString(16)})`);
    }
  }

  /** Signs with a private key handle: ECDSA on the hash (raw r||s back), RSA PKCS#1 v1.5 with the hash. */
  sign(key: Handle, ec: boolean, hash: HashName, data: Uint8Array): Buffer {
    const P = lib();
    const mechanism = ec ? P.CKM_ECDSA : hash === "sha384" ? P.CKM_SHA384_RSA_PKCS : P.CKM_SHA256_RSA_PKCS;
    const input = ec ? createHash(hash).update(data).digest() : Buffer.from(data);
    try {
      this.m.C_SignInit(this.h, { mechanism }, key);
      return this.m.C_Sign(this.h, input, Buffer.alloc(1024));
    } catch (e) {
      throw pkcs11Failure(e, `signing on token "${this.tokenLabel}"`);
    }
  }
}

/** A private key in a token: a {@link Signer} whose key never leaves it. */
export class TokenKey implements Signer {
  readonly publicKey: KeyObject;
  readonly info: TokenKeyInfo;
  readonly description: string;
  private readonly session: Pkcs11Session;
  private readonly handle: Handle;

  constructor(session: Pkcs11Session, handle: Handle, publicKey: KeyObject, info: TokenKeyInfo) {
    this.session = session;
    this.handle = handle;
    this.publicKey = publicKey;
    this.info = info;
    this.description = info.summary;
  }

  sign(hash: HashName, data: Uint8Array, encoding: "der" | "ieee-p1363" = "der"): Uint8Array {
    const ec = this.publicKey.asymmetricKeyType === "ec";
    const sig = new Uint8Array(this.session.sign(this.handle, ec, hash, data));
    return ec && encoding === "der" ? ecdsaRawToDer(sig) : sig;
  }

  /** Closes the session the key was opened with. */
  close(): void {
    this.session.close();
  }
}

/**
 * Opens the private key a PKCS#11 URI names (module and PIN from the options, the environment
 * or the URI). The caller closes it when done.
 *
 * @example
 * const key = openTokenKey("pkcs11:token=mtlskit;object=client-key", { module: "/usr/lib/softhsm/libsofthsm2.so", pinFile: "pin.txt" });
 */
export function openTokenKey(uri: string, options: Pkcs11Options = {}): TokenKey {
  const s = Pkcs11Session.open(uri, options);
  try {
    return s.key();
  } catch (e) {
    s.close();
    throw e;
  }
}

/** Generates a key pair in the token a URI names (`object=` is the new key's label). */
export function createTokenKey(uri: string, type: KeyType, options: Pkcs11Options = {}): TokenKey {
  const s = Pkcs11Session.open(uri, options);
  try {
    return s.generate(type);
  } catch (e) {
    s.close();
    throw e;
  }
}

