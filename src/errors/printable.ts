/**
 * Text from certificates, files and the command line is untrusted: a Common Name may carry
 * ESC sequences that clear or recolour a terminal, a line break that forges a second line of
 * output, or U+202E that displays text reversed. `printable` escapes every such character
 * (C0 and C1 controls, DEL, bidirectional and zero-width format characters, the BOM) so that
 * what mtlskit prints is what the bytes are.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/gu;

/** True when the text holds a character {@link printable} would escape. */
export function hasUnsafeCharacters(text: string): boolean {
  UNSAFE.lastIndex = 0;
  const found = UNSAFE.test(text);
  UNSAFE.lastIndex = 0;
  return found;
}

/**
 * The text with control, bidirectional and invisible characters escaped (`\x1b`, `\u{202e}`),
 * optionally cut to `max` characters with an ellipsis.
 *
 * @example
 * printable("evil\u001b[2J"); // "evil\\x1b[2J"
 */
export function printable(text: string, max?: number): string {
  const cut = max !== undefined && text.length > max ? `${text.slice(0, max)}…` : text;
  return cut.replace(UNSAFE, (c) => {
    const cp = c.codePointAt(0)!;
    return cp < 0x100 ? `\\x${cp.toString(16).padStart(2, "0")}` : `\\u{${cp.toString(16)}}`;
  });
}
