/**
 * `mtlskit/emulator`: the Thales-side emulator (portal, mTLS API listeners with OAuth 2.0,
 * notifier, DNS stand-in), for tests and demos on one machine.
 */
export { startEmulator, MAX_HANDSHAKE_LOG, type Emulator, type EmulatorEnvironment, type StartEmulatorOptions } from "./emulator.js";
export { startDnsStandIn, type DnsStandIn, type DnsRecord } from "./dns/dns-server.js";
export type { HandshakeLogEntry } from "./api-server.js";
export type { Delivery, DeliveryAttempt } from "./notifier.js";
export { emulatorHost } from "./hosts.js";
