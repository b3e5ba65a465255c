import type { Command } from "commander";
import { spawn } from "node:child_process";
import { MtlsError } from "../../errors/index.js";
import { startDashboard } from "../dashboard/server.js";
import { printJson, say, type CliContext } from "../context.js";

export function define(cmd: Command): Command {
  return cmd
    .description("a web page over the workspace: profiles, readiness, a timeline of every certificate's validity, what is missing, a button running check, serve's metrics")
    .option("--listen <address:port>", "where to listen (loopback only unless --allow-remote)", "127.0.0.1:0")
    .option("--allow-remote", "allow a non-loopback --listen address (the page shows your workspace)")
    .option("--open", "open the one-time URL in a browser (xdg-open / open)")
    .option("--serve-admin <url>", "the admin URL of a running `mtlskit serve` (e.g. http://127.0.0.1:9464): show its certificates, handshakes and forwarded notifications")
    .addHelpText("after", "\nPrints a one-time URL with a random token; requests without it are refused. Ctrl-C stops it.\n\nExample:\n  mtlskit dashboard --dir /etc/mtlskit --listen 127.0.0.1:8765 --serve-admin http://127.0.0.1:9464");
}

/** The options of `dashboard`, as {@link define} declares them. */
export interface DashboardOptions {
  listen: string;
  allowRemote?: boolean;
  open?: boolean;
  serveAdmin?: string;
}

export async function run(ctx: CliContext, o: DashboardOptions): Promise<number> {
  const listen = o.listen;
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[2]) > 65535) throw new MtlsError("USAGE", `--listen must be ADDRESS:PORT, not '${listen}'`, { hint: "For example --listen 127.0.0.1:8765 (port 0: any free port)." });
  const host = m[1]!.replace(/^\[|\]$/g, "");
  const dashboard = await startDashboard({ dir: ctx.dir, host: host === "localhost" ? "127.0.0.1" : host, port: Number(m[2]), allowRemote: o.allowRemote === true, ...(o.serveAdmin !== undefined ? { serveAdmin: o.serveAdmin } : {}) });
  const stopped = new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  if (ctx.json) printJson(ctx, { url: dashboard.url });
  else say(ctx, `dashboard ready: open ${dashboard.url}\n(the token is asked once, then kept in a cookie; Ctrl-C stops it)`, true);
  if (o.open === true) {
    const opener = process.platform === "darwin" ? "open" : "xdg-open";
    spawn(opener, [dashboard.url], { stdio: "ignore", detached: true }).on("error", () => say(ctx, `could not run ${opener}: open the URL yourself`, true)).unref();
  }
  await stopped;
  await dashboard.close();
  return 0;
}
