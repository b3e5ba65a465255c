import * as net from "node:net";

/**
 * A TCP port free now on `host` (bound, then released). The supervisor gives one to an engine's
 * status page; tests use the same one (through test/support/net.ts) for listeners they start.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
