// Over 500 lines for now: importing an asset bundle or file is one plan-then-apply transaction (read, validate every asset, write the profile); splitting reading from validating is left to the store's owners.
import { promises as fs, constants as fsc } from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { MtlsError, printable } from "../errors/index.js";
import { dayCount, decodePkiObjects, keysMatch, MAX_INPUT_BYTES, needsRenewal, readPkiObjects, readPrivateKeyFile, type CertificateInfo, type PkiItem } from "../pki/index.js";
import type { ProgramPolicy } from "../policy/index.js";
import { ASSET_NAMES, BUNDLE_FORMAT, MANIFEST_FILE } from "./asset-names.js";
import { DNS_SERVER } from "./config.js";
import { chainUp, isCa, nameOf, orderChain, pemBundle, verifyLinks } from "./chains.js";
import { applyClientInstall, planClientInstall } from "./client-cert.js";
import type { StoreWriteOptions } from "./cert-install.js";
import { assertCertificateEnvironment, assertHostEnvironment, assertHostName, hostOnly } from "./environment-guard.js";
import { ensureDir, isFile, replaceFile } from "./fs-ops.js";
import { writeWorkspace, type Profile } from "./workspace.js";

type Cert = PkiItem & CertificateInfo;

/** The manifest of an asset bundle (docs/architecture.md, "Asset bundle"). Unknown top-level fields are allowed. */
const ManifestSchema = z.looseObject({
  format: z.literal(BUNDLE_FORMAT, { error: `expected "${BUNDLE_FORMAT}"` }),
  program: z.string({ error: "expected the program id" }),
  environment: z.string({ error: "expected the environment id" }),
  /** Absent in a bundle for every customer of the environment. */
  customerId: z.string({ error: "expected the customer id as a string" }).optional(),
  direction: z.enum(["from-thales", "to-thales"], { error: 'expected "from-thales" or "to-thales"' }),
  assets: z.record(z.string(), z.string({ error: "expected a file name or a value" })),
  /** Resolvers for the profile (the emulator's DNS stand-in): IP literals, optionally with a port. */
  dnsServers: z.array(DNS_SERVER, { error: "expected a list of resolver addresses" }).optional(),
});

/** A bundle manifest. */
export type AssetManifest = z.infer<typeof ManifestSchema>;

/** Options of {@link importAssets}. */
export interface ImportAssetsOptions extends StoreWriteOptions {
  /** For a single PEM file: which asset it is (e.g. `TSH_TLS_CLIENT_CERTIFICATE`); classified from its content when absent. */
  as?: string;
}

/** One certificate, summarised for output. */
export interface CertificateSummary {
  subject: string;
  issuer: string;
  ca: boolean;
  notAfter: string;
  daysLeft: number;
  sha256Fingerprint: string;
}

/** One asset taken in. */
export interface ImportedAsset {
  name: string;
  /** Where it was stored (file assets) or the value set (host, URL, CN). */
  stored: string;
  summary: string;
}

/** What {@link importAssets} did. */
export interface ImportAssetsResult {
  profile: string;
  source: string;
  kind: "bundle" | "file";
  /** For a single file: which asset it was taken for, and why. */
  classification: { name: string; reason: string } | undefined;
  imported: ImportedAsset[];
  /** The inbound trust derived from Thales's client certificate: its issuing CA and chain, never the leaf. */
  inboundTrust: { file: string; certificates: CertificateSummary[] } | undefined;
  /** The outbound trust: the CA certificates of Thales's server chain. */
  outboundTrust: { file: string; certificates: CertificateSummary[] } | undefined;
  /** D1: the customer's client certificate found in the bundle and installed. */
  clientCertificateInstalled: string | undefined;
  /** What the bundle says about what this side registered with Thales (endorsed certificate, ISSUER_HOST...). */
  notes: string[];
  dnsServers: string[] | undefined;
  warnings: string[];
  backups: string[];
  nextSteps: string[];
}

export function summarize(c: CertificateInfo, now = new Date()): CertificateSummary {
  return {
    subject: c.subjectText,
    issuer: c.issuerText,
    ca: isCa(c),
    notAfter: c.notAfter.toISOString(),
    daysLeft: needsRenewal(c, { days: 30 }, now).daysLeft,
    sha256Fingerprint: c.sha256Fingerprint,
  };
}

