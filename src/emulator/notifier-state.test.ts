import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadState, newRecord, pendingCount, StateWriter, STATE_FORMAT, trimLog, type DeliveryRecord } from "./notifier-state.js";

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-notifier-state-"));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const CREATED = "2026-12-06T08:00:00.000Z";

describe("notifier records", () => {
  it("makes a D1 notify-update under the merchantGatewayId, due at once", () => {
    const r = newRecord("d1", "preprod", "gw 1", "notify.customer.test:8443", CREATED);
    expect(r.id).toMatch(/^ntf-[0-9a-f-]{36}$/);
    expect(r.path).toMatch(/^\/merchant-gateways\/gw%201\/merchants\/merchant-[0-9a-f]{12}\/tokens\/token-[0-9a-f]{24}\/notify-update$/);
    expect(r.url).toBe(`https://notify.customer.test:8443${r.path}`);
    expect(r.correlationId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(r).toMatchObject({ state: "pending", attempts: [], createdAt: CREATED, nextAttemptAt: CREATED, body: { notificationId: r.id, merchantGatewayId: "gw 1", eventType: "TOKEN_UPDATED", timestamp: CREATED } });
  });

  it("makes an MT notify-merchant-update", () => {
    const r = newRecord("mt", "sandbox", "cust1", "notify.customer.test", CREATED);
    expect(r.path).toBe("/tsh-cof/notify-merchant-update");
    expect(r.body).toMatchObject({ notificationId: r.id, customerId: "cust1", eventType: "MERCHANT_UPDATED" });
  });

  it("keeps the newest finished deliveries, never a pending one or one in flight", () => {
    const rec = (id: string, state: DeliveryRecord["state"]) => ({ ...newRecord("mt", "sandbox", "c", "h.test", CREATED), id, state });
    const records = [rec("f1", "failed"), rec("p1", "pending"), rec("d1", "delivered"), rec("busy", "delivered"), rec("d2", "delivered"), rec("p2", "pending")];
    trimLog(records, (id) => id === "busy", 2);
    expect(records.map((r) => r.id)).toEqual(["p1", "busy", "d2", "p2"]);
    expect(pendingCount(records)).toBe(2);
    trimLog(records, () => false, 2);
    expect(records.map((r) => r.id)).toEqual(["p1", "busy", "d2", "p2"]);
  });
});

describe("notifier state file", () => {
  it("reads a missing file as an empty state", async () => {
    expect(await loadState(path.join(tmp, "missing.json"))).toEqual([]);
  });

  it("writes the records atomically, 0600, and reads them back without duplicates", async () => {
    const file = path.join(tmp, "state.json");
    const records = [newRecord("d1", "preprod", "gw1", "h.test", CREATED)];
    const writer = new StateWriter(file, records);
    void writer.persist();
    records.push(newRecord("d1", "preprod", "gw1", "h.test", CREATED));
    void writer.persist();
    await writer.flush();
    expect(writer.error).toBeUndefined();
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(await fs.readFile(file, "utf8")) as { format: string; deliveries: unknown[] };
    expect(doc.format).toBe(STATE_FORMAT);
    expect(await loadState(file)).toEqual(records);
    await fs.writeFile(file, JSON.stringify({ format: STATE_FORMAT, deliveries: [records[0], records[0]] }));
    expect(await loadState(file)).toEqual([records[0]]);
  });

  it("keeps a failed write's error until a write succeeds", async () => {
    const dir = path.join(tmp, "gone");
    const writer = new StateWriter(path.join(dir, "state.json"), []);
    await writer.persist();
    expect(writer.error).toBeDefined();
    await fs.mkdir(dir);
    await writer.persist();
    expect(writer.error).toBeUndefined();
  });

  it("refuses a file that is not a notifier state", async () => {
    const file = path.join(tmp, "other.json");
    await fs.writeFile(file, JSON.stringify({ format: "something-else/1", deliveries: [] }));
    await expect(loadState(file)).rejects.toMatchObject({ code: "FILE_UNREADABLE", subject: file });
    await fs.writeFile(file, "{not json");
    await expect(loadState(file)).rejects.toMatchObject({ code: "FILE_UNREADABLE" });
  });
});
