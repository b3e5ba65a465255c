/**
 * One raw HTTP/1.1 exchange on a fresh connection (plain or TLS), for requests no HTTP client
 * would send: the bytes go out as given, in chunks, and a server that stops reading and
 * closes early (as it should for a body over its limit) is not an error on this side.
 */
import type { Socket } from "node:net";

/** A raw answer. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `request` on the socket `open()` gives and reads one answer; rejects after `timeoutMs` (a hang) or when the connection closes without one. */
export function exchange(open: () => Socket, request: Buffer, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = open();
    const chunks: Buffer[] = [];
    let settled = false;
    const parse = (): Answer | undefined => {
      let raw = Buffer.concat(chunks);
      for (;;) {
        const end = raw.indexOf("\r\n\r\n");
        if (end < 0) return undefined;
        const head = raw.subarray(0, end).toString("latin1").split("\r\n");
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? "")?.[1]);
        const headers: Record<string, string> = {};
        for (const line of head.slice(1)) {
          const i = line.indexOf(":");
          if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
        }
        const rest = raw.subarray(end + 4);
        if (status === 100) {
          raw = rest;
          continue;
        }
        const length = Number(headers["content-length"] ?? NaN);
        if (Number.isFinite(length) && rest.length < length) return undefined;
        return { status, headers, body: rest.subarray(0, Number.isFinite(length) ? length : rest.length).toString("utf8") };
      }
    };
    const finish = (a: Answer | undefined, e?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (a) resolve(a);
      else reject(e ?? new Error("the connection closed without an answer"));
    };
    const timer = setTimeout(() => finish(undefined, new Error(`no complete answer within ${timeoutMs} ms (a hang)`)), timeoutMs);
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      const a = parse();
      if (a) finish(a);
    });
    socket.on("close", () => finish(parse()));
    socket.on("error", () => {
      // EPIPE / ECONNRESET while still sending: the answer may already be in; 'close' decides.
    });
    const send = async (): Promise<void> => {
      for (let at = 0; at < request.length && !socket.destroyed; at += 64 * 1024) {
        if (!socket.write(request.subarray(at, at + 64 * 1024))) await new Promise((r) => socket.once("drain", r).once("close", r));
      }
    };
    socket.once(socket.constructor.name === "TLSSocket" ? "secureConnect" : "connect", () => void send());
  });
}

/** Waits until the connection `open()` gives is closed by the peer; rejects after `timeoutMs` (a hang). */
export function closedByPeer(open: () => Socket, send: Buffer, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = open();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("error", () => undefined);
    socket.on("connect", () => socket.write(send));
    socket.resume();
    socket.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