/** The validated content of one import, before anything is written. */
export interface ImportPlan {
  serverChain?: { name: string; source: string; ordered: Cert[]; trust: Cert[] };
  clientTrust?: { name: string; source: string; received: Cert[]; leaf: Cert | undefined; trust: Cert[] };
  apiHost?: { name: string; value: string };
  authzUrl?: { name: string; value: string };
  clientCn?: { name: string; value: string };
  customerCertificate?: { name: string; source: string; items: PkiItem[] };
  dnsServers?: string[];
  /** What the bundle says the customer registered with Thales (to-Thales names), by name. */
  registered: Array<{ name: string; value: string; file?: string }>;
  warnings: string[];
}

/**
 * Reads a file handed over by Thales, and nothing else: a regular file (never a symlink inside a
 * bundle, a FIFO, a socket or a device, which are refused before they are opened), opened
 * without following links and without blocking, and read up to the input cap. `follow` lets the
 * single file named on the command line be a link to a regular file.
 */
export async function readBundleFile(file: string, options: { follow?: boolean } = {}): Promise<Buffer> {
  let st;
  try {
    st = options.follow ? await fs.stat(file) : await fs.lstat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new MtlsError("FILE_NOT_FOUND", `${file}: no such file`, { subject: file, cause: e });
    throw new MtlsError("FILE_UNREADABLE", `${file}: cannot be read (${code ?? "error"})`, { subject: file, cause: e });
  }
  const notRegular = (what: string) =>
    new MtlsError("ASSET_NOT_REGULAR_FILE", `${file}: is ${what}, not a regular file; mtlskit does not read it`, {
      subject: file,
      hint: "Put the asset itself (a PEM file) in the bundle folder, not a link, a device, a FIFO or a socket.",
    });
  if (st.isDirectory()) throw new MtlsError("FILE_IS_DIRECTORY", `${file}: is a directory, not a file`, { subject: file });
  if (st.isSymbolicLink()) throw notRegular("a symbolic link");
  if (st.isFIFO()) throw notRegular("a FIFO (named pipe)");
  if (st.isSocket()) throw notRegular("a socket");
  if (st.isCharacterDevice() || st.isBlockDevice()) throw notRegular("a device");
  if (!st.isFile()) throw notRegular("not a file");
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, fsc.O_RDONLY | fsc.O_NONBLOCK | (options.follow ? 0 : fsc.O_NOFOLLOW));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw notRegular("a symbolic link");
    throw new MtlsError("FILE_UNREADABLE", `${file}: cannot be read (${code ?? "error"})`, { subject: file, cause: e });
  }
  try {
    const opened = await handle.stat();
    // Swapped between the check and the open: refuse what it became.
    if (!opened.isFile() || opened.ino !== st.ino || opened.dev !== st.dev) throw notRegular("not the regular file it was a moment ago");
    const buf = Buffer.alloc(MAX_INPUT_BYTES + 1);
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, size, buf.length - size, null);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > MAX_INPUT_BYTES) throw new MtlsError("FILE_TOO_LARGE", `${file}: more than ${MAX_INPUT_BYTES} bytes is too large for a certificate chain or manifest`, { subject: file });
    }
    if (size === 0 || buf.subarray(0, size).toString("latin1").trim() === "") throw new MtlsError("FILE_EMPTY", `${file}: is empty`, { subject: file });
    return Buffer.from(buf.subarray(0, size));
  } finally {
    await handle.close();
  }
}

/** The PKI objects of a file handed over by Thales (read by {@link readBundleFile}). */
async function readBundleObjects(file: string, options: { follow?: boolean } = {}): Promise<PkiItem[]> {
  return decodePkiObjects(await readBundleFile(file, options), file);
}

export async function readAssetCertificates(file: string, name: string, options: { follow?: boolean } = {}): Promise<Cert[]> {
  const items = await readBundleObjects(file, options);
  if (items.some((i) => i.kind === "private-key")) {
    throw new MtlsError("ASSET_INVALID", `${name} (${file}) holds a private key; Thales never sends private keys and mtlskit does not import them as assets`, { subject: file });
  }
  if (items.some((i) => i.kind === "csr")) {
    throw new MtlsError("ASSET_INVALID", `${name} (${file}) holds a certificate signing request, which is what you send to Thales, not an asset from Thales`, {
      subject: file,
      hint: "Import what Thales handed over (certificates, CA chains, host names).",
    });
  }
  return items.filter((i): i is Cert => i.kind === "certificate");
}

