import { MtlsError, printable } from "../errors/index.js";
import { PROGRAMS, parseHostPort, type EnvironmentPolicy, type ProgramPolicy } from "../policy/index.js";
import type { CertificateInfo } from "../pki/index.js";

/**
 * Environments never mix: a production asset or certificate in a sandbox/preprod profile is
 * refused, and the reverse. The facts used all come from the program policies: the hosts of
 * each environment, the CN code (D1 `PPR`/`PRD`), and the environment's names.
 */

/** `Host:8443.` -> `host`; `[::1]:443` -> `::1`. */
export function hostOnly(hostPort: string): string {
  let h = hostPort.trim().toLowerCase();
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(h);
  if (bracket) return bracket[1]!;
  if ((h.match(/:/g) ?? []).length === 1) h = h.slice(0, h.indexOf(":"));
  return h.replace(/\.$/, "");
}

/**
 * Checks that `value` is a DNS host name, optionally with `:port`, and not an IP address
 * (Thales gives no static IPs; addresses are resolved at every connection): policy's
 * `parseHostPort`, the one rule. `HOST_INVALID` otherwise, naming `what`. Returns the trimmed value.
 */
export function assertHostName(value: string, what: string): string {
  const r = parseHostPort(value);
  if (r.ok) return value.trim();
  const shown = printable(value, 80);
  if (r.problem === "ip") {
    throw new MtlsError("HOST_INVALID", `${what} is the IP address '${shown}'; a host name is expected`, {
      hint: "Thales hosts are DNS names, resolved at every connection and never pinned to an address: ask Thales for the host name.",
    });
  }
  if (r.problem === "port") throw new MtlsError("HOST_INVALID", `${what} '${shown}' has a port that is not a number from 1 to 65535`);
  throw new MtlsError("HOST_INVALID", `${what} '${shown}' is not a DNS host name (expected name.domain or name.domain:port)`);
}

function stem(host: string): string {
  const labels = host.split(".");
  return labels.slice(0, -1).join(".");
}

function envHosts(env: EnvironmentPolicy): string[] {
  const hosts = [env.apiHost];
  for (const u of [env.authzUrl, env.baseUrl]) if (u) hosts.push(new URL(u).hostname);
  return hosts.map((h) => h.toLowerCase());
}

/**
 * The (program, environment) whose Thales host this is: the real name, or a mirror of it under
 * another top-level domain (the emulator's `.test` names). Undefined for any other host.
 */
export function hostEnvironment(hostPort: string): { program: ProgramPolicy; environment: EnvironmentPolicy } | undefined {
  const host = hostOnly(hostPort);
  for (const program of Object.values(PROGRAMS)) {
    for (const environment of program.environments) {
      if (envHosts(environment).some((h) => h === host || (stem(h) !== "" && stem(h) === stem(host)))) return { program, environment };
    }
  }
  return undefined;
}

/** What a profile is, for the guards. */
export interface EnvironmentTarget {
  readonly program: ProgramPolicy;
  readonly environment: EnvironmentPolicy;
}

function refuse(target: EnvironmentTarget, what: string, found: string): never {
  throw new MtlsError("ENVIRONMENT_MISMATCH", `${what} belongs to ${found}, but this profile is ${target.program.name} ${target.environment.label}`, {
    hint: `Environments are isolated: use the assets and certificates Thales gave for ${target.environment.label}, or import this one into a ${found} profile.`,
  });
}

/** Refuses a host that is Thales's host of another environment or program. */
export function assertHostEnvironment(target: EnvironmentTarget, hostPort: string, what: string): void {
  const found = hostEnvironment(hostPort);
  if (found && (found.program.id !== target.program.id || found.environment.id !== target.environment.id)) {
    refuse(target, `${what} '${printable(hostPort, 80)}'`, `${found.program.name} ${found.environment.label}`);
  }
}

function markers(env: EnvironmentPolicy): { long: string[]; codes: string[] } {
  const long = [env.id, env.label].map((m) => m.toLowerCase().replace(/[^a-z0-9]/g, "")).filter((m) => m.length >= 4);
  return { long: [...new Set(long)], codes: env.cnCode ? [env.cnCode.toLowerCase()] : [] };
}

function mentions(text: string, env: EnvironmentPolicy): boolean {
  const joined = text.toLowerCase().replace(/[^a-z0-9]/g, "");
  const tokens = text.toLowerCase().split(/[^a-z0-9]+/);
  const m = markers(env);
  return m.long.some((x) => joined.includes(x)) || m.codes.some((c) => tokens.includes(c));
}

/**
 * The environment a certificate name speaks of, when it names exactly one of the program's
 * environments (`Thales D1 PRD Issuing CA` -> production); undefined when it names none, or
 * names several (e.g. `Pre-Production` mentions both PreProd and Production).
 */
export function nameEnvironment(program: ProgramPolicy, text: string): EnvironmentPolicy | undefined {
  const hits = program.environments.filter((e) => mentions(text, e));
  return hits.length === 1 ? hits[0] : undefined;
}

/**
 * Refuses a certificate that belongs to another environment: its subject or issuer CN names
 * another environment (and not this one), or one of its DNS names is another environment's
 * Thales host.
 */
export function assertCertificateEnvironment(target: EnvironmentTarget, cert: CertificateInfo, what: string): void {
  const cns = [
    { role: "subject", cn: cert.commonName },
    { role: "issuer", cn: cert.issuer.flat().find((a) => a.type === "CN")?.value },
  ];
  for (const { role, cn } of cns) {
    if (!cn) continue;
    const env = nameEnvironment(target.program, cn);
    if (env && env.id !== target.environment.id) refuse(target, `${what} (${role} CN '${cn}')`, `${target.program.name} ${env.label}`);
  }
  for (const san of cert.subjectAltNames ?? []) {
    if (san.startsWith("DNS:")) assertHostEnvironment(target, san.slice(4), `${what} (DNS name)`);
  }
}
