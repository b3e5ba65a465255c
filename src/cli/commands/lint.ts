import type { Command } from "commander";
import { existsSync } from "node:fs";
import { MtlsError } from "../../errors/index.js";
import { lintFiles, type Finding, type LintFilesOptions, type LintResult } from "../../lint/index.js";
import { openWorkspace, profileClientKeyUri, profilePkcs11Options, type Profile } from "../../store/index.js";
import { pkcs11OptionsFrom, refuseWithProfile, TOKEN_OPTION_HELP, type OptionFlags, type TokenOptions } from "./key-source.js";
import { hiddenAlias, paint, printJson, say, type CliContext } from "../context.js";

export function define(cmd: Command): Command {
  hiddenAlias(cmd, "--gateway-id <id>", { key: "id", flag: "--id" });
  return cmd
    .description("check certificates, CSRs, private keys and chains against a program's rules")
    .argument("[files...]", "PEM (one or many blocks) or DER files (or --profile)")
    .option("--profile <name>", "lint the profile's own client certificate (or CSR), chain and key, and its renewal in progress, against its program, environment, id and CN (instead of files and --program/--env/--id/--cn/--key)")
    .option("--program <program>", "d1 | mt (required with files)")
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
        '  mtlskit lint mt-sandbox.crt --program mt --env sandbox --cn "<CN from the Thales portal>" --key mt-sandbox.key --json\n' +
        "  mtlskit lint --profile d1-pp",
    );
}

/** The options of `lint`, as {@link define} declares them. */
export interface LintOptions extends TokenOptions {
  profile?: string;
  program?: string;
  env?: string;
  id?: string;
  cn?: string;
  key?: string;
  passphraseFile?: string;
}

export async function run(ctx: CliContext, o: LintOptions, args: string[]): Promise<number> {
  if (o.profile !== undefined) return runProfile(ctx, o, o.profile, args);
  if (args.length === 0) throw new MtlsError("USAGE", "give the files to lint, or --profile NAME", { hint: "Example: mtlskit lint client.csr --program d1 --env preprod --id 123456, or mtlskit lint --profile d1-pp" });
  if (o.program === undefined) throw new MtlsError("USAGE", "--program is required with files (d1 | mt), or use --profile NAME");
  const { program, env, id: gatewayId, cn, key: keyFile, passphraseFile } = o;
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

/** The options `--profile` decides; they do not go with it. */
const PROFILE_DECIDES: OptionFlags<LintOptions> = [
  ["program", "--program"],
  ["env", "--env"],
  ["id", "--id"],
  ["cn", "--cn"],
  ["key", "--key"],
];

/**
 * The sets of a profile that lint as one run each: the active client certificate with its chain
 * (or, before `cert install`, the CSR) and the key they must match; then the same for a renewal
 * in progress (`pending/`). Only files that exist; a key in a token (pkcs11 in the profile) is
 * the key compared.
 */
function profileLintSets(p: Profile): Array<{ files: string[]; key: string | undefined }> {
  const sets: Array<{ files: string[]; key: string | undefined }> = [];
  for (const slot of ["active", "pending"] as const) {
    const f = slot === "active" ? p.paths.client : p.paths.pending;
    const files = existsSync(f.cert) ? [f.cert, ...(existsSync(f.chain) ? [f.chain] : [])] : existsSync(f.csr) ? [f.csr] : [];
    const key = profileClientKeyUri(p, slot) ?? (existsSync(f.key) ? f.key : undefined);
    // A key alone (no certificate, no CSR yet) is linted too: its type is a finding of its own.
    if (files.length === 0 && key !== undefined && !key.startsWith("pkcs11:")) files.push(key);
    if (files.length > 0) sets.push({ files, key });
  }
  return sets;
}

async function runProfile(ctx: CliContext, o: LintOptions, name: string, args: string[]): Promise<number> {
  if (args.length > 0) throw new MtlsError("USAGE", "give files or --profile, not both", { hint: `Run: mtlskit lint --profile ${name}` });
  refuseWithProfile(o, PROFILE_DECIDES, "lint", name);
  const p = await openWorkspace(ctx.dir).profile(name).open();
  const sets = profileLintSets(p);
  if (sets.length === 0) {
    throw new MtlsError("FILE_NOT_FOUND", `profile '${name}' has no client certificate, CSR or key to lint yet (${p.paths.folder})`, {
      hint: p.program.id === "mt" ? `Create them: mtlskit cert self-signed --profile ${name}` : `Create them: mtlskit csr create --profile ${name}`,
    });
  }
  const base: LintFilesOptions = {
    program: p.program.id,
    environment: p.environment.id,
    ...(p.program.id === "d1" ? { gatewayId: p.customerId } : {}),
    ...(p.config.cn !== undefined ? { cn: p.config.cn } : {}),
    pkcs11: profilePkcs11Options(p, pkcs11OptionsFrom(o)),
  };
  const r: LintResult = { findings: [], errors: 0, warnings: 0, objects: 0 };
  const tokenKeys: string[] = [];
  const files: string[] = [];
  for (const set of sets) {
    const one = await lintFiles(set.files, { ...base, ...(set.key !== undefined && !set.files.includes(set.key) ? { keyFile: set.key } : {}) });
    r.findings.push(...one.findings);
    r.errors += one.errors;
    r.warnings += one.warnings;
    r.objects += one.objects;
    if (one.keyInToken) tokenKeys.push(one.keyInToken);
    files.push(...set.files, ...(set.key !== undefined && !set.files.includes(set.key) ? [set.key] : []));
  }
  if (tokenKeys.length > 0) r.keyInToken = tokenKeys.join("; ");
  if (ctx.json) {
    printJson(ctx, { ok: r.errors === 0, profile: name, files, errors: r.errors, warnings: r.warnings, objects: r.objects, findings: r.findings, ...(r.keyInToken ? { keyInToken: r.keyInToken } : {}) });
  } else {
    render(ctx, r, `profile ${name}: ${p.program.id} ${p.environment.id}`);
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
