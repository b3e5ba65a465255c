/**
 * `createThalesDispatcher` given credential files (as `createInboundServer` takes them): the
 * certificate, an encrypted key with its passphrase file and the server trust are read from
 * disk, and a real mTLS call reaches the emulator's MT endpoint on loopback.
 */
import { createPrivateKey } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createThalesDispatcher, ThalesDispatcher } from "../src/client/index.js";
import { isMtlsError } from "../src/errors/index.js";
import { json, startWorld, type World } from "./outbound-fixtures.js";

describe("createThalesDispatcher with credential files", () => {
  let world: World;
  const opened: ThalesDispatcher[] = [];
  beforeAll(async () => {
    world = await startWorld("mt");
  });
  afterAll(async () => {
    await Promise.all(opened.map((d) => d.destroy()));
    await world.close();
  });

  it("reads the certificate, an encrypted key with its passphrase file and the server trust, and calls the endpoint", async () => {
    const keyFile = path.join(world.dir, "client-encrypted.key");
    const passphraseFile = path.join(world.dir, "client.pass");
    const passphrase = "correct horse battery staple";
    await fs.writeFile(keyFile, createPrivateKey(world.client.keyPem).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }), { mode: 0o600 });
    await fs.writeFile(passphraseFile, `${passphrase}\n`, { mode: 0o600 });

    const dispatcher = await createThalesDispatcher({
      program: world.program,
      credentials: { certFile: world.files.certFile, keyFile, passphraseFile, caFile: world.files.caFile! },
      dns: { servers: [world.dns.server] },
    });
    opened.push(dispatcher);
    expect(dispatcher).toBeInstanceOf(ThalesDispatcher);
    expect(dispatcher.credentials.files).toMatchObject({ keyFile, passphraseFile });

    const res = await request(`${world.origin}${world.basePath}echo`, { dispatcher });
    expect(res.statusCode).toBe(200);
    const body = await json<{ identity: { subject: string } }>(res.body);
    expect(body.identity.subject).toBe("CN=MT-123456-SBX");
    expect(dispatcher.stats.fullHandshakes).toBeGreaterThanOrEqual(1);
  });

  it("rejects with a coded error naming the file when the passphrase is wrong, and opens nothing", async () => {
    const keyFile = path.join(world.dir, "client-wrong-pass.key");
    const passphraseFile = path.join(world.dir, "wrong.pass");
    await fs.writeFile(keyFile, createPrivateKey(world.client.keyPem).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "right" }), { mode: 0o600 });
    await fs.writeFile(passphraseFile, "wrong\n", { mode: 0o600 });
    const e = await createThalesDispatcher({ program: world.program, credentials: { certFile: world.files.certFile, keyFile, passphraseFile, caFile: world.files.caFile! } }).catch((err: unknown) => err);
    expect(isMtlsError(e)).toBe(true);
    expect((e as Error).message).toContain(keyFile);
    expect((e as Error).message).not.toMatch(/BEGIN/);
  });

  it("rejects a key that does not belong to the certificate (KEY_MISMATCH)", async () => {
    const other = await world.serverPki.selfSigned({ cn: "MT-999999-SBX" });
    const keyFile = path.join(world.dir, "other.key");
    await fs.writeFile(keyFile, other.keyPem, { mode: 0o600 });
    const e = await createThalesDispatcher({ program: world.program, credentials: { certFile: world.files.certFile, keyFile, caFile: world.files.caFile! } }).catch((err: unknown) => err);
    expect(isMtlsError(e, "KEY_MISMATCH")).toBe(true);
  });
});
