import { promises as fs } from "node:fs";
import { isIP } from "node:net";
import * as path from "node:path";
import YAML from "yaml";
import { z } from "zod";
import { MtlsError, printable } from "../errors/index.js";
import { PROGRAMS, KEY_TYPES, type KeyType, type ProgramId } from "../policy/index.js";
import { protect, writeAtomic } from "./journal.js";

/** Name of the configuration file inside the workspace. */
export const CONFIG_FILE = "mtlskit.yaml";

/** The one format version of `mtlskit.yaml` this release reads and writes. */
export const CONFIG_VERSION = 1;

/** Profile names: what a user types after `--profile`. */
export const PROFILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Customer identifiers as they may appear in a CN and a folder name (the policy's rule). */
const CUSTOMER_ID_PATTERN = /^[A-Za-z0-9._-]+$/;

/** `host`, `host:port`; the value is checked for being a DNS name by the asset checks. */
const HOST_PORT = z.string().min(1, { error: "expected a host name, optionally with :port" });

/** Longest customer id accepted (the policy's rule: it becomes part of a CN and a folder name). */
const CUSTOMER_ID_MAX_LENGTH = 64;

/** Largest `mtlskit.yaml` read: a workspace of a few profiles is a few KiB. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * True for a DNS resolver address as `dns.Resolver#setServers` takes it and the emulator
 * writes it: an IP literal, optionally with a port (`127.0.0.1`, `127.0.0.1:53`, `::1`,
 * `[::1]:53`). Host names are refused: a resolver cannot be found by name.
 */
export function isDnsServerAddress(value: string): boolean {
  if (isIP(value) === 6) return true;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+))(?::(\d{1,5}))?$/.exec(value);
  if (!m) return false;
  if (m[1] !== undefined ? isIP(m[1]) !== 6 : isIP(m[2]!) !== 4) return false;
  return m[3] === undefined || (Number(m[3]) >= 1 && Number(m[3]) <= 65535);
}

/** A DNS resolver address: `IP:port` or `IP` (port 53). */
export const DNS_SERVER = z.string({ error: "expected a resolver address as a string" }).refine(isDnsServerAddress, {
  error: "expected a resolver address such as 127.0.0.1:53 or [::1]:53 (an IP address, optionally with a port from 1 to 65535)",
});

const programIds = Object.keys(PROGRAMS) as ProgramId[];

/** A key's PKCS#11 URI, as a profile stores it: never with a PIN. */
const PKCS11_KEY_URI = z
  .string()
  .regex(/^pkcs11:/, { error: "expected a pkcs11: URI (RFC 7512)" })
  .refine((u) => !/[;?&]pin-value=/.test(u), { error: "a profile never stores a PIN: remove pin-value (give --pin-file or MTLSKIT_PKCS11_PIN)" });

