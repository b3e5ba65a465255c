/**
 * `mtlskit emulate sign|endorse|register --from DIR --portal URL`: act on a running emulator's
 * portal from an `assets export` folder (its manifest.json names the program, environment,
 * customer and files), so that the step-by-step onboarding needs no hand-written JSON.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { MtlsError } from "../../../errors/index.js";
import { printJson, say, type CliContext } from "../../context.js";

export interface ExportedBundle {
  program: string;
  environment: string;
  customerId: string;
  assets: Record<string, string>;
  dir: string;
}

/** `--from` and `--portal`, the options {@link defineHelper} declares. */
export interface PortalOptions {
  from: string;
  portal: string;
}

export function defineHelper(cmd: Command, description: string, example: string): Command {
  return cmd
    .description(description)
    .requiredOption("--from <dir>", "the folder written by `mtlskit assets export`")
    .requiredOption("--portal <url>", "the emulator's portal URL (printed by `mtlskit emulate`)")
    .addHelpText("after", `\nExample:\n  ${example}`);
}

export async function readBundle(dir: string): Promise<ExportedBundle> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, "manifest.json"), "utf8");
  } catch {
    throw new MtlsError("USAGE", `${dir} has no manifest.json`, { hint: "Give the folder written by `mtlskit assets export --profile NAME --out DIR`." });
  }
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new MtlsError("USAGE", `${dir}/manifest.json is not JSON`, { hint: "Export the assets again." });
  }
  if (typeof m["program"] !== "string" || typeof m["environment"] !== "string" || typeof m["customerId"] !== "string" || typeof m["assets"] !== "object" || m["assets"] === null) {
    throw new MtlsError("USAGE", `${dir}/manifest.json lacks program, environment, customerId or assets`, { hint: "Export the assets again." });
  }
  return { program: m["program"], environment: m["environment"], customerId: m["customerId"], assets: m["assets"] as Record<string, string>, dir };
}

/** The content of the file an asset names, or undefined when the bundle does not have it. */
export async function assetFile(b: ExportedBundle, name: string): Promise<string | undefined> {
  const file = b.assets[name];
  if (file === undefined) return undefined;
  const resolved = path.resolve(b.dir, file);
  if (path.dirname(resolved) !== path.resolve(b.dir)) throw new MtlsError("USAGE", `asset ${name} names a file outside the folder: ${file}`, { hint: "Export the assets again." });
  return fs.readFile(resolved, "utf8");
}

export function need<T>(value: T | undefined, what: string, hint: string): T {
  if (value === undefined) throw new MtlsError("USAGE", `the bundle has no ${what}`, { hint });
  return value;
}

/** Calls the portal; a refusal prints its codes and messages and gives exit 1. */
export async function callPortal(ctx: CliContext, portal: string, method: string, route: string, body: unknown): Promise<{ ok: boolean; status: number; answer: Record<string, unknown> }> {
  let base: URL;
  try {
    base = new URL(portal);
  } catch {
    throw new MtlsError("USAGE", `--portal is not a URL: '${portal}'`, { hint: "Give the portal URL `mtlskit emulate` printed, e.g. http://127.0.0.1:45523" });
  }
  const res = await fetch(new URL(route, base), { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const answer = (await res.json()) as Record<string, unknown>;
  if (!res.ok) {
    if (ctx.json) printJson(ctx, { status: res.status, ...answer });
    else for (const e of (answer["errors"] as { code: string; message: string }[]) ?? []) say(ctx, `refused [${e.code}] ${e.message}`, true);
  }
  return { ok: res.ok, status: res.status, answer };
}
