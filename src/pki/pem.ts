import { MtlsError } from "../errors/index.js";

/** One PEM block of a file. */
export interface PemBlock {
  /** The label between BEGIN and the dashes, e.g. `CERTIFICATE`. */
  readonly label: string;
  /** RFC 1421 headers (`Proc-Type`, `DEK-Info`) of legacy encrypted keys. */
  readonly headers: Readonly<Record<string, string>>;
  readonly der: Uint8Array;
  /** The block as text, BEGIN to END lines included. */
  readonly text: string;
}

const BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----/g;
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;

const BEGIN_BYTES = Buffer.from("-----BEGIN ", "latin1");
/**
 * A block body as `openssl` and Node write it: base64 lines, each ending with a line break,
 * no headers, no indentation. For such a body the line-by-line reading below comes down to
 * removing the line breaks; anything else takes that reading.
 */
const PLAIN_BODY = /^\r?\n(?:[A-Za-z0-9+/]+={0,2}\r?\n)+$/;

/** True when the bytes contain a PEM BEGIN line (in their first MiB). */
export function looksLikePem(data: Uint8Array): boolean {
  // The bytes searched as they are (a view, no copy); latin1 maps each byte to one character.
  return Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, 1 << 20)).indexOf(BEGIN_BYTES) >= 0;
}

/** The bytes of base64 text already checked, in an ArrayBuffer of their own. */
function decodeBase64(b64: string): Uint8Array {
  const out = new Uint8Array(Buffer.byteLength(b64, "base64"));
  const n = Buffer.from(out.buffer).write(b64, "base64");
  return n === out.length ? out : out.slice(0, n);
}

/**
 * Splits PEM text into blocks, strictly: a block without its END line, with a different
 * label at the end, or with bad base64 is `PEM_MALFORMED` (naming the block), not skipped.
 * Text outside blocks (openssl's "Bag Attributes", comments) is ignored.
 */
export function parsePem(text: string, source = "input"): PemBlock[] {
  const blocks: PemBlock[] = [];
  BEGIN.lastIndex = 0;
  let m: RegExpExecArray | null;
  let n = 0;
  while ((m = BEGIN.exec(text)) !== null) {
    n++;
    const label = m[1] ?? "";
    const endLine = `-----END ${label}-----`;
    const bodyStart = m.index + m[0].length;
    const end = text.indexOf(endLine, bodyStart);
    const nextBegin = text.indexOf("-----BEGIN ", bodyStart);
    if (end < 0 || (nextBegin >= 0 && nextBegin < end)) {
      throw new MtlsError("PEM_MALFORMED", `${source}: PEM block ${n} (${label}) has no '${endLine}' line: the file is truncated or two blocks are mixed`, { subject: source });
    }
    const body = text.slice(bodyStart, end);
    const headers: Record<string, string> = {};
    if (PLAIN_BODY.test(body)) {
      const joined = body.replace(/[\r\n]/g, "");
      if (joined.length % 4 !== 0) {
        throw new MtlsError("PEM_MALFORMED", `${source}: PEM block ${n} (${label}) is truncated (its base64 length is not a multiple of 4)`, { subject: source });
      }
      blocks.push({ label, headers, der: decodeBase64(joined), text: text.slice(m.index, end + endLine.length) });
      BEGIN.lastIndex = end + endLine.length;
      continue;
    }
    const b64: string[] = [];
    for (const raw of body.split(/\r?\n/)) {
      const line = raw.trim();
      if (line === "") continue;
      const h = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (h && b64.length === 0) {
        headers[h[1] as string] = h[2] ?? "";
        continue;
      }
      if (!BASE64_LINE.test(line)) {
        throw new MtlsError("PEM_MALFORMED", `${source}: PEM block ${n} (${label}) contains characters that are not base64`, { subject: source });
      }
      b64.push(line);
    }
    const joined = b64.join("");
    if (joined.length === 0 || joined.length % 4 !== 0) {
      throw new MtlsError("PEM_MALFORMED", `${source}: PEM block ${n} (${label}) is ${joined.length === 0 ? "empty" : "truncated (its base64 length is not a multiple of 4)"}`, { subject: source });
    }
    blocks.push({ label, headers, der: decodeBase64(joined), text: text.slice(m.index, end + endLine.length) });
    BEGIN.lastIndex = end + endLine.length;
  }
  if (blocks.length === 0 && text.includes("-----BEGIN")) {
    throw new MtlsError("PEM_MALFORMED", `${source}: the BEGIN line is damaged`, { subject: source });
  }
  return blocks;
}

/** PEM text of DER bytes under a label, 64 characters a line. */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
