import { generateKeyPairSync } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { Agent } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isMtlsError } from "../errors/index.js";
import { d1 } from "../policy/index.js";
import { JWT_BEARER_GRANT, OAuthClient } from "./oauth-client.js";

const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });

interface Seen {
  contentType: string | undefined;
  fields: Record<string, string>;
}

/** A token endpoint answering from `reply`. */
let reply: (fields: Record<string, string>) => { status: number; body: unknown; headers?: Record<string, string> };
const seen: Seen[] = [];
let server: http.Server;
let url: string;
let agent: Agent;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8").on("data", (d: string) => (text += d));
    req.on("end", () => {
      const contentType = req.headers["content-type"];
      const fields = contentType === "application/json" ? (JSON.parse(text) as Record<string, string>) : Object.fromEntries(new URLSearchParams(text));
      seen.push({ contentType, fields });
      const r = reply(fields);
      // Answer a little later, so concurrent callers overlap.
      setTimeout(() => {
        res.writeHead(r.status, { "content-type": "application/json", ...r.headers });
        res.end(JSON.stringify(r.body));
      }, 20);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/authz/v1/oauth2/token`;
  agent = new Agent();
});
afterAll(async () => {
  await agent.close();
  await new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  seen.length = 0;
  reply = () => ({ status: 200, body: { access_token: `tok-${seen.length}`, token_type: "Bearer", expires_in: 900, scope: "d1" } });
});

function client(extra: Partial<ConstructorParameters<typeof OAuthClient>[0]> = {}): OAuthClient {
  return new OAuthClient({ dispatcher: agent, tokenUrl: url, issuer: "123456", kid: "key-1", privateKey, program: d1, ...extra });
}

describe("OAuthClient: the JWT bearer grant", () => {
  it("sends a JSON body with an ES256 assertion: iss = merchantGatewayId, kid, exp <= 15 min, jti", async () => {
    const token = await client().getToken();
    expect(token.value).toBe("tok-1");
    expect(token.scope).toBe("d1");
    expect(token.expiresAt.getTime() - token.obtainedAt.getTime()).toBe(900_000);
    const { contentType, fields } = seen[0]!;
    expect(contentType).toBe("application/json");
    expect(fields.grant_type).toBe(JWT_BEARER_GRANT);
    const header = decodeProtectedHeader(fields.assertion!);
    expect(header).toMatchObject({ alg: "ES256", kid: "key-1", typ: "JWT" });
    const claims = decodeJwt(fields.assertion!);
    expect(claims.iss).toBe("123456");
    expect(claims.sub).toBe("123456");
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(15 * 60);
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    await jwtVerify(fields.assertion!, publicKey, { issuer: "123456", algorithms: ["ES256"] });
  });

  it("sends form-urlencoded when asked, and a fresh jti each time", async () => {
    const c = client({ bodyFormat: "form" });
    await c.refresh();
    await c.refresh();
    expect(seen.map((s) => s.contentType)).toEqual(["application/x-www-form-urlencoded", "application/x-www-form-urlencoded"]);
    expect(decodeJwt(seen[0]!.fields.assertion!).jti).not.toBe(decodeJwt(seen[1]!.fields.assertion!).jti);
  });

  it("caps the assertion lifetime at the program's 15 minutes", async () => {
    await client({ assertionLifetimeSeconds: 3600 }).getToken();
    const claims = decodeJwt(seen[0]!.fields.assertion!);
    expect(claims.exp! - claims.iat!).toBe(900);
  });

  it("caches the token, and concurrent callers share one request", async () => {
    const c = client();
    const tokens = await Promise.all(Array.from({ length: 20 }, () => c.getToken()));
    expect(new Set(tokens.map((t) => t.value)).size).toBe(1);
    await c.getToken();
    expect(seen).toHaveLength(1);
    expect(c.requests).toBe(1);
  });

  it("refreshes shortly before expiry: the old token serves while one refresh runs", async () => {
    let now = Date.now();
    const c = client({ now: () => now, refreshBeforeSeconds: 60 });
    const first = await c.getToken();
    now += 839_000; // 61 s left: still fresh
    expect((await c.getToken()).value).toBe(first.value);
    expect(seen).toHaveLength(1);
    now += 2_000; // 59 s left: inside the refresh margin
    const during = await Promise.all([c.getToken(), c.getToken(), c.getToken()]);
    expect(during.every((t) => t.value === first.value)).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toHaveLength(2);
    expect((await c.getToken()).value).not.toBe(first.value);
    now += 900_000; // long expired: wait for a new one
    const later = await c.getToken();
    expect(later.value).toBe("tok-3");
  });

  it("invalidate() forgets only the token the server refused", async () => {
    const c = client();
    const t = await c.getToken();
    c.invalidate("another");
    expect(c.cachedToken()?.value).toBe(t.value);
    c.invalidate(t);
    expect(c.cachedToken()).toBeUndefined();
  });

  it("never shows the token in JSON or inspect output", async () => {
    const t = await client().getToken();
    expect(JSON.stringify(t)).not.toContain(t.value);
    expect(inspect(t)).not.toContain(t.value);
    expect(JSON.parse(JSON.stringify(t))).toMatchObject({ tokenType: "Bearer", expiresIn: 900 });
  });
});

describe("OAuthClient: refusals, named", () => {
  async function codeOf(p: Promise<unknown>): Promise<string> {
    try {
      await p;
      return "ok";
    } catch (e) {
      return isMtlsError(e) ? e.code : `not coded: ${(e as Error).message}`;
    }
  }

  it("unknown kid", async () => {
    reply = () => ({ status: 401, body: { errors: [{ code: "UNKNOWN_KID", message: "no OAuth key is registered with kid 'key-1' for merchantGatewayId '123456'" }] } });
    expect(await codeOf(client().getToken())).toBe("OAUTH_UNKNOWN_KID");
  });

  it("an assertion refused for its times, or a server clock far away, is clock skew", async () => {
    reply = () => ({ status: 400, body: { errors: [{ code: "INVALID_FIELD", message: "assertion exp is 4000 s ahead; it may be at most 900 s ahead" }] } });
    expect(await codeOf(client().getToken())).toBe("OAUTH_CLOCK_SKEW");
    reply = () => ({ status: 401, body: { error: "invalid_grant", error_description: "bad assertion" }, headers: { date: new Date(Date.now() - 3_600_000).toUTCString() } });
    const e = await client().getToken().catch((err: Error) => err);
    expect(isMtlsError(e, "OAUTH_CLOCK_SKEW")).toBe(true);
    expect((e as Error).message).toMatch(/clock is 3\d{3} s ahead of the server's/);
  });

  it("a bad signature or another refusal is OAUTH_TOKEN_REFUSED with the server's words", async () => {
    reply = () => ({ status: 401, body: { errors: [{ code: "INVALID_SIGNATURE", message: "assertion signature does not verify with the key registered as kid 'key-1'" }] } });
    const e = await client().getToken().catch((err: Error) => err);
    expect(isMtlsError(e, "OAUTH_TOKEN_REFUSED")).toBe(true);
    expect((e as Error).message).toContain("INVALID_SIGNATURE");
  });

  it("a 2xx without a token is OAUTH_TOKEN_RESPONSE_INVALID; a 5xx is HTTP_SERVER_ERROR", async () => {
    reply = () => ({ status: 200, body: { token_type: "Bearer" } });
    expect(await codeOf(client().getToken())).toBe("OAUTH_TOKEN_RESPONSE_INVALID");
    reply = () => ({ status: 503, body: {} });
    expect(await codeOf(client().getToken())).toBe("HTTP_SERVER_ERROR");
  });

  it("refuses a key that is not ECDSA P-256", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    expect(() => client({ privateKey: rsa })).toThrow(expect.objectContaining({ code: "OAUTH_KEY_INVALID" }));
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey;
    expect(() => client({ privateKey: p384 })).toThrow(expect.objectContaining({ code: "OAUTH_KEY_INVALID" }));
  });
});