function checkDatesOfCas(certs: readonly CertificateInfo[], name: string, warnings: string[], now: Date): void {
  for (const c of certs) {
    const s = needsRenewal(c, { days: 30 }, now);
    if (s.expired) throw new MtlsError("ASSET_INVALID", `${name}: the CA ${nameOf(c)} expired on ${c.notAfter.toISOString()}`, { hint: "Ask Thales for the current certificates of this environment." });
    if (s.notYetValid) throw new MtlsError("ASSET_INVALID", `${name}: the CA ${nameOf(c)} is not valid before ${c.notBefore.toISOString()}`, { hint: "Check this machine's clock, or ask Thales for the current certificates." });
    if (s.due) warnings.push(`${name}: the CA ${nameOf(c)} expires in ${dayCount(s.daysLeft)}; ask Thales for its successor`);
  }
}

/** The outbound trust: the chain of Thales's server certificate, with the CA the program requires. */
export function validateServerChain(profile: Profile, name: string, source: string, certs: Cert[], warnings: string[], now: Date): NonNullable<ImportPlan["serverChain"]> {
  if (certs.length === 0) throw new MtlsError("CERTIFICATE_EXPECTED", `${name} (${source}) holds no certificate`, { subject: source });
  verifyLinks(certs, name);
  const ordered = orderChain(certs) as Cert[];
  const trust = ordered.filter(isCa);
  if (trust.length === 0) {
    throw new MtlsError("CA_CERTIFICATE_REQUIRED", `${name} (${source}) holds only ${ordered.map(nameOf).join(", ")}, a certificate that is not a CA; the trust for connections to Thales is a CA chain`, {
      subject: source,
      hint: "Ask Thales for the server CA chain of this environment (the CA certificates, not only the server certificate).",
    });
  }
  for (const c of ordered) assertCertificateEnvironment(profile, c, `${name} (${nameOf(c)})`);
  const rule = profile.program.serverTrust;
  if (rule.kind === "ca-in-chain") {
    if (!trust.some((c) => c.commonName === rule.caCommonName)) {
      throw new MtlsError("ASSET_INVALID", `${name}: the chain lacks the CA "${rule.caCommonName}" that ${profile.program.name} requires (found: ${trust.map(nameOf).join(", ")})`, {
        hint: "Ask Thales for the complete server certificate chain of this environment.",
      });
    }
  } else {
    const issuerCn = (c: CertificateInfo) => c.issuer.flat().find((a) => a.type === "CN")?.value;
    const reaches = ordered.some((c) => rule.rootCommonNames.includes(c.commonName ?? "") || rule.rootCommonNames.includes(issuerCn(c) ?? ""));
    if (!reaches) {
      throw new MtlsError("ASSET_INVALID", `${name}: the chain does not lead to a ${rule.rootOwner} root (${rule.rootCommonNames.join(", ")}); found ${ordered.map(nameOf).join(", ")}`, {
        hint: `${profile.program.name}'s server certificates chain to ${rule.rootOwner} (${rule.repository}); ask Thales for the right chain.`,
      });
    }
  }
  checkDatesOfCas(trust, name, warnings, now);
  for (const leaf of ordered.filter((c) => !isCa(c))) {
    const s = needsRenewal(leaf, { days: 0 }, now);
    if (s.expired) warnings.push(`${name}: the server certificate ${nameOf(leaf)} in the chain has expired; the trust uses its CAs only`);
  }
  return { name, source, ordered, trust };
}

/**
 * The inbound trust: the issuing CA of Thales's client certificate (and the CAs above it).
 * A leaf with no CA beside it is refused: the leaf is never pinned (Thales rotates it).
 */
