import type { Command, OptionValues } from "commander";
import type { CliContext } from "./context.js";

/** What each command file exports. */
export interface CommandModule {
  /** Adds arguments, options, description and help example to the command. */
  define(cmd: Command): Command;
  /**
   * Does the work through the library and renders; returns the exit code. `options` are the
   * command's own options as commander hands them over: each command declares them, next to
   * its `define`, as an interface (`CsrCreateOptions`...) of what `define` gives: a string per
   * option with a value, `string[]` for a repeatable one, `boolean` for a flag; required where
   * `define` makes it required or gives a default. The command checks and converts the values
   * where it uses them (`positiveInt`, `hashOption`, `parseDurationMs`...), with its own messages.
   */
  run(ctx: CliContext, options: OptionValues, args: string[]): Promise<number>;
}

/**
 * Every command, loaded only when called: `mtlskit inspect` starts without loading the code
 * that creates certificates. One file per command: `mtlskit csr create` is commands/csr/create.ts.
 */
export const COMMANDS: ReadonlyArray<{ path: readonly string[]; group?: string; load: () => Promise<CommandModule> }> = [
  { path: ["key", "create"], group: "private keys", load: () => import("./commands/key/create.js") },
  { path: ["csr", "create"], group: "certificate signing requests (D1)", load: () => import("./commands/csr/create.js") },
  { path: ["cert", "self-signed"], group: "certificates", load: () => import("./commands/cert/self-signed.js") },
  { path: ["cert", "needs-renewal"], group: "certificates", load: () => import("./commands/cert/needs-renewal.js") },
  { path: ["lint"], load: () => import("./commands/lint.js") },
  { path: ["inspect"], load: () => import("./commands/inspect.js") },
  { path: ["emulate"], load: () => import("./commands/emulate.js") },
  { path: ["demo"], load: () => import("./commands/demo.js") },
  { path: ["profile", "add"], group: "profiles of the workspace", load: () => import("./commands/profile/add.js") },
  { path: ["profile", "list"], group: "profiles of the workspace", load: () => import("./commands/profile/list.js") },
  { path: ["profile", "show"], group: "profiles of the workspace", load: () => import("./commands/profile/show.js") },
  { path: ["profile", "remove"], group: "profiles of the workspace", load: () => import("./commands/profile/remove.js") },
  { path: ["cert", "install"], group: "certificates", load: () => import("./commands/cert/install.js") },
  { path: ["cert", "activate"], group: "certificates", load: () => import("./commands/cert/activate.js") },
  { path: ["assets", "import"], group: "assets exchanged with Thales", load: () => import("./commands/assets/import.js") },
  { path: ["assets", "export"], group: "assets exchanged with Thales", load: () => import("./commands/assets/export.js") },
  { path: ["assets", "status"], group: "assets exchanged with Thales", load: () => import("./commands/assets/status.js") },
  { path: ["server-cert", "set"], group: "the server certificate Thales calls", load: () => import("./commands/server-cert/set.js") },
  { path: ["status"], load: () => import("./commands/status.js") },
  { path: ["renew"], load: () => import("./commands/renew.js") },
  { path: ["serve"], load: () => import("./commands/serve.js") },
  { path: ["check"], load: () => import("./commands/check.js") },
  { path: ["call"], load: () => import("./commands/call.js") },
  { path: ["token"], load: () => import("./commands/token.js") },
  { path: ["oauth", "key", "create"], group: "OAuth 2.0 keys (D1)", load: () => import("./commands/oauth/key-create.js") },
  // ---- issue 10: monitoring, inputs and messages (h10a) ----
  { path: ["completion"], load: () => import("./commands/completion.js") },

  // ---- issue 10: crash safety (h10b) ----

  // ---- issue 10: serve endpoint, emulator and portal (h10c) ----

  // ---- issue 11: library shape (h11a) ----

  // ---- issue 11: one home per rule, costs (h11b) ----

  // ---- issue 12: engines nginx/haproxy (h12a) ----
  { path: ["export", "nginx"], group: "engines (nginx, HAProxy)", load: () => import("./commands/export/nginx.js") },
  { path: ["export", "haproxy"], group: "engines (nginx, HAProxy)", load: () => import("./commands/export/haproxy.js") },

  // ---- issue 12: k8s export, workers (h12b) ----
  { path: ["export", "k8s"], group: "export for other engines and stacks", load: () => import("./commands/export/k8s.js") },

  // ---- issue 13: PKCS#12 and credentials (h13) ----
  { path: ["export", "client"], group: "export for other stacks", load: () => import("./commands/export/client.js") },
  { path: ["export", "server"], group: "export for other stacks", load: () => import("./commands/export/server.js") },

  // ---- issue 14: keys in an HSM, profiles (h14b) ----

  // ---- issue 15: portal page and dashboard (h15) ----
  { path: ["dashboard"], load: () => import("./commands/dashboard.js") },
  { path: ["emulate", "sign"], group: "the emulator", load: () => import("./commands/emulate/sign.js") },
  { path: ["emulate", "endorse"], group: "the emulator", load: () => import("./commands/emulate/endorse.js") },
  { path: ["emulate", "register"], group: "the emulator", load: () => import("./commands/emulate/register.js") },

];
