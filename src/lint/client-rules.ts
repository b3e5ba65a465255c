/**
 * Rules on the client objects: the client certificate (leaf) and CSRs. Every program rule is
 * read from the policy object (`ctx.program`); nothing about D1 or MT is written here.
 */
import { getAttribute, type CertificateInfo, type CsrInfo, type KeyDescription, OID } from "../pki/index.js";
import { deriveCommonName, type AcceptedKey, type HashName, type ProgramPolicy } from "../policy/index.js";
import { acceptedKeysText, DAY_MS, daysText, familyOf, finding, hashLabel, keyTypeLabel, listOr, type LintContext } from "./findings.js";
import { isLintCode } from "./rules.js";
import { claimsSelfSigned } from "./signatures.js";

const OID_COMMON_NAME = "2.5.4.3";

/** Hashes no TLS peer takes any more, whatever the program. */
const WEAK_HASHES: ReadonlySet<HashName> = new Set<HashName>(["sha1", "md5"]);

/**
 * A certificate valid for longer than the validity Thales issues by more than this is
 * suspicious (leap days and a back-dated notBefore stay well inside it).
 */
export const ISSUED_VALIDITY_TOLERANCE_DAYS = 30;

/** What to make again after changing the key, in the program's words. */
function remake(program: ProgramPolicy): string {
  return program.clientCertificate.issuance === "thales-signed-csr"
    ? "a new CSR for Thales (mtlskit csr create)"
    : "a new self-signed certificate (mtlskit cert self-signed)";
}

/**
 * Key type rules (`KEY_TYPE_NOT_ALLOWED` and the program's own refusal codes). Returns the
 * program's entry for the key type when it is accepted.
 */
export function checkKeyType(ctx: LintContext, key: KeyDescription, source: string, what: string): AcceptedKey | undefined {
  const { program } = ctx;
  const accepted = key.type ? program.clientCertificate.accepted.find((a) => a.keyType === key.type) : undefined;
  if (accepted) return accepted;
  const hint = `Use ${acceptedKeysText(program)}: create a new key and ${remake(program)}.`;
  const refused = key.type ? program.clientCertificate.refused.find((r) => r.keyType === key.type) : undefined;
  if (refused) {
    const code = isLintCode(refused.code) ? refused.code : "KEY_TYPE_NOT_ALLOWED";
    ctx.report(finding(code, source, `${what} is ${key.label}. ${refused.rule}`, { hint }));
    return undefined;
  }
  ctx.report(finding("KEY_TYPE_NOT_ALLOWED", source, `${what} is ${key.label}, which ${program.name} does not accept for a client certificate; it takes ${acceptedKeysText(program)}.`, { hint }));
  return undefined;
}

/**
 * Signature hash rules. `ownKey` is true when the client key made the signature (a CSR, a
 * self-signed certificate): only then do the program's hash rules apply; a CA-issued
 * certificate's hash is the CA's choice, and only a weak one is reported.
 */
export function checkSignatureHash(
  ctx: LintContext,
  obj: CertificateInfo | CsrInfo,
  source: string,
  accepted: AcceptedKey | undefined,
  ownKey: boolean,
): void {
  const alg = obj.signatureAlgorithm;
  const what = obj.kind === "csr" ? "the CSR" : "the certificate";
  if (alg.hash && WEAK_HASHES.has(alg.hash)) {
    ctx.report(finding("WEAK_SIGNATURE", source, `${what} is signed with ${alg.name} (${hashLabel(alg.hash)}), which TLS peers refuse.`, {
      hint: obj.kind === "csr" ? "Create the CSR again with SHA-256 (openssl req -sha256, or mtlskit csr create)." : `Get ${what} again signed with SHA-256.`,
    }));
    return;
  }
  if (!ownKey || !accepted) return;
  if (alg.hash && accepted.hashes.includes(alg.hash)) return;
  const allowed = listOr(accepted.hashes.map(hashLabel));
  const used = alg.hash ? hashLabel(alg.hash) : alg.name;
  ctx.report(finding("HASH_NOT_ALLOWED", source, `${what} is signed with ${used} by its ${keyTypeLabel(accepted.keyType)} key; ${ctx.program.name} accepts ${allowed} with that key.`, {
    hint: `Sign ${what === "the CSR" ? "a new CSR" : "a new certificate"} with ${allowed} (openssl: -${accepted.hashes[0] ?? "sha256"}).`,
  }));
}

