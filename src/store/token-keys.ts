import type { KeyObject } from "node:crypto";
import { MtlsError } from "../errors/index.js";
import { formatPkcs11Uri, openTokenKey, parsePkcs11Uri, Pkcs11Session, type Pkcs11Options, type TokenKeyInfo } from "../pki/index.js";
import type { Profile } from "./workspace.js";

/**
 * Where a profile's keys in a token are reached: the module from the option (`--pkcs11-module`,
 * given here or to {@link withTokenAccess}), then MTLSKIT_PKCS11_MODULE, then the profile's
 * `pkcs11.module`; the PIN from `--pin-file`, else MTLSKIT_PKCS11_PIN, never from the profile.
 */
export function profilePkcs11Options(profile: Profile, given: Pkcs11Options = {}): Pkcs11Options {
  const merged: Pkcs11Options = { ...profile.tokenAccess, ...dropUndefined(given) };
  const env = merged.env ?? process.env;
  const module = merged.module ?? env["MTLSKIT_PKCS11_MODULE"] ?? profile.config.pkcs11?.module;
  return { ...merged, ...(module !== undefined ? { module } : {}) };
}

/**
 * The profile with this run's way to its token (`--pkcs11-module`, `--pin-file`): every command
 * that may open one of the profile's keys in a token passes its options through here once, so
 * that each later step (install checks, TLS, OAuth signing, status) uses them.
 *
 * @example
 * const p = withTokenAccess(await openProfile(".mtlskit", "d1-pp"), { pinFile: "pin.txt" });
 */
export function withTokenAccess(profile: Profile, pkcs11: Pkcs11Options | undefined): Profile {
  const given = dropUndefined(pkcs11 ?? {});
  if (Object.keys(given).length === 0) return profile;
  return { ...profile, tokenAccess: { ...profile.tokenAccess, ...given } };
}

function dropUndefined(o: Pkcs11Options): Pkcs11Options {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Pkcs11Options;
}

/** The URI of the profile's active (or pending) client key in a token, if it has one. */
export function profileClientKeyUri(profile: Profile, slot: "active" | "pending" = "active"): string | undefined {
  return slot === "active" ? profile.config.pkcs11?.clientKey : profile.config.pkcs11?.pendingClientKey;
}

/** The public key and description of a key in a token (the session is closed again). */
export function readTokenPublicKey(uri: string, options: Pkcs11Options): { publicKey: KeyObject; info: TokenKeyInfo } {
  const key = openTokenKey(uri, options);
  try {
    return { publicKey: key.publicKey, info: key.info };
  } finally {
    key.close();
  }
}

/** `<label>-<yyyymmdd>`, then `-2`, `-3`... : the label of a renewal key, not in `taken`. */
export function renewalLabel(label: string, now: Date, taken: (l: string) => boolean): string {
  const base = `${label.replace(/-\d{8}(-\d+)?$/, "")}-${now.toISOString().slice(0, 10).replaceAll("-", "")}`;
  if (!taken(base)) return base;
  for (let i = 2; i < 1000; i++) if (!taken(`${base}-${i}`)) return `${base}-${i}`;
  throw new MtlsError("FILE_EXISTS", `no free label for a renewal key after ${base}-999`);
}

/**
 * The URI of a renewal key next to `current` in the same token: object `<label>-<yyyymmdd>`
 * (then -2, -3... when taken), without an id (the token gives it a random one). The token must be
 * reachable with the PIN: a coded PKCS11_* error otherwise, before anything is written.
 */
export function renewalKeyUri(current: string, options: Pkcs11Options, now: Date): string {
  const u = parsePkcs11Uri(current);
  const s = Pkcs11Session.open(u, options);
  try {
    const label = renewalLabel(u.object ?? "mtlskit-key", now, (l) => s.hasPrivateKey({ ...s.uri, object: l, id: undefined }));
    return formatPkcs11Uri({ token: s.tokenLabel, object: label, type: "private" });
  } finally {
    s.close();
  }
}
