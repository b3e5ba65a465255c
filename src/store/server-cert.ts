import { MtlsError } from "../errors/index.js";
import { dayCount, keysMatch, needsRenewal, privateKeyToPem, readPassphraseFile, readPkiObjects, readPrivateKeyFile, isPkcs12File, toPem, type CertificateInfo, type PkiItem, isPkcs11Uri, type Pkcs11Options } from "../pki/index.js";
import { profilePkcs11Options, readTokenPublicKey } from "./token-keys.js";
import type { StoreWriteOptions } from "./cert-install.js";
import { isCa, isSelfSigned, issuersIn, mozillaRootFor, nameOf, pemBundle } from "./chains.js";
import { assertHostName, hostOnly } from "./environment-guard.js";
import { backupFile, ensureDir, isFile, removeFile, replaceFile } from "./fs-ops.js";
import { writeWorkspace } from "./workspace.js";
import { decryptedKeyWarning } from "./key-warning.js";

type Cert = PkiItem & CertificateInfo;

/** Options of {@link setServerCertificate}. */
export interface SetServerCertificateOptions extends StoreWriteOptions {
  /** The server certificate (PEM/DER), optionally followed by its chain. */
  certFile: string;
  /**
   * Its private key: a file (PEM, DER or PKCS#12), or a `pkcs11:` URI of a key in a token (the
   * profile stores the URI, never the PIN). Optional when `certFile` is a PKCS#12 holding the key.
   */
  keyFile?: string;
  /** Module and PIN of the token, for a `pkcs11:` key. */
  pkcs11?: Pkcs11Options;
  passphraseFile?: string;
  /** The intermediates (and, for a private CA, the root), issuer order. */
  chainFile?: string;
  /** ISSUER_HOST: the host name Thales calls; default the profile's. Must be covered by the certificate. */
  host?: string;
  /** Replace a different server key already in the profile (the old one is kept as a dated backup). */
  force?: boolean;
}

/** What {@link setServerCertificate} found and did. */
export interface SetServerCertificateResult {
  profile: string;
  subject: string;
  /** DNS names of the certificate. */
  dnsNames: string[];
  host: string | undefined;
  notAfter: string;
  daysLeft: number;
  /** The chain as stored: leaf first. */
  chain: Array<{ subject: string; issuer: string; notAfter: string }>;
  /** The Mozilla root the chain reaches (node's bundled store), if any. */
  mozillaRoot: string | undefined;
  /** Set when Thales must be handed a PEM trust store (the chain does not reach a Mozilla root). */
  trustStoreFile: string | undefined;
  files: { cert: string; key: string; chain: string | undefined };
  backups: string[];
  warnings: string[];
  nextSteps: string[];
}

/** RFC 6125 matching: exact, or one `*` label on the left. */
export function hostCovered(host: string, dnsNames: readonly string[]): boolean {
  const h = hostOnly(host);
  return dnsNames.some((n) => {
    const name = n.toLowerCase();
    if (name === h) return true;
    if (!name.startsWith("*.")) return false;
    const rest = name.slice(1);
    return h.endsWith(rest) && !h.slice(0, -rest.length).includes(".") && h.length > rest.length;
  });
}

function invalid(message: string, hint?: string): MtlsError {
  return new MtlsError("SERVER_CERT_INVALID", message, hint ? { hint } : {});
}

/**
 * `mtlskit server-cert set --profile NAME --cert FILE --key FILE [--chain FILE]`: the server
 * certificate of the endpoint Thales calls. Checks that the chain is complete and in order
 * (leaf, then each issuer), that the key matches, that the host name is covered, the dates,
 * and whether the chain reaches a root of node's bundled (Mozilla) store; when it does not,
 * writes the PEM trust store Thales must be handed (it goes into `assets export`).
 *
 * @example
 * await setServerCertificate(".mtlskit", "d1-pp", { certFile: "server.crt", keyFile: "server.key",
 *   chainFile: "intermediates.pem", host: "notify.example.com" });
 */