/** The CN rules of the program's Common Name rule, and `--cn`. */
export function checkCommonName(ctx: LintContext, obj: CertificateInfo | CsrInfo, source: string): void {
  const { program, environment } = ctx;
  const cns = obj.subject.flatMap((rdn) => rdn.filter((a) => a.oid === OID_COMMON_NAME).map((a) => a.value));
  const what = obj.kind === "csr" ? "the CSR's subject" : "the certificate's subject";
  if (cns.length === 0) {
    ctx.report(finding("CN_MISSING", source, `${what} has no Common Name (CN); ${program.name} identifies the client by it.`, { hint: cnHint(ctx, obj.key) }));
    return;
  }
  if (cns.length > 1) {
    ctx.report(finding("CN_MULTIPLE", source, `${what} has ${cns.length} Common Names (${cns.map((c) => `'${c}'`).join(", ")}); ${program.name} checks exactly one.`, { hint: cnHint(ctx, obj.key) }));
    return;
  }
  const cn = cns[0] ?? "";
  const rule = program.clientCertificate.commonName;
  const unchecked: Array<{ what: string; option: string }> = [];
  if (rule.kind === "template") {
    const m = rule.pattern.exec(cn);
    if (!m) {
      ctx.report(finding("CN_PATTERN", source, `the Common Name '${cn}' does not follow ${program.name}'s pattern ${rule.template}.`, { hint: cnHint(ctx, obj.key) }));
    } else {
      const g = m.groups ?? {};
      const family = familyOf(obj.key);
      const wanted = family ? rule.keyAlgLabels[family] : undefined;
      if (wanted !== undefined && g["keyAlg"] !== undefined && g["keyAlg"] !== wanted) {
        ctx.report(finding("CN_KEY_TYPE", source, `the Common Name '${cn}' says ${g["keyAlg"]}, but the key is ${obj.key.label}: ${program.name} writes ${wanted} in the CN of an ${obj.key.label} key.`, { hint: cnHint(ctx, obj.key) }));
      }
      const envCode = g["envCode"];
      if (envCode !== undefined) {
        const codes = program.environments.flatMap((e) => (e.cnCode ? [e.cnCode] : []));
        const named = program.environments.find((e) => e.cnCode === envCode);
        if (environment && envCode !== environment.cnCode) {
          const says = named ? `${named.label} (${envCode})` : `'${envCode}', which is no ${program.name} environment code`;
          ctx.report(finding("CN_ENVIRONMENT", source, `the Common Name '${cn}' is for ${says}, but this is linted for ${environment.label} (${environment.cnCode ?? environment.id}).`, {
            hint: `Environments are isolated: use the CSR and certificate made for ${environment.label}, whose CN ends in ${environment.cnCode ?? ""}.`,
          }));
        } else if (!named) {
          ctx.report(finding("CN_ENVIRONMENT", source, `the Common Name '${cn}' carries the environment code '${envCode}', which is none of ${program.name}'s (${listOr(codes)}).`, { hint: cnHint(ctx, obj.key) }));
        } else if (!environment) {
          unchecked.push({ what: "the environment", option: "--env" });
        }
      }
      const id = g["id"];
      if (id !== undefined) {
        if (ctx.gatewayId === undefined) unchecked.push({ what: `your ${program.customerIdLabel}`, option: "--id" });
        else if (id !== ctx.gatewayId) {
          ctx.report(finding("CN_GATEWAY_ID", source, `the Common Name '${cn}' carries the ${program.customerIdLabel} '${id}', not '${ctx.gatewayId}'.`, { hint: cnHint(ctx, obj.key) }));
        }
      }
    }
  } else if (ctx.cn === undefined) {
    unchecked.push({ what: "the value the Thales portal gives", option: "--cn" });
  }
  if (ctx.cn !== undefined && cn !== ctx.cn) {
    ctx.report(finding("CN_MISMATCH", source, `the Common Name '${cn}' differs from the expected '${ctx.cn}' (--cn).`, {
      hint: rule.kind === "portal-value"
        ? `Use the exact Common Name the Thales portal shows for ${environment ? `the ${environment.label} environment` : "this environment"}.`
        : cnHint(ctx, obj.key),
    }));
  }
  if (unchecked.length > 0) {
    const options = listOr(unchecked.map((u) => u.option), "and");
    ctx.report(finding("CN_NOT_CHECKED", source, `the Common Name '${cn}' was not compared with ${listOr(unchecked.map((u) => u.what), "and")}: no ${options} given.`, {
      hint: `Add ${options} to check ${unchecked.length > 1 ? "them" : "it"} too.`,
    }));
  }
}