export function validateClientTrust(profile: Profile, name: string, source: string, certs: Cert[], warnings: string[], now: Date): NonNullable<ImportPlan["clientTrust"]> {
  if (certs.length === 0) throw new MtlsError("CERTIFICATE_EXPECTED", `${name} (${source}) holds no certificate`, { subject: source });
  verifyLinks(certs, name);
  const leaves = certs.filter((c) => !isCa(c));
  if (leaves.length > 1) {
    throw new MtlsError("ASSET_INVALID", `${name} (${source}) holds ${leaves.length} certificates that are not CAs (${leaves.map(nameOf).join(", ")}); expected one client certificate followed by its CA chain`, { subject: source });
  }
  for (const c of certs) assertCertificateEnvironment(profile, c, `${name} (${nameOf(c)})`);
  const leaf = leaves[0];
  let trust: Cert[];
  let received: Cert[];
  if (leaf) {
    const chain = chainUp(leaf, certs) as Cert[];
    const issuing = chain[1];
    if (!issuing || !isCa(issuing)) {
      const issuerCn = leaf.issuer.flat().find((a) => a.type === "CN")?.value ?? leaf.issuerText;
      throw new MtlsError("CA_CERTIFICATE_REQUIRED", `${name} (${source}) holds Thales's client certificate ${nameOf(leaf)} without the CA that issued it (${issuerCn}); mtlskit never pins the leaf, which Thales rotates without notice`, {
        subject: source,
        hint: `Ask Thales for the Thales Client CA certificate (issuer "${issuerCn}") and import it, alone or after the client certificate in one file.`,
      });
    }
    trust = chain.slice(1);
    received = [...chain, ...certs.filter((c) => !chain.includes(c))];
    const extra = certs.filter((c) => !chain.includes(c));
    if (extra.length) warnings.push(`${name}: ${extra.map(nameOf).join(", ")} did not issue the client certificate's chain and is not trusted`);
    if (leaf.extKeyUsage && !leaf.extKeyUsage.includes("1.3.6.1.5.5.7.3.2")) warnings.push(`${name}: the client certificate ${nameOf(leaf)} has no clientAuth usage`);
    const s = needsRenewal(leaf, { days: 0 }, now);
    if (s.expired) warnings.push(`${name}: Thales's client certificate ${nameOf(leaf)} has expired; only its CA is trusted, which is what matters once Thales rotates it`);
  } else {
    trust = orderChain(certs) as Cert[];
    received = trust;
  }
  checkDatesOfCas(trust, name, warnings, now);
  return { name, source, received, leaf, trust };
}

function validateAuthzUrl(profile: Profile, name: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new MtlsError("HOST_INVALID", `${name} '${printable(value, 80)}' is not a URL`);
  }
  if (u.protocol !== "https:") throw new MtlsError("HOST_INVALID", `${name} '${printable(value, 80)}' is not an https:// URL`);
  assertHostName(u.host, name);
  assertHostEnvironment(profile, u.host, name);
  return value;
}

function classifyCertificates(program: ProgramPolicy, certs: Cert[]): { name: string; reason: string } {
  const names = ASSET_NAMES[program.id].fromThales;
  const leaves = certs.filter((c) => !isCa(c));
  if (leaves.length > 1) {
    throw new MtlsError("ASSET_INVALID", `the file holds ${leaves.length} certificates that are not CAs; import one asset per file, or the whole bundle folder`);
  }
  const leaf = leaves[0];
  const cnRule = program.clientCertificate.commonName;
  if (leaf && names.customerCertificate && cnRule.kind === "template" && leaf.commonName && cnRule.pattern.test(leaf.commonName)) {
    return { name: names.customerCertificate, reason: `its certificate's Common Name '${leaf.commonName}' is a ${program.name} client Common Name: your own client certificate` };
  }
  if (leaf) {
    const server = leaf.extKeyUsage?.includes("1.3.6.1.5.5.7.3.1") || (leaf.subjectAltNames ?? []).some((s) => s.startsWith("DNS:"));
    const client = !leaf.extKeyUsage || leaf.extKeyUsage.includes("1.3.6.1.5.5.7.3.2");
    if (server && !(client && !leaf.extKeyUsage)) return { name: names.serverChain, reason: `it starts with a server certificate (${nameOf(leaf)}, serverAuth or DNS names): Thales's server chain` };
    return { name: names.clientCertificate, reason: `it holds a client certificate (${nameOf(leaf)}${leaf.extKeyUsage ? ", clientAuth" : ""}): Thales's client certificate, whose issuing CA the inbound side trusts` };
  }
  const rule = program.serverTrust;
  const serverNames = rule.kind === "ca-in-chain" ? [rule.caCommonName] : rule.rootCommonNames;
  const hit = certs.find((c) => serverNames.includes(c.commonName ?? "") || serverNames.includes(c.issuer.flat().find((a) => a.type === "CN")?.value ?? ""));
  if (hit) return { name: names.serverChain, reason: `it holds CA certificates only, leading to ${hit.commonName ?? nameOf(hit)}: the CA chain of Thales's servers` };
  return { name: names.clientCertificate, reason: `it holds CA certificates only (${certs.map(nameOf).join(", ")}), none of Thales's server CAs: the Thales Client CA` };
}

function fileAssetKind(program: ProgramPolicy, name: string): "serverChain" | "clientCertificate" | "customerCertificate" | undefined {
  const n = ASSET_NAMES[program.id].fromThales;
  if (name === n.serverChain) return "serverChain";
  if (name === n.clientCertificate) return "clientCertificate";
  if (n.customerCertificate && name === n.customerCertificate) return "customerCertificate";
  return undefined;
}

