import type { Command } from "commander";
import { openWorkspace } from "../../../store/index.js";
import { paint, printJson, say, type CliContext, printNextSteps } from "../../context.js";

export function define(cmd: Command): Command {
  return cmd
    .description("import what Thales hands over (a bundle folder with manifest.json, or one PEM file), after checking every asset")
    .argument("<source>", "the bundle folder, or a single PEM/DER file")
    .requiredOption("--profile <name>", "the profile it is for")
    .option("--as <asset>", "for a single file: the asset it is (e.g. TSH_TLS_CLIENT_CERTIFICATE, D1_TLS_SERVER_CA_CHAIN); classified from its content otherwise")
    .addHelpText(
      "after",
      "\nThe inbound trust is the issuing CA of Thales's client certificate, never the leaf (Thales rotates it).\n" +
        "\nExamples:\n  mtlskit assets import ./from-thales --profile mt-sbx\n  mtlskit assets import thales-client-ca.pem --profile d1-pp --as D1_TLS_CLIENT_CA",
    );
}

/** The options of `assets import`, as {@link define} declares them. */
export interface AssetsImportOptions {
  profile: string;
  as?: string;
}

export async function run(ctx: CliContext, o: AssetsImportOptions, args: string[]): Promise<number> {
  const r = await openWorkspace(ctx.dir).profile(o.profile).importAssets(args[0]!, o.as !== undefined ? { as: o.as } : {});
  if (ctx.json) {
    printJson(ctx, { ok: true, ...r });
    return 0;
  }
  if (r.classification) say(ctx, `${args[0]}: taken as ${r.classification.name}: ${r.classification.reason}`);
  for (const a of r.imported) say(ctx, `${paint(ctx, "green", "imported")} ${a.name}: ${a.summary}`);
  if (r.inboundTrust) say(ctx, `inbound trust: ${r.inboundTrust.file} (${r.inboundTrust.certificates.map((c) => c.subject).join("; ")})`);
  if (r.outboundTrust) say(ctx, `outbound trust: ${r.outboundTrust.file}`);
  if (r.dnsServers) say(ctx, `DNS servers of the profile: ${r.dnsServers.join(", ")}`);
  for (const n of r.notes) say(ctx, `note: ${n}`);
  for (const w of r.warnings) say(ctx, `${paint(ctx, "yellow", "warning")} ${w}`, true);
  for (const b of r.backups) say(ctx, `backup: ${b}`);
  printNextSteps(ctx, r.nextSteps);
  return 0;
}
