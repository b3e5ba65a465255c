import type { IncomingHttpHeaders } from "node:http";
import { types } from "node:util";
import { util, type Dispatcher } from "undici";
import { describe, expect, it } from "vitest";
import { lazyHeaders, plainHeaders, PoolBridge } from "./pool-bridge.js";

const raw = () => [Buffer.from("Content-Type"), Buffer.from("application/json"), Buffer.from("Set-Cookie"), Buffer.from("a=1"), Buffer.from("set-cookie"), Buffer.from("b=2"), Buffer.from("Retry-After"), Buffer.from("3")];

describe("lazyHeaders", () => {
  it("reads as undici's parseHeaders result, however it is read", () => {
    const expected = util.parseHeaders(raw());
    const h = lazyHeaders(raw());
    expect(h["retry-after"]).toBe("3");
    expect(h["set-cookie"]).toEqual(["a=1", "b=2"]);
    expect("content-type" in h).toBe(true);
    expect("x-missing" in h).toBe(false);
    expect(Object.keys(h)).toEqual(Object.keys(expected));
    expect({ ...h }).toEqual(expected);
    expect(Object.entries(h)).toEqual(Object.entries(expected));
    expect(JSON.parse(JSON.stringify(h))).toEqual(expected);
  });

  it("keeps writes, and plainHeaders gives the plain object behind it", () => {
    const h = lazyHeaders(raw());
    h["x-added"] = "yes";
    delete h["retry-after"];
    const plain = plainHeaders(h);
    expect(types.isProxy(h)).toBe(true);
    expect(types.isProxy(plain)).toBe(false);
    expect(plain["x-added"]).toBe("yes");
    expect(plain["retry-after"]).toBeUndefined();
    const ordinary: IncomingHttpHeaders = { a: "1" };
    expect(plainHeaders(ordinary)).toBe(ordinary);
  });
});

describe("PoolBridge", () => {
  it("speaks undici's older callbacks to a newer-style handler: raw headers kept, pause and resume, abort", () => {
    const calls: string[] = [];
    let controller: Dispatcher.DispatchController | undefined;
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: (c) => {
        controller = c;
        calls.push("start");
      },
      onResponseStart: (c, status, headers) => {
        calls.push(`response ${status} ${String(headers["content-type"])} ${(c.rawHeaders as Buffer[]).length}`);
        c.pause();
      },
      onResponseData: (_c, chunk) => {
        calls.push(`data ${chunk.toString()}`);
      },
      onResponseEnd: (_c, trailers) => {
        calls.push(`end ${JSON.stringify(trailers)}`);
      },
      onResponseError: (_c, err) => {
        calls.push(`error ${err.message}`);
      },
    };
    const bridge = new PoolBridge(handler);
    let aborted: Error | undefined;
    bridge.onConnect((reason) => {
      aborted = reason;
    });
    let resumed = 0;
    expect(bridge.onHeaders(200, raw(), () => (resumed += 1), "OK")).toBe(false);
    controller!.resume();
    controller!.resume();
    expect(resumed).toBe(1);
    expect(bridge.onData(Buffer.from("x"))).toBe(true);
    bridge.onComplete(null);
    controller!.abort(new Error("stop"));
    controller!.abort(new Error("again"));
    expect(aborted?.message).toBe("stop");
    expect(controller!.aborted).toBe(true);
    expect(controller!.reason?.message).toBe("stop");
    bridge.onError(new Error("late"));
    expect(calls).toEqual(["start", "response 200 application/json 8", "data x", "end {}", "error late"]);
  });

  it("gives an error before any connection to the handler, and throws it when the handler takes none", () => {
    const seen: Error[] = [];
    new PoolBridge({ onResponseError: (_c, e) => seen.push(e) }).onError(new Error("refused"));
    expect(seen.map((e) => e.message)).toEqual(["refused"]);
    expect(() => new PoolBridge({}).onError(new Error("nobody"))).toThrow("nobody");
  });
});