/** The CN to use, when the options say enough to derive it; else the program's template. */
function cnHint(ctx: LintContext, key: KeyDescription): string {
  const { program, environment } = ctx;
  const rule = program.clientCertificate.commonName;
  if (rule.kind === "portal-value") {
    return ctx.cn !== undefined ? `Use '${ctx.cn}' as the Common Name.` : `Use the exact Common Name the Thales portal shows for ${environment ? `the ${environment.label} environment` : "the environment"}.`;
  }
  if (environment && ctx.gatewayId !== undefined && key.type) {
    try {
      const cn = deriveCommonName(program, { environment, customerId: ctx.gatewayId, keyType: key.type });
      return `Use the Common Name '${cn}' (mtlskit csr create derives it).`;
    } catch {
      // an id that cannot be in a CN: fall through to the template
    }
  }
  const envCodes = program.environments.flatMap((e) => (e.cnCode ? [`${e.cnCode} (${e.label})`] : []));
  const labels = `${rule.keyAlgLabels.ec} for an ECDSA key, ${rule.keyAlgLabels.rsa} for an RSA key`;
  return `Use ${rule.template}: {keyAlg} is ${labels}, {id} your ${program.customerIdLabel}, {envCode} ${listOr(envCodes)} (mtlskit csr create derives it).`;
}

/** The DN policy: attributes required besides the CN. */
export function checkSubject(ctx: LintContext, obj: CertificateInfo | CsrInfo, source: string): void {
  const required = ctx.program.clientCertificate.requiredSubjectAttributes;
  if (required.length === 0) return;
  // Decoded attributes carry openssl's short names: one pass finds them; getAttribute (which
  // also knows long names and OIDs) only confirms what seems missing.
  const present = new Set<string>();
  for (const rdn of obj.subject) for (const a of rdn) present.add(a.type);
  const missing = required.filter((a) => !present.has(a) && getAttribute(obj.subject, a).length === 0);
  if (missing.length === 0) return;
  const what = obj.kind === "csr" ? "the CSR's subject" : "the certificate's subject";
  ctx.report(finding("SUBJECT_INCOMPLETE", source, `${what} (${obj.subjectText || "empty"}) lacks ${listOr(missing, "and")}: ${ctx.program.name}'s DN policy requires ${required.join(", ")} besides the CN.`, {
    hint: `Create it again with every attribute, e.g. --subject "${required.map((a) => `/${a}=...`).join("")}".`,
  }));
}

/** Key usage and extended key usage. CSRs without an EKU are fine: the CA sets it. */
export function checkUsage(ctx: LintContext, obj: CertificateInfo | CsrInfo, source: string): void {
  const what = obj.kind === "csr" ? "the CSR asks for" : "the certificate has";
  if (obj.keyUsage && !obj.keyUsage.includes("digitalSignature")) {
    ctx.report(finding("KEY_USAGE_MISSING", source, `${what} keyUsage ${obj.keyUsage.join(", ") || "(none)"} without digitalSignature, which TLS client authentication needs.`));
  }
  if (obj.extKeyUsage === undefined) {
    if (obj.kind === "certificate") ctx.report(finding("EKU_ABSENT", source, "the client certificate has no extendedKeyUsage: it may be used for any purpose, clientAuth included."));
    return;
  }
  if (!obj.extKeyUsage.includes(OID.clientAuth)) {
    const names = obj.extensions.find((e) => e.oid === OID.extKeyUsage)?.text || obj.extKeyUsage.join(", ") || "(empty)";
    ctx.report(finding("CLIENT_AUTH_MISSING", source, `${what} extendedKeyUsage ${names} without clientAuth: a TLS server refuses it as a client certificate.`));
  }
}

