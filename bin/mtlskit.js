#!/usr/bin/env node
import { runCli } from "../dist/cli/main.js";

// A closed pipe (`mtlskit inspect x.pem | head -1`) ends the output, not the program with a trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

process.exitCode = await runCli(process.argv.slice(2));