async function addFileAsset(plan: ImportPlan, profile: Profile, name: string, file: string, now: Date, preRead?: Cert[], preItems?: PkiItem[]): Promise<void> {
  const kind = fileAssetKind(profile.program, name);
  if (kind === "customerCertificate") {
    const items = preItems ?? (await readBundleObjects(file));
    plan.customerCertificate = { name, source: file, items };
    return;
  }
  const certs = preRead ?? (await readAssetCertificates(file, name));
  if (kind === "serverChain") plan.serverChain = validateServerChain(profile, name, file, certs, plan.warnings, now);
  else if (kind === "clientCertificate") plan.clientTrust = validateClientTrust(profile, name, file, certs, plan.warnings, now);
  else throw new MtlsError("USAGE", `'${name}' is not a file asset of ${profile.program.name} from Thales`, { hint: `Use one of: ${fileAssetNames(profile.program).join(", ")}.` });
}

function fileAssetNames(program: ProgramPolicy): string[] {
  const n = ASSET_NAMES[program.id].fromThales;
  return [n.serverChain, n.clientCertificate, ...(n.customerCertificate ? [n.customerCertificate] : [])];
}

async function readManifest(dir: string): Promise<AssetManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  if (!(await fs.lstat(file).then(() => true, () => false))) {
    throw new MtlsError("ASSETS_INVALID", `${dir}: no ${MANIFEST_FILE}; an asset bundle is a folder with ${MANIFEST_FILE} and one file per asset`, {
      subject: dir,
      hint: "Give the bundle folder (with manifest.json), or a single PEM file.",
    });
  }
  let data: unknown;
  try {
    data = JSON.parse((await readBundleFile(file)).toString("utf8"));
  } catch (e) {
    if (e instanceof MtlsError) throw e;
    throw new MtlsError("ASSETS_INVALID", `${file}: is not valid JSON (${(e as Error).message})`, { subject: file, cause: e });
  }
  const r = ManifestSchema.safeParse(data);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.map(String).join(".") || "(top)"}: ${i.message}`);
    throw new MtlsError("ASSETS_INVALID", `${file}: ${lines.join("; ")}`, { subject: file });
  }
  return r.data;
}

async function planBundle(profile: Profile, dir: string, now: Date): Promise<ImportPlan> {
  const manifest = await readManifest(dir);
  const manifestFile = path.join(dir, MANIFEST_FILE);
  if (manifest.direction !== "from-thales") {
    throw new MtlsError("ASSETS_INVALID", `${manifestFile}: this bundle goes to Thales (direction "${printable(String(manifest.direction), 80)}"); import what Thales hands over`, { subject: manifestFile });
  }
  if (manifest.program !== profile.program.id) {
    throw new MtlsError("PROFILE_MISMATCH", `${manifestFile}: the bundle is for program '${printable(String(manifest.program), 80)}', but profile '${profile.name}' is ${profile.program.name} (${profile.program.id})`, {
      hint: "Import it into a profile of that program.",
    });
  }
  if (manifest.environment !== profile.environment.id) {
    throw new MtlsError("ENVIRONMENT_MISMATCH", `${manifestFile}: the bundle is for the ${printable(String(manifest.environment), 80)} environment, but profile '${profile.name}' is ${profile.program.name} ${profile.environment.label}`, {
      hint: `Environments are isolated: import the ${profile.environment.label} bundle here, and this one into a ${printable(String(manifest.environment), 80)} profile.`,
    });
  }
  if (manifest.customerId !== undefined && manifest.customerId !== profile.customerId) {
    throw new MtlsError("PROFILE_MISMATCH", `${manifestFile}: the bundle is for ${profile.program.customerIdLabel} '${printable(String(manifest.customerId), 80)}', but profile '${profile.name}' is for '${profile.customerId}'`);
  }
  const names = ASSET_NAMES[profile.program.id].fromThales;
  const toThales = new Set(Object.values(ASSET_NAMES[profile.program.id].toThales));
  const plan: ImportPlan = { warnings: [], registered: [] };
  for (const [name, value] of Object.entries(manifest.assets)) {
    if (fileAssetKind(profile.program, name)) {
      if (path.basename(value) !== value || value === "." || value === "..") {
        throw new MtlsError("ASSETS_INVALID", `${manifestFile}: ${name} names '${printable(value, 80)}'; a bundle's files are plain names inside the bundle folder`, { subject: manifestFile });
      }
      await addFileAsset(plan, profile, name, path.join(dir, value), now);
    } else if (name === names.apiHost) {
      assertHostName(value, name);
      assertHostEnvironment(profile, value, name);
      plan.apiHost = { name, value };
    } else if (names.authzUrl && name === names.authzUrl) {
      plan.authzUrl = { name, value: validateAuthzUrl(profile, name, value) };
    } else if (names.clientCn && name === names.clientCn) {
      if (!value.trim()) throw new MtlsError("ASSETS_INVALID", `${manifestFile}: ${name} is empty`, { subject: manifestFile });
      plan.clientCn = { name, value: value.trim() };
    } else if (toThales.has(name)) {
      const plain = path.basename(value) === value && /\.pem$/i.test(value);
      plan.registered.push({ name, value, ...(plain ? { file: path.join(dir, value) } : {}) });
    } else {
      plan.warnings.push(`${name}: not a ${profile.program.name} asset from Thales; ignored`);
    }
  }
  if (manifest.dnsServers?.length) plan.dnsServers = manifest.dnsServers;
  return plan;
}

