import { isIP } from "node:net";

/**
 * The one rule for a host Thales calls or is called at (`ISSUER_HOST`, `TSH_INBOUND_HOST`,
 * `D1_API_HOST`): a DNS name of at least two labels, with an optional port, never an IP
 * address. Thales resolves names on every connection and gives or takes no static IP addresses
 * (reference pages: "always resolve the D1 domain name through DNS"; ISSUER_HOST is the "host
 * name Thales backend uses to reach your backend"), so a single-label name such as `localhost`,
 * which no resolver on the internet answers, is refused too.
 */

/** Why a `host[:port]` value was refused. */
export type HostPortProblem =
  /** `https://...`: a URL where a host was expected. */
  | "url"
  /** A path, query, user, spaces, or brackets around something that is not an IPv6 address. */
  | "syntax"
  /** An IP address, in any form an HTTP client reads as one (`2130706433`, `0x7f.1`, `[::1]`). */
  | "ip"
  /** Not a DNS name of at least two labels (letters, digits, `-`), the last not all digits. */
  | "name"
  /** A port that is not a number from 1 to 65535. */
  | "port";

/** A checked `host[:port]`: the name lower case without a trailing dot, the port when given. */
export type HostPort = { readonly ok: true; readonly host: string; readonly port?: number } | { readonly ok: false; readonly problem: HostPortProblem; readonly message: string };

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** The sentence for each problem, after the quoted value. */
const WHY: Record<HostPortProblem, string> = {
  url: "is a URL: give host or host:port, without the scheme (Thales always uses https)",
  syntax: "must be host or host:port, with no path, query, user or spaces",
  ip: "is an IP address: Thales calls a DNS name and resolves it on every connection (no IP addresses, no IP allow-listing)",
  name: "is not a DNS host name (name.domain: labels of letters, digits and '-', at most 63 characters each, the last not all digits)",
  port: "has a port that is not a number from 1 to 65535",
};

/** Parses and checks `host[:port]` (see the module's rule). Never throws. */
export function parseHostPort(value: string): HostPort {
  const v = value.trim();
  const refuse = (problem: HostPortProblem): HostPort => ({ ok: false, problem, message: `'${v}' ${WHY[problem]}` });
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return refuse("url");
  if (/[/?#@\s]/.test(v)) return refuse("syntax");
  if (isIP(v) !== 0) return refuse("ip");
  let host = v;
  let port: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(v);
  if (bracketed) {
    if (isIP(bracketed[1] ?? "") !== 0) return refuse("ip");
    return refuse("syntax");
  }
  const colons = (v.match(/:/g) ?? []).length;
  if (colons > 1) return refuse("syntax");
  if (colons === 1) [host, port] = v.split(":") as [string, string];
  if (isIP(host) !== 0) return refuse("ip");
  // What an HTTP client would connect to: the URL parser reads 2130706433 or 0x7f.1 as IPv4 addresses.
  let parsed: string | undefined;
  try {
    parsed = new URL(`https://${host}/`).hostname;
  } catch {
    parsed = undefined;
  }
  if (parsed !== undefined && isIP(parsed) !== 0) return refuse("ip");
  const name = host.replace(/\.$/, "").toLowerCase();
  const labels = name.split(".");
  if (name.length === 0 || name.length > 253 || labels.length < 2 || !labels.every((l) => DNS_LABEL.test(l)) || /^\d+$/.test(labels[labels.length - 1]!)) return refuse("name");
  if (port === undefined) return { ok: true, host: name };
  const n = Number(port);
  if (!/^\d{1,5}$/.test(port) || n < 1 || n > 65535) return refuse("port");
  return { ok: true, host: name, port: n };
}
