import type { Command } from "commander";
import { exportServerCredentials } from "../../../client/export-credentials.js";
import type { CliContext } from "../../context.js";
import { exportCredentialsOptions, reportExport, type ExportCredentialsOptions } from "./credentials.js";

export function define(cmd: Command): Command {
  return cmd
    .description("export the endpoint Thales calls, for a load balancer or an appliance: server key, full chain, Thales Client CA bundle (PEM and PKCS#12)")
    .requiredOption("--profile <name>", "the profile")
    .requiredOption("--out <dir>", "folder to write into")
    .option("--password-file <file>", "PKCS#12 password (first line); default: generated into server.p12.pass (0600)")
    .option("--legacy", "PBE-SHA1-3DES and a SHA-1 MAC, for runtimes older than OpenSSL 3 / JDK 12 (never RC2)")
    .option("--force", "replace files already in the folder")
    .addHelpText("after", "\nThe password is never printed.\n\nExamples:\n  mtlskit export server --profile d1-pp --out ./lb");
}

export async function run(ctx: CliContext, o: ExportCredentialsOptions): Promise<number> {
  const r = await exportServerCredentials(ctx.dir, o.profile, exportCredentialsOptions(o));
  return reportExport(ctx, r, "server.p12.pass");
}
