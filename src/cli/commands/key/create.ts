import type { Command } from "commander";
import { MtlsError } from "../../../errors/index.js";
import { createKeyFile, createTokenKey, isPkcs11Uri, spkiPin } from "../../../pki/index.js";
import { pkcs11OptionsFrom, TOKEN_OPTION_HELP, type TokenOptions } from "../key-source.js";
import { parseKeyType } from "../../../policy/index.js";
import { printJson, say, withProgress, type CliContext } from "../../context.js";

export function define(cmd: Command): Command {
  return cmd
    .description("create a private key (PKCS#8 PEM, mode 0600)")
    .requiredOption("--type <type>", "ecdsa-p256 | ecdsa-p384 | rsa-2048 | rsa-4096")
    .requiredOption("--out <file>", "where to write the key, or a pkcs11:token=...;object=LABEL URI to create it inside a token (non-extractable)")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .option("--force", "replace an existing file (the old key is lost)")
    .addHelpText("after", "\nExample:\n  mtlskit key create --type ecdsa-p256 --out client.key\n  mtlskit key create --type ecdsa-p256 --out \"pkcs11:token=mtlskit;object=d1-client\" --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pin-file pin.txt");
}

/** The options of `key create`, as {@link define} declares them. */
export interface KeyCreateOptions extends TokenOptions {
  type: string;
  out: string;
  force?: boolean;
}

export async function run(ctx: CliContext, o: KeyCreateOptions): Promise<number> {
  const type = parseKeyType(o.type);
  const out = o.out;
  if (isPkcs11Uri(out)) {
    if (o.force) throw new MtlsError("USAGE", "--force does not go with a key in a token: mtlskit never replaces a key there", { hint: "Choose a new object= label." });
    const key = createTokenKey(out, type, pkcs11OptionsFrom(o));
    key.close();
    if (ctx.json) printJson(ctx, { ok: true, uri: key.info.uri, type, label: key.info.label, token: key.info.tokenLabel, object: key.info.objectLabel, id: key.info.id, extractable: key.info.extractable, sensitive: key.info.sensitive, spkiPin: spkiPin(key.publicKey) });
    else {
      say(ctx, `created ${key.info.uri} (${key.info.summary})`);
      say(ctx, `public key pin: ${spkiPin(key.publicKey)}`);
    }
    return 0;
  }
  const r = await withProgress(ctx, `generating ${type} key`, createKeyFile({ type, out, force: !!o.force }));
  if (ctx.json) printJson(ctx, { ok: true, ...r });
  else {
    say(ctx, `wrote ${r.file} (${r.label}, mode 0600)`);
    say(ctx, `public key pin: ${r.spkiPin}`);
  }
  return 0;
}
