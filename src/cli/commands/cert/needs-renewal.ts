import type { Command } from "commander";
import { DEFAULT_RENEWAL_WINDOW, needsRenewal, parseRenewalWindow, readCertificates } from "../../../pki/index.js";
import { paint, printJson, say, type CliContext } from "../../context.js";

export function define(cmd: Command): Command {
  return cmd
    .description("exit 0 when a certificate is fresh, 1 when its renewal is due or it has expired")
    .argument("<file>", "a certificate, or a chain (the first certificate, the leaf, is checked)")
    .option("--within <window>", "renew this long before expiry: days (30d) or a share of the validity (20%); default 30d")
    .addHelpText(
      "after",
      "\nExit codes: 0 fresh, 1 renewal due or expired, 2 bad input.\n\nExamples:\n  mtlskit cert needs-renewal client.crt\n  mtlskit cert needs-renewal client.crt --within 20% --json\n  mtlskit cert needs-renewal client.crt --within 45d || mtlskit renew --profile mt-sandbox",
    );
}

/** The options of `cert needs-renewal`, as {@link define} declares them. */
export interface NeedsRenewalOptions {
  within?: string;
}

export async function run(ctx: CliContext, o: NeedsRenewalOptions, args: string[]): Promise<number> {
  const file = args[0] ?? "";
  const window = o.within === undefined ? DEFAULT_RENEWAL_WINDOW : parseRenewalWindow(o.within);
  const [leaf] = await readCertificates(file);
  const status = needsRenewal(leaf!, window);
  const note = status.notYetValid ? `; not valid before ${leaf!.notBefore.toISOString().replace(/\.\d{3}Z$/, "Z")}` : "";
  if (ctx.json) {
    printJson(ctx, {
      ok: !status.due,
      file,
      subject: leaf!.subjectText,
      due: status.due,
      expired: status.expired,
      notYetValid: status.notYetValid,
      notAfter: status.notAfter.toISOString(),
      renewFrom: status.renewFrom.toISOString(),
      daysLeft: status.daysLeft,
      window,
      message: status.message + note,
    });
  } else {
    const colour = status.expired ? "red" : status.due ? "yellow" : "green";
    say(ctx, `${file}: ${paint(ctx, colour, status.message)}${note}`, true);
  }
  return status.due ? 1 : 0;
}