export async function setServerCertificate(dir: string, name: string, options: SetServerCertificateOptions): Promise<SetServerCertificateResult> {
  const now = options.now ?? new Date();
  const passphrase = options.passphraseFile ? await readPassphraseFile(options.passphraseFile) : undefined;
  const withPass = passphrase !== undefined ? { passphrase } : {};
  // A PKCS#12 (recognised by content) gives its certificates in chain order; its key is the
  // --key (the same .p12 may be given as both, or as --cert alone).
  const certP12 = await isPkcs12File(options.certFile);
  const keyFile = options.keyFile ?? (certP12 ? options.certFile : undefined);
  if (keyFile === undefined) throw new MtlsError("USAGE", `${options.certFile}: give its private key with --key FILE (only a PKCS#12 given as --cert carries its own key)`);
  const fromCert = (await readPkiObjects(options.certFile, withPass)).filter((i) => !(certP12 && i.kind === "private-key"));
  const items = [...fromCert, ...(options.chainFile ? await readPkiObjects(options.chainFile, withPass) : [])];
  if (items.some((i) => i.kind !== "certificate")) {
    throw invalid(`${options.certFile}${options.chainFile ? ` / ${options.chainFile}` : ""}: hold something else than certificates (a key or CSR); give the key with --key`);
  }
  const certs = items as Cert[];
  const tokenUri = isPkcs11Uri(keyFile) ? keyFile : undefined;
  const key = tokenUri ? undefined : await readPrivateKeyFile(keyFile, withPass);
  const leaf = certs[0]!;
  if (isCa(leaf)) throw invalid(`${options.certFile}: the first certificate (${nameOf(leaf)}) is a CA; the server certificate comes first`);
  if (leaf.extKeyUsage && !leaf.extKeyUsage.includes("1.3.6.1.5.5.7.3.1")) {
    throw invalid(`${options.certFile}: ${nameOf(leaf)} is not for TLS servers (its extended key usage lacks serverAuth)`, "Use a certificate issued for a TLS server (serverAuth).");
  }
  if (key && !keysMatch(key, leaf.publicKey)) {
    throw invalid(`${keyFile}: the key does not match the server certificate ${nameOf(leaf)}`, "Give the private key the certificate was issued for.");
  }
  for (let i = 0; i < certs.length - 1; i++) {
    const c = certs[i]!;
    const next = certs[i + 1]!;
    if (issuersIn(c, [next]).length === 1) continue;
    const elsewhere = issuersIn(c, certs);
    if (elsewhere.length) {
      throw invalid(`the chain is out of order: ${nameOf(c)} is followed by ${nameOf(next)}, but was issued by ${nameOf(elsewhere[0]!)}`, "Order the chain: the server certificate, then the CA that issued it, then that CA's issuer.");
    }
    throw invalid(`the chain is incomplete: ${nameOf(c)} was issued by ${c.issuerText}, which is missing (it is followed by ${nameOf(next)})`, "Add the missing intermediate right after the certificate it issued.");
  }
  for (const c of certs.slice(1)) if (!isCa(c)) throw invalid(`${nameOf(c)} in the chain is not a CA certificate`);
  const top = certs[certs.length - 1]!;
  const mozilla = mozillaRootFor(top);
  const topIsRoot = isSelfSigned(top);
  if (!mozilla && !topIsRoot) {
    throw invalid(`the chain is incomplete: it ends at ${nameOf(top)}, issued by ${top.issuerText}, which is neither given nor a Mozilla-recognised root`, "Add the missing intermediates with --chain; for a private CA, add its root too (it becomes the PEM trust store Thales needs).");
  }
  const warnings: string[] = [];
  for (const c of certs) {
    const s = needsRenewal(c, { days: 30 }, now);
    if (s.expired) throw invalid(`${nameOf(c)} expired on ${c.notAfter.toISOString()}`, "Renew the server certificate (or get the current chain) before handing it to Thales.");
    if (s.notYetValid) throw invalid(`${nameOf(c)} is not valid before ${c.notBefore.toISOString()}`);
    if (s.due) warnings.push(`${nameOf(c)} expires in ${dayCount(s.daysLeft)}: renew it and hand the new chain to Thales in time`);
  }
  const dnsNames = (leaf.subjectAltNames ?? []).filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4));

  return writeWorkspace(
    dir,
    async (txn) => {
      const profile = txn.profile(name);
      const host = options.host ?? profile.issuerHost;
      if (host) {
        assertHostName(host, "ISSUER_HOST");
        const port = /:(\d+)$/.exec(host)?.[1];
        const ports = profile.program.inbound.ports;
        if (port !== undefined && !ports.includes(Number(port))) {
          throw invalid(`ISSUER_HOST '${host}' uses port ${port}; Thales calls port ${ports.join(" or ")} (${profile.program.inbound.preferredPort} preferred)`);
        }
        if (!hostCovered(host, dnsNames)) {
          throw invalid(`the server certificate does not cover '${hostOnly(host)}' (its DNS names: ${dnsNames.join(", ") || "none"})`, "Use a certificate whose subjectAltName lists the host Thales calls.");
        }
      } else {
        warnings.push("no ISSUER_HOST known: give --host NAME so that the certificate's names can be checked and the host handed to Thales");
      }
      const p = profile.paths.server;
      await ensureDir(p.dir);
      const backups: string[] = [];
      const keep = (b: string | undefined) => b && backups.push(b);
      if (tokenUri) {
        // The key stays in the token: the profile stores its URI and module; a key file of before goes to backups/.
        const pkcs11 = profilePkcs11Options(profile, options.pkcs11);
        const { publicKey, info } = readTokenPublicKey(tokenUri, pkcs11);
        if (!keysMatch(publicKey, leaf.publicKey)) throw invalid(`${tokenUri}: the key in the token does not match the server certificate ${nameOf(leaf)}`, "Give the key the certificate was issued for.");
        const old = profile.config.pkcs11?.serverKey;
        if (((old && old !== info.uri) || (await isFile(p.key))) && !options.force) {
          throw new MtlsError("FILE_EXISTS", `profile '${name}' has another server key (${old ?? p.key}); mtlskit does not replace a private key without --force`, { subject: old ?? p.key });
        }
        if (await isFile(p.key)) {
          keep(await backupFile(p.key, profile.paths.backups, now));
          await removeFile(p.key);
        }
        txn.set(["profiles", name, "pkcs11", "serverKey"], info.uri);
        if (pkcs11.module && !profile.config.pkcs11?.module) txn.set(["profiles", name, "pkcs11", "module"], pkcs11.module);
      } else if (profile.config.pkcs11?.serverKey && !options.force) {
        throw new MtlsError("FILE_EXISTS", `profile '${name}' has its server key in a token (${profile.config.pkcs11.serverKey}); mtlskit does not replace a private key without --force`);
      }
      if (!tokenUri && profile.config.pkcs11?.serverKey) txn.set(["profiles", name, "pkcs11", "serverKey"], undefined);
      const keyPem = key ? privateKeyToPem(key) : undefined;
      if (keyPem && passphrase !== undefined) {
        warnings.push(decryptedKeyWarning(keyFile!, p.key, "the server reads it at every start without a passphrase"));
      }
      if (keyPem && (await isFile(p.key))) {
        const old = await readPrivateKeyFile(p.key).catch(() => undefined);
        const same = old !== undefined && keysMatch(old, leaf.publicKey);
        if (!same && !options.force) {
          throw new MtlsError("FILE_EXISTS", `${p.key}: profile '${name}' has another server key; mtlskit does not replace a private key without --force`, { subject: p.key });
        }
      }
      if (keyPem) keep(await replaceFile(p.key, keyPem, { mode: 0o600, backupsDir: profile.paths.backups, now }));
      keep(await replaceFile(p.cert, toPem("CERTIFICATE", leaf.der), { backupsDir: profile.paths.backups, now }));
      const chain = certs.slice(1);
      if (chain.length) keep(await replaceFile(p.chain, pemBundle(chain), { backupsDir: profile.paths.backups, now }));
      else if (await isFile(p.chain)) {
        keep(await backupFile(p.chain, profile.paths.backups, now));
        await removeFile(p.chain);
      }
      let trustStoreFile: string | undefined;
      if (!mozilla) {
        keep(await replaceFile(p.trustStore, pemBundle([top]), { backupsDir: profile.paths.backups, now }));
        trustStoreFile = p.trustStore;
      } else if (await isFile(p.trustStore)) {
        keep(await backupFile(p.trustStore, profile.paths.backups, now));
        await removeFile(p.trustStore);
      }
      if (options.host && options.host !== profile.issuerHost) txn.set(["profiles", name, "inbound", "issuerHost"], options.host);
      const policy = profile.program.inbound.serverChain;
      const nextSteps = [
        mozilla
          ? `The chain reaches the Mozilla-recognised root ${mozilla.subject.split("\n").find((l) => l.startsWith("CN="))?.slice(3) ?? mozilla.subject}: Thales can verify it as it is.`
          : policy === "mozilla-root-or-pem-trust-store"
            ? `The chain does not reach a Mozilla-recognised root: Thales must be handed a PEM trust store (written to ${p.trustStore}, included in mtlskit assets export).`
            : `The chain does not reach a Mozilla-recognised root; Thales pins your server chain, so hand it over with the trust store (${p.trustStore}, included in mtlskit assets export).`,
        `Hand the chain to Thales: mtlskit assets export --profile ${name} --out DIR`,
      ];
      return {
        profile: name,
        subject: leaf.subjectText,
        dnsNames,
        host,
        notAfter: leaf.notAfter.toISOString(),
        daysLeft: needsRenewal(leaf, { days: 30 }, now).daysLeft,
        chain: certs.map((c) => ({ subject: c.subjectText, issuer: c.issuerText, notAfter: c.notAfter.toISOString() })),
        mozillaRoot: mozilla ? mozilla.subject.replace(/\n/g, ", ") : undefined,
        trustStoreFile,
        files: { cert: p.cert, key: tokenUri ?? p.key, chain: chain.length ? p.chain : undefined },
        backups,
        warnings,
        nextSteps,
      };
    },
    { ...options, command: "server-cert set" },
  );
}