async function planFile(profile: Profile, file: string, as: string | undefined, now: Date): Promise<{ plan: ImportPlan; classification: { name: string; reason: string } }> {
  const items = await readBundleObjects(file, { follow: true });
  const plan: ImportPlan = { warnings: [], registered: [] };
  if (as) {
    if (!fileAssetKind(profile.program, as)) {
      throw new MtlsError("USAGE", `--as ${as}: not a file asset of ${profile.program.name} from Thales`, { hint: `Use one of: ${fileAssetNames(profile.program).join(", ")}.` });
    }
    const certs = fileAssetKind(profile.program, as) === "customerCertificate" ? undefined : await readAssetCertificates(file, as, { follow: true });
    await addFileAsset(plan, profile, as, file, now, certs, items);
    return { plan, classification: { name: as, reason: "named with --as" } };
  }
  const certs = await readAssetCertificates(file, path.basename(file), { follow: true });
  if (certs.length === 0) throw new MtlsError("CERTIFICATE_EXPECTED", `${file}: holds no certificate`, { subject: file });
  const classification = classifyCertificates(profile.program, certs);
  await addFileAsset(plan, profile, classification.name, file, now, certs, items);
  return { plan, classification };
}

interface AssetRecord {
  format: "mtlskit-asset-record/1";
  program: string;
  environment: string;
  customerId: string;
  assets: Record<string, { importedAt: string; source: string; stored: string; sha256?: string[] }>;
  dnsServers?: string[];
}

async function readRecord(profile: Profile): Promise<AssetRecord> {
  try {
    const data = JSON.parse(await fs.readFile(profile.paths.assets.record, "utf8")) as AssetRecord;
    if (data && typeof data === "object" && data.assets) return data;
  } catch {
    // none yet, or damaged: start a new record (the files themselves are re-checked by `assets status`)
  }
  return { format: "mtlskit-asset-record/1", program: profile.program.id, environment: profile.environment.id, customerId: profile.customerId, assets: {} };
}

/**
 * `mtlskit assets import FILE|DIR --profile NAME`: takes what Thales hands over, a bundle
 * folder (`manifest.json`) or a single PEM file (classified from its content, or named with
 * `as`), validates every asset (PEM parses, CAs where CAs are needed, chain links verify, host
 * names are names, environment and customer match), derives the inbound trust (the issuing CA
 * of Thales's client certificate, never the leaf) and stores it all in the profile. Nothing is
 * written unless everything is valid.
 *
 * @example
 * const r = await importAssets(".mtlskit", "mt-sbx", "./assets-from-thales");
 * r.inboundTrust?.file; // .../mt-sandbox-123456/assets/inbound-client-ca.pem
 */
