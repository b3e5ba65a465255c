import type { Command } from "commander";
import { createOAuthKey } from "../../../client/index.js";
import { MtlsError } from "../../../errors/index.js";
import { isPkcs11Uri } from "../../../pki/index.js";
import { pkcs11OptionsFrom, TOKEN_OPTION_HELP, type TokenOptions } from "../key-source.js";
import { printJson, say, type CliContext } from "../../context.js";

export function define(cmd: Command): Command {
  return cmd
    .description("D1: create the ES256 key pair and kid of the profile's OAuth 2.0 JWT assertions")
    .requiredOption("--profile <name>", "a D1 profile")
    .option("--kid <kid>", "the key id to register with Thales (default: the key's RFC 7638 thumbprint)")
    .option("--out <uri>", "make the key inside a PKCS#11 token: pkcs11:token=...;object=LABEL (the profile stores the URI, never the PIN)")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .option("--force", "replace an existing key (the old one is kept in the profile's backups/)")
    .addHelpText(
      "after",
      "\nThe private key stays in the profile (oauth/oauth.key, 0600); the public key and kid go to Thales\nwith `mtlskit assets export` (D1_OAUTH_PUBLIC_KEY, D1_OAUTH_KID).\n\nExamples:\n  mtlskit oauth key create --profile d1-pp\n  mtlskit oauth key create --profile d1-pp --kid key-2025 --force",
    );
}

/** The options of `oauth key create`, as {@link define} declares them. */
export interface OAuthKeyCreateOptions extends TokenOptions {
  profile: string;
  kid?: string;
  out?: string;
  force?: boolean;
}

export async function run(ctx: CliContext, o: OAuthKeyCreateOptions): Promise<number> {
  const name = o.profile;
  if (!name) throw new MtlsError("USAGE", "--profile is required");
  const out = o.out;
  if (out !== undefined && !isPkcs11Uri(out)) throw new MtlsError("USAGE", `--out takes a pkcs11: URI (a key in a token), not '${out}'`, { hint: "Leave --out out to keep the key in the profile folder (oauth/oauth.key)." });
  const r = await createOAuthKey(ctx.dir, name, {
    ...(o.kid !== undefined ? { kid: o.kid } : {}),
    force: o.force === true,
    ...(out !== undefined ? { keyUri: out, pkcs11: pkcs11OptionsFrom(o) } : {}),
  });
  if (ctx.json) {
    printJson(ctx, { ok: true, ...r });
    return 0;
  }
  say(ctx, `OAuth signing key (ES256) for profile ${r.profile}`, true);
  say(ctx, `  kid: ${r.kid}`, true);
  say(ctx, isPkcs11Uri(r.keyFile) ? `  private key: ${r.keyFile} (key in token, non-extractable)` : `  private key: ${r.keyFile} (0600, never leaves this machine)`, true);
  if (r.backup) say(ctx, `  previous key kept as ${r.backup}`, true);
  say(ctx, "  public key (D1_OAUTH_PUBLIC_KEY):", true);
  say(ctx, r.publicKeyPem.trimEnd().replace(/^/gm, "    "), true);
  for (const s of r.nextSteps) say(ctx, `next: ${s}`);
  return 0;
}
