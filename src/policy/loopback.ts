/**
 * The one loopback rule (issue 11, item 3; issue 10): judged on the address with node:net's
 * `isIP` and `BlockList`, never on a string prefix, so `127.evil.com` and `localhost.evil.com`
 * are not loopback while `::ffff:127.0.0.1` (IPv4-mapped) is.
 */
import { BlockList, isIP } from "node:net";

const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

/** `[::1]` -> `::1`: the bracketed form of an IPv6 address in a URL or `host:port`. */
function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/**
 * True for an IP address on loopback: 127.0.0.0/8, `::1`, and IPv4-mapped `::ffff:127.x.y.z`.
 * Names (even `localhost`) are false: use {@link isLoopback} where a name is acceptable.
 */
export function isLoopbackAddress(address: string): boolean {
  const a = unbracket(address);
  const family = isIP(a);
  if (family === 4) return loopback.check(a, "ipv4");
  if (family === 6) return loopback.check(a, "ipv6");
  return false;
}

/** True for a loopback address (see {@link isLoopbackAddress}) or the name `localhost` (any case, trailing dot allowed). */
export function isLoopback(host: string): boolean {
  const h = unbracket(host).toLowerCase();
  return h === "localhost" || h === "localhost." || isLoopbackAddress(h);
}
