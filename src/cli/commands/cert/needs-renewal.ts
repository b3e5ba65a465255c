// Placeholder so the CLI builds while this command is being written; replace it whole.
import type { Command } from "commander";
import { MtlsError } from "../../../index.js";

export function define(cmd: Command): Command {
  return cmd.description("(being written)").allowUnknownOption().argument("[args...]");
}

export async function run(): Promise<number> {
  throw new MtlsError("INTERNAL", "this command is being written");
}