export async function importAssets(dir: string, name: string, source: string, options: ImportAssetsOptions = {}): Promise<ImportAssetsResult> {
  const now = options.now ?? new Date();
  let st;
  try {
    st = await fs.stat(source);
  } catch (e) {
    throw new MtlsError("FILE_NOT_FOUND", `${source}: no such file or folder`, { subject: source, cause: e });
  }
  return writeWorkspace(
    dir,
    async (txn) => {
      const profile = txn.profile(name);
      let plan: ImportPlan;
      let classification: { name: string; reason: string } | undefined;
      if (st.isDirectory()) {
        if (options.as) throw new MtlsError("USAGE", "--as names the asset of a single file; a bundle folder names its assets in manifest.json");
        plan = await planBundle(profile, source, now);
      } else {
        ({ plan, classification } = await planFile(profile, source, options.as, now));
      }
      // The customer's own certificate (D1): installed when it goes with the profile's key.
      let installPlan: Awaited<ReturnType<typeof planClientInstall>> | undefined;
      if (plan.customerCertificate) {
        const cc = plan.customerCertificate;
        const leaf = cc.items.find((i): i is Cert => i.kind === "certificate" && !isCa(i as Cert));
        if (leaf) assertCertificateEnvironment(profile, leaf, `${cc.name} (${nameOf(leaf)})`);
        const keyFiles = [profile.paths.client.key, profile.paths.pending.key];
        let matches = false;
        for (const f of keyFiles) if (leaf && (await isFile(f)) && keysMatch(await readPrivateKeyFile(f), leaf.publicKey)) matches = true;
        const current = (await isFile(profile.paths.client.cert)) ? (await readPkiObjects(profile.paths.client.cert))[0] : undefined;
        if (leaf && current?.kind === "certificate" && current.sha256Fingerprint === leaf.sha256Fingerprint) {
          // already installed
        } else if (!matches) {
          plan.warnings.push(`${cc.name}: the certificate ${leaf ? nameOf(leaf) : ""} does not go with this profile's key; not installed (install a certificate with: mtlskit cert install FILE --profile ${name})`);
        } else {
          installPlan = await planClientInstall(profile, cc.items, `${cc.name} (${cc.source})`);
        }
      }

      const p = profile.paths.assets;
      await ensureDir(p.dir);
      const record = await readRecord(profile);
      const imported: ImportedAsset[] = [];
      const backups: string[] = [];
      const keep = (b: string | undefined) => b && backups.push(b);
      const at = now.toISOString();
      const src = path.resolve(source);
      if (plan.serverChain) {
        const sc = plan.serverChain;
        keep(await replaceFile(p.serverChain, pemBundle(sc.ordered), { backupsDir: profile.paths.backups, now }));
        keep(await replaceFile(p.serverTrust, pemBundle(sc.trust), { backupsDir: profile.paths.backups, now }));
        record.assets[sc.name] = { importedAt: at, source: src, stored: path.basename(p.serverChain), sha256: sc.ordered.map((c) => c.sha256Fingerprint) };
        imported.push({ name: sc.name, stored: p.serverChain, summary: `${sc.ordered.length} certificate(s); trust for connections to Thales: ${sc.trust.map(nameOf).join(", ")}` });
      }
      if (plan.clientTrust) {
        const ct = plan.clientTrust;
        keep(await replaceFile(p.clientCertificate, pemBundle(ct.received), { backupsDir: profile.paths.backups, now }));
        keep(await replaceFile(p.inboundClientCa, pemBundle(ct.trust), { backupsDir: profile.paths.backups, now }));
        record.assets[ct.name] = { importedAt: at, source: src, stored: path.basename(p.clientCertificate), sha256: ct.received.map((c) => c.sha256Fingerprint) };
        imported.push({
          name: ct.name,
          stored: p.clientCertificate,
          summary: ct.leaf ? `Thales client certificate ${nameOf(ct.leaf)}; trusted: its issuing CA ${nameOf(ct.trust[0]!)} (never the leaf)` : `Thales Client CA: ${ct.trust.map(nameOf).join(", ")}`,
        });
      }
      const values: Array<[{ name: string; value: string } | undefined, string[]]> = [
        [plan.apiHost, ["profiles", name, "thales", "apiHost"]],
        [plan.authzUrl, ["profiles", name, "thales", "authzUrl"]],
        [plan.clientCn, ["profiles", name, "cn"]],
      ];
      for (const [v, keys] of values) {
        if (!v) continue;
        txn.set(keys, v.value);
        record.assets[v.name] = { importedAt: at, source: src, stored: `mtlskit.yaml: ${keys.join(".")}` };
        imported.push({ name: v.name, stored: `mtlskit.yaml ${keys.join(".")}`, summary: v.value });
      }
      if (plan.clientCn && profile.config.cn && profile.config.cn !== plan.clientCn.value) {
        plan.warnings.push(`${plan.clientCn.name}: the portal's Common Name '${plan.clientCn.value}' replaces the profile's '${profile.config.cn}'`);
      }
      if (plan.clientCn && (await isFile(profile.paths.client.cert))) {
        const current = (await readPkiObjects(profile.paths.client.cert))[0];
        if (current?.kind === "certificate" && current.commonName !== plan.clientCn.value) {
          plan.warnings.push(`the client certificate's CN '${current.commonName ?? ""}' is not the portal's '${plan.clientCn.value}': Thales will refuse it; create a new one with mtlskit cert self-signed --profile ${name} --force`);
        }
      }
      if (plan.dnsServers) {
        txn.set(["profiles", name, "dns", "servers"], plan.dnsServers);
        record.dnsServers = plan.dnsServers;
      }
      let clientCertificateInstalled: string | undefined;
      if (installPlan) {
        const outcome = await applyClientInstall(profile, installPlan, now);
        backups.push(...outcome.backups);
        clientCertificateInstalled = outcome.certificateFile;
        record.assets[plan.customerCertificate!.name] = { importedAt: at, source: src, stored: path.relative(profile.paths.folder, outcome.certificateFile), sha256: [installPlan.leaf.sha256Fingerprint] };
        imported.push({ name: plan.customerCertificate!.name, stored: outcome.certificateFile, summary: `your client certificate ${nameOf(installPlan.leaf)}, installed${outcome.promoted ? " (the renewal is now active)" : ""}` });
        plan.warnings.push(...installPlan.findings.filter((f) => f.severity === "warning").map((f) => `${f.source}: ${f.message}`));
      }
      const notes = await registeredNotes(profile, plan.registered, plan.warnings);
      await replaceFile(p.record, `${JSON.stringify(record, null, 2)}\n`);
      const expected = expectedFromThales(profile.program);
      const missing = expected.filter((n) => !record.assets[n]);
      return {
        profile: name,
        source: src,
        kind: st.isDirectory() ? "bundle" : "file",
        classification,
        imported,
        inboundTrust: plan.clientTrust ? { file: p.inboundClientCa, certificates: plan.clientTrust.trust.map((c) => summarize(c, now)) } : undefined,
        outboundTrust: plan.serverChain ? { file: p.serverTrust, certificates: plan.serverChain.trust.map((c) => summarize(c, now)) } : undefined,
        clientCertificateInstalled,
        notes,
        dnsServers: plan.dnsServers,
        warnings: plan.warnings,
        backups,
        nextSteps: missing.length ? [`Still to import: ${missing.join(", ")}`, `See what is missing: mtlskit assets status --profile ${name}`] : [`Check everything: mtlskit status`],
      };
    },
    { ...options, command: "assets import" },
  );
}

