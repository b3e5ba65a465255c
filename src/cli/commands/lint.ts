import type { Command } from "commander";
import { lintFiles, type Finding, type LintResult } from "../../lint/index.js";
import { pkcs11OptionsFrom, TOKEN_OPTION_HELP } from "./key-source.js";
import { hiddenAlias, paint, printJson, say, type CliContext } from "../context.js";

export function define(cmd: Command): Command {
  hiddenAlias(cmd, "--gateway-id <id>", { key: "id", flag: "--id" });
  return cmd
    .description("check certificates, CSRs, private keys and chains against a program's rules")
    .argument("<files...>", "PEM (one or many blocks) or DER files")
    .requiredOption("--program <program>", "d1 | mt")
    .option("--env <env>", "the environment they are for: preprod | production (D1), sandbox | production (MT)")
    .option("--id <id>", "D1: the merchantGatewayId the Common Name must carry (old spelling: --gateway-id)")
    .option("--cn <cn>", "the exact Common Name expected (MT: the value of the Thales portal)")
    .option("--key <file>", "the private key the certificate or CSR must match (a file, or pkcs11:token=...;object=... for a key in a token)")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .option("--passphrase-file <file>", "passphrase of encrypted keys (first line)")
    .addHelpText(
      "after",
      "\nExit status: 0 no error found, 1 errors found, 2 bad input.\n" +
        "\nExamples:\n  mtlskit lint d1-preprod.csr --program d1 --env preprod --id 123456\n" +
        '  mtlskit lint mt-sandbox.crt --program mt --env sandbox --cn "<CN from the Thales portal>" --key mt-sandbox.key --json',
    );
}

export async function run(ctx: CliContext, o: Record<string, unknown>, args: string[]): Promise<number> {
  const opt = (name: string): string | undefined => (o[name] === undefined ? undefined : String(o[name]));
  const program = String(o["program"]);
  const env = opt("env");
  const gatewayId = opt("id");
  const cn = opt("cn");
  const keyFile = opt("key");
  const passphraseFile = opt("passphraseFile");
  const r = await lintFiles(args, {
    program,
    ...(env !== undefined ? { environment: env } : {}),
    ...(gatewayId !== undefined ? { gatewayId } : {}),
    ...(cn !== undefined ? { cn } : {}),
    ...(keyFile !== undefined ? { keyFile } : {}),
    ...(passphraseFile !== undefined ? { passphraseFile } : {}),
    pkcs11: pkcs11OptionsFrom(o),
  });
  if (ctx.json) {
    printJson(ctx, { ok: r.errors === 0, errors: r.errors, warnings: r.warnings, objects: r.objects, findings: r.findings, ...(r.keyInToken ? { keyInToken: r.keyInToken } : {}) });
  } else {
    render(ctx, r, [program.toLowerCase(), env?.toLowerCase()].filter(Boolean).join(" "));
  }
  return r.errors > 0 ? 1 : 0;
}

const SEVERITY_STYLE = { error: "red", warning: "yellow", info: "blue" } as const;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function render(ctx: CliContext, r: LintResult, what: string): void {
  if (r.keyInToken) say(ctx, `key: ${r.keyInToken}`);
  if (r.findings.length === 0) {
    say(ctx, `${paint(ctx, "green", "ok")}: no findings in ${plural(r.objects, "object")} (${what})`);
    return;
  }
  const width = Math.max(...r.findings.map((f) => f.code.length));
  for (const f of r.findings) say(ctx, line(ctx, f, width), true);
  say(ctx, `${plural(r.errors, "error")}, ${plural(r.warnings, "warning")} in ${plural(r.objects, "object")}`);
}

function line(ctx: CliContext, f: Finding, width: number): string {
  const severity = paint(ctx, SEVERITY_STYLE[f.severity], f.severity.padEnd(7));
  return `${severity} ${f.code.padEnd(width)}  ${f.source}: ${f.message}\n  hint: ${f.hint}`;
}
