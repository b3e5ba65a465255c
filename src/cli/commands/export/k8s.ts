import { promises as fs } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { k8sManifests, type GeneratedFile } from "../../../engines/k8s.js";
import { MtlsError } from "../../../errors/index.js";
import { parseListenAddress, profileInboundFiles } from "../../../server/index.js";
import { replaceFile } from "../../../store/fs-ops.js";
import { paint, printJson, printNextSteps, say, type CliContext } from "../../context.js";

const DEFAULT_UPSTREAM = "http://app:8080";

export function define(cmd: Command): Command {
  return cmd
    .description("write Kubernetes manifests for the endpoint Thales calls: a TLS Secret with the Thales Client CA, a Deployment and Service running mtlskit serve, and an ingress-nginx Ingress with auth-tls annotations")
    .requiredOption("--profile <name>", "the profile (its server certificate and Thales Client CA: server-cert set, assets import)")
    .requiredOption("--out <dir>", "the folder to write (created; must be empty unless --force)")
    .option("--listen <host:port>", "the port mtlskit serve listens on in the pod", ":8443")
    .option("--upstream <url>", "your application as the pod reaches it: http://SERVICE:PORT[/prefix] (also the Ingress's backend)", DEFAULT_UPSTREAM)
    .option("--engine <engine>", "the engine in the pod: node or nginx", "node")
    .option("--image <image>", "the container image of the Deployment (a Dockerfile for it is written too)")
    .option("--namespace <ns>", "the namespace of every object", "default")
    .option("--force", "write into a folder that is not empty")
    .addHelpText(
      "after",
      "\nsecret.yaml holds the server's private key (mode 0600): keep it out of version control.\n" +
        "Apply secret.yaml with either deployment.yaml + service.yaml (mtlskit serve in the cluster) or ingress.yaml (ingress-nginx terminates).\n" +
        "The manifests validate against the Kubernetes schemas; the same profile gives the same bytes.\n" +
        "\nExample:\n  mtlskit export k8s --profile d1-pp --out ./k8s --upstream http://payments-app:8080 --image registry.example.com/mtlskit:0.1.0",
    );
}

/** mtlskit's version, from the package.json above this file (source or bundle). */
async function packageVersion(): Promise<string> {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(await fs.readFile(path.join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "mtlskit" && pkg.version) return pkg.version;
    } catch {
      // not here: one folder up
    }
    dir = path.dirname(dir);
  }
  return "latest";
}

/** Writes the files into `outDir` (created 0700 when new); refuses a folder that is not empty without `force`. */
async function writeOut(outDir: string, files: readonly GeneratedFile[], force: boolean): Promise<void> {
  const st = await fs.stat(outDir).catch(() => undefined);
  if (st && !st.isDirectory()) throw new MtlsError("FILE_EXISTS", `${outDir}: exists and is not a folder`, { subject: outDir });
  if (st && (await fs.readdir(outDir)).length > 0 && !force) {
    throw new MtlsError("FILE_EXISTS", `${outDir}: the folder is not empty`, { subject: outDir, hint: "Choose a new folder, or add --force to write into it." });
  }
  await fs.mkdir(outDir, { recursive: true, mode: 0o700 });
  for (const f of files) await replaceFile(path.join(outDir, f.name), f.content, { mode: f.mode });
}

/** The options of `export k8s`, as {@link define} declares them. */
export interface ExportK8sOptions {
  profile: string;
  out: string;
  listen: string;
  upstream: string;
  engine: string;
  image?: string;
  namespace: string;
  force?: boolean;
}

export async function run(ctx: CliContext, o: ExportK8sOptions): Promise<number> {
  const name = o.profile;
  const engine = o.engine;
  if (engine !== "node" && engine !== "nginx") throw new MtlsError("USAGE", `--engine must be node or nginx for Kubernetes, not '${engine}'`);
  const listen = parseListenAddress(o.listen);
  const upstream = o.upstream;
  let url: URL;
  try {
    url = new URL(upstream);
  } catch {
    throw new MtlsError("UPSTREAM_INVALID", `--upstream '${upstream}' is not a URL`, { hint: "Give your application's Service as http://SERVICE:PORT, for example http://payments-app:8080." });
  }
  if (url.protocol !== "http:") throw new MtlsError("UPSTREAM_INVALID", `--upstream '${upstream}' must be plain http:// (TLS ends at mtlskit serve or the ingress)`);
  const namespace = o.namespace;
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) throw new MtlsError("USAGE", `--namespace '${namespace}' is not a Kubernetes namespace name (lower-case letters, digits and '-', at most 63)`);
  // The Service is named thales-<profile>: a DNS label (RFC 1035), at most 63 characters.
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(`thales-${name}`) || `thales-${name}-tls`.length > 63) {
    throw new MtlsError("USAGE", `profile name '${name}' cannot name Kubernetes objects (thales-${name}): lower-case letters, digits and '-', at most 52 characters`);
  }
  const { profile, files } = await profileInboundFiles(ctx.dir, name);
  const keyPem = await fs.readFile(files.keyFile, "utf8");
  if (/ENCRYPTED/.test(keyPem)) throw new MtlsError("KEY_ENCRYPTED", `${files.keyFile}: the server key is encrypted; a Kubernetes TLS Secret needs the plain key`, { subject: files.keyFile });
  const certPem = await fs.readFile(files.certFile, "utf8");
  const chainPem = files.chainFile ? await fs.readFile(files.chainFile, "utf8") : "";
  const version = await packageVersion();
  const manifests = k8sManifests({
    profile: name,
    program: profile.program,
    serverChainPem: certPem.trimEnd() + "\n" + (chainPem ? chainPem.trimEnd() + "\n" : ""),
    serverKeyPem: keyPem,
    clientCaPem: await fs.readFile(files.caFile!, "utf8"),
    issuerHost: profile.issuerHost,
    upstream,
    listenPort: listen.port ?? 8443,
    engine,
    image: o.image ?? `mtlskit:${version}`,
    namespace,
    version,
  });
  const outDir = o.out;
  await writeOut(outDir, manifests, !!o.force);
  if (ctx.json) {
    printJson(ctx, { ok: true, out: outDir, files: manifests.map((f) => ({ name: f.name, file: path.join(outDir, f.name), mode: `0${f.mode.toString(8)}` })), engine, upstream, namespace });
    return 0;
  }
  for (const f of manifests) say(ctx, `${paint(ctx, "green", "wrote")} ${path.join(outDir, f.name)}${f.mode === 0o600 ? " (0600: holds the server's private key)" : ""}`);
  if (upstream === DEFAULT_UPSTREAM) say(ctx, `${paint(ctx, "yellow", "note")}: the upstream is the default ${DEFAULT_UPSTREAM}; give --upstream http://YOUR-SERVICE:PORT`);
  printNextSteps(ctx, [
    `docker build -t IMAGE ${outDir} (then push it, and set the Deployment's image)`,
    `kubectl apply -f ${path.join(outDir, "secret.yaml")} -f ${path.join(outDir, "deployment.yaml")} -f ${path.join(outDir, "service.yaml")}`,
    `or, to terminate at ingress-nginx instead: kubectl apply -f ${path.join(outDir, "secret.yaml")} -f ${path.join(outDir, "ingress.yaml")}`,
  ]);
  return 0;
}
