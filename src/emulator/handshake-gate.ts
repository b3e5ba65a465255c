/**
 * The handshake gate of the emulator's API endpoint (see the file comment of `api-server.ts`,
 * "How a refusal happens in the handshake"): a Duplex between the TCP socket and a `tls.Server`
 * that reads TLS record headers and hellos only (never decrypted data), holds back the server's
 * last flight until the endpoint decides, then opens or refuses with a fatal alert: in clear in
 * TLS 1.2, encrypted with the server's application traffic secret in TLS 1.3
 * ({@link tls13AlertRecord}, every TLS 1.3 cipher suite of {@link TLS13_SUITES}).
 */
import { AsyncResource } from "node:async_hooks";
import { createCipheriv, createHmac } from "node:crypto";
import type net from "node:net";
import { Duplex } from "node:stream";

/** How long a closed or refused connection may linger (peer not closing) before it is cut. */
const REFUSED_LINGER_MS = 5_000;

export const ALERT = {
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_expired: 45,
  unknown_ca: 48,
  access_denied: 49,
  certificate_required: 116,
} as const;

export const TLS_VERSION_NAMES: Record<number, string> = { 0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3" };
export const TLS13 = 0x0304;
export const TLS12 = 0x0303;

export const REC_CHANGE_CIPHER_SPEC = 20;
export const REC_ALERT = 21;
export const REC_HANDSHAKE = 22;
export const REC_APPLICATION_DATA = 23;

// ---------------------------------------------------------------------------------------------
// TLS record inspection (headers and hellos only)
// ---------------------------------------------------------------------------------------------

/** What the ClientHello says. */
export interface ClientHelloInfo {
  /** Highest version offered (supported_versions, else legacy_version). */
  maxVersion: number | undefined;
  serverName: string | undefined;
}

/** Splits a byte stream into TLS records; `onRecord` returns false to stop. */
export class RecordSplitter {
  private buffer: Buffer = Buffer.alloc(0);
  private stopped = false;

  constructor(private readonly onRecord: (type: number, body: Buffer) => boolean) {}

  get active(): boolean {
    return !this.stopped;
  }

  stop(): void {
    this.stopped = true;
    this.buffer = Buffer.alloc(0);
  }

  feed(chunk: Buffer): void {
    if (this.stopped) return;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (!this.stopped && this.buffer.length >= 5) {
      const type = this.buffer[0]!;
      // Not a TLS record (SSLv2 hello, plain HTTP...): OpenSSL will say what it is.
      if (type < 20 || type > 24 || this.buffer[1] !== 3) return this.stop();
      const length = this.buffer.readUInt16BE(3);
      if (length > 18_432) return this.stop();
      if (this.buffer.length < 5 + length) return;
      const body = this.buffer.subarray(5, 5 + length);
      this.buffer = this.buffer.subarray(5 + length);
      if (!this.onRecord(type, body)) return this.stop();
    }
  }
}

/** Reads a ClientHello (handshake body of the first record); tolerant of truncation. */
export function parseClientHello(body: Buffer): ClientHelloInfo | undefined {
  if (body[0] !== 1 || body.length < 4 + 2 + 32 + 1) return undefined;
  const info: ClientHelloInfo = { maxVersion: body.readUInt16BE(4), serverName: undefined };
  try {
    let p = 4 + 2 + 32;
    p += 1 + body[p]!; // session id
    p += 2 + body.readUInt16BE(p); // cipher suites
    p += 1 + body[p]!; // compression methods
    if (p + 2 > body.length) return info;
    const end = Math.min(body.length, p + 2 + body.readUInt16BE(p));
    p += 2;
    while (p + 4 <= end) {
      const type = body.readUInt16BE(p);
      const len = body.readUInt16BE(p + 2);
      const data = body.subarray(p + 4, p + 4 + len);
      p += 4 + len;
      if (type === 43 && data.length >= 1) {
        // supported_versions: highest real (non-GREASE) version
        let max = 0;
        const listEnd = Math.min(data.length, 1 + data[0]!);
        for (let i = 1; i + 2 <= listEnd; i += 2) {
          const v = data.readUInt16BE(i);
          if ((v & 0x0f0f) !== 0x0a0a && v > max) max = v;
        }
        if (max) info.maxVersion = max;
      } else if (type === 0 && data.length >= 5) {
        const nameLength = data.readUInt16BE(3);
        info.serverName = data.subarray(5, 5 + nameLength).toString("latin1");
      }
    }
  } catch {
    // truncated: keep what was read
  }
  return info;
}

/** The version a ServerHello selects (supported_versions, else legacy_version). */
export function parseServerHelloVersion(body: Buffer): number | undefined {
  if (body[0] !== 2 || body.length < 4 + 2 + 32 + 1) return undefined;
  let version = body.readUInt16BE(4);
  try {
    let p = 4 + 2 + 32;
    p += 1 + body[p]!; // session id
    p += 2 + 1; // cipher suite, compression
    if (p + 2 > body.length) return version;
    const end = Math.min(body.length, p + 2 + body.readUInt16BE(p));
    p += 2;
    while (p + 4 <= end) {
      const type = body.readUInt16BE(p);
      const len = body.readUInt16BE(p + 2);
      if (type === 43 && len === 2) version = body.readUInt16BE(p + 4);
      p += 4 + len;
    }
  } catch {
    // truncated
  }
  return version;
}

/** HKDF-Expand-Label of TLS 1.3 (RFC 8446 §7.1), for lengths up to one hash block. */
export function hkdfExpandLabel(hash: string, secret: Buffer, label: string, length: number): Buffer {
  const fullLabel = Buffer.from(`tls13 ${label}`, "ascii");
  const info = Buffer.concat([Buffer.from([length >> 8, length & 0xff, fullLabel.length]), fullLabel, Buffer.from([0])]);
  return createHmac(hash, secret).update(Buffer.concat([info, Buffer.from([1])])).digest().subarray(0, length);
}

export const TLS13_SUITES: Record<string, { hash: string; keyLength: number; cipher: "aes-128-gcm" | "aes-256-gcm" | "chacha20-poly1305" }> = {
  TLS_AES_128_GCM_SHA256: { hash: "sha256", keyLength: 16, cipher: "aes-128-gcm" },
  TLS_AES_256_GCM_SHA384: { hash: "sha384", keyLength: 32, cipher: "aes-256-gcm" },
  TLS_CHACHA20_POLY1305_SHA256: { hash: "sha256", keyLength: 32, cipher: "chacha20-poly1305" },
};

/**
 * A fatal alert as the first record protected with the server's application traffic secret
 * (sequence number 0: the gate has let no record under that key through).
 */
export function tls13AlertRecord(suiteName: string, secret: Buffer, description: number): Buffer | undefined {
  const suite = TLS13_SUITES[suiteName];
  if (!suite) return undefined;
  const key = hkdfExpandLabel(suite.hash, secret, "key", suite.keyLength);
  const iv = hkdfExpandLabel(suite.hash, secret, "iv", 12); // nonce = iv XOR seq(0)
  const inner = Buffer.from([2, description, REC_ALERT]);
  const header = Buffer.from([REC_APPLICATION_DATA, 3, 3, 0, inner.length + 16]);
  // chacha20-poly1305 has the same AEAD interface as the GCM ciphers.
  const cipher = createCipheriv(suite.cipher as "aes-128-gcm", key, iv, { authTagLength: 16 });
  cipher.setAAD(header, { plaintextLength: inner.length });
  const body = Buffer.concat([cipher.update(inner), cipher.final(), cipher.getAuthTag()]);
  return Buffer.concat([header, body]);
}

// ---------------------------------------------------------------------------------------------
// The gate between the TCP socket and OpenSSL
// ---------------------------------------------------------------------------------------------

export type GateState = "watching" | "holding" | "open" | "refused";

/**
 * Sits between a TCP socket and the TLS server; see the file comment. Reads record headers
 * only; after the decision it is a plain pass-through (or drops everything, once refused).
 */
export class HandshakeGate extends Duplex {
  readonly remoteAddress: string;
  clientHello: ClientHelloInfo | undefined;
  serverVersion: number | undefined;
  /** SERVER_TRAFFIC_SECRET_0 of this connection (TLS 1.3), until the decision. */
  serverTrafficSecret: Buffer | undefined;
  /** Bytes received from the client so far (up to the decision). */
  bytesFromClient = 0;
  private state: GateState = "watching";
  private held: Buffer[] = [];
  private readonly fromClient: RecordSplitter;
  private readonly fromServer: RecordSplitter;

  constructor(private readonly raw: net.Socket) {
    super({ allowHalfOpen: true });
    this.remoteAddress = raw.remoteAddress ?? "unknown";
    this.fromClient = new RecordSplitter((type, body) => this.onClientRecord(type, body));
    this.fromServer = new RecordSplitter((type, body) => this.onServerRecord(type, body));
  }

  /**
   * Starts reading the TCP socket. The handlers are bound to the caller's async context, so
   * that what they trigger in the TLS socket (even its errors on EOF) runs in that context too.
   */
  start(): void {
    const raw = this.raw;
    raw.on(
      "data",
      AsyncResource.bind((chunk: Buffer) => {
        if (this.state === "refused") return;
        this.bytesFromClient += chunk.length;
        this.fromClient.feed(chunk);
        if (!this.push(chunk)) raw.pause();
      }),
    );
    raw.on(
      "end",
      AsyncResource.bind(() => this.push(null)),
    );
    raw.on("error", () => undefined); // 'close' follows
    raw.on(
      "close",
      AsyncResource.bind(() => {
        if (!this.destroyed) this.destroy();
      }),
    );
  }

  private onClientRecord(type: number, body: Buffer): boolean {
    if (!this.clientHello && type === REC_HANDSHAKE) this.clientHello = parseClientHello(body);
    const lastFlight = this.serverVersion === TLS13 ? type === REC_APPLICATION_DATA : this.serverVersion === TLS12 && type === REC_CHANGE_CIPHER_SPEC;
    if (lastFlight) {
      if (this.state === "watching") this.state = "holding";
      return false;
    }
    return true;
  }

  private onServerRecord(type: number, body: Buffer): boolean {
    if (type !== REC_HANDSHAKE) return true;
    const version = parseServerHelloVersion(body);
    if (version === undefined) return true;
    this.serverVersion = version;
    return false;
  }

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.fromServer.feed(chunk);
    if (this.state === "holding") {
      this.held.push(chunk);
      callback();
    } else if (this.state === "refused" || this.raw.destroyed) {
      callback();
    } else {
      this.raw.write(chunk, () => callback());
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.state !== "refused") {
      this.open();
      this.raw.end();
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.state !== "refused") {
      this.open();
      // Let what was written go out (end, not destroy), and cut the socket if the peer lingers.
      this.raw.end();
      this.raw.setTimeout(REFUSED_LINGER_MS, () => this.raw.destroy());
    }
    callback(error);
  }

  /** Lets the held bytes and everything after them through. */
  open(): void {
    this.forget();
    if (this.state === "open" || this.state === "refused") return;
    this.state = "open";
    const held = this.held;
    this.held = [];
    for (const b of held) this.raw.write(b);
  }

  /**
   * Drops what the server holds back, sends a fatal alert in its place and closes. `version`
   * and `suite` are the negotiated ones.
   */
  refuse(description: number, version: string | null, suite: string | undefined): void {
    if (this.state === "refused") return;
    const secret = this.serverTrafficSecret;
    let record: Buffer | undefined;
    if (version === "TLSv1.3") {
      // Without the secret (not expected) the client just sees the connection close.
      if (secret && suite) record = tls13AlertRecord(suite, secret, description);
    } else {
      record = Buffer.from([REC_ALERT, 3, 3, 0, 2, 2, description]);
    }
    this.forget();
    this.state = "refused";
    this.held = [];
    this.raw.setTimeout(REFUSED_LINGER_MS, () => this.raw.destroy());
    if (record) this.raw.end(record);
    else this.raw.end();
  }

  private forget(): void {
    this.fromClient.stop();
    this.fromServer.stop();
    this.serverTrafficSecret?.fill(0);
    this.serverTrafficSecret = undefined;
  }
}
