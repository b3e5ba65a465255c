/**
 * `mtlskit export k8s`: Kubernetes manifests for the endpoint Thales calls, from one profile.
 *
 * - `secret.yaml`: a `kubernetes.io/tls` Secret (the server certificate with its chain, the key)
 *   plus `ca.crt`, the Thales Client CA (never Thales's leaf).
 * - `deployment.yaml` and `service.yaml`: `mtlskit serve` (node or nginx engine) with the Secret
 *   mounted (Kubernetes swaps the files through `..data`, which serve reloads), probes on the
 *   admin port, and a LoadBalancer Service on port 443.
 * - `ingress.yaml`: for teams that terminate at the ingress-nginx controller instead, an Ingress
 *   with the `auth-tls-*` annotations that ask for and verify Thales's client certificate.
 * - `Dockerfile`: the image the Deployment names.
 *
 * Pure and deterministic: the same input gives the same bytes (no dates, no random names).
 */
import YAML from "yaml";
import { AEAD_FORWARD_SECRET_CIPHERS, IDENTITY_HEADERS, OTHER_CLIENT_CERT_HEADERS, type ProgramPolicy } from "../policy/index.js";

/** What the manifests are made from. */
export interface K8sExportInput {
  /** Profile name: names every object (`thales-<profile>-...`). */
  profile: string;
  program: ProgramPolicy;
  /** The server certificate followed by its chain, PEM. */
  serverChainPem: string;
  /** The server key, PEM (unencrypted: Kubernetes Secrets hold plain keys). */
  serverKeyPem: string;
  /** The Thales Client CA bundle, PEM. */
  clientCaPem: string;
  /** ISSUER_HOST (`host` or `host:port`): the name Thales calls; the Ingress's host. */
  issuerHost: string | undefined;
  /** The application as the pod reaches it, `http://host:port[/prefix]`. */
  upstream: string;
  /** The container port `mtlskit serve` listens on. */
  listenPort: number;
  /** The engine inside the pod. */
  engine: "node" | "nginx";
  /** The container image (built from the Dockerfile written next to the manifests). */
  image: string;
  /** Namespace of every object. */
  namespace: string;
  /** mtlskit's version, pinned in the Dockerfile. */
  version: string;
}

/** One generated file. */
export interface GeneratedFile {
  /** File name, relative to the output folder. */
  name: string;
  content: string;
  /** 0o600 for files holding a private key, else 0o644. */
  mode: number;
}

/** Admin port of `mtlskit serve` in the pod (probes and /metrics; not in the Service). */
export const K8S_ADMIN_PORT = 9464;
/** Where the Secret is mounted in the pod. */
export const K8S_TLS_MOUNT = "/etc/mtlskit/tls";
/** Client certificate chain depth the Ingress accepts: leaf, Thales Client CA, its root. */
export const K8S_VERIFY_DEPTH = 3;

/** `text` cut into lines of at most `width` characters, at spaces, each indented by two. */
function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l) => `  ${l}`).join("\n");
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

function doc(header: string, value: unknown, comments: Record<string, string> = {}): string {
  const d = new YAML.Document(value, { aliasDuplicateObjects: false });
  d.commentBefore = header
    .split("\n")
    .map((l) => (l ? ` ${l}` : ""))
    .join("\n");
  for (const [dotted, comment] of Object.entries(comments)) {
    const pair = d.getIn(dotted.split("|"), true) as { commentBefore?: string } | undefined;
    if (pair && typeof pair === "object")
      pair.commentBefore = comment
        .split("\n")
        .map((l) => ` ${l}`)
        .join("\n");
  }
  return d.toString({ lineWidth: 0 });
}

/** The upstream URL's host and port, for the Ingress backend (a Service name and port). */
function upstreamService(upstream: string): { name: string; port: number } {
  const u = new URL(upstream);
  return { name: u.hostname.split(".")[0]!, port: Number(u.port || 80) };
}

