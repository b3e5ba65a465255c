/**
 * `mtlskit export k8s` with the real bin: the Secret, Deployment, Service and Ingress validate
 * against the Kubernetes schemas (kubernetes-models), carry the profile's files and the Thales
 * rules, are the same bytes for the same input, and the Deployment's container really serves:
 * its arguments, run against the Secret's files written where Kubernetes would mount them,
 * give a mutual-TLS endpoint that curl reaches with Thales's client certificate and that
 * refuses a caller without one. Bad input exits 2 with a code and writes nothing.
 */
import type { ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { Deployment } from "kubernetes-models/apps/v1";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1";
import { Secret, Service } from "kubernetes-models/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { expectCodedError, mtlskit, startMtlskit } from "./support/cli.js";
import { createInboundPki, curl, startUpstream, type InboundPki, type TestUpstream } from "./support/server-fixtures.js";
import { requireTool } from "./support/tools.js";

let pki: InboundPki;
let upstream: TestUpstream;
let ws: string;
let fullChain: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  pki = await createInboundPki();
  upstream = await startUpstream();
  ws = path.join(pki.dir, "ws");
  const add = await mtlskit(["--dir", ws, "profile", "add", "mt-sbx", "--program", "mt", "--env", "sandbox", "--id", "654321", "--cn", "MT-654321-SBX"]);
  expect(add.code, add.stderr).toBe(0);
  fullChain = path.join(pki.dir, "server-full-chain.pem");
  await fs.writeFile(fullChain, (await fs.readFile(pki.files.chainFile, "utf8")) + pki.serverPki.root.certPem);
  const set = await mtlskit(["--dir", ws, "server-cert", "set", "--profile", "mt-sbx", "--cert", pki.files.certFile, "--key", pki.files.keyFile, "--chain", fullChain, "--host", "notify.customer.test:8443"]);
  expect(set.code, set.stderr).toBe(0);
  await fs.mkdir(path.join(ws, "mt-sandbox-654321", "assets"), { recursive: true });
  await fs.copyFile(pki.files.caFile, path.join(ws, "mt-sandbox-654321", "assets", "inbound-client-ca.pem"));
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await upstream?.stop();
  if (pki) await fs.rm(pki.dir, { recursive: true, force: true });
});

async function exportTo(out: string, extra: string[] = []) {
  return mtlskit(["--dir", ws, "export", "k8s", "--profile", "mt-sbx", "--out", out, "--upstream", "http://payments-app:8080", "--image", "registry.example.com/mtlskit:0.1.0", "--namespace", "payments", ...extra]);
}

async function readAll(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await fs.readdir(dir)).sort()) out[f] = await fs.readFile(path.join(dir, f), "utf8");
  return out;
}

