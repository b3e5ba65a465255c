import { createPublicKey, type KeyObject } from "node:crypto";
import { MtlsError } from "../errors/index.js";
import { describeKey, spkiPin, type PkiItem } from "../pki/index.js";
import { assertCustomerId, getEnvironment, getProgram } from "../policy/index.js";
import { checkChainOrder, checkDates, checkSignature, IssuerIndex } from "./chain-rules.js";
import { caAsClient, checkCommonName, checkIssuance, checkKeyType, checkSignatureHash, checkSubject, checkUsage, checkValidityLength, renewalHint } from "./client-rules.js";
import { DAY_MS, finding, listOr, type LintContext } from "./findings.js";
import { assignLeaves, groupFiles, type CertItem, type CsrItem, type KeyItem } from "./roles.js";
import { claimsSelfSigned, SignatureChecker } from "./signatures.js";
import type { Finding, LintOptions, LintResult } from "./types.js";

/** Default of {@link LintOptions.expiryWarningDays}. */
export const DEFAULT_EXPIRY_WARNING_DAYS = 30;

/**
 * Checks the program and options before anything is linted: `UNKNOWN_PROGRAM`,
 * `UNKNOWN_ENVIRONMENT`, `GATEWAY_ID_INVALID`, `USAGE`.
 */
export function resolveLintOptions(options: LintOptions): Omit<LintContext, "report"> {
  const program = getProgram(options.program);
  const environment = options.environment !== undefined ? getEnvironment(program, options.environment) : undefined;
  if (options.gatewayId !== undefined) {
    if (program.clientCertificate.commonName.kind !== "template") {
      throw new MtlsError("USAGE", `--id does not apply to ${program.name}: its client Common Name is the exact value of the Thales portal`, {
        hint: "Give that value with --cn instead.",
      });
    }
    assertCustomerId(program, options.gatewayId);
  }
  const days = options.expiryWarningDays ?? DEFAULT_EXPIRY_WARNING_DAYS;
  if (!Number.isFinite(days) || days < 0) throw new MtlsError("USAGE", `the expiry warning window must be a number of days, not ${days}`);
  return {
    program,
    environment,
    gatewayId: options.gatewayId,
    cn: options.cn,
    now: (options.now ?? new Date()).getTime(),
    warnMs: days * DAY_MS,
  };
}

function pinOfPrivateKey(key: KeyObject): string {
  return spkiPin(key.type === "public" ? key : createPublicKey(key));
}

/**
 * Lints parsed certificates, CSRs and private keys (as `decodePkiObjects`/`readPkiObjects`
 * return them, one file after another) against a program's rules. Synchronous and cheap:
 * signatures are verified only where a rule needs them (self-issued certificates, and links
 * whose issuer is in the input).
 *
 * The client objects are every CSR and, in each file, the first certificate that is not a CA
 * (see `assignLeaves`); the other certificates are chain members, checked for order,
 * signatures and dates but not for the client rules.
 *
 * @throws MtlsError `UNKNOWN_PROGRAM`, `UNKNOWN_ENVIRONMENT`, `GATEWAY_ID_INVALID` or `USAGE`
 *   for bad options, before anything is linted.
 *
 * @example
 * const items = decodePkiObjects(readFileSync("client.csr"), "client.csr");
 * const r = lintItems(items, { program: "d1", environment: "preprod", gatewayId: "123456" });
 * for (const f of r.findings) console.log(f.severity, f.code, `${f.source}: ${f.message}`);
 * if (r.errors > 0) process.exitCode = 1;
 */
