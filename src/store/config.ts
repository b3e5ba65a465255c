import { promises as fs } from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { z } from "zod";
import { MtlsError } from "../errors/index.js";
import { PROGRAMS, KEY_TYPES, type KeyType, type ProgramId } from "../policy/index.js";
import { writeFileAtomic } from "../pki/index.js";

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

/** A DNS resolver address: `IP:port` or `IP` (port 53). */
const DNS_SERVER = z.string().regex(/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$|^[0-9A-Fa-f:]+$/, {
  error: "expected a resolver address such as 127.0.0.1:53 or [::1]:53",
});

const programIds = Object.keys(PROGRAMS) as ProgramId[];

const ProfileSchema = z
  .object({
    /** `d1` or `mt`. */
    program: z.enum(programIds as [ProgramId, ...ProgramId[]], { error: `expected one of ${programIds.join(", ")}` }),
    /** One of the program's environments. */
    environment: z.string({ error: "expected the environment's name as a string" }),
    /** merchantGatewayId (D1) or customer identifier (MT), as Thales gave it. */
    customerId: z
      .string({ error: "expected the customer id as a string (quote numbers: \"123456\")" })
      .regex(CUSTOMER_ID_PATTERN, { error: "expected letters, digits, '.', '_' and '-' only" }),
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

/** Parses the text of `mtlskit.yaml` (YAML syntax, then the schema). */
export function parseConfig(text: string, file: string): { config: WorkspaceConfig; doc: YAML.Document } {
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const first = e.message.split("\n")[0]!.replace(/:$/, "");
    throw new MtlsError("CONFIG_INVALID", `${file}: not valid YAML: ${first}`, {
      subject: file,
      hint: `Fix the line named in ${path.basename(file)} (or move the file away to start again: its profiles' folders stay untouched).`,
    });
  }
  const data: unknown = doc.toJS();
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
    text = await fs.readFile(file, "utf8");
  } catch (e) {
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
  await writeFileAtomic(loaded.file, header + loaded.doc.toString({ lineWidth: 0 }), { overwrite: true, mode: 0o600 });
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