/**
 * What the bundle says this side registered with Thales, compared with the profile: which
 * client certificate Thales endorsed (the current one, or the renewal waiting for
 * `cert activate`), and the ISSUER_HOST Thales calls.
 */
async function registeredNotes(profile: Profile, registered: ImportPlan["registered"], warnings: string[]): Promise<string[]> {
  const notes: string[] = [];
  const to = ASSET_NAMES[profile.program.id].toThales;
  const fingerprint = async (file: string) => ((await isFile(file)) ? (await readPkiObjects(file)).find((i) => i.kind === "certificate") : undefined);
  for (const r of registered) {
    if (r.name === to.clientCertificate && r.file && (await fs.lstat(r.file).then(() => true, () => false))) {
      const endorsed = (await readBundleObjects(r.file)).find((i) => i.kind === "certificate");
      const active = await fingerprint(profile.paths.client.cert);
      const pending = await fingerprint(profile.paths.pending.cert);
      const fp = endorsed?.kind === "certificate" ? endorsed.sha256Fingerprint : undefined;
      if (fp && pending?.kind === "certificate" && pending.sha256Fingerprint === fp) {
        notes.push(`Thales has endorsed the renewal's certificate (SHA-256 ${fp}): make it active with mtlskit cert activate --profile ${profile.name}`);
      } else if (fp && active?.kind === "certificate" && active.sha256Fingerprint === fp) {
        notes.push(`Thales has endorsed the current client certificate (SHA-256 ${fp})`);
      } else if (fp) {
        warnings.push(`${r.name}: the certificate Thales endorsed last (SHA-256 ${fp}) is not this profile's client certificate; have Thales endorse it (mtlskit assets export --profile ${profile.name} --out DIR)`);
      }
    } else if (r.name === to.issuerHost) {
      if (profile.issuerHost && hostOnly(profile.issuerHost) !== hostOnly(r.value)) warnings.push(`${r.name}: Thales has '${r.value}' on record, but the profile says '${profile.issuerHost}'`);
      else notes.push(`${r.name} on record at Thales: ${r.value}`);
    } else {
      notes.push(`${r.name} on record at Thales${r.file ? "" : `: ${r.value}`}`);
    }
  }
  return notes;
}

/** The assets Thales hands over that a profile needs (D1_CLIENT_CERTIFICATE is installed with `cert install` too). */
export function expectedFromThales(program: ProgramPolicy): string[] {
  const n = ASSET_NAMES[program.id].fromThales;
  return [n.serverChain, n.clientCertificate, n.apiHost, ...(n.authzUrl ? [n.authzUrl] : []), ...(n.clientCn ? [n.clientCn] : [])];
}
