import type { Command } from "commander";
import { exportClientCredentials } from "../../../client/export-credentials.js";
import type { CliContext } from "../../context.js";
import { exportCredentialsOptions, reportExport, type ExportCredentialsOptions } from "./credentials.js";

export function define(cmd: Command): Command {
  return cmd
    .description("export the profile's client credentials for other stacks: PEM, PKCS#12, Java truststore and EXAMPLES.md")
    .requiredOption("--profile <name>", "the profile")
    .requiredOption("--out <dir>", "folder to write into")
    .option("--password-file <file>", "PKCS#12 password (first line); default: generated into client.p12.pass (0600)")
    .option("--legacy", "PBE-SHA1-3DES and a SHA-1 MAC, for runtimes older than OpenSSL 3 / JDK 12 (never RC2)")
    .option("--force", "replace files already in the folder")
    .addHelpText("after", "\nThe password is never printed.\n\nExamples:\n  mtlskit export client --profile d1-pp --out ./creds\n  mtlskit export client --profile mt-sbx --out ./creds --legacy --password-file pw.txt");
}

export async function run(ctx: CliContext, o: ExportCredentialsOptions): Promise<number> {
  const r = await exportClientCredentials(ctx.dir, o.profile, exportCredentialsOptions(o));
  return reportExport(ctx, r, "client.p12.pass");
}
