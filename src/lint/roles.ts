/**
 * What each object of the input is for: the client certificate (leaf), a member of a chain,
 * a CSR, a private key; and which file it came from.
 */
import type { CertificateInfo, CsrInfo, PkiItem, PrivateKeyItem } from "../pki/index.js";
import type { ProgramPolicy } from "../policy/index.js";
import { claimsSelfSigned } from "./signatures.js";

export type CertItem = PkiItem & CertificateInfo;
export type CsrItem = PkiItem & CsrInfo;
export type KeyItem = PkiItem & PrivateKeyItem;

/** The objects of one input file, in file order. */
export interface InputFile {
  /** The file's name, without the ` (block N)` of its objects. */
  readonly name: string;
  readonly items: PkiItem[];
  readonly certificates: CertItem[];
  /** The client certificate of this file, if it holds one. */
  leaf: CertItem | undefined;
}

const BLOCK_SUFFIX = / \(block \d+\)$/;

/** `chain.pem (block 2)` -> `chain.pem`. */
export function fileName(source: string): string {
  return source.endsWith(")") ? source.replace(BLOCK_SUFFIX, "") : source;
}

/** `block 2`, as a PEM block of its file. */
export function blockName(item: PkiItem): string {
  return `block ${item.index + 1}`;
}

/**
 * Splits the items into their files: a new file starts when the name changes or the block
 * index does not grow (the same file named twice).
 */
export function groupFiles(items: readonly PkiItem[]): InputFile[] {
  const files: InputFile[] = [];
  let current: InputFile | undefined;
  let lastIndex = -1;
  for (const item of items) {
    const name = fileName(item.source);
    if (!current || current.name !== name || item.index <= lastIndex) {
      current = { name, items: [], certificates: [], leaf: undefined };
      files.push(current);
    }
    current.items.push(item);
    if (item.kind === "certificate") current.certificates.push(item as CertItem);
    lastIndex = item.index;
  }
  return files;
}

/**
 * Picks the client certificate of each file: its first certificate that is not a CA; or, when
 * the program's client certificates are self-signed, a file's only certificate if it is
 * self-signed (openssl req -x509 marks those CA:TRUE). When no file has a client certificate
 * and there is no CSR either, the first certificate of the input is taken as the client
 * certificate, so that a CA given by mistake is reported as such (CA_AS_CLIENT).
 */
export function assignLeaves(files: InputFile[], program: ProgramPolicy, hasCsr: boolean): void {
  for (const f of files) {
    f.leaf = f.certificates.find((c) => c.basicConstraints?.ca !== true);
    const only = f.certificates.length === 1 ? f.certificates[0] : undefined;
    if (!f.leaf && only && program.clientCertificate.issuance === "self-signed-endorsed" && claimsSelfSigned(only)) f.leaf = only;
  }
  if (hasCsr || files.some((f) => f.leaf)) return;
  const first = files.find((f) => f.certificates.length > 0);
  if (first) first.leaf = first.certificates[0];
}