describe("mtlskit export k8s", () => {
  it("writes manifests that validate against the Kubernetes schemas and carry the profile and the Thales rules", async () => {
    const out = path.join(pki.dir, "k8s");
    const r = await exportTo(out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("secret.yaml (0600: holds the server's private key)");
    const files = await readAll(out);
    expect(Object.keys(files)).toEqual(["Dockerfile", "deployment.yaml", "ingress.yaml", "secret.yaml", "service.yaml"]);
    expect((await fs.stat(path.join(out, "secret.yaml"))).mode & 0o777).toBe(0o600);
    expect((await fs.stat(path.join(out, "deployment.yaml"))).mode & 0o777).toBe(0o644);

    const parse = (name: string) => {
      const docs = YAML.parseAllDocuments(files[name]!);
      expect(docs).toHaveLength(1);
      expect(docs[0]!.errors).toEqual([]);
      return docs[0]!.toJS() as Record<string, unknown>;
    };
    const secret = new Secret(parse("secret.yaml") as ConstructorParameters<typeof Secret>[0]);
    const deployment = new Deployment(parse("deployment.yaml") as ConstructorParameters<typeof Deployment>[0]);
    const service = new Service(parse("service.yaml") as ConstructorParameters<typeof Service>[0]);
    const ingress = new Ingress(parse("ingress.yaml") as ConstructorParameters<typeof Ingress>[0]);
    for (const m of [secret, deployment, service, ingress]) expect(() => m.validate()).not.toThrow();

    // The Secret: server chain, key, Thales Client CA, exactly the profile's files.
    expect(secret.type).toBe("kubernetes.io/tls");
    expect(secret.metadata).toMatchObject({ name: "thales-mt-sbx-tls", namespace: "payments" });
    const data = (k: string) => Buffer.from(secret.data![k]!, "base64").toString("utf8");
    expect(data("tls.crt")).toBe(pki.server.certPem.trimEnd() + "\n" + (await fs.readFile(fullChain, "utf8")).trimEnd() + "\n");
    expect(data("tls.key")).toBe(await fs.readFile(pki.files.keyFile, "utf8"));
    expect(data("ca.crt")).toBe(await fs.readFile(pki.files.caFile, "utf8"));
    expect(files["secret.yaml"]).toMatch(/never Thales's leaf/);

    // The Deployment runs serve on the mounted Secret, probes on the admin port.
    const c = deployment.spec!.template.spec!.containers[0]!;
    expect(c.image).toBe("registry.example.com/mtlskit:0.1.0");
    expect(c.args).toEqual(["serve", "--cert", "/etc/mtlskit/tls/tls.crt", "--key", "/etc/mtlskit/tls/tls.key", "--client-ca", "/etc/mtlskit/tls/ca.crt", "--listen", ":8443", "--upstream", "http://payments-app:8080", "--admin", "0.0.0.0:9464"]);
    expect(c.readinessProbe).toMatchObject({ httpGet: { path: "/readyz", port: "admin" } });
    expect(c.livenessProbe).toMatchObject({ httpGet: { path: "/healthz", port: "admin" } });
    expect(deployment.spec!.template.spec!.volumes![0]).toMatchObject({ secret: { secretName: "thales-mt-sbx-tls" } });

    // The Service: the port Thales calls (MT: 443 or 8443).
    expect(service.spec!.ports).toEqual([{ name: "thales-mtls", port: 443, targetPort: "thales-mtls", protocol: "TCP" }]);
    expect(service.spec!.ports!.map((p) => p.name)).not.toContain("admin");

    // The Ingress: client certificate required and verified against the Secret's ca.crt.
    expect(ingress.metadata!.annotations).toMatchObject({
      "nginx.ingress.kubernetes.io/auth-tls-verify-client": "on",
      "nginx.ingress.kubernetes.io/auth-tls-secret": "payments/thales-mt-sbx-tls",
      "nginx.ingress.kubernetes.io/auth-tls-verify-depth": "3",
    });
    for (const suite of ingress.metadata!.annotations!["nginx.ingress.kubernetes.io/ssl-ciphers"]!.split(":")) expect(suite).toMatch(/^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    expect(ingress.spec!.rules![0]).toMatchObject({ host: "notify.customer.test", http: { paths: [{ backend: { service: { name: "payments-app", port: { number: 8080 } } } }] } });
    expect(files["ingress.yaml"]).toContain('ssl-protocols: "TLSv1.2 TLSv1.3"');
    expect(files["ingress.yaml"]).toContain('more_clear_input_headers "x-client-cert-subject";');
    expect(files["Dockerfile"]).toMatch(/^RUN npm install --global --omit=dev mtlskit@\d+\.\d+\.\d+/m);

    // Same input, same bytes; --force to write over; without it, the folder is refused.
    const again = await exportTo(out, ["--force"]);
    expect(again.code, again.stderr).toBe(0);
    expect(await readAll(out)).toEqual(files);
    expectCodedError(await exportTo(out), "FILE_EXISTS");
  });

  it.skipIf(!requireTool("curl"))("gives a container that serves: the Deployment's arguments on the Secret's files", async () => {
    const out = path.join(pki.dir, "k8s-run");
    expect((await exportTo(out)).code).toBe(0);
    const secret = YAML.parse(await fs.readFile(path.join(out, "secret.yaml"), "utf8")) as { data: Record<string, string> };
    const deployment = YAML.parse(await fs.readFile(path.join(out, "deployment.yaml"), "utf8")) as { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } };
    // Where Kubernetes would mount the Secret.
    const mount = path.join(pki.dir, "mount");
    await fs.mkdir(mount);
    for (const [k, v] of Object.entries(secret.data)) await fs.writeFile(path.join(mount, k), Buffer.from(v, "base64"), { mode: 0o400 });
    const args = deployment.spec.template.spec.containers[0]!.args.map((a) => a.replace("/etc/mtlskit/tls", mount).replace(":8443", "127.0.0.1:0").replace("http://payments-app:8080", upstream.url).replace("0.0.0.0:9464", "127.0.0.1:0"));
    const { child, doc } = await startMtlskit<{ port: number; adminUrl: string }>(["--json", ...args], { cwd: process.cwd(), timeoutMs: 20_000 });
    children.push(child);
    const client = await pki.writeClient("thales-k8s", pki.client);
    const ok = await curl(doc.port, pki, ["--cert", client.cert, "--key", client.key, "-w", "\n%{http_code}"]);
    expect(ok.stdout.split("\n").pop()).toBe("200");
    expect((await curl(doc.port, pki, [])).code).not.toBe(0);
    expect(await (await fetch(`${doc.adminUrl}/readyz`)).text()).toBe("ready\n");
    child.kill("SIGTERM");
  });

  it("refuses bad input with a code and writes nothing", async () => {
    const out = path.join(pki.dir, "k8s-bad");
    for (const [extra, code] of [
      [["--engine", "haproxy"], "USAGE"],
      [["--namespace", "Payments_NS"], "USAGE"],
      [["--upstream", "https://payments-app:8443"], "UPSTREAM_INVALID"],
      [["--upstream", "not a url"], "UPSTREAM_INVALID"],
    ] as const) {
      expectCodedError(await exportTo(out, [...extra]), code);
    }
    const add = await mtlskit(["--dir", ws, "profile", "add", "d1-pp", "--program", "d1", "--env", "preprod", "--id", "123456"]);
    expect(add.code, add.stderr).toBe(0);
    const notReady = await mtlskit(["--dir", ws, "export", "k8s", "--profile", "d1-pp", "--out", out]);
    expectCodedError(notReady, "INBOUND_NOT_READY");
    await expect(fs.stat(out)).rejects.toThrow();
  });
});
