import type { Command } from "commander";
import {
  inspectFile,
  inspectUrl,
  readCertificates,
  toPem,
  type CertificateDescription,
  type CsrDescription,
  type ExtensionDescription,
  type FileObjectDescription,
  type UrlInspection,
} from "../../pki/index.js";
import { isPkcs11Uri, openTokenKey, readPassphraseFile, spkiPin } from "../../pki/index.js";
import { isMtlsError, MtlsError } from "../../errors/index.js";
import { existsSync } from "node:fs";
import * as path from "node:path";
import type { Profile } from "../../store/index.js";
import { firstOption, pkcs11OptionsFrom, TOKEN_OPTION_HELP, type OptionFlags, type TokenOptions } from "./key-source.js";
import { paint, positiveInt, printJson, say, withProgress, type CliContext } from "../context.js";

export function define(cmd: Command): Command {
  return cmd
    .description("show what a certificate, CSR, key or chain file holds, or the chain a TLS server presents")
    .argument("[target]", "a file (PEM or DER; certificates, CSRs, keys, chains), https://HOST[:PORT], or pkcs11:token=...;object=... (a key in a token); or --profile")
    .option("--profile <name>", "inspect every certificate, CSR and key file of this profile (client, renewal, Thales assets, server, OAuth)")
    .option("--pin-file <file>", TOKEN_OPTION_HELP.pinFile)
    .option("--pkcs11-module <path>", TOKEN_OPTION_HELP.module)
    .option("--passphrase-file <file>", "passphrase of a PKCS#12 file or an encrypted key (first line): shows what it holds instead of 'encrypted'")
    .option("--servername <name>", "for a URL: SNI name, and the name checked against the certificate (default: the URL's host)")
    .option("--ca <file>", "for a URL: verify the chain against these CA certificates (PEM) instead of Node's trust store")
    .option("--timeout <ms>", "for a URL: give up after this many milliseconds (default 10000)")
    .addHelpText(
      "after",
      "\nExamples:\n  mtlskit inspect client.crt\n  mtlskit inspect d1-preprod.csr --json\n  mtlskit inspect --profile d1-pp\n  mtlskit inspect https://tmg.dbp-stg.thalescloud.io:443",
    );
}

/** The options of `inspect`, as {@link define} declares them. */
export interface InspectOptions extends TokenOptions {
  profile?: string;
  passphraseFile?: string;
  servername?: string;
  ca?: string;
  timeout?: string;
}

/** The options that apply to an https:// URL only. */
const URL_ONLY: OptionFlags<InspectOptions> = [
  ["servername", "--servername"],
  ["ca", "--ca"],
  ["timeout", "--timeout"],
];

/** USAGE when an option of {@link URL_ONLY} is given for something else than a URL (`what`). */
function refuseUrlOptions(o: InspectOptions, what: string): void {
  const flag = firstOption(o, URL_ONLY);
  if (flag !== undefined) throw new MtlsError("USAGE", `${flag} applies to an https:// URL, not to ${what}`);
}

export async function run(ctx: CliContext, o: InspectOptions, args: string[]): Promise<number> {
  if (o.profile !== undefined) return runProfile(ctx, o, o.profile, args);
  const target = args[0];
  if (target === undefined) throw new MtlsError("USAGE", "give a file, an https:// URL or a pkcs11: URI to inspect, or --profile NAME", { hint: "Example: mtlskit inspect client.crt, or mtlskit inspect --profile d1-pp" });
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return runUrl(ctx, o, target);
  if (isPkcs11Uri(target)) return runTokenKey(ctx, o, target);
  refuseUrlOptions(o, "a file");
  const passphrase = o.passphraseFile !== undefined ? await readPassphraseFile(o.passphraseFile) : undefined;
  const r = await inspectFile(target, passphrase !== undefined ? { passphrase } : {}).catch((e: unknown) => {
    if (isMtlsError(e, "FILE_NOT_FOUND") && /^[^/\\]+:\d+$/.test(target)) {
      throw new MtlsError("FILE_NOT_FOUND", e.message, { subject: target, hint: `To inspect a TLS server, write the URL: mtlskit inspect https://${target}` });
    }
    throw e;
  });
  if (ctx.json) {
    printJson(ctx, fileJson(r));
    return 0;
  }
  renderFile(ctx, r);
  return 0;
}

type FileInspection = Awaited<ReturnType<typeof inspectFile>>;

