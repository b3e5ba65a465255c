import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { printJson, say, type CliContext } from "../../context.js";
import { assetFile, callPortal, defineHelper, need, readBundle, type PortalOptions } from "./helpers.js";

export function define(cmd: Command): Command {
  return defineHelper(cmd, "D1: have the emulator sign the CSR of an `assets export` folder; writes the signed certificate and chain", "mtlskit emulate sign --from out/ --portal http://127.0.0.1:45523 --out signed.pem")
    .option("--out <file>", "where to write the certificate and chain (default DIR/signed-chain.pem)");
}

/** The options of `emulate sign`, as {@link define} declares them. */
export interface EmulateSignOptions extends PortalOptions {
  out?: string;
}

export async function run(ctx: CliContext, o: EmulateSignOptions): Promise<number> {
  const b = await readBundle(o.from);
  const csr = need(await assetFile(b, "D1_CSR"), "D1_CSR", "Only D1 bundles carry a CSR: `mtlskit csr create --profile NAME`, then export again.");
  const r = await callPortal(ctx, o.portal, "POST", `/v1/${b.program}/${b.environment}/csr`, { customerId: b.customerId, csr });
  if (!r.ok) return 1;
  const out = o.out ?? path.join(b.dir, "signed-chain.pem");
  await fs.writeFile(`${out}.tmp`, String(r.answer["chain"]));
  await fs.rename(`${out}.tmp`, out);
  if (ctx.json) printJson(ctx, { file: out, subject: r.answer["subject"], fingerprint: r.answer["fingerprint"], notAfter: r.answer["notAfter"] });
  else say(ctx, `signed: ${String(r.answer["subject"])}\nwrote ${out}\nNext: mtlskit cert install ${out} --profile NAME`, true);
  return 0;
}
