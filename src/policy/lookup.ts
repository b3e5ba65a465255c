import { MtlsError, printable } from "../errors/index.js";
import { COMMON_NAME_MAX_LENGTH, PROGRAMS } from "./programs.js";
import { KEY_TYPES, type EnvironmentPolicy, type HashName, type KeyType, type ProgramPolicy } from "./types.js";

/** The program of that id, or `UNKNOWN_PROGRAM`. */
export function getProgram(id: string): ProgramPolicy {
  // Own properties only: `constructor`, `__proto__` or `toString` are not programs.
  const key = id.toLowerCase();
  const p = Object.hasOwn(PROGRAMS, key) ? (PROGRAMS as Record<string, ProgramPolicy>)[key] : undefined;
  if (!p) throw new MtlsError("UNKNOWN_PROGRAM", `unknown program '${id}'`);
  return p;
}

/** The environment of a program, or `UNKNOWN_ENVIRONMENT` naming the valid ones. */
export function getEnvironment(program: ProgramPolicy, id: string): EnvironmentPolicy {
  const env = program.environments.find((e) => e.id === id.toLowerCase());
  if (!env) {
    const names = program.environments.map((e) => e.id).join(", ");
    throw new MtlsError("UNKNOWN_ENVIRONMENT", `unknown environment '${id}' for ${program.name}`, {
      hint: `${program.name} environments are: ${names}.`,
    });
  }
  return env;
}

/** Parses a key type name, or `UNKNOWN_KEY_TYPE`. */
export function parseKeyType(name: string): KeyType {
  const t = name.toLowerCase() as KeyType;
  if (!KEY_TYPES.includes(t)) throw new MtlsError("UNKNOWN_KEY_TYPE", `unknown key type '${name}'`);
  return t;
}

/** The family of a key type, as used in CN templates. */
export function keyFamily(t: KeyType): "ec" | "rsa" {
  return t.startsWith("ecdsa") ? "ec" : "rsa";
}

/**
 * Checks that the program accepts this key type (and hash) for a client certificate;
 * throws `KEY_TYPE_REFUSED` / `HASH_REFUSED` with the program's rule otherwise.
 */
export function assertKeyAccepted(program: ProgramPolicy, keyType: KeyType, hash?: HashName): void {
  const accepted = program.clientCertificate.accepted.find((a) => a.keyType === keyType);
  if (!accepted) {
    const refused = program.clientCertificate.refused.find((r) => r.keyType === keyType);
    const allowed = program.clientCertificate.accepted.map((a) => a.keyType).join(", ");
    throw new MtlsError("KEY_TYPE_REFUSED", refused?.rule ?? `${program.name} does not accept ${keyType} client keys`, {
      hint: `Use one of: ${allowed}.`,
    });
  }
  if (hash && !accepted.hashes.includes(hash)) {
    throw new MtlsError("HASH_REFUSED", `${program.name} does not accept ${hash} signatures with ${keyType} keys`, {
      hint: `Use ${accepted.hashes.join(" or ")}.`,
    });
  }
}

const ID_PATTERN = /^[A-Za-z0-9._-]+$/;

/** Longest customer id / merchantGatewayId accepted (it becomes part of a CN and of a folder name). */
export const CUSTOMER_ID_MAX_LENGTH = 64;

/** Checks a customer id / merchantGatewayId for use in a CN; `GATEWAY_ID_INVALID` otherwise. */
export function assertCustomerId(program: ProgramPolicy, id: string): void {
  if (id.length > CUSTOMER_ID_MAX_LENGTH) {
    throw new MtlsError("GATEWAY_ID_INVALID", `${program.customerIdLabel} '${printable(id, 80)}' is ${id.length} characters long; at most ${CUSTOMER_ID_MAX_LENGTH} are allowed`);
  }
  if (!ID_PATTERN.test(id)) {
    throw new MtlsError("GATEWAY_ID_INVALID", `${program.customerIdLabel} '${printable(id, 80)}' is not valid: it must be non-empty and use only letters, digits, '.', '_' and '-'`);
  }
}

/**
 * The Common Name the program requires for a client certificate. For D1 it is derived
 * (`TLSMA-ECDSA/<id>/D1.PPR`); for MT it is the portal's value, passed as `portalValue`.
 */
export function deriveCommonName(
  program: ProgramPolicy,
  args: { environment: EnvironmentPolicy; customerId?: string; keyType: KeyType; portalValue?: string },
): string {
  const rule = program.clientCertificate.commonName;
  if (rule.kind === "portal-value") {
    const v = args.portalValue?.trim();
    if (!v) {
      throw new MtlsError("USAGE", `${program.name} needs the exact Common Name given by the Thales portal (--cn)`, {
        hint: `Copy the CN shown in the Thales portal for the ${args.environment.label} environment and pass it as --cn.`,
      });
    }
    if (v.length > COMMON_NAME_MAX_LENGTH) {
      throw new MtlsError("USAGE", `the Common Name is ${v.length} characters long; at most ${COMMON_NAME_MAX_LENGTH} are allowed`);
    }
    return v;
  }
  const id = args.customerId ?? "";
  assertCustomerId(program, id);
  const cn = rule.template
    .replace("{keyAlg}", rule.keyAlgLabels[keyFamily(args.keyType)])
    .replace("{id}", id)
    .replace("{envCode}", args.environment.cnCode ?? "");
  if (cn.length > COMMON_NAME_MAX_LENGTH) {
    throw new MtlsError("GATEWAY_ID_INVALID", `the Common Name '${cn}' would be ${cn.length} characters long; at most ${COMMON_NAME_MAX_LENGTH} are allowed`);
  }
  return cn;
}
