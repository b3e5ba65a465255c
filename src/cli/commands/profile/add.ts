import type { Command } from "commander";
import { openWorkspace } from "../../../store/index.js";
import { hiddenAlias, paint, printJson, say, type CliContext } from "../../context.js";

export function define(cmd: Command): Command {
  hiddenAlias(cmd, "--key-type <type>", { key: "type", flag: "--type" });
  return cmd
    .description("add a profile: one (program, environment, customer id) connection to Thales, with its folder in the workspace")
    .argument("<name>", "the profile's name, used with --profile (e.g. d1-preprod)")
    .requiredOption("--program <program>", "d1 | mt")
    .requiredOption("--env <env>", "d1: preprod | production; mt: sandbox | production")
    .requiredOption("--id <id>", "merchantGatewayId (d1) or customer identifier (mt), as Thales gave it")
    .option("--subject <dn>", "subject without CN, openssl -subj syntax (d1: /C=../ST=../L=../O=../OU=..)")
    .option("--type <type>", "type of new client keys (old spelling: --key-type): ecdsa-p256 (default) | ecdsa-p384 | rsa-2048 | rsa-4096, as the program allows")
    .option("--cn <cn>", "mt: the exact Common Name the Thales portal gives for this environment")
    .option("--issuer-host <host>", "ISSUER_HOST: the host name Thales calls on your side")
    .addHelpText(
      "after",
      '\nExamples:\n  mtlskit profile add d1-pp --program d1 --env preprod --id 123456 --subject "/C=FR/ST=Paris/L=Paris/O=Example SA/OU=Payments"\n  mtlskit profile add mt-sbx --program mt --env sandbox --id 654321 --cn "<CN from the Thales portal>"',
    );
}

/** The options of `profile add`, as {@link define} declares them. */
export interface ProfileAddOptions {
  program: string;
  env: string;
  id: string;
  subject?: string;
  type?: string;
  cn?: string;
  issuerHost?: string;
}

export async function run(ctx: CliContext, o: ProfileAddOptions, args: string[]): Promise<number> {
  const name = args[0]!;
  const { subject, type: keyType, cn, issuerHost } = o;
  const p = await openWorkspace(ctx.dir).addProfile(name, {
    program: o.program,
    environment: o.env,
    customerId: o.id,
    ...(subject !== undefined ? { subject } : {}),
    ...(keyType !== undefined ? { keyType } : {}),
    ...(cn !== undefined ? { cn } : {}),
    ...(issuerHost !== undefined ? { issuerHost } : {}),
  });
  const d1 = p.program.clientCertificate.issuance === "thales-signed-csr";
  const next = d1 ? `mtlskit csr create --profile ${name}` : `mtlskit cert self-signed --profile ${name}${p.config.cn ? "" : ' --cn "<CN from the Thales portal>"'}`;
  if (ctx.json) {
    printJson(ctx, { ok: true, profile: name, program: p.program.id, environment: p.environment.id, customerId: p.customerId, folder: p.paths.folder, config: p.config, nextSteps: [next] });
    return 0;
  }
  say(ctx, `${paint(ctx, "green", "added")} profile ${name}: ${p.program.name} ${p.environment.label}, ${p.program.customerIdLabel} ${p.customerId}`);
  say(ctx, `folder: ${p.paths.folder}`);
  say(ctx, `\nNext: ${next}`);
  return 0;
}
