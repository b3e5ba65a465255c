import { MtlsError } from "../../../errors/index.js";
import type { ExportClientOptions, ExportClientResult } from "../../../client/export-credentials.js";
import { printJson, say, type CliContext } from "../../context.js";

/** The options of `export client` and `export server`, as their `define` declares them. */
export interface ExportCredentialsOptions {
  profile: string;
  out: string;
  passwordFile?: string;
  legacy?: boolean;
  force?: boolean;
}

/** What `export client|server` asks of the library; `USAGE` when --profile or --out is empty. */
export function exportCredentialsOptions(o: ExportCredentialsOptions): ExportClientOptions {
  if (!o.profile || !o.out) throw new MtlsError("USAGE", "--profile and --out are required");
  return {
    out: o.out,
    ...(o.passwordFile !== undefined ? { passwordFile: o.passwordFile } : {}),
    legacy: o.legacy === true,
    force: o.force === true,
  };
}

/** Prints what `export client|server` wrote (never the password: `passwordFile` names where a generated one is). */
export function reportExport(ctx: CliContext, r: ExportClientResult, passwordFile: string): number {
  if (ctx.json) {
    printJson(ctx, { ok: true, ...r });
    return 0;
  }
  say(ctx, `exported profile ${r.profile} to ${r.out} (${r.encryption})`);
  for (const f of r.files) say(ctx, `  ${f.file}  ${f.mode}  ${f.role}`);
  if (r.generatedPassword) say(ctx, `  the PKCS#12 password was generated into ${passwordFile} (it is not printed)`);
  return 0;
}
