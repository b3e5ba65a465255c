/**
 * The emulator's persisted state, `<dir>/state.json` (docs/architecture.md, "The emulator": "its state
 * lives in its own folder so that it survives restarts"): registered customers, MT
 * endorsements (pinned client certificates) and the log of D1 certificates the Business PKI
 * signed. Keys and certificates of the emulator itself live under `<dir>/pki/`
 * (emulator-pki.ts); the notifier keeps its own queue.
 *
 * Every change is written at once, atomically (write + rename, mode 0600: the file holds the
 * customers' API keys), one write after the other; the file is validated with a schema on
 * load and a damaged one is an `EMULATOR_STATE_INVALID` error naming it, never silently reset.
 *
 * @module
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { MtlsError } from "../errors/index.js";
import { fingerprint, writeFileAtomic } from "../pki/index.js";
import { assertCustomerId, COMMON_NAME_MAX_LENGTH, getEnvironment, mt, type ProgramId } from "../policy/index.js";
import type { SignedD1Certificate } from "./emulator-pki.js";

/** Version tag of `state.json`. */
export const STATE_FORMAT = "mtlskit-emulator-state/1";

/**
 * The Common Name the emulator's portal gives an MT customer for an environment: the one
 * place this scheme is written down. The MT page says "use the exact value provided in the
 * Thales portal for each environment"; the emulator's value is `MT-<customerId>-SBX` for the
 * sandbox and `MT-<customerId>-PRD` for production.
 */
export const MT_PORTAL_CN = {
  template: "MT-{customerId}-{envCode}",
  envCodes: { sandbox: "SBX", production: "PRD" } as Readonly<Record<string, string>>,
} as const;

/**
 * The portal's Common Name for an MT customer in an environment ({@link MT_PORTAL_CN}).
 *
 * @throws MtlsError UNKNOWN_ENVIRONMENT, GATEWAY_ID_INVALID (bad id, or a CN over 64 characters).
 */
export function mtPortalCommonName(environmentId: string, customerId: string): string {
  const env = getEnvironment(mt, environmentId);
  assertCustomerId(mt, customerId);
  const code = MT_PORTAL_CN.envCodes[env.id] ?? env.id.toUpperCase();
  const cn = MT_PORTAL_CN.template.replace("{customerId}", customerId).replace("{envCode}", code);
  if (cn.length > COMMON_NAME_MAX_LENGTH) {
    throw new MtlsError("GATEWAY_ID_INVALID", `the customer identifier '${customerId}' is too long: the Common Name '${cn}' would exceed ${COMMON_NAME_MAX_LENGTH} characters`);
  }
  return cn;
}

/** SHA-256 of a certificate's DER, lower-case hex without colons (the form endorsements are keyed by). */
export function certificateFingerprint(der: Uint8Array): string {
  return fingerprint(der, "hex");
}

const programSchema = z.enum(["d1", "mt"]);
const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: "not a date" });

const customerSchema = z.object({
  program: programSchema,
  environment: z.string().min(1),
  customerId: z.string().min(1),
  /** Where Thales calls the customer: `host[:port]`, a DNS name (ISSUER_HOST). */
  issuerHost: z.string().min(1).optional(),
  /** The customer's server certificate chain, PEM; Thales pins it. */
  serverChainPem: z.string().min(1).optional(),
  /** D1: the EC P-256 public key of the customer's OAuth assertions, PEM. */
  oauthPublicKeyPem: z.string().min(1).optional(),
  /** D1: the `kid` of that key. */
  kid: z.string().min(1).optional(),
  /** MT: the API key Thales sends on notifications (`authorization: APIKEY <key>`). */
  apiKey: z.string().min(1).optional(),
  /** MT: the Common Name the portal gave this customer for this environment. */
  portalCn: z.string().min(1).optional(),
  updatedAt: isoDate,
});

const endorsementSchema = z.object({
  program: z.literal("mt"),
  environment: z.string().min(1),
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  certificatePem: z.string().min(1),
  customerId: z.string().min(1),
  endorsedAt: isoDate,
});

