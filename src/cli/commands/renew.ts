import type { Command } from "commander";
import { isPkcs11Uri } from "../../pki/index.js";
import { openWorkspace } from "../../store/index.js";
import { paint, positiveInt, printJson, say, withProgress, type CliContext, printNextSteps } from "../context.js";
import { hashOption, pkcs11OptionsFrom, TOKEN_OPTION_HELP, type TokenOptions } from "./key-source.js";

export function define(cmd: Command): Command {
  return cmd
    .description("start a renewal: D1 a new key and a CSR with the same DN, MT a new self-signed certificate with the same CN; the current credentials stay active until the new certificate is installed (D1) or activated (MT)")
    .requiredOption("--profile <name>", "the profile to renew")
    .option("--type <type>", "key type of the new key (default: the profile's, else the current key's)")
    .option("--days <n>", "mt: validity of the new certificate in days, at most 730")
    .option("--hash <hash>", "signature hash")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .option("--force", "start again when a renewal is already waiting (its files go to backups/)")
    .addHelpText("after", "\nExamples:\n  mtlskit renew --profile d1-pp      # then: mtlskit cert install NEW.crt --profile d1-pp\n  mtlskit renew --profile mt-sbx     # then, once Thales endorsed it: mtlskit cert activate --profile mt-sbx");
}

/** The options of `renew`, as {@link define} declares them. */
export interface RenewOptions extends TokenOptions {
  profile: string;
  type?: string;
  days?: string;
  hash?: string;
  force?: boolean;
}

export async function run(ctx: CliContext, o: RenewOptions): Promise<number> {
  const hash = hashOption(o.hash);
  const r = await withProgress(
    ctx,
    "creating the new key",
    openWorkspace(ctx.dir).profile(o.profile).renew({
      pkcs11: pkcs11OptionsFrom(o),
      ...(o.type !== undefined ? { keyType: o.type } : {}),
      ...(o.days !== undefined ? { days: positiveInt("--days", o.days) } : {}),
      ...(hash ? { hash } : {}),
      force: !!o.force,
    }),
  );
  if (ctx.json) {
    printJson(ctx, { ok: true, ...r });
    return 0;
  }
  if (isPkcs11Uri(r.keyFile)) say(ctx, `${paint(ctx, "green", "created")} ${r.keyFile} (new key in the same token, non-extractable, not in use yet)`);
  else say(ctx, `${paint(ctx, "green", "wrote")} ${r.keyFile} (new private key, mode 0600, not in use yet)`);
  if (r.csrFile) say(ctx, `${paint(ctx, "green", "wrote")} ${r.csrFile} (CSR, CN=${r.commonName})`);
  if (r.certificateFile) say(ctx, `${paint(ctx, "green", "wrote")} ${r.certificateFile} (self-signed, CN=${r.commonName}, SHA-256 ${r.sha256Fingerprint})`);
  say(ctx, `still active: ${r.current.certificateFile} (until ${r.current.notAfter})`);
  printNextSteps(ctx, r.nextSteps);
  return 0;
}
