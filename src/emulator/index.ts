/**
 * `mtlskit/emulator`: the Thales-side emulator (portal, mTLS API listeners with OAuth 2.0,
 * notifier, DNS stand-in), for tests and demos on one machine. Every type a user of
 * `startEmulator` meets is exported here (see etc/mtlskit-emulator.api.md).
 *
 * @packageDocumentation
 */
export { startEmulator, MAX_HANDSHAKE_LOG, type Emulator, type EmulatorEnvironment, type StartEmulatorOptions } from "./emulator.js";
export { startDnsStandIn, type DnsStandIn, type DnsRecord } from "./dns/dns-server.js";
export type { HandshakeLogEntry } from "./api-server.js";
export type { Delivery, DeliveryAttempt, Notifier, NotifierOptions } from "./notifier.js";
export type { PortalEnvironment } from "./portal.js";
export type { EmulatorPki } from "./emulator-pki.js";
export { emulatorHost } from "./hosts.js";