const issuedSchema = z.object({
  program: z.literal("d1"),
  environment: z.string().min(1),
  customerId: z.string().min(1),
  serialNumber: z.string().min(1),
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  subject: z.string(),
  notBefore: isoDate,
  notAfter: isoDate,
  issuedAt: isoDate,
  certificatePem: z.string().min(1),
  /** The certificate followed by the Business PKI CA that signed it. */
  chainPem: z.string().min(1),
});

const stateSchema = z.object({
  format: z.literal(STATE_FORMAT),
  customers: z.array(customerSchema),
  endorsements: z.array(endorsementSchema),
  issued: z.array(issuedSchema),
});

/** A registered customer of one program and environment. */
export type CustomerRecord = z.infer<typeof customerSchema>;
/** An MT client certificate endorsed (pinned) for an environment. */
export type Endorsement = z.infer<typeof endorsementSchema>;
/** A D1 client certificate the Business PKI signed. */
export type IssuedCertificate = z.infer<typeof issuedSchema>;
/** The record of a certificate the Business PKI signed from a D1 CSR, as {@link EmulatorState.recordIssued} keeps it. */
export function issuedD1Record(signed: SignedD1Certificate, issuedAt: Date = new Date()): IssuedCertificate {
  const { info } = signed;
  return {
    program: "d1",
    environment: signed.environment,
    customerId: signed.gatewayId,
    serialNumber: info.serialNumber,
    fingerprint: fingerprint(info.der, "hex"),
    subject: info.subjectText,
    notBefore: info.notBefore.toISOString(),
    notAfter: info.notAfter.toISOString(),
    issuedAt: issuedAt.toISOString(),
    certificatePem: signed.certificatePem,
    chainPem: signed.chainPem,
  };
}

/** The whole content of `state.json`. */
export type EmulatorStateData = z.infer<typeof stateSchema>;

/** What a customer registration sets (every field replaces the previous value; absent clears it). */
export type CustomerFields = Omit<CustomerRecord, "program" | "environment" | "customerId" | "updatedAt">;

function empty(): EmulatorStateData {
  return { format: STATE_FORMAT, customers: [], endorsements: [], issued: [] };
}

/**
 * The emulator's state: read with {@link EmulatorState.load}, changed through its methods,
 * each of which returns once the change is on disk. Readers get copies.
 */
