import type { Command } from "commander";
import { MtlsError } from "../../../errors/index.js";
import { exportClientCredentials } from "../../../client/export-credentials.js";
import { printJson, say, type CliContext } from "../../context.js";

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

export async function run(ctx: CliContext, o: Record<string, unknown>): Promise<number> {
  const profile = String(o["profile"] ?? "");
  const out = String(o["out"] ?? "");
  if (!profile || !out) throw new MtlsError("USAGE", "--profile and --out are required");
  const r = await exportClientCredentials(ctx.dir, profile, {
    out,
    ...(typeof o["passwordFile"] === "string" ? { passwordFile: o["passwordFile"] } : {}),
    legacy: o["legacy"] === true,
    force: o["force"] === true,
  });
  if (ctx.json) {
    printJson(ctx, { ok: true, ...r });
    return 0;
  }
  say(ctx, `exported profile ${r.profile} to ${r.out} (${r.encryption})`);
  for (const f of r.files) say(ctx, `  ${f.file}  ${f.mode}  ${f.role}`);
  if (r.generatedPassword) say(ctx, "  the PKCS#12 password was generated into client.p12.pass (it is not printed)");
  return 0;
}
