import { dayCount } from "../../../pki/index.js";
import type { Command } from "commander";
import { openWorkspace } from "../../../store/index.js";
import { pkcs11OptionsFrom, TOKEN_OPTION_HELP, type TokenOptions } from "../key-source.js";
import { paint, printJson, say, type CliContext, printNextSteps, warn } from "../../context.js";

export function define(cmd: Command): Command {
  return cmd
    .description("set the server certificate of the endpoint Thales calls: checks chain order and completeness, key, host name, and whether it reaches a Mozilla root")
    .requiredOption("--profile <name>", "the profile")
    .requiredOption("--cert <file>", "the server certificate (optionally followed by its chain), or a PKCS#12 (.p12/.pfx) with its key and chain")
    .option("--key <file>", "its private key (copied into the profile, mode 0600; PEM, DER or PKCS#12; default: the --cert PKCS#12), or a key in a token: pkcs11:token=...;object=... (the profile stores the URI)")
    .option("--chain <file>", "the intermediates, in issuer order (and the root of a private CA)")
    .option("--host <host>", "ISSUER_HOST: the host name Thales calls (port 443 or 8443); kept in the profile")
    .option("--passphrase-file <file>", "passphrase of an encrypted --key or of a PKCS#12 --cert/--key (first line)")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .option("--force", "replace another server key already in the profile (kept as a dated backup)")
    .addHelpText("after", "\nExample:\n  mtlskit server-cert set --profile d1-pp --cert notify.crt --key notify.key --chain intermediates.pem --host notify.example.com\n  mtlskit server-cert set --profile d1-pp --cert notify.p12 --passphrase-file notify.pass --host notify.example.com");
}

/** The options of `server-cert set`, as {@link define} declares them. */
export interface ServerCertSetOptions extends TokenOptions {
  profile: string;
  cert: string;
  key?: string;
  chain?: string;
  host?: string;
  passphraseFile?: string;
  force?: boolean;
}

export async function run(ctx: CliContext, o: ServerCertSetOptions): Promise<number> {
  const { chain: chainFile, host, passphraseFile, key: keyFile } = o;
  const r = await openWorkspace(ctx.dir).profile(o.profile).setServerCertificate({
    certFile: o.cert,
    ...(keyFile ? { keyFile } : {}),
    pkcs11: pkcs11OptionsFrom(o),
    ...(chainFile ? { chainFile } : {}),
    ...(host ? { host } : {}),
    ...(passphraseFile ? { passphraseFile } : {}),
    force: !!o.force,
  });
  for (const w of r.warnings) warn(ctx, w);
  if (ctx.json) {
    printJson(ctx, { ok: true, ...r });
    return 0;
  }
  say(ctx, `${paint(ctx, "green", "set")} ${r.files.cert}: ${r.subject}, until ${r.notAfter} (${dayCount(r.daysLeft)} left)`);
  say(ctx, `names: ${r.dnsNames.join(", ") || "(none)"}${r.host ? `; covers ${r.host}` : ""}`);
  say(ctx, `chain: ${r.chain.map((c) => c.subject).join(" <- ")}`);
  say(ctx, r.mozillaRoot ? `reaches the Mozilla root ${r.mozillaRoot}` : `does not reach a Mozilla root: PEM trust store written to ${r.trustStoreFile}`);
  printNextSteps(ctx, r.nextSteps);
  return 0;
}
