/**
 * Test-only network helpers: a free port (the product's own, `src/engines/free-port.ts`), a
 * server that never answers, and the soft limit of open files, which bounds how many sockets a
 * flood test may open.
 */
import { execFileSync } from "node:child_process";
import * as net from "node:net";

export { freePort } from "../../src/engines/free-port.js";

/** The soft limit of open files of this process (children inherit it); 1024 when it cannot be read. */
export function openFileLimit(): number {
  try {
    const out = execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim();
    return out === "unlimited" ? Number.POSITIVE_INFINITY : Number(out);
  } catch {
    return 1024;
  }
}

/** A TCP server on 127.0.0.1 that accepts connections and never sends a byte: what a client's timeouts are tested against. */
export async function startSilentServer(): Promise<{ port: number; close(): void }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((c) => sockets.push(c));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close() {
      sockets.forEach((c) => c.destroy());
      server.close();
    },
  };
}
