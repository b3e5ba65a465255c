import { dayCount } from "../../../pki/index.js";
import type { Command } from "commander";
import { openWorkspace, type InstallResult } from "../../../store/index.js";
import { paint, printJson, say, type CliContext, printNextSteps } from "../../context.js";
import { pkcs11OptionsFrom, TOKEN_OPTION_HELP, type TokenOptions } from "../key-source.js";

export function define(cmd: Command): Command {
  return cmd
    .description("install the certificate Thales returned, after checking it against the profile's key, CSR, program and environment (all lint rules)")
    .argument("<file>", "the certificate (PEM or DER), optionally followed by its CA chain; or a PKCS#12 (.p12/.pfx) holding it")
    .requiredOption("--profile <name>", "the profile it is for")
    .option("--passphrase-file <file>", "passphrase of a PKCS#12 <file> (first line); its key is not imported, the profile keeps its own")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .addHelpText("after", "\nThe previous certificate is kept as a dated backup. A certificate for a renewal's key makes the renewal active.\n\nExample:\n  mtlskit cert install signed-by-thales.pem --profile d1-pp");
}

/** Prints an install result (also used by `cert activate`). */
export function renderInstall(ctx: CliContext, r: InstallResult, verb: string): void {
  say(ctx, `${paint(ctx, "green", verb)} ${r.certificateFile}${r.slot === "pending" ? " (renewal, waiting for cert activate)" : ""}: CN=${r.commonName ?? ""}, until ${r.notAfter} (${dayCount(r.daysLeft)} left)`);
  if (r.chainFile) say(ctx, `chain: ${r.chainFile}`);
  say(ctx, `SHA-256 fingerprint: ${r.sha256Fingerprint}`);
  for (const b of r.backups) say(ctx, `backup: ${b}`);
  for (const f of r.findings) say(ctx, `${paint(ctx, f.severity === "warning" ? "yellow" : "blue", f.severity)} [${f.code}] ${f.message}`);
  printNextSteps(ctx, r.nextSteps);
}

/** The options of `cert install`, as {@link define} declares them. */
export interface CertInstallOptions extends TokenOptions {
  profile: string;
  passphraseFile?: string;
}

export async function run(ctx: CliContext, o: CertInstallOptions, args: string[]): Promise<number> {
  const passphraseFile = o.passphraseFile;
  const r = await openWorkspace(ctx.dir).profile(o.profile).installCertificate(args[0]!, { pkcs11: pkcs11OptionsFrom(o), ...(passphraseFile ? { passphraseFile } : {}) });
  if (ctx.json) printJson(ctx, { ok: true, ...r });
  else renderInstall(ctx, r, "installed");
  return 0;
}