function fileJson(r: FileInspection): Record<string, unknown> {
  return { ok: true, file: r.file, ...(r.pkcs12 ? { pkcs12: r.pkcs12 } : {}), objects: r.objects.map(({ index: _index, ...rest }) => jsonSafe(rest)) };
}

/** Every certificate, CSR and key file of a profile that exists, in the order of `profile show`. */
function profileFiles(p: Profile): string[] {
  const x = p.paths;
  return [
    x.client.key, x.client.csr, x.client.cert, x.client.chain,
    x.pending.key, x.pending.csr, x.pending.cert, x.pending.chain,
    x.assets.serverChain, x.assets.serverTrust, x.assets.clientCertificate, x.assets.inboundClientCa,
    x.server.cert, x.server.key, x.server.chain, x.server.trustStore,
    x.oauth.key,
  ].filter((f) => existsSync(f));
}

/** `inspect --profile NAME`: each file of the profile, as `inspect FILE` shows it. */
async function runProfile(ctx: CliContext, o: InspectOptions, name: string, args: string[]): Promise<number> {
  if (args.length > 0) throw new MtlsError("USAGE", "give a target or --profile, not both", { hint: `Run: mtlskit inspect --profile ${name}` });
  refuseUrlOptions(o, "--profile");
  // Loaded here, not at the top: the store brings yaml, zod, pkijs and the linter, about 100 ms
  // of start-up that `mtlskit inspect FILE` does not need (bench (a), test/inspect-cli.test.ts).
  const { openWorkspace } = await import("../../store/index.js");
  const p = await openWorkspace(ctx.dir).profile(name).open();
  const files = profileFiles(p);
  const tokenKeys = Object.entries(p.config.pkcs11 ?? {}).filter(([k, v]) => k !== "module" && typeof v === "string") as Array<[string, string]>;
  if (files.length === 0 && tokenKeys.length === 0) {
    throw new MtlsError("FILE_NOT_FOUND", `profile '${name}' has no certificate, CSR or key yet (${p.paths.folder})`, {
      hint: p.program.id === "mt" ? `Create them: mtlskit cert self-signed --profile ${name}` : `Create them: mtlskit csr create --profile ${name}`,
    });
  }
  const passphrase = o.passphraseFile !== undefined ? await readPassphraseFile(o.passphraseFile) : undefined;
  const results: FileInspection[] = [];
  for (const f of files) results.push(await inspectFile(f, passphrase !== undefined ? { passphrase } : {}));
  if (ctx.json) {
    printJson(ctx, {
      ok: true,
      profile: name,
      folder: p.paths.folder,
      files: results.map(fileJson).map(({ ok: _ok, ...rest }) => rest),
      ...(tokenKeys.length > 0 ? { tokenKeys: Object.fromEntries(tokenKeys) } : {}),
    });
    return 0;
  }
  say(ctx, paint(ctx, "bold", `profile ${name}`) + paint(ctx, "dim", `: ${p.paths.folder}`));
  results.forEach((r) => {
    say(ctx, "");
    say(ctx, paint(ctx, "bold", `== ${path.relative(p.paths.folder, r.file)}`));
    renderFile(ctx, r);
  });
  for (const [slot, uri] of tokenKeys) {
    say(ctx, "");
    say(ctx, `${slot}: a key in a token, ${uri} (see it with: mtlskit inspect '${uri}')`);
  }
  return 0;
}

function renderFile(ctx: CliContext, r: FileInspection): void {
  if (r.pkcs12) {
    const p = r.pkcs12;
    say(ctx, paint(ctx, "bold", "PKCS#12") + paint(ctx, "dim", `: ${r.file}`));
    say(ctx, `  MAC:        ${p.mac}`);
    for (const e of p.encryptions) say(ctx, `  encryption: ${e}`);
    for (const b of p.bags) say(ctx, `  ${b.kind === "private-key" ? "key " : "cert"}  ${b.friendlyName ? `"${b.friendlyName}"` : "(no name)"}${b.localKeyId ? `  localKeyId ${b.localKeyId}` : ""}${b.javaTrusted ? "  Java trusted certificate" : ""}`);
    if (p.legacyWarning) say(ctx, paint(ctx, "yellow", `  warning: ${p.legacyWarning}`));
    say(ctx, "");
  }
  const counts = new Map<string, number>();
  r.objects.forEach((obj) => counts.set(obj.kind, (counts.get(obj.kind) ?? 0) + 1));
  const seen = new Map<string, number>();
  r.objects.forEach((obj, i) => {
    if (i > 0) say(ctx, "");
    const n = (seen.get(obj.kind) ?? 0) + 1;
    seen.set(obj.kind, n);
    const total = counts.get(obj.kind) ?? 1;
    say(ctx, paint(ctx, "bold", `${KIND_TITLES[obj.kind]}${total > 1 ? ` ${n} of ${total}` : ""}`) + paint(ctx, "dim", `: ${obj.source}`));
    renderObject(ctx, obj);
  });
}