/** The manifests and the Dockerfile for one profile's endpoint. */
export function k8sManifests(input: K8sExportInput): GeneratedFile[] {
  const base = `thales-${input.profile}`;
  const labels = { "app.kubernetes.io/name": "mtlskit-serve", "app.kubernetes.io/instance": base, "app.kubernetes.io/managed-by": "mtlskit" };
  const thalesHost = input.issuerHost ? input.issuerHost.replace(/:\d+$/, "") : undefined;
  const meta = (name: string) => ({ name, namespace: input.namespace, labels });
  const program = input.program.name;
  const files: GeneratedFile[] = [];

  files.push({
    name: "secret.yaml",
    mode: 0o600,
    content: doc(
      `Secret ${base}-tls: what the endpoint Thales calls presents and trusts (${program}).\n` +
        "tls.crt: the server certificate, then its chain (Thales checks the whole chain).\n" +
        "tls.key: its private key. This file holds a private key: keep it out of version control\n" +
        "(or seal it), and prefer creating the Secret from your secret store.\n" +
        "ca.crt: the Thales Client CA, the only issuer whose client certificates are accepted.\n" +
        "Trust the CA, never Thales's leaf: a new Thales certificate from the same CA keeps working.",
      { apiVersion: "v1", kind: "Secret", metadata: meta(`${base}-tls`), type: "kubernetes.io/tls", data: { "tls.crt": b64(input.serverChainPem), "tls.key": b64(input.serverKeyPem), "ca.crt": b64(input.clientCaPem) } },
    ),
  });

  const args = [
    "serve",
    ...(input.engine === "nginx" ? ["--engine", "nginx"] : []),
    "--cert",
    `${K8S_TLS_MOUNT}/tls.crt`,
    "--key",
    `${K8S_TLS_MOUNT}/tls.key`,
    "--client-ca",
    `${K8S_TLS_MOUNT}/ca.crt`,
    "--listen",
    `:${input.listenPort}`,
    "--upstream",
    input.upstream,
    "--admin",
    `0.0.0.0:${K8S_ADMIN_PORT}`,
  ];
  files.push({
    name: "deployment.yaml",
    mode: 0o644,
    content: doc(
      `Deployment ${base}: mtlskit serve (${input.engine} engine), the endpoint Thales calls (${program}).\n` +
        "It requires a client certificate issued by the Thales Client CA (ca.crt of the Secret), speaks\n" +
        "TLS 1.2 and 1.3 with forward-secret AEAD suites only, strips identity headers sent by the caller\n" +
        "and forwards to your application with the verified identity in x-client-cert-* headers.\n" +
        "Kubernetes updates the mounted Secret through a '..data' swap; serve reloads it without a restart.\n" +
        "The admin port (healthz, readyz, metrics) listens on the pod address for the probes; the Service\n" +
        "does not expose it.",
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: meta(base),
        spec: {
          replicas: 2,
          selector: { matchLabels: { "app.kubernetes.io/instance": base } },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
              containers: [
                {
                  name: "mtlskit-serve",
                  image: input.image,
                  args,
                  ports: [
                    { name: "thales-mtls", containerPort: input.listenPort, protocol: "TCP" },
                    { name: "admin", containerPort: K8S_ADMIN_PORT, protocol: "TCP" },
                  ],
                  livenessProbe: { httpGet: { path: "/healthz", port: "admin" }, periodSeconds: 10, failureThreshold: 3 },
                  readinessProbe: { httpGet: { path: "/readyz", port: "admin" }, periodSeconds: 5, failureThreshold: 2 },
                  securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: input.engine === "node", capabilities: { drop: ["ALL"] } },
                  resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } },
                  volumeMounts: [{ name: "tls", mountPath: K8S_TLS_MOUNT, readOnly: true }],
                },
              ],
              volumes: [{ name: "tls", secret: { secretName: `${base}-tls`, defaultMode: 0o400 } }],
            },
          },
        },
      },
      { "spec|template|spec|containers": "The image is built from the Dockerfile next to this file.", "spec|template|spec|volumes": "defaultMode 256 is 0400: the key is readable by the container's user only." },
    ),
  });

  const ports = input.program.inbound.ports;
  files.push({
    name: "service.yaml",
    mode: 0o644,
    content: doc(
      `Service ${base}: where Thales connects. ${program} calls port ${ports.join(" or ")} (the Thales page's rule);\n` +
        `this Service listens on ${ports[0]} and forwards to mtlskit serve's port ${input.listenPort}.\n` +
        "externalTrafficPolicy Local keeps Thales's source address visible in serve's logs. TLS is not\n" +
        "terminated by the load balancer: use a TCP (layer 4) load balancer, or mutual TLS breaks.",
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: meta(base),
        spec: {
          type: "LoadBalancer",
          externalTrafficPolicy: "Local",
          selector: { "app.kubernetes.io/instance": base },
          ports: [{ name: "thales-mtls", port: ports[0], targetPort: "thales-mtls", protocol: "TCP" }],
        },
      },
    ),
  });

  const backend = upstreamService(input.upstream);
  const tls12 = AEAD_FORWARD_SECRET_CIPHERS.split(":")
    .filter((c) => !c.startsWith("TLS_"))
    .join(":");
  // ingress-nginx sets X-Forwarded-*, X-Real-IP and its ssl-client-* headers itself (with its
  // default use-forwarded-headers false); the identity headers of the other engines it passes on.
  const strip = [...Object.values(IDENTITY_HEADERS), ...OTHER_CLIENT_CERT_HEADERS.filter((h) => !h.startsWith("ssl-client-"))];
  files.push({
    name: "ingress.yaml",
    mode: 0o644,
    content: doc(
      `Ingress ${base}: the other way, for teams that terminate mutual TLS at the ingress-nginx\n` +
        "controller instead of running mtlskit serve (apply this OR the Deployment and Service).\n" +
        "auth-tls-verify-client on: a client certificate is required; auth-tls-secret names the Secret\n" +
        `whose ca.crt is the Thales Client CA; auth-tls-verify-depth ${K8S_VERIFY_DEPTH}: leaf, Thales Client CA, its root.\n` +
        "TLS versions are a controller-wide setting: in the ingress-nginx ConfigMap set\n" +
        '  ssl-protocols: "TLSv1.2 TLSv1.3"   (Thales: TLS 1.2 or later)\n' +
        "Headers: ingress-nginx sends ssl-client-verify (SUCCESS), ssl-client-subject-dn, ssl-client-issuer-dn\n" +
        "and, with pass-certificate-to-upstream, ssl-client-cert (URL-encoded PEM) to your application, and\n" +
        "sets X-Forwarded-For/-Proto/-Host and X-Real-IP itself (use-forwarded-headers false, its default).\n" +
        "It passes other headers through: your application must not trust these on this path\n" +
        "(they are what mtlskit serve sets, and other proxies' client-certificate headers):\n" +
        wrap(strip.join(", "), 96) +
        "\nunless the controller allows snippet annotations and you add, as a configuration-snippet:\n" +
        strip.map((h) => `  more_clear_input_headers "${h}";`).join("\n") +
        `\nThe backend is the Service '${backend.name}' port ${backend.port}, from --upstream.`,
      {
        apiVersion: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: {
          ...meta(base),
          annotations: {
            "nginx.ingress.kubernetes.io/auth-tls-verify-client": "on",
            "nginx.ingress.kubernetes.io/auth-tls-secret": `${input.namespace}/${base}-tls`,
            "nginx.ingress.kubernetes.io/auth-tls-verify-depth": String(K8S_VERIFY_DEPTH),
            "nginx.ingress.kubernetes.io/auth-tls-pass-certificate-to-upstream": "true",
            "nginx.ingress.kubernetes.io/ssl-ciphers": tls12,
            "nginx.ingress.kubernetes.io/ssl-prefer-server-ciphers": "true",
            "nginx.ingress.kubernetes.io/backend-protocol": "HTTP",
          },
        },
        spec: {
          ingressClassName: "nginx",
          tls: [{ ...(thalesHost ? { hosts: [thalesHost] } : {}), secretName: `${base}-tls` }],
          rules: [
            {
              ...(thalesHost ? { host: thalesHost } : {}),
              http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: backend.name, port: { number: backend.port } } } }] },
            },
          ],
        },
      },
    ),
  });

  files.push({
    name: "Dockerfile",
    mode: 0o644,
    content:
      `# The image of deployment.yaml: mtlskit ${input.version} on Node 20 (Debian bookworm)` +
      (input.engine === "nginx" ? ", with nginx-light for --engine nginx" : "") +
      ".\n" +
      `# Build and push it, then set the Deployment's image:\n#   docker build -t ${input.image} . && docker push ${input.image}\n` +
      "FROM node:20-bookworm-slim\n" +
      (input.engine === "nginx" ? "RUN apt-get update && apt-get install -y --no-install-recommends nginx-light && rm -rf /var/lib/apt/lists/*\n" : "") +
      `RUN npm install --global --omit=dev mtlskit@${input.version} && npm cache clean --force\n` +
      "USER 10001:10001\n" +
      'ENTRYPOINT ["mtlskit"]\n',
  });
  return files;
}
