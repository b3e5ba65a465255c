import type { Command } from "commander";
import { MtlsError } from "../../errors/index.js";
import { obtainProfileToken } from "../../client/index.js";
import { positiveInt, printJson, say, type CliContext } from "../context.js";
import { pkcs11OptionsFrom, TOKEN_OPTION_HELP, type TokenOptions } from "./key-source.js";

export function define(cmd: Command): Command {
  return cmd
    .description("D1: obtain an OAuth 2.0 access token over mTLS (JWT bearer grant) and print its expiry and scope")
    .requiredOption("--profile <name>", "a D1 profile with an OAuth key (mtlskit oauth key create)")
    .option("--show", "print the access token itself (it is secret: never paste it in a ticket or a log)")
    .option("--timeout <ms>", "time limit in milliseconds (default 30000)")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .addHelpText(
      "after",
      "\nWithout --show the token is never printed, in text or JSON.\n\nExamples:\n  mtlskit token --profile d1-pp\n  TOKEN=$(mtlskit token --profile d1-pp --show --quiet)",
    );
}

/** The options of `token`, as {@link define} declares them. */
export interface TokenCommandOptions extends TokenOptions {
  profile: string;
  show?: boolean;
  timeout?: string;
}

export async function run(ctx: CliContext, o: TokenCommandOptions): Promise<number> {
  const name = o.profile;
  if (!name) throw new MtlsError("USAGE", "--profile is required");
  const show = o.show === true;
  const r = await obtainProfileToken(ctx.dir, name, { ...(o.timeout !== undefined ? { timeoutMs: positiveInt("--timeout", o.timeout) } : {}), pkcs11: pkcs11OptionsFrom(o) });
  const t = r.token;
  if (ctx.json) {
    printJson(ctx, { ok: true, profile: r.profile, tokenUrl: r.tokenUrl, kid: r.kid, ...t.toJSON(), ...(show ? { accessToken: t.value } : {}) });
    return 0;
  }
  say(ctx, `${t.tokenType} token for profile ${r.profile} (kid ${r.kid}) from ${r.tokenUrl}`);
  say(ctx, `  expires at ${t.expiresAt.toISOString()} (in ${t.expiresIn} s)${t.scope ? `, scope: ${t.scope}` : ", no scope given"}`);
  if (show) say(ctx, t.value, true);
  else say(ctx, "  (the token itself is printed only with --show)");
  return 0;
}