/** A key in a token: what the token says of it (never key material). */
function runTokenKey(ctx: CliContext, o: InspectOptions, target: string): number {
  const key = openTokenKey(target, pkcs11OptionsFrom(o));
  key.close();
  const i = key.info;
  const pin = spkiPin(key.publicKey);
  if (ctx.json) {
    printJson(ctx, { ok: true, uri: i.uri, token: i.tokenLabel, object: i.objectLabel, id: i.id, key: i.label, sensitive: i.sensitive, extractable: i.extractable, alwaysSensitive: i.alwaysSensitive, neverExtractable: i.neverExtractable, spkiPin: pin, summary: i.summary });
    return 0;
  }
  say(ctx, paint(ctx, "bold", "Private key in a token") + paint(ctx, "dim", `: ${i.uri}`));
  say(ctx, `  ${i.summary}`);
  say(ctx, `  token:      ${i.tokenLabel}`);
  say(ctx, `  object:     ${i.objectLabel} (id ${i.id || "none"})`);
  say(ctx, `  key:        ${i.label}`);
  say(ctx, `  protection: ${[i.sensitive ? "sensitive" : "NOT sensitive", i.extractable ? "EXTRACTABLE" : "non-extractable", i.alwaysSensitive && i.neverExtractable ? "made in the token and never left it" : ""].filter(Boolean).join(", ")}`);
  say(ctx, `  SPKI pin:   ${pin}`);
  return 0;
}

const KIND_TITLES: Record<FileObjectDescription["kind"], string> = {
  certificate: "Certificate",
  csr: "Certificate signing request",
  "private-key": "Private key",
  "public-key": "Public key",
};

async function runUrl(ctx: CliContext, o: InspectOptions, url: string): Promise<number> {
  const timeoutMs = positiveInt("--timeout", o.timeout ?? "10000");
  const caFile = o.ca;
  // Parsed first, so that a CA file without a certificate is an error, not a silent "untrusted".
  const ca = caFile ? (await readCertificates(caFile)).map((c) => toPem("CERTIFICATE", c.der)) : undefined;
  const r = await withProgress(
    ctx,
    `connecting to ${url}`,
    inspectUrl(url, { timeoutMs, ...(o.servername !== undefined ? { servername: o.servername } : {}), ...(ca ? { ca } : {}) }),
  );
  if (ctx.json) {
    const { certificates, chain, ...rest } = r;
    printJson(ctx, { ok: true, ...rest, chain: chain.map((c, i) => ({ ...jsonSafe(c), pem: toPem("CERTIFICATE", certificates[i]!.der) })) });
    return 0;
  }
  renderUrl(ctx, r, caFile);
  return 0;
}

/** Drops the fields that only help rendering (finer time counters). */
function jsonSafe<T extends object>(d: T): Omit<T, "msLeft" | "msUntilValid"> {
  const { msLeft: _l, msUntilValid: _u, ...rest } = d as T & { msLeft?: number; msUntilValid?: number };
  return rest;
}

const LABEL_WIDTH = 21;

function line(ctx: CliContext, label: string, value: string): void {
  say(ctx, `  ${`${label}:`.padEnd(LABEL_WIDTH)} ${value}`);
}

function renderObject(ctx: CliContext, obj: FileObjectDescription): void {
  switch (obj.kind) {
    case "certificate":
      return renderCertificate(ctx, obj);
    case "csr":
      return renderCsr(ctx, obj);
    case "private-key":
      line(ctx, "Type", obj.encrypted ? "encrypted (its type shows once decrypted)" : `${obj.key?.label ?? "unknown"}`);
      line(ctx, "Key material", "not shown");
      return;
    case "public-key":
      line(ctx, "Type", obj.key.label);
      line(ctx, "SPKI pin", obj.spkiPin);
      return;
  }
}