const ProfileSchema = z
  .object({
    /** `d1` or `mt`. */
    program: z.enum(programIds as [ProgramId, ...ProgramId[]], { error: `expected one of ${programIds.join(", ")}` }),
    /** One of the program's environments. */
    environment: z.string({ error: "expected the environment's name as a string" }),
    /** merchantGatewayId (D1) or customer identifier (MT), as Thales gave it. */
    customerId: z
      .string({ error: "expected the customer id as a string (quote numbers: \"123456\")" })
      .regex(CUSTOMER_ID_PATTERN, { error: "expected letters, digits, '.', '_' and '-' only" })
      .max(CUSTOMER_ID_MAX_LENGTH, { error: `expected at most ${CUSTOMER_ID_MAX_LENGTH} characters` }),
    /** Subject without CN in openssl -subj syntax (D1: C, ST, L, O, OU). */
    subject: z.string().optional(),
    /** Key type of new client keys. */
    keyType: z.enum(KEY_TYPES as unknown as [KeyType, ...KeyType[]], { error: `expected one of ${KEY_TYPES.join(", ")}` }).optional(),
    /** MT: the exact Common Name of the Thales portal (set by `profile add --cn` or by the assets' TSH_CLIENT_CN). */
    cn: z.string().min(1).optional(),
    /** What Thales handed over: where to reach it. Set by `assets import`. */
    thales: z
      .object({
        /** TSH_INBOUND_HOST / D1_API_HOST: `host` or `host:port`. */
        apiHost: HOST_PORT.optional(),
        /** D1_AUTHZ_URL. */
        authzUrl: z.url({ protocol: /^https$/, error: "expected an https:// URL" }).optional(),
      })
      .strict()
      .optional(),
    /** The endpoint Thales calls (ISSUER_HOST). */
    inbound: z
      .object({
        /** ISSUER_HOST: the host name Thales uses to reach this side. */
        issuerHost: HOST_PORT.optional(),
      })
      .strict()
      .optional(),
    /** Resolvers for every outbound connection of this profile (the emulator's DNS stand-in). */
    dns: z
      .object({ servers: z.array(DNS_SERVER, { error: "expected a list of resolver addresses" }).min(1, { error: "expected at least one resolver" }) })
      .strict()
      .optional(),
    /** Keys in a PKCS#11 token: their URIs (never a PIN) and the module. Set by `csr create --profile --key pkcs11:...` and friends. */
    pkcs11: z
      .object({
        /** The token's module (shared library); `--pkcs11-module` and MTLSKIT_PKCS11_MODULE come first. */
        module: z.string().min(1).optional(),
        /** The active client key. */
        clientKey: PKCS11_KEY_URI.optional(),
        /** The key of a renewal not yet installed/activated. */
        pendingClientKey: PKCS11_KEY_URI.optional(),
        /** The key of the endpoint Thales calls (server-cert set --key pkcs11:...). */
        serverKey: PKCS11_KEY_URI.optional(),
        /** D1: the ES256 key of the OAuth assertions. */
        oauthKey: PKCS11_KEY_URI.optional(),
      })
      .strict()
      .optional(),
    /** D1 OAuth 2.0: the key id registered with Thales; the key lives in the profile folder. */
    oauth: z
      .object({
        kid: z.string().min(1).optional(),
        /** Private key file, relative to the profile folder. Default `oauth/oauth.key`. */
        keyFile: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const program = PROGRAMS[p.program];
    if (!program.environments.some((e) => e.id === p.environment)) {
      ctx.addIssue({
        code: "custom",
        path: ["environment"],
        message: `expected one of ${program.environments.map((e) => e.id).join(", ")} (${program.name}), got '${p.environment}'`,
      });
    }
  });

const ConfigSchema = z
  .object({
    version: z.literal(CONFIG_VERSION, { error: `expected ${CONFIG_VERSION}` }),
    profiles: z
      .record(z.string().regex(PROFILE_NAME_PATTERN, { error: "a profile name uses letters, digits, '.', '_' and '-' (64 at most)" }), ProfileSchema)
      .default({}),
  })
  .strict();

/** One profile of `mtlskit.yaml`: one (program, environment, customer id) connection to Thales. */
export type ProfileConfig = z.infer<typeof ProfileSchema>;
/** The whole of `mtlskit.yaml`. */
export type WorkspaceConfig = z.infer<typeof ConfigSchema>;

/** A loaded configuration: the validated data and the YAML document (kept so that comments survive writes). */
export interface LoadedConfig {
  readonly file: string;
  readonly config: WorkspaceConfig;
  readonly doc: YAML.Document;
  /** False when the file does not exist yet (an empty workspace). */
  readonly exists: boolean;
}

function describeInput(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** `profiles.d1-pp.environment` */
function dotted(p: readonly PropertyKey[]): string {
  return p.map((k) => (typeof k === "number" ? `[${k}]` : String(k))).join(".").replace(/\.\[/g, "[");
}

function issueText(issue: z.core.$ZodIssue): string {
  const where = dotted(issue.path);
  const at = where ? `${where}: ` : "";
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "unrecognized_keys":
      return `${at}unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
    case "invalid_key":
      return `${at}invalid profile name: ${issue.issues[0]?.message ?? issue.message}`;
    case "invalid_type":
      if (input === undefined) return `${at}missing (${issue.message})`;
      return `${at}${issue.message}, got ${describeInput(input)}`;
    default:
      return `${at}${issue.message}${input !== undefined && issue.code !== "custom" && typeof input !== "object" ? `, got ${describeInput(input)}` : ""}`;
  }
}

/**
 * Validates configuration data; throws `CONFIG_INVALID` naming the file, the path of each bad
 * field (`profiles.d1-pp.environment`) and what is expected.
 */
export function validateConfig(data: unknown, file: string): WorkspaceConfig {
  const r = ConfigSchema.safeParse(data ?? { version: CONFIG_VERSION }, { reportInput: true });
  if (r.success) return r.data;
  const lines = r.error.issues.map(issueText);
  throw new MtlsError("CONFIG_INVALID", `${file}: ${lines.join("; ")}`, { subject: file });
}

function configRefused(file: string, what: string, cause?: unknown): MtlsError {
  return new MtlsError("CONFIG_INVALID", `${file}: ${what}`, {
    subject: file,
    hint: `Fix ${path.basename(file)} (or move the file away to start again: its profiles' folders stay untouched).`,
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** 1-based line of a character offset, for messages. */
function lineOf(text: string, offset: number | undefined): string {
  if (offset === undefined) return "";
  let line = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return ` (line ${line})`;
}

/**
 * Checks every mapping of the document before it is turned into data, in one pass without
 * recursion (deeply nested input cannot exhaust the stack): keys are plain scalars (a list or
 * mapping as a key has no meaning here), no key is `__proto__`, and no key repeats (a Set per
 * mapping: linear, where the YAML library's own check is quadratic).
 */
function checkKeys(doc: YAML.Document, text: string, file: string): void {
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (YAML.isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = pair.key;
        if (!YAML.isScalar(key)) {
          const at = lineOf(text, (key as { range?: [number, number, number] } | null)?.range?.[0] ?? (pair.value as { range?: [number, number, number] } | null)?.range?.[0]);
          throw configRefused(file, `a key that is not a plain name${at}: keys are field and profile names`);
        }
        const name = String(key.value);
        if (name === "__proto__") throw configRefused(file, `'__proto__'${lineOf(text, key.range?.[0])} is not a valid field or profile name`);
        if (seen.has(name)) throw configRefused(file, `not valid YAML: the key '${printable(name, 80)}' appears twice in one mapping${lineOf(text, key.range?.[0])}; keys must be unique`);
        seen.add(name);
        stack.push(pair.value);
      }
    } else if (YAML.isSeq(node)) {
      for (const item of node.items) stack.push(item);
    }
  }
}

/** Parses the text of `mtlskit.yaml` (YAML syntax, then the schema). */
export function parseConfig(text: string, file: string): { config: WorkspaceConfig; doc: YAML.Document } {
  const size = Buffer.byteLength(text, "utf8");
  if (size > MAX_CONFIG_BYTES) {
    throw configRefused(file, `is ${size} bytes long; at most ${MAX_CONFIG_BYTES} are read (a workspace configuration is a few KiB)`);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const first = e.message.split("\n")[0]!.replace(/:$/, "");
    throw new MtlsError("CONFIG_INVALID", `${file}: not valid YAML: ${printable(first, 200)}`, {
      subject: file,
      hint: `Fix the line named in ${path.basename(file)} (or move the file away to start again: its profiles' folders stay untouched).`,
    });
  }
  checkKeys(doc, text, file);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    const why = e instanceof ReferenceError && /alias/i.test(e.message) ? "too many alias expansions (a YAML alias bomb?)" : `cannot be read as data (${printable((e as Error).message ?? String(e), 120)})`;
    throw configRefused(file, `not valid YAML: ${why}`, e);
  }
  if (data !== null && data !== undefined && (typeof data !== "object" || Array.isArray(data))) {
    throw new MtlsError("CONFIG_INVALID", `${file}: expected a mapping with 'version' and 'profiles', got ${describeInput(data)}`, { subject: file });
  }
  return { config: validateConfig(data, file), doc };
}

/** Reads and validates `<dir>/mtlskit.yaml`; a missing file is an empty workspace. */
export async function loadConfig(dir: string): Promise<LoadedConfig> {
  const file = path.join(dir, CONFIG_FILE);
  let text: string;
  try {
    const handle = await fs.open(file, "r");
    try {
      const st = await handle.stat();
      if (st.isDirectory()) throw Object.assign(new Error("EISDIR"), { code: "EISDIR" });
      if (st.size > MAX_CONFIG_BYTES) {
        throw configRefused(file, `is ${st.size} bytes long; at most ${MAX_CONFIG_BYTES} are read (a workspace configuration is a few KiB)`);
      }
      text = await handle.readFile("utf8");
    } finally {
      await handle.close();
    }
  } catch (e) {
    if (e instanceof MtlsError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      const config: WorkspaceConfig = { version: CONFIG_VERSION, profiles: {} };
      return { file, config, doc: new YAML.Document(config), exists: false };
    }
    if (code === "EISDIR") throw new MtlsError("CONFIG_INVALID", `${file}: is a directory, not the configuration file`, { subject: file, cause: e });
    throw new MtlsError("FILE_UNREADABLE", `${file}: cannot be read (${code ?? "error"})`, { subject: file, cause: e });
  }
  const { config, doc } = parseConfig(text, file);
  if (doc.contents === null) doc.contents = doc.createNode({ version: CONFIG_VERSION, profiles: {} }) as unknown as typeof doc.contents;
  return { file, config, doc, exists: true };
}

/**
 * Writes the document back atomically after checking it still validates (a bug can never
 * leave an invalid file behind). Comments of the user's file are kept.
 */
export async function saveConfig(loaded: LoadedConfig): Promise<WorkspaceConfig> {
  const config = validateConfig(loaded.doc.toJS(), loaded.file);
  const header = loaded.exists ? "" : "# mtlskit workspace: one entry per Thales connection (program, environment, customer id).\n# Edit with care; `mtlskit status` checks it. Schema: see src/store/README.md.\n";
  await protect(loaded.file);
  await writeAtomic(loaded.file, header + loaded.doc.toString({ lineWidth: 0 }), { overwrite: true, mode: 0o600 });
  return config;
}

/** Sets `value` at `keys` of the YAML document (creating maps as needed); `undefined` deletes. */
export function setIn(loaded: LoadedConfig, keys: readonly string[], value: unknown): void {
  if (value === undefined) {
    if (loaded.doc.hasIn(keys)) loaded.doc.deleteIn(keys);
    return;
  }
  loaded.doc.setIn(keys, loaded.doc.createNode(value));
}