/** The validity limit of the program, or the validity Thales issues with a tolerance. */
export function checkValidityLength(ctx: LintContext, cert: CertificateInfo, source: string): void {
  const cc = ctx.program.clientCertificate;
  const span = cert.notAfter.getTime() - cert.notBefore.getTime();
  // One second of slack: RFC 5280 counts both ends of the validity period.
  if (cc.maxValidityDays !== null) {
    if (span > cc.maxValidityDays * DAY_MS + 1000) {
      ctx.report(finding("VALIDITY_TOO_LONG", source, `the client certificate is valid for ${daysText(span)}; ${ctx.program.name} allows at most ${cc.maxValidityDays} days.`, {
        hint: `Create it again with at most ${cc.maxValidityDays} days (${remake(ctx.program)}, --days ${cc.maxValidityDays}).`,
      }));
    }
    return;
  }
  if (cc.issuedValidityDays !== undefined && span > (cc.issuedValidityDays + ISSUED_VALIDITY_TOLERANCE_DAYS) * DAY_MS) {
    ctx.report(finding("VALIDITY_TOO_LONG", source, `the client certificate is valid for ${daysText(span)}, far more than the ${cc.issuedValidityDays} days ${ctx.program.name} issues: it is probably not the certificate Thales signed.`, {
      alternate: true,
      hint: "Check that this is the certificate Thales returned for your CSR.",
    }));
  }
}

/**
 * How the client certificate comes to be: self-signed and pinned (MT) or issued by the Thales
 * CA (D1); and a pinned self-signed certificate marked CA:TRUE.
 */
export function checkIssuance(ctx: LintContext, cert: CertificateInfo, source: string): void {
  const { program } = ctx;
  const selfIssued = claimsSelfSigned(cert);
  const ca = cert.basicConstraints?.ca === true && selfIssued && program.clientCertificate.issuance === "self-signed-endorsed";
  if (program.clientCertificate.issuance === "self-signed-endorsed") {
    if (!selfIssued) {
      ctx.report(finding("NOT_SELF_SIGNED", source, `the client certificate is issued by ${cert.issuerText || "a CA"}, but ${program.name} pins a self-signed client certificate.`));
    }
  } else if (selfIssued) {
    ctx.report(finding("SELF_SIGNED_NOT_ALLOWED", source, `the client certificate is self-signed, but ${program.name} client certificates are issued by the Thales CA from your CSR.`));
  }
  if (ca) {
    ctx.report(finding("SELF_SIGNED_CA_FLAG", source, "the self-signed client certificate says basicConstraints CA:TRUE (openssl req -x509's default): it works once pinned, but it could sign other certificates."));
  }
}

/**
 * True when the certificate taken as the client certificate is a CA that cannot be one: any
 * CA, except a self-signed one where the program pins self-signed certificates (openssl
 * req -x509 marks those CA:TRUE by default). The client rules are not applied to it.
 */
export function caAsClient(ctx: LintContext, cert: CertificateInfo): boolean {
  if (cert.basicConstraints?.ca !== true) return false;
  return !(ctx.program.clientCertificate.issuance === "self-signed-endorsed" && claimsSelfSigned(cert));
}

/** What to do about a client certificate that expires, in the program's words. */
export function renewalHint(program: ProgramPolicy): string {
  const step = program.clientCertificate.issuance === "thales-signed-csr" ? "sign" : "endorse";
  return `Renew it now with ${remake(program)}: Thales needs time to ${step} the new certificate.`;
}
