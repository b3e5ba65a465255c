import type { Command } from "commander";
import { printJson, say, type CliContext } from "../../context.js";
import { assetFile, callPortal, defineHelper, need, readBundle, type PortalOptions } from "./helpers.js";

export function define(cmd: Command): Command {
  return defineHelper(cmd, "register the endpoint of an `assets export` folder (ISSUER_HOST, server chain, D1 OAuth key, MT API key) with the emulator", "mtlskit emulate register --from out/ --portal http://127.0.0.1:45523 --api-key secret")
    .option("--api-key <key>", "MT: the API key Thales sends with notifications (authorization: APIKEY <key>)");
}

/** The options of `emulate register`, as {@link define} declares them. */
export interface EmulateRegisterOptions extends PortalOptions {
  apiKey?: string;
}

export async function run(ctx: CliContext, o: EmulateRegisterOptions): Promise<number> {
  const b = await readBundle(o.from);
  const body: Record<string, unknown> = {
    issuerHost: need(b.assets["ISSUER_HOST"], "ISSUER_HOST", "mtlskit server-cert set --profile NAME ... --host NAME, then export again."),
    serverChain: need(await assetFile(b, "CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN"), "CUSTOMER_TLS_SERVER_CERTIFICATE_CHAIN", "mtlskit server-cert set --profile NAME ..., then export again."),
  };
  const oauth = await assetFile(b, "D1_OAUTH_PUBLIC_KEY");
  if (oauth !== undefined) body["oauthPublicKey"] = oauth;
  if (b.assets["D1_OAUTH_KID"] !== undefined) body["kid"] = b.assets["D1_OAUTH_KID"];
  if (o.apiKey !== undefined) body["apiKey"] = o.apiKey;
  const r = await callPortal(ctx, o.portal, "PUT", `/v1/${b.program}/${b.environment}/customers/${encodeURIComponent(b.customerId)}`, body);
  if (!r.ok) return 1;
  if (ctx.json) printJson(ctx, r.answer);
  else say(ctx, `registered ${b.customerId} (${b.program} ${b.environment}) with issuer host ${String(body["issuerHost"])}`, true);
  return 0;
}
