/**
 * Listening and stopping, for the inbound server (see `inbound-server.ts`): listen with a
 * coded error, the URL of a listener, the readiness the admin listener reports, and the
 * graceful stop of the HTTPS server and of the admin listener.
 */
import type * as http from "node:http";
import type * as https from "node:https";
import type { AddressInfo } from "node:net";
import type { CredentialSet } from "../credentials/index.js";
import { MtlsError } from "../errors/index.js";
import type { ListenAddress } from "./options.js";

/** Listens on `address`; `LISTEN_FAILED` saying why (port in use, privileges, address not here). */
export function listenOn(server: http.Server | https.Server, address: ListenAddress, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      const where = `${address.host ?? "*"}:${address.port}`;
      const why = e.code === "EADDRINUSE" ? "the port is in use" : e.code === "EACCES" ? `port ${address.port} needs privileges` : e.code === "EADDRNOTAVAIL" ? "the address is not on this machine" : e.message;
      reject(new MtlsError("LISTEN_FAILED", `the ${what} cannot listen on ${where}: ${why}`, { cause: e, subject: where }));
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(address.port, address.host);
  });
}

/** `scheme://host:port` of a listener: the host asked for, or loopback when it listens on every interface. */
export function urlOf(scheme: string, a: AddressInfo, requested: string | undefined): string {
  const host = requested && requested !== "0.0.0.0" && requested !== "::" ? requested : a.family === "IPv6" && requested === "::" ? "::1" : "127.0.0.1";
  return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${a.port}`;
}

/** Why the server is not ready (`/readyz`); empty when ready. */
export function notReadyReasons(s: { closing: boolean; listening: boolean; set: { leaf: Pick<CredentialSet["leaf"], "notAfter">; cas: readonly Pick<CredentialSet["leaf"], "notAfter">[] }; now: number }): string[] {
  const reasons: string[] = [];
  if (s.closing) reasons.push("shutting down");
  if (!s.listening) reasons.push("not listening");
  if (s.set.leaf.notAfter.getTime() < s.now) reasons.push(`the server certificate expired on ${s.set.leaf.notAfter.toISOString()}`);
  if (s.set.cas.every((c) => c.notAfter.getTime() < s.now)) reasons.push("every trusted client CA has expired");
  return reasons;
}

/** The ports Thales calls when `port` is not one of them (port 0 was asked for: not checked), else undefined. */
export function portNotThales(port: number, requestedPort: number | undefined, ports: readonly number[]): readonly number[] | undefined {
  return port !== 0 && !ports.includes(port) && requestedPort !== 0 ? ports : undefined;
}

/**
 * Stops accepting, closes idle connections, lets requests in progress finish for up to
 * `graceMs`, then closes every HTTP connection. A connection still in its TLS handshake is left
 * to its handshake timeout: Node offers no safe way to end it early (destroying the TCP socket
 * under a TLS socket crashes Node 20).
 */
export async function closeGracefully(server: https.Server, graceMs: number): Promise<void> {
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, graceMs);
  });
  await Promise.race([stopped, grace]);
  clearTimeout(timer);
}

/** Closes a plain HTTP listener and every connection on it. */
export async function closeNow(server: http.Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