export function lintItems(items: PkiItem[], options: LintOptions): LintResult {
  const findings: Finding[] = [];
  const ctx: LintContext = { ...resolveLintOptions(options), report: (f) => findings.push(f) };
  const files = groupFiles(items);
  const csrs = items.filter((i): i is CsrItem => i.kind === "csr");
  assignLeaves(files, ctx.program, csrs.length > 0);
  const leaves = new Set(files.flatMap((f) => (f.leaf ? [f.leaf] : [])));
  const index = new IssuerIndex(files);
  const checker = new SignatureChecker();
  const clientObjects: Array<CertItem | CsrItem> = items.filter((i): i is CertItem | CsrItem => (i.kind === "certificate" && leaves.has(i as CertItem)) || i.kind === "csr");
  // Only a private key among the inputs needs them: a pin is computed when first read (issue 11).
  let clientPins: Set<string> | undefined;
  const pinsOfClients = (): Set<string> => (clientPins ??= new Set(clientObjects.map((o) => o.spkiPin)));
  const givenKeyPin = options.privateKey ? pinOfPrivateKey(options.privateKey) : undefined;
  const givenKeyName = options.privateKeySource ?? "the private key given (--key)";

  const checkGivenKey = (o: CertItem | CsrItem): void => {
    if (givenKeyPin === undefined || givenKeyPin === o.spkiPin) return;
    const what = o.kind === "csr" ? "this CSR's" : "the client certificate's";
    ctx.report(finding("KEY_MISMATCH", o.source, `${givenKeyName} does not match ${what} public key (${o.key.label}).`, {
      hint: `Use the private key created with ${o.kind === "csr" ? "this CSR" : "the CSR or certificate"}, or lint the certificate or CSR made from ${givenKeyName}.`,
    }));
  };

  for (const file of files) {
    for (const item of file.items) {
      if (item.kind === "certificate") {
        const cert = item as CertItem;
        const isLeaf = cert === file.leaf;
        if (isLeaf && caAsClient(ctx, cert)) {
          ctx.report(finding("CA_AS_CLIENT", cert.source, `the certificate taken as the client certificate (${cert.subjectText}) is a CA certificate (basicConstraints CA:TRUE); the client rules were not applied to it.`));
          checkGivenKey(cert);
        } else if (isLeaf) {
          const accepted = checkKeyType(ctx, cert.key, cert.source, "the client certificate's key");
          checkSignatureHash(ctx, cert, cert.source, accepted, claimsSelfSigned(cert));
          checkCommonName(ctx, cert, cert.source);
          checkSubject(ctx, cert, cert.source);
          checkValidityLength(ctx, cert, cert.source);
          checkIssuance(ctx, cert, cert.source);
          checkUsage(ctx, cert, cert.source);
          checkGivenKey(cert);
        }
        checkDates(ctx, cert, isLeaf, isLeaf ? renewalHint(ctx.program) : undefined);
        checkSignature(ctx, cert, isLeaf, index, file, checker);
      } else if (item.kind === "csr") {
        const csr = item as CsrItem;
        if (!csr.signatureValid) {
          ctx.report(finding("CSR_SIGNATURE_INVALID", csr.source, "the CSR's signature does not verify with its own public key: it was altered or damaged."));
        }
        const accepted = checkKeyType(ctx, csr.key, csr.source, "the CSR's key");
        checkSignatureHash(ctx, csr, csr.source, accepted, true);
        checkCommonName(ctx, csr, csr.source);
        checkSubject(ctx, csr, csr.source);
        checkUsage(ctx, csr, csr.source);
        checkGivenKey(csr);
      } else {
        const key = item as KeyItem;
        if (clientObjects.length === 0) {
          checkKeyType(ctx, describeKey(key.key), key.source, "this private key");
        } else if (!pinsOfClients().has(pinOfPrivateKey(key.key))) {
          const names = clientObjects.slice(0, 3).map((o) => o.source);
          ctx.report(finding("KEY_MISMATCH", key.source, `this private key (${describeKey(key.key).label}) matches none of the client certificates and CSRs linted (${listOr(names, "and")}${clientObjects.length > 3 ? ", ..." : ""}).`, {
            hint: "Lint each key with the certificate or CSR made from it; a certificate cannot be used with another key.",
          }));
        }
      }
    }
    checkChainOrder(ctx, file, index);
  }
  if (options.privateKey && clientObjects.length === 0) {
    checkKeyType(ctx, describeKey(options.privateKey), options.privateKeySource ?? "--key", "the private key given (--key)");
  }

  let errors = 0;
  let warnings = 0;
  for (const f of findings) {
    if (f.severity === "error") errors++;
    else if (f.severity === "warning") warnings++;
  }
  return { findings, errors, warnings, objects: items.length };
}
