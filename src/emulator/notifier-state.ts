/**
 * The notifier's state (see `notifier.ts`, "State"): the deliveries with what is needed to send
 * them again after a restart, in one JSON file (`mtlskit-notifier/1`) loaded at start
 * ({@link loadState}) and written atomically after every change ({@link StateWriter}); a new
 * notification's record ({@link newRecord}); the log kept to its size ({@link trimLog}).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import { z } from "zod";
import { MtlsError } from "../errors/index.js";
import { writeFileAtomic } from "../pki/index.js";
import type { ProgramId } from "../policy/index.js";

export const STATE_FORMAT = "mtlskit-notifier/1";

const attemptSchema = z.object({
  at: z.string(),
  status: z.number().int().optional(),
  error: z.string().optional(),
  durationMs: z.number(),
});
const recordSchema = z.object({
  id: z.string().min(1),
  program: z.enum(["d1", "mt"]),
  environment: z.string().min(1),
  customerId: z.string().min(1),
  method: z.literal("POST"),
  url: z.string(),
  correlationId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  state: z.enum(["pending", "delivered", "failed"]),
  attempts: z.array(attemptSchema),
  createdAt: z.string(),
  deliveredAt: z.string().optional(),
  nextAttemptAt: z.string().optional(),
  path: z.string().startsWith("/"),
  body: z.record(z.string(), z.unknown()),
});
const stateSchema = z.object({ format: z.literal(STATE_FORMAT), deliveries: z.array(recordSchema) });

/** A delivery with what is needed to send it again after a restart. */
export type DeliveryRecord = z.infer<typeof recordSchema>;

/** Reads the state file: a missing file is an empty state; `FILE_UNREADABLE` for one that cannot be read or is not a notifier state. */
export async function loadState(file: string): Promise<DeliveryRecord[]> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return [];
    throw new MtlsError("FILE_UNREADABLE", `${file}: the notifier state cannot be read (${code ?? String(e)})`, { subject: file, cause: e });
  }
  let parsed: z.infer<typeof stateSchema>;
  try {
    parsed = stateSchema.parse(JSON.parse(text));
  } catch (e) {
    throw new MtlsError("FILE_UNREADABLE", `${file}: is not a notifier state file (${STATE_FORMAT})`, {
      subject: file,
      cause: e,
      hint: "Move the file aside to start with an empty delivery log (pending notifications in it would be lost).",
    });
  }
  const seen = new Set<string>();
  return parsed.deliveries.filter((r) => !seen.has(r.id) && seen.add(r.id));
}

/** Writes the records to the state file: one write at a time; changes made meanwhile are written right after. */
export class StateWriter {
  private writing: Promise<void> | undefined;
  private dirty = false;
  /** The error of the last write, undefined once a write succeeded. */
  error: unknown;

  constructor(
    private readonly file: string,
    private readonly records: readonly DeliveryRecord[],
  ) {}

  /** Writes the records (soon): settles once they are on disk or the write failed ({@link error}). */
  persist(): Promise<void> {
    this.dirty = true;
    this.writing ??= (async () => {
      try {
        while (this.dirty) {
          this.dirty = false;
          const doc = { format: STATE_FORMAT, deliveries: this.records };
          try {
            await writeFileAtomic(this.file, JSON.stringify(doc) + "\n", { overwrite: true, mode: 0o600 });
            this.error = undefined;
          } catch (e) {
            this.error = e; // kept for close(); the next change tries again
          }
        }
      } finally {
        this.writing = undefined;
      }
    })();
    return this.writing;
  }

  /** Settles when no write is in progress. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }
}

/** The number of pending records. */
export function pendingCount(records: readonly DeliveryRecord[]): number {
  let n = 0;
  for (const r of records) if (r.state === "pending") n++;
  return n;
}

/** Keeps the newest `max` finished deliveries, oldest dropped first; pending ones (and those `busy`) are never dropped. */
export function trimLog(records: DeliveryRecord[], busy: (id: string) => boolean, max: number): void {
  let excess = records.length - pendingCount(records) - max;
  if (excess <= 0) return;
  for (let i = 0; i < records.length && excess > 0; ) {
    const r = records[i]!;
    if (r.state !== "pending" && !busy(r.id)) {
      records.splice(i, 1);
      excess--;
    } else {
      i++;
    }
  }
}

/** The path and body of one notification (bodies are the emulator's own: not documented). */
function notification(program: ProgramId, customerId: string, id: string, createdAt: string): { path: string; body: Record<string, unknown> } {
  if (program === "d1") {
    const merchantId = `merchant-${randomBytes(6).toString("hex")}`;
    const tokenId = `token-${randomBytes(12).toString("hex")}`;
    return {
      path: `/merchant-gateways/${encodeURIComponent(customerId)}/merchants/${merchantId}/tokens/${tokenId}/notify-update`,
      body: { notificationId: id, merchantGatewayId: customerId, merchantId, tokenId, eventType: "TOKEN_UPDATED", timestamp: createdAt },
    };
  }
  return {
    path: "/tsh-cof/notify-merchant-update",
    body: { notificationId: id, customerId, merchantId: `merchant-${randomBytes(6).toString("hex")}`, eventType: "MERCHANT_UPDATED", timestamp: createdAt },
  };
}

/** A new pending notification for a checked customer at `host` (ISSUER_HOST, normalised), due at once. */
export function newRecord(program: ProgramId, environment: string, customerId: string, host: string, createdAt: string): DeliveryRecord {
  const id = `ntf-${randomUUID()}`;
  const { path, body } = notification(program, customerId, id, createdAt);
  return {
    id,
    program,
    environment,
    customerId,
    method: "POST",
    url: `https://${host}${path}`,
    correlationId: randomUUID(),
    state: "pending",
    attempts: [],
    createdAt,
    nextAttemptAt: createdAt,
    path,
    body,
  };
}
