import type { Command } from "commander";
import { printJson, say, type CliContext } from "../../context.js";
import { assetFile, callPortal, defineHelper, need, readBundle, type PortalOptions } from "./helpers.js";

export function define(cmd: Command): Command {
  return defineHelper(cmd, "MT: have the emulator endorse (pin) the self-signed client certificate of an `assets export` folder", "mtlskit emulate endorse --from out/ --portal http://127.0.0.1:45523");
}

export async function run(ctx: CliContext, o: PortalOptions): Promise<number> {
  const b = await readBundle(o.from);
  const certificate = need(await assetFile(b, "CUSTOMER_TLS_CLIENT_CERTIFICATE"), "CUSTOMER_TLS_CLIENT_CERTIFICATE", "Only MT bundles carry it: `mtlskit cert self-signed --profile NAME`, then export again.");
  const r = await callPortal(ctx, o.portal, "POST", `/v1/${b.program}/${b.environment}/endorsements`, { customerId: b.customerId, certificate });
  if (!r.ok) return 1;
  if (ctx.json) printJson(ctx, r.answer);
  else say(ctx, `endorsed: ${String(r.answer["commonName"])} (SHA-256 ${String(r.answer["fingerprint"])})`, true);
  return 0;
}
