import { describe, expect, it } from "vitest";
import { dropSummary, PendingQueue, sweepIntervalMs } from "./pending-handshakes.js";

describe("pending handshakes", () => {
  it("evicts the oldest of the newcomer's address when that address is at its cap, never the newcomer", () => {
    const q = new PendingQueue<string>(100, 2);
    expect(q.admit("a1", "10.0.0.1", 1)).toEqual([]);
    expect(q.admit("b1", "10.0.0.2", 2)).toEqual([]);
    expect(q.admit("a2", "10.0.0.1", 3)).toEqual([]);
    expect(q.admit("a3", "10.0.0.1", 4)).toEqual(["a1"]);
    expect(q.size).toBe(3);
    expect([...q.admittedBy(Infinity)]).toEqual(["b1", "a2", "a3"]);
  });

  it("evicts the oldest of all when the queue is at its cap", () => {
    const q = new PendingQueue<string>(3, 10);
    q.admit("a", "x", 1);
    q.admit("b", "y", 2);
    q.admit("c", "z", 3);
    expect(q.admit("d", "w", 4)).toEqual(["a"]);
    expect([...q.admittedBy(Infinity)]).toEqual(["b", "c", "d"]);
  });

  it("evicts by address first, then by the global cap, in one admission", () => {
    const q = new PendingQueue<string>(2, 1);
    q.admit("a", "x", 1);
    q.admit("b", "y", 2);
    // "b" is the oldest of y (its cap is 1); the queue then has room again.
    expect(q.admit("c", "y", 3)).toEqual(["b"]);
    expect(q.admit("d", "z", 4)).toEqual(["a"]);
    expect([...q.admittedBy(Infinity)]).toEqual(["c", "d"]);
  });

  it("forgets a connection whose handshake ended, also for its address's count", () => {
    const q = new PendingQueue<string>(10, 1);
    q.admit("a", "x", 1);
    q.remove("a");
    q.remove("a");
    expect(q.size).toBe(0);
    expect(q.admit("b", "x", 2)).toEqual([]);
  });

  it("lists the connections admitted by a deadline, oldest first, and lets them be removed while listed", () => {
    const q = new PendingQueue<string>(10, 10);
    q.admit("a", "x", 10);
    q.admit("b", "x", 20);
    q.admit("c", "x", 30);
    const seen: string[] = [];
    for (const k of q.admittedBy(20)) {
      seen.push(k);
      q.remove(k);
    }
    expect(seen).toEqual(["a", "b"]);
    expect([...q.admittedBy(Infinity)]).toEqual(["c"]);
  });

  it("checks for the first byte four times per first-byte time, 25 to 250 ms apart", () => {
    expect(sweepIntervalMs(3000)).toBe(250);
    expect(sweepIntervalMs(400)).toBe(100);
    expect(sweepIntervalMs(10)).toBe(25);
  });

  it("summarises the drops in one line, by reason", () => {
    expect(dropSummary(new Map())).toBeUndefined();
    expect(dropSummary(new Map([["aborted", 1]]))).toEqual({ total: 1, counts: { aborted: 1 }, message: "dropped 1 connection before their TLS handshake finished (aborted: 1)" });
    expect(
      dropSummary(
        new Map([
          ["pending_evicted", 40],
          ["not_tls", 2],
        ]),
      )?.message,
    ).toBe("dropped 42 connections before their TLS handshake finished (pending_evicted: 40, not_tls: 2)");
  });
});