/** `in 23 hours`, `in 364 days`, `3 days ago`. */
function relative(ms: number): string {
  const abs = Math.abs(ms);
  const text = abs < 2 * 86_400_000 ? plural(Math.floor(abs / 3_600_000), "hour") : plural(Math.floor(abs / 86_400_000), "day");
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

function renderCertificate(ctx: CliContext, c: CertificateDescription): void {
  line(ctx, "Subject", c.subject || "(empty)");
  line(ctx, "Issuer", c.selfIssued ? `${c.issuer} (self-issued)` : c.issuer);
  line(ctx, "Serial", c.serialNumber);
  line(ctx, "Not before", c.notBefore + (c.validity === "not-yet-valid" ? ` ${paint(ctx, "yellow", `(not yet valid: starts ${relative(c.msUntilValid)})`)}` : ""));
  const left =
    c.validity === "expired"
      ? paint(ctx, "red", `EXPIRED ${relative(c.msLeft)}`)
      : c.validity === "not-yet-valid"
        ? paint(ctx, "yellow", "not yet valid")
        : `${relative(c.msLeft).replace(/^in /, "")} left`;
  line(ctx, "Not after", `${c.notAfter} (${left})`);
  line(ctx, "Key", c.key.label);
  line(ctx, "Signature algorithm", c.signatureAlgorithm);
  renderExtensions(ctx, c.extensions);
  line(ctx, "SHA-256 fingerprint", c.sha256Fingerprint);
  line(ctx, "SPKI pin", c.spkiPin);
}

function renderCsr(ctx: CliContext, c: CsrDescription): void {
  line(ctx, "Subject", c.subject || "(empty)");
  line(ctx, "Key", c.key.label);
  line(ctx, "Signature algorithm", c.signatureAlgorithm);
  line(ctx, "Signature", c.signatureValid ? paint(ctx, "green", "verifies with the CSR's public key") : paint(ctx, "red", "does NOT verify (the CSR was altered or is corrupt)"));
  if (c.extensions.length > 0) renderExtensions(ctx, c.extensions, "Requested extensions");
  line(ctx, "SPKI pin", c.spkiPin);
}

const MAX_VALUE = 100;

function renderExtensions(ctx: CliContext, exts: readonly ExtensionDescription[], title = "Extensions"): void {
  if (exts.length === 0) {
    line(ctx, title, "none");
    return;
  }
  say(ctx, `  ${title}:`);
  for (const e of exts) {
    const value = e.value.length > MAX_VALUE ? `${e.value.slice(0, MAX_VALUE)}... (${e.value.length} characters; --json has it all)` : e.value;
    say(ctx, `    ${e.name}${e.critical ? paint(ctx, "yellow", " (critical)") : ""}: ${value}`);
  }
}

function renderUrl(ctx: CliContext, r: UrlInspection, caFile: string | undefined): void {
  say(ctx, paint(ctx, "bold", r.url));
  line(ctx, "Connected to", `${r.remoteAddress ?? r.host}:${r.port}${r.servername ? ` (SNI ${r.servername})` : " (no SNI)"}`);
  line(ctx, "Protocol", r.protocol);
  line(ctx, "Cipher", r.cipher.standardName || r.cipher.name);
  if (r.keyExchange) line(ctx, "Key exchange", r.keyExchange);
  const against = caFile ? `the CA file ${caFile}` : "Node's trust store";
  line(ctx, "Chain trusted", r.authorized ? paint(ctx, "green", `yes (against ${against})`) : paint(ctx, "red", `no: ${r.authorizationError ?? "not verified"} (against ${against})`));
  line(ctx, "Host name", r.hostname.matches ? paint(ctx, "green", `${r.hostname.name} matches the certificate`) : paint(ctx, "red", `${r.hostname.name} does not match: ${r.hostname.error ?? ""}`));
  line(ctx, "Chain presented", `${plural(r.chain.length, "certificate")}${r.chainOrdered ? "" : paint(ctx, "yellow", " (not in order: each certificate should be followed by its issuer)")}`);
  r.chain.forEach((c, i) => {
    say(ctx, "");
    say(ctx, paint(ctx, "bold", `Certificate ${i + 1} of ${r.chain.length}`) + paint(ctx, "dim", i === 0 ? ": the server's own" : ": presented by the server"));
    renderCertificate(ctx, c);
  });
}
