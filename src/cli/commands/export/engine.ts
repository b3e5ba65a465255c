import type { Command } from "commander";
import * as path from "node:path";
import { MtlsError } from "../../../errors/index.js";
import { engineFolderFiles, engineModel, engineTokenKey, haproxyTokenRefusal, readMaterial, writeEngineFolder, type EngineName } from "../../../engines/index.js";
import { isPkcs11Uri } from "../../../pki/index.js";
import { pkcs11OptionsFrom, TOKEN_OPTION_HELP, type TokenOptions } from "../key-source.js";
import { DEFAULT_LISTEN_PORT, parseListenAddress, profileInboundFiles } from "../../../server/index.js";
import { positiveInt, printJson, say, type CliContext } from "../../context.js";

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** `mtlskit export nginx|haproxy`: the same generated material `serve --engine` runs, for teams who run the engine themselves. */
export function defineFor(engine: EngineName) {
  return function define(cmd: Command): Command {
    const run = engine === "nginx" ? "nginx -p DIR -c DIR/nginx.conf" : "haproxy -f DIR/haproxy.cfg";
    return cmd
      .description(`write a complete ${engine} configuration for a profile's endpoint (mutual TLS with Thales, identity headers), runnable with \`${run}\``)
      .requiredOption("--profile <name>", "the profile (server-cert set, assets import done)")
      .requiredOption("--out <dir>", "the folder to write (certificates and key inside it, key 0600)")
      .option("--listen <host:port>", "where Thales connects", `:${DEFAULT_LISTEN_PORT}`)
      .option("--upstream <url>", "your application, plain HTTP", "http://127.0.0.1:8080")
      .option("--allow-cn <cn>", "also require this subject CN of the client certificate (repeatable)", collect)
      .option("--allow-o <o>", "also require this subject O of the client certificate (repeatable)", collect)
      .option("--upstream-errors <mode>", "retryable (503) or gateway (502/504)", "retryable")
      .option("--max-connections <n>", "connections served at once", "512")
      .option("--max-body <bytes>", "largest request body; more is answered 413", String(1024 * 1024))
      .option("--force", "replace the files of an earlier export")
      .option("--pin-file <file>", `${TOKEN_OPTION_HELP.pinFile} (nginx, key in a token: written to DIR/certs/pkcs11-pin, 0600)`)
      .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
      .addHelpText(
        "after",
        (engine === "nginx"
          ? "\nHeaders: nginx (no njs) sets x-client-cert-subject, -issuer, -serial and x-client-cert (URL-encoded PEM); it cannot produce\n" +
            "x-client-cert-sha256, x-client-cert-not-after nor RFC 9440 Client-Cert exactly: those are removed, never passed from the client.\n" +
            "Files: nginx.conf (complete), conf.d/thales-PROFILE.conf (maps and server block, to include inside http { } of your nginx).\n"
          : "\nHeaders: HAProxy sets x-client-cert-subject, -issuer, -serial, -sha256 and RFC 9440 Client-Cert; it cannot produce\n" +
            "x-client-cert (URL-encoded PEM) nor x-client-cert-not-after exactly: those are removed, never passed from the client.\n") +
          `\nExample:\n  mtlskit export ${engine} --profile d1-pp --out /etc/mtlskit/${engine} --listen :8443 --upstream http://127.0.0.1:8080\n  ${run.replace(/DIR/g, `/etc/mtlskit/${engine}`)}`,
      );
  };
}

/** The options of `export nginx` and `export haproxy`, as {@link defineFor} declares them. */
export interface ExportEngineOptions extends TokenOptions {
  profile: string;
  out: string;
  listen: string;
  upstream: string;
  allowCn?: string[];
  allowO?: string[];
  upstreamErrors: string;
  maxConnections: string;
  maxBody: string;
  force?: boolean;
}

export function runFor(engine: EngineName) {
  return async function run(ctx: CliContext, o: ExportEngineOptions): Promise<number> {
    const mode = o.upstreamErrors;
    if (mode !== "retryable" && mode !== "gateway") throw new MtlsError("USAGE", `--upstream-errors must be retryable or gateway, not '${mode}'`);
    const name = o.profile;
    const p = await profileInboundFiles(ctx.dir, name, pkcs11OptionsFrom(o));
    const inToken = isPkcs11Uri(p.files.keyFile);
    if (inToken && engine === "haproxy") throw haproxyTokenRefusal();
    // nginx with a key in a token: the key stays there, nginx.conf references it (engine:pkcs11), the PIN goes to a 0600 file.
    const pkcs11 = { ...(p.files.pkcs11 ?? {}), ...pkcs11OptionsFrom(o) };
    const material = await readMaterial({ ...p.files, caFile: p.files.caFile!, ...(inToken ? { pkcs11 } : {}) });
    const dir = path.resolve(o.out);
    const model = engineModel({
      profile: name,
      dir,
      listen: parseListenAddress(o.listen),
      upstream: o.upstream,
      allow: { commonNames: o.allowCn ?? [], organizations: o.allowO ?? [] },
      limits: { maxConnections: positiveInt("--max-connections", o.maxConnections), maxBodyBytes: positiveInt("--max-body", o.maxBody) },
      upstreamErrors: mode,
      ...(material.token ? { tokenKey: engineTokenKey(material.token) } : {}),
    });
    const files = engineFolderFiles(engine, model, material);
    const written = await writeEngineFolder(dir, engine, files, { force: o.force === true });
    if (ctx.json) printJson(ctx, { ok: true, engine, dir, files: written });
    else {
      say(ctx, `wrote ${engine} configuration for '${name}' in ${dir}:`);
      for (const f of written) say(ctx, `  ${f}${files[f]!.mode === 0o600 ? " (0600)" : ""}`);
      if (material.token) say(ctx, `key: in the token (${material.token.uri}), referenced as engine:pkcs11; PIN in certs/pkcs11-pin (0600)`);
      say(ctx, `run: ${engine === "nginx" ? `${material.token ? `OPENSSL_CONF=${dir}/openssl-pkcs11.cnf ` : ""}nginx -p ${dir} -c ${dir}/nginx.conf` : `haproxy -f ${dir}/haproxy.cfg`}`);
    }
    return 0;
  };
}