export class EmulatorState {
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    /** The state file, `<dir>/state.json`. */
    readonly file: string,
    private data: EmulatorStateData,
  ) {}

  /**
   * Reads `<dir>/state.json`, or starts empty when there is none (the folder is created).
   *
   * @throws MtlsError EMULATOR_STATE_INVALID when the file is not valid JSON or not of the
   *   expected shape (the message names the file and the first bad field).
   */
  static async load(dir: string): Promise<EmulatorState> {
    const root = path.resolve(dir);
    const file = path.join(root, "state.json");
    try {
      await fs.mkdir(root, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new MtlsError("WRITE_FAILED", `${root}: the emulator's folder cannot be created (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { subject: root, cause: e });
    }
    let text: string;
    try {
      text = await fs.readFile(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return new EmulatorState(file, empty());
      throw new MtlsError("EMULATOR_STATE_INVALID", `${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { subject: file, cause: e });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new MtlsError("EMULATOR_STATE_INVALID", `${file}: is not valid JSON (${(e as Error).message})`, { subject: file, cause: e });
    }
    const parsed = stateSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length ? issue.path.join(".") : "(top level)";
      throw new MtlsError("EMULATOR_STATE_INVALID", `${file}: ${where}: ${issue?.message ?? "invalid"}`, { subject: file, cause: parsed.error });
    }
    return new EmulatorState(file, parsed.data);
  }

  /** A copy of everything (for tests and diagnostics; it holds API keys: do not log it). */
  snapshot(): EmulatorStateData {
    return structuredClone(this.data);
  }

  /** The customer registered for (program, environment, id), if any. */
  getCustomer(program: ProgramId, environment: string, customerId: string): CustomerRecord | undefined {
    const c = this.data.customers.find((r) => r.program === program && r.environment === environment && r.customerId === customerId);
    return c ? { ...c } : undefined;
  }

  /** Every customer registered for a program and environment. */
  customers(program: ProgramId, environment: string): CustomerRecord[] {
    return this.data.customers.filter((r) => r.program === program && r.environment === environment).map((r) => ({ ...r }));
  }

  /** Registers a customer, or replaces its registration; returns the record as stored. */
  async putCustomer(program: ProgramId, environment: string, customerId: string, fields: CustomerFields): Promise<CustomerRecord> {
    const record: CustomerRecord = { program, environment, customerId, ...definedOnly(fields), updatedAt: new Date().toISOString() };
    customerSchema.parse(record);
    return this.mutate(() => {
      const i = this.data.customers.findIndex((r) => r.program === program && r.environment === environment && r.customerId === customerId);
      if (i >= 0) this.data.customers[i] = record;
      else this.data.customers.push(record);
      return { ...record };
    });
  }

  /**
   * The Common Name the portal gives an MT customer in an environment: the one recorded at
   * registration when there is one, else {@link mtPortalCommonName}.
   */
  portalCommonName(environment: string, customerId: string): string {
    return this.getCustomer("mt", environment, customerId)?.portalCn ?? mtPortalCommonName(environment, customerId);
  }

  /** The MT certificates endorsed for an environment, oldest first. */
  endorsements(environment: string): Endorsement[] {
    return this.data.endorsements.filter((e) => e.environment === environment).map((e) => ({ ...e }));
  }

  /** The endorsement of this fingerprint (lower-case hex) in an environment, if any. */
  getEndorsement(environment: string, fingerprint: string): Endorsement | undefined {
    const e = this.data.endorsements.find((r) => r.environment === environment && r.fingerprint === fingerprint);
    return e ? { ...e } : undefined;
  }

  /**
   * Endorses (pins) an MT certificate for an environment. Endorsing the same certificate again
   * changes nothing and returns the first endorsement with `created: false`.
   */
  async endorse(environment: string, customerId: string, certificateDer: Uint8Array, certificatePem: string): Promise<{ endorsement: Endorsement; created: boolean }> {
    const fingerprint = certificateFingerprint(certificateDer);
    return this.mutate(() => {
      const existing = this.data.endorsements.find((r) => r.environment === environment && r.fingerprint === fingerprint);
      if (existing) return { endorsement: { ...existing }, created: false };
      const endorsement: Endorsement = { program: "mt", environment, fingerprint, certificatePem, customerId, endorsedAt: new Date().toISOString() };
      this.data.endorsements.push(endorsement);
      return { endorsement: { ...endorsement }, created: true };
    });
  }

  /** Removes an endorsement; returns it, or undefined when there was none. */
  async removeEndorsement(environment: string, fingerprint: string): Promise<Endorsement | undefined> {
    return this.mutate(() => {
      const i = this.data.endorsements.findIndex((r) => r.environment === environment && r.fingerprint === fingerprint);
      if (i < 0) return undefined;
      const [removed] = this.data.endorsements.splice(i, 1);
      return removed ? { ...removed } : undefined;
    });
  }

  /** Records a D1 certificate the Business PKI signed. */
  async recordIssued(entry: IssuedCertificate): Promise<void> {
    issuedSchema.parse(entry);
    await this.mutate(() => {
      this.data.issued.push({ ...entry });
    });
  }

  /** D1 certificates signed for an environment (and customer), oldest first. */
  issued(environment: string, customerId?: string): IssuedCertificate[] {
    return this.data.issued.filter((r) => r.environment === environment && (customerId === undefined || r.customerId === customerId)).map((r) => ({ ...r }));
  }

  /** Applies a change in memory and writes the file; changes are written one after the other. */
  private mutate<T>(change: () => T): Promise<T> {
    const run = async (): Promise<T> => {
      const before = structuredClone(this.data);
      const result = change();
      try {
        await writeFileAtomic(this.file, `${JSON.stringify(this.data, null, 2)}\n`, { mode: 0o600, overwrite: true });
      } catch (e) {
        this.data = before; // what is in memory stays what is on disk
        throw e;
      }
      return result;
    };
    const next = this.tail.then(run, run);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
