import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MtlsError } from "../errors/index.js";
import { makeThalesSide, signCsr, standardBundle, type ThalesSide } from "../../test/support/store-fixtures.js";
import { createProfileCsr } from "./profile-credentials.js";
import { openWorkspace } from "./workspace-api.js";

const SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments";
let d1: ThalesSide;
let mt: ThalesSide;
let tmp: string;
let dir: string;

beforeAll(async () => {
  [d1, mt] = await Promise.all([makeThalesSide("d1"), makeThalesSide("mt")]);
});
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mtlskit-wsapi-"));
  dir = path.join(tmp, "ws");
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function caught(p: Promise<unknown>): Promise<MtlsError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof MtlsError)) throw new Error(`expected an MtlsError, got ${String(e)}`);
  return e;
}

describe("openWorkspace", () => {
  it("reads nothing when made, and a folder not created yet lists no profile but is not a workspace", async () => {
    const ws = openWorkspace(dir);
    expect(ws.dir).toBe(dir);
    expect(ws.profile("d1-pp")).toMatchObject({ dir, name: "d1-pp" });
    await expect(ws.listProfiles()).resolves.toEqual([]);
    await expect(ws.assertExists()).rejects.toMatchObject({ code: "WORKSPACE_NOT_FOUND" });
    await expect(ws.status()).rejects.toMatchObject({ code: "WORKSPACE_NOT_FOUND" });
    await expect(fs.stat(dir)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("takes a D1 profile from nothing to green: add, CSR, install, import, status, show, export, remove", async () => {
    const ws = openWorkspace(dir);
    const added = await ws.addProfile("d1-pp", { program: "d1", environment: "preprod", customerId: "123456", subject: SUBJECT });
    expect(added.folderName).toBe("d1-preprod-123456");
    await ws.assertExists();
    const d1pp = ws.profile("d1-pp");

    const csr = await d1pp.createCsr();
    expect(csr.commonName).toBe("TLSMA-ECDSA/123456/D1.PPR");
    const paths = (await d1pp.open()).paths;
    expect(csr.csrFile).toBe(paths.client.csr);
    expect(paths.folder).toBe(path.join(dir, "d1-preprod-123456"));

    // Not ready yet: no certificate, no Thales trust.
    const before = await ws.status();
    expect(before.ok).toBe(false);
    expect(before.profiles.map((p) => p.name)).toEqual(["d1-pp"]);

    const signed = path.join(tmp, "signed.pem");
    await fs.writeFile(signed, (await signCsr(d1, "PPR", paths.client.csr, paths.client.key)).chainPem);
    const installed = await d1pp.installCertificate(signed);
    expect(installed).toMatchObject({ profile: "d1-pp", slot: "active" });

    expect((await d1pp.assetsStatus()).ok).toBe(false);
    const imported = await d1pp.importAssets(await standardBundle(path.join(tmp, "bundle"), d1, "d1", "preprod", "123456"));
    expect(imported.kind).toBe("bundle");
    expect(imported.inboundTrust?.file).toBe(paths.assets.inboundClientCa);
    expect((await d1pp.open()).dnsServers).toEqual(["127.0.0.1:40002"]);
    expect((await d1pp.assetsStatus()).ok).toBe(true);

    const after = await ws.status({ profile: "d1-pp" });
    expect(after.ok).toBe(true);
    expect(after.profiles[0]!.ready.outbound).toBe(true);
    const shown = await d1pp.show();
    expect(shown.name).toBe("d1-pp");
    expect(shown.status.ok).toBe(true);
    expect(shown.files.find((f) => f.role === "client.key")).toMatchObject({ path: paths.client.key, exists: true, mode: "0600" });

    const exported = await d1pp.exportAssets(path.join(tmp, "to-thales"));
    expect(exported.profile).toBe("d1-pp");
    expect(JSON.parse(await fs.readFile(exported.manifest, "utf8"))).toMatchObject({ direction: "to-thales", customerId: "123456" });

    expect((await ws.listProfiles()).map((p) => p.name)).toEqual(["d1-pp"]);
    const removed = await ws.removeProfile("d1-pp");
    expect(removed.profile).toBe("d1-pp");
    expect(removed.trashedTo).toContain(path.join(dir, "trash"));
    await expect(ws.listProfiles()).resolves.toEqual([]);
  });

  it("runs an MT profile's self-signed certificate and renewal through the handle", async () => {
    const ws = openWorkspace(dir);
    await ws.addProfile("mt-sbx", { program: "mt", environment: "sandbox", customerId: "654321", cn: "MT-654321-SBX" });
    const handle = ws.profile("mt-sbx");
    const cert = await handle.createSelfSigned({ days: 365 });
    expect(cert.commonName).toBe("MT-654321-SBX");
    await handle.importAssets(await standardBundle(path.join(tmp, "bundle"), mt, "mt", "sandbox", "654321"));
    const renewal = await handle.renew();
    expect(renewal.certificateFile).toBe((await handle.open()).paths.pending.cert);
    const activated = await handle.activateCertificate();
    expect(activated).toMatchObject({ slot: "active", promoted: true });
    await expect(handle.activateCertificate()).rejects.toMatchObject({ code: "NOTHING_TO_ACTIVATE" });
  });

  it("gives the same coded errors as the store's functions", async () => {
    const ws = openWorkspace(dir);
    await ws.addProfile("d1-pp", { program: "d1", environment: "preprod", customerId: "123456", subject: SUBJECT });
    const ghost = ws.profile("nope");

    const viaHandle = await caught(ghost.createCsr());
    const direct = await caught(createProfileCsr(dir, "nope"));
    expect(viaHandle.code).toBe("PROFILE_NOT_FOUND");
    expect(viaHandle.message).toBe(direct.message);
    expect(viaHandle.message).toBe(`no profile 'nope' in ${path.join(dir, "mtlskit.yaml")}`);
    expect(viaHandle.hint).toBe(direct.hint);
    expect(viaHandle.hint).toContain("Profiles here: d1-pp");

    const calls = [() => ghost.open(), () => ghost.show(), () => ghost.assetsStatus(), () => ghost.renew(), () => ghost.activateCertificate(), () => ghost.exportAssets(path.join(tmp, "out")), () => ws.removeProfile("nope"), () => ws.status({ profile: "nope" })];
    for (const call of calls) await expect(call()).rejects.toMatchObject({ code: "PROFILE_NOT_FOUND", message: viaHandle.message });
    await expect(ws.profile("d1-pp").createSelfSigned()).rejects.toMatchObject({ code: "WRONG_PROGRAM" });
    await expect(ws.addProfile("d1-pp", { program: "d1", environment: "preprod", customerId: "654321" })).rejects.toMatchObject({ code: "PROFILE_EXISTS" });
    await expect(ws.addProfile("bad name", { program: "d1", environment: "preprod", customerId: "654321" })).rejects.toMatchObject({ code: "PROFILE_NAME_INVALID" });

    const file = path.join(tmp, "a-file");
    await fs.writeFile(file, "");
    await expect(openWorkspace(file).assertExists()).rejects.toMatchObject({ code: "NOT_A_DIRECTORY" });
  });
});
