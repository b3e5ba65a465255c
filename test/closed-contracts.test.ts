/**
 * The contracts after close() (issue 10): `ReloadableCredentials.reload()` and a request through
 * a closed `ThalesDispatcher` give the coded `ALREADY_CLOSED`, never undefined behaviour, and
 * `close()` may be called again. Real credentials on disk, a real mTLS server, real undici.
 */
import { request } from "undici";
import type { Dispatcher } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReloadableCredentials } from "../src/credentials/index.js";
import { isMtlsError } from "../src/errors/index.js";
import { json, startPlainServer, startWorld, type PlainServer, type World } from "./outbound-fixtures.js";

let world: World;
let server: PlainServer;

beforeAll(async () => {
  world = await startWorld("mt");
  server = await startPlainServer({ server: world.serverLeaf, clientCaPem: world.client.certPem });
});
afterAll(async () => {
  await server.close();
  await world.close();
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("ReloadableCredentials after close()", () => {
  it("reload() rejects with ALREADY_CLOSED; close() again is harmless; current() keeps the last set", async () => {
    const creds = await ReloadableCredentials.load(world.files);
    expect((await creds.reload()).ok).toBe(true);
    const before = creds.current();
    creds.close();
    expect(() => creds.close()).not.toThrow();
    expect(creds.isClosed).toBe(true);
    const e = await rejection(creds.reload());
    expect(isMtlsError(e, "ALREADY_CLOSED"), String(e)).toBe(true);
    expect(creds.current()).toBe(before);
  });

  it("a reload running when close() is called swaps nothing and calls no listener", async () => {
    const creds = await ReloadableCredentials.load(world.files);
    const heard: number[] = [];
    creds.onChange((set) => heard.push(set.version));
    const first = creds.current();
    const renewed = await world.serverPki.selfSigned({ cn: world.client.info.commonName! });
    await world.writeClient(renewed);
    try {
      const running = creds.reload();
      creds.close();
      const r = await running;
      expect(r.ok).toBe(true);
      expect(heard).toEqual([]);
      expect(creds.current()).toBe(first);
      // A listener added after close() is never called either.
      creds.onChange((set) => heard.push(set.version));
      expect(heard).toEqual([]);
    } finally {
      await world.writeClient(world.client);
    }
  });
});

describe("ThalesDispatcher after close()", () => {
  it("a request through a closed dispatcher rejects with ALREADY_CLOSED (undici request and a new-style handler); close() and destroy() again resolve", async () => {
    const creds = await ReloadableCredentials.load(world.files);
    const dispatcher = world.dispatcher({ credentials: creds, retry: false });
    const url = `https://${world.host}:${server.port}/echo`;
    const res = await request(url, { dispatcher });
    expect(res.statusCode).toBe(200);
    await json(res.body);

    await dispatcher.close();
    await dispatcher.close();
    await dispatcher.destroy();
    await new Promise<void>((resolve) => dispatcher.close(resolve));

    const e = await rejection(request(url, { dispatcher }));
    expect(isMtlsError(e, "ALREADY_CLOSED"), String(e)).toBe(true);

    // A handler in undici's current style hears the error through onResponseError.
    const errors: Error[] = [];
    const handler: Dispatcher.DispatchHandler = { onResponseError: (_c, err) => errors.push(err) };
    expect(dispatcher.dispatch({ origin: `https://${world.host}:${server.port}`, path: "/echo", method: "GET" }, handler)).toBe(false);
    expect(errors.map((x) => (isMtlsError(x) ? x.code : x.message))).toEqual(["ALREADY_CLOSED"]);

    const r = await rejection(dispatcher.reload());
    expect(isMtlsError(r, "ALREADY_CLOSED"), String(r)).toBe(true);
    // The credentials are the caller's: they were not closed with the dispatcher.
    expect(creds.isClosed).toBe(false);
    expect((await creds.reload()).ok).toBe(true);
  });
});
