/**
 * The network probes of the connectivity doctor (doctor.ts): a bare TCP connect, one TLS
 * handshake that keeps what the server showed even when it fails, the first HTTP status line on
 * that session, and a probe for the oldest TLS version a server still speaks. Each is bounded in
 * time and reports rather than throws where the doctor needs what was seen.
 */
import net from "node:net";
import tls, { type DetailedPeerCertificate, type SecureContext, type TLSSocket } from "node:tls";
import { watchHandshakeStage } from "./client-errors.js";
import { newCorrelationId } from "./correlation-id.js";
import { chainFromPeer, type ChainLink } from "./server-trust.js";

/** A TCP connection to `address:port`, closed at once; rejects with the socket error or a connect timeout. */
export function tcpConnect(address: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host: address, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`no TCP connection within ${timeoutMs} ms`), { code: "UND_ERR_CONNECT_TIMEOUT" }));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** What one TLS handshake gave: the session, or the error and what was seen of the server before it. */
export interface HandshakeOutcome {
  socket?: TLSSocket;
  error?: Error & { code?: string };
  chain: ChainLink[];
  peer?: DetailedPeerCertificate;
  protocol?: string;
  cipher?: { name: string; standardName: string; version: string };
  authorized: boolean;
  authorizationError?: string;
  /** An error of the established session (a refusal alert), seen before anyone read. */
  lateError?: Error & { code?: string };
}

/** One TLS handshake that trusts nothing itself (the doctor judges the chain afterwards), bounded by `timeoutMs`; never throws. */
export function handshake(address: string, port: number, servername: string, secureContext: SecureContext, timeoutMs: number, extra: tls.ConnectionOptions = {}): Promise<HandshakeOutcome> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: address, port, servername, secureContext, rejectUnauthorized: false, checkServerIdentity: () => undefined, ALPNProtocols: ["http/1.1"], ...extra });
    watchHandshakeStage(s);
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ error: Object.assign(new Error(`no TLS session within ${timeoutMs} ms`), { code: "ERR_TLS_HANDSHAKE_TIMEOUT" }), chain: [], authorized: false });
    }, timeoutMs);
    const peerChain = (): { chain: ChainLink[]; peer?: DetailedPeerCertificate } => {
      try {
        const peer = s.getPeerCertificate(true);
        return peer && Object.keys(peer).length > 0 ? { chain: chainFromPeer(peer), peer } : { chain: [] };
      } catch {
        return { chain: [] };
      }
    };
    const onError = (e: Error & { code?: string }) => {
      clearTimeout(timer);
      const { chain, peer } = peerChain();
      s.destroy();
      resolve({ error: e, chain, ...(peer ? { peer } : {}), authorized: false });
    };
    s.once("error", onError);
    s.once("secureConnect", () => {
      clearTimeout(timer);
      s.removeListener("error", onError);
      // A TLS 1.3 server refuses a client certificate with an alert right after the handshake,
      // possibly before the request is written: keep it for firstResponse().
      s.on("error", (e: Error & { code?: string }) => {
        outcome.lateError ??= e;
      });
      const { chain, peer } = peerChain();
      const authError = s.authorizationError as unknown as Error | string | null | undefined;
      const outcome: HandshakeOutcome = {
        socket: s,
        chain,
        ...(peer ? { peer } : {}),
        protocol: s.getProtocol() ?? "unknown",
        cipher: s.getCipher(),
        authorized: s.authorized,
        ...(authError ? { authorizationError: typeof authError === "string" ? authError : authError.message } : {}),
      };
      resolve(outcome);
    });
  });
}

/** Sends one HTTP/1.1 request on an established TLS socket and reads the status line. */
export function firstResponse(hs: HandshakeOutcome, host: string, path: string, timeoutMs: number): Promise<{ status?: number; error?: Error & { code?: string } }> {
  const socket = hs.socket!;
  if (hs.lateError) {
    socket.destroy();
    return Promise.resolve({ error: hs.lateError });
  }
  return new Promise((resolve) => {
    let text = "";
    const done = (r: { status?: number; error?: Error & { code?: string } }) => {
      clearTimeout(timer);
      socket.removeAllListeners("data");
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ error: Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "UND_ERR_HEADERS_TIMEOUT" }) }), timeoutMs);
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      const line = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (line) done({ status: Number(line[1]) });
      else if (text.includes("\r\n")) done({ error: Object.assign(new Error("the server answered something that is not HTTP"), { code: "ERR_INVALID_HTTP_RESPONSE" }) });
    });
    socket.once("error", (e: Error & { code?: string }) => done({ error: e }));
    const closed = () => done({ error: hs.lateError ?? Object.assign(new Error("the server closed the connection without answering"), { code: "UND_ERR_SOCKET" }) });
    socket.once("end", closed);
    socket.once("close", closed);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAccept: */*\r\nx-correlation-id: ${newCorrelationId()}\r\nConnection: close\r\n\r\n`);
  });
}

/** The highest TLS version below 1.2 the server speaks, for the message (a probe that sends no data). */
export async function oldestVersionProbe(address: string, port: number, servername: string, timeoutMs: number): Promise<string | undefined> {
  const ctx = tls.createSecureContext({ minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" });
  const r = await handshake(address, port, servername, ctx, timeoutMs, { minVersion: "TLSv1", maxVersion: "TLSv1.1" });
  r.socket?.destroy();
  return r.protocol;
}
