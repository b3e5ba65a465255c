import { MtlsError } from "../../errors/index.js";

/**
 * A PKCS#11 URI (RFC 7512), as far as mtlskit uses one: which token, which object, and where
 * the PIN comes from. The PIN itself is never part of what mtlskit stores: a `pin-value` given
 * on a command line is accepted for scripts but kept out of {@link formatPkcs11Uri}.
 */
export interface Pkcs11Uri {
  /** `token=`: the token label. */
  readonly token?: string;
  /** `serial=`: the token serial number. */
  readonly serial?: string;
  /** `manufacturer=` and `model=` of the token. */
  readonly manufacturer?: string;
  readonly model?: string;
  /** `slot-id=`: a slot number. */
  readonly slotId?: number;
  /** `object=`: the object label (CKA_LABEL). */
  readonly object?: string;
  /** `id=`: the object id (CKA_ID), as bytes. */
  readonly id?: Uint8Array;
  /** `type=`: private, public, cert, secret-key or data. */
  readonly type?: string;
  /** `pin-source=`: a file holding the PIN (RFC 7512 §2.4), `file:` URIs accepted. */
  readonly pinSource?: string;
  /** `pin-value=`: the PIN itself. Never written back by {@link formatPkcs11Uri}. */
  readonly pinValue?: string;
  /** `module-path=`: the PKCS#11 module (shared library) to load. */
  readonly modulePath?: string;
}

const PATH_ATTRS = new Set(["token", "serial", "manufacturer", "model", "slot-id", "object", "id", "type", "library-manufacturer", "library-description", "library-version", "slot-description", "slot-manufacturer"]);
const QUERY_ATTRS = new Set(["pin-source", "pin-value", "module-path", "module-name"]);
const TYPES = new Set(["private", "public", "cert", "secret-key", "data"]);

/** True when the text is meant as a PKCS#11 URI rather than a file name. */
export function isPkcs11Uri(text: string): boolean {
  return /^pkcs11:/i.test(text);
}

function decode(value: string, attr: string, uri: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === "%") {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw invalid(uri, `the value of ${attr} has a bad percent-escape at "${value.slice(i, i + 3)}"`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      for (const b of Buffer.from(c, "utf8")) out.push(b);
    }
  }
  return Uint8Array.from(out);
}

function invalid(uri: string, why: string): MtlsError {
  // A URI may carry a pin-value: never quote it back.
  return new MtlsError("PKCS11_URI_INVALID", `${redactPkcs11Uri(uri)} is not a usable PKCS#11 URI: ${why}`, { hint: 'Write it as RFC 7512 says, e.g. "pkcs11:token=mtlskit;object=client-key".' });
}

/** The URI with any `pin-value` replaced, for messages and logs. */
export function redactPkcs11Uri(uri: string): string {
  return uri.replace(/(pin-value=)[^;&?]*/gi, "$1***");
}

/**
 * Parses a PKCS#11 URI (RFC 7512): path attributes separated by `;`, query attributes after
 * `?` separated by `&`, values percent-decoded. Unknown standard attributes are accepted and
 * ignored; anything else is a coded `PKCS11_URI_INVALID`.
 *
 * @example
 * parsePkcs11Uri("pkcs11:token=mtlskit;object=client%20key;type=private")
 */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (!isPkcs11Uri(uri)) throw invalid(uri, 'it does not start with "pkcs11:"');
  if (uri.length > 4096) throw invalid(uri.slice(0, 64), "it is longer than 4096 characters");
  const body = uri.slice("pkcs11:".length);
  const q = body.indexOf("?");
  const path = q < 0 ? body : body.slice(0, q);
  const query = q < 0 ? "" : body.slice(q + 1);
  const out: { -readonly [K in keyof Pkcs11Uri]: Pkcs11Uri[K] } = {};
  const seen = new Set<string>();
  const take = (part: string, allowed: Set<string>) => {
    if (part === "") return;
    const eq = part.indexOf("=");
    if (eq <= 0) throw invalid(uri, `"${part.slice(0, 40)}" is not attribute=value`);
    const attr = part.slice(0, eq).toLowerCase();
    const raw = part.slice(eq + 1);
    if (!allowed.has(attr)) throw invalid(uri, `"${attr}" is not a PKCS#11 URI attribute here`);
    if (seen.has(attr)) throw invalid(uri, `"${attr}" is given twice`);
    seen.add(attr);
    const bytes = decode(raw, attr, uri);
    const text = Buffer.from(bytes).toString("utf8");
    switch (attr) {
      case "token": out.token = text; break;
      case "serial": out.serial = text; break;
      case "manufacturer": out.manufacturer = text; break;
      case "model": out.model = text; break;
      case "object": out.object = text; break;
      case "id": out.id = bytes; break;
      case "slot-id":
        if (!/^\d{1,10}$/.test(text)) throw invalid(uri, "slot-id must be a decimal number");
        out.slotId = Number(text);
        break;
      case "type":
        if (!TYPES.has(text)) throw invalid(uri, `type must be one of ${[...TYPES].join(", ")}`);
        out.type = text;
        break;
      case "pin-source": out.pinSource = text.startsWith("file:") ? text.replace(/^file:(\/\/)?/, "") : text; break;
      case "pin-value": out.pinValue = text; break;
      case "module-path": out.modulePath = text; break;
      default: break; // a standard attribute mtlskit does not need
    }
  };
  for (const p of path.split(";")) take(p, PATH_ATTRS);
  for (const p of query.split("&")) take(p, QUERY_ATTRS);
  if (out.object === undefined && out.id === undefined) throw invalid(uri, "it names no object (add object=LABEL or id=%01...)");
  return out;
}

function encode(value: string | Uint8Array): string {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value);
  let s = "";
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    s += /[A-Za-z0-9\-._~:[\]@!$'()*+,=&/]/.test(c) && b < 0x80 && c !== ";" && c !== "&" ? c : `%${b.toString(16).padStart(2, "0")}`;
  }
  return s;
}

/**
 * Writes a PKCS#11 URI back in a canonical form. A `pin-value` is never written: what mtlskit
 * stores must not hold a PIN. `pin-source` and `module-path` are kept.
 */
export function formatPkcs11Uri(uri: Pkcs11Uri): string {
  const path: string[] = [];
  if (uri.token !== undefined) path.push(`token=${encode(uri.token)}`);
  if (uri.manufacturer !== undefined) path.push(`manufacturer=${encode(uri.manufacturer)}`);
  if (uri.model !== undefined) path.push(`model=${encode(uri.model)}`);
  if (uri.serial !== undefined) path.push(`serial=${encode(uri.serial)}`);
  if (uri.slotId !== undefined) path.push(`slot-id=${uri.slotId}`);
  if (uri.object !== undefined) path.push(`object=${encode(uri.object)}`);
  if (uri.id !== undefined) path.push(`id=${[...uri.id].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("")}`);
  if (uri.type !== undefined) path.push(`type=${uri.type}`);
  const query: string[] = [];
  if (uri.pinSource !== undefined) query.push(`pin-source=${encode(uri.pinSource)}`);
  if (uri.modulePath !== undefined) query.push(`module-path=${encode(uri.modulePath)}`);
  return `pkcs11:${path.join(";")}${query.length ? `?${query.join("&")}` : ""}`;
}
