/**
 * HAProxy configuration from the engine model: pure and deterministic (same model, same bytes).
 * `haproxyCfg` is a complete haproxy.cfg runnable with `haproxy -f DIR/haproxy.cfg`.
 */
import { CORRELATION_ID_PATTERN, FORWARDING_HEADERS, IDENTITY_HEADERS, OTHER_CLIENT_CERT_HEADERS, STRIPPED_HEADER_PREFIXES } from "../policy/identity-headers.js";
import { at, ENGINE_FILES, listenText, type EngineModel } from "./model.js";
import { splitSuites } from "./nginx.js";

/**
 * The identity headers and how HAProxy sets them (sample expressions in a log-format string).
 * `null`: HAProxy 2.6 cannot produce the header exactly, so it is removed and never passed from the client.
 */
export const HAPROXY_IDENTITY_VALUES: Readonly<Record<string, string | null>> = {
  [IDENTITY_HEADERS.subject]: "%[ssl_c_s_dn(,0,rfc2253)]",
  [IDENTITY_HEADERS.issuer]: "%[ssl_c_i_dn(,0,rfc2253)]",
  [IDENTITY_HEADERS.fingerprint]: "%[ssl_c_der,digest(sha256),hex,regsub(\"(..)\",\"\\1:\",g),regsub(\":$\",\"\")]",
  [IDENTITY_HEADERS.serial]: "%[ssl_c_serial,hex]",
  [IDENTITY_HEADERS.notAfter]: null, // HAProxy gives "YYMMDDhhmmssZ", not ISO 8601
  [IDENTITY_HEADERS.pem]: null, // no URL-encoding converter in HAProxy 2.6
  [IDENTITY_HEADERS.rfc9440]: ":%[ssl_c_der,base64]:",
};

/** A header name as a case-insensitive regex matching `-` and `_` spellings. */
function spellings(name: string, exact: boolean): string {
  return `^${name.replace(/[-_]/g, "[-_]")}${exact ? "$" : ""}`;
}

/** The files HAProxy needs besides haproxy.cfg (error pages), relative path -> content. */
export function haproxyErrorFiles(m: EngineModel): Record<string, string> {
  const page = (status: string, body: string) => `HTTP/1.0 ${status}\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: application/json\r\n\r\n${body}\n`;
  const files: Record<string, string> = {
    "errors/400.http": page("400 Bad Request", '{"error":"bad request"}'),
    "errors/403.http": page("403 Forbidden", '{"error":"client certificate not allowed"}'),
    "errors/408.http": page("408 Request Timeout", '{"error":"request timeout"}'),
    "errors/413.http": page("413 Payload Too Large", '{"error":"request body too large"}'),
  };
  if (m.upstreamErrors === "retryable") {
    for (const s of ["502", "503", "504"]) files[`errors/${s}.http`] = page("503 Service Unavailable", '{"error":"upstream unavailable"}');
  } else {
    files["errors/502.http"] = page("502 Bad Gateway", '{"error":"upstream unavailable"}');
    files["errors/503.http"] = page("503 Service Unavailable", '{"error":"upstream unavailable"}');
    files["errors/504.http"] = page("504 Gateway Timeout", '{"error":"upstream timeout"}');
  }
  return files;
}

/** The complete `haproxy.cfg`. */
export function haproxyCfg(m: EngineModel, options: { masterWorker?: boolean } = {}): string {
  const { tls12, tls13 } = splitSuites();
  const L = m.limits;
  const v = m.profile.replace(/[^A-Za-z0-9]/g, "_");
  const up = `${m.upstream.host.includes(":") ? `[${m.upstream.host}]` : m.upstream.host}:${m.upstream.port}`;
  const o: string[] = [];
  o.push(`# mtlskit: HAProxy for the Thales profile '${m.profile}'. Generated; regenerate with mtlskit.`);
  o.push(`# Run: haproxy -f ${at(m, "haproxy.cfg")}`);
  o.push(`global`);
  if (options.masterWorker) o.push(`    master-worker`);
  o.push(`    pidfile ${at(m, "haproxy.pid")}`);
  o.push(`    # Logs: one JSON line per request on stderr, refused handshakes with OpenSSL's reason.`);
  o.push(`    log stderr format raw local0 info`);
  o.push(`    # Runtime API (set ssl cert / show stat), owner only.`);
  o.push(`    stats socket ${at(m, "haproxy.sock")} mode 600 level admin`);
  o.push(`    maxconn ${Math.max(1024, L.maxConnections * 2)}`);
  o.push(`    # TLS 1.2 and 1.3 only; forward-secret AEAD suites only (src/policy/tls.ts); no renegotiation`);
  o.push(`    # (HAProxy refuses client renegotiation), no compression (OpenSSL 3 default, stated again).`);
  o.push(`    ssl-default-bind-ciphers ${tls12}`);
  o.push(`    ssl-default-bind-ciphersuites ${tls13}`);
  o.push(`    ssl-default-bind-options ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3 prefer-client-ciphers`);
  o.push(`    ssl-server-verify required`);
  o.push("");
  o.push(`defaults`);
  o.push(`    mode http`);
  o.push(`    log global`);
  o.push(`    option http-keep-alive`);
  o.push(`    # On reload the old process answers the next request of an idle kept-alive connection, then closes it:`);
  o.push(`    # a request sent as the reload happens is served, never cut (HAProxy 2.6+).`);
  o.push(`    option idle-close-on-response`);
  o.push(`    timeout connect ${L.upstreamConnectTimeoutMs}ms`);
  o.push(`    timeout client ${L.requestTimeoutMs}ms`);
  o.push(`    timeout server ${L.upstreamTimeoutMs}ms`);
  o.push(`    timeout http-request ${L.headersTimeoutMs}ms`);
  o.push(`    timeout http-keep-alive ${L.idleTimeoutMs}ms`);
  o.push(
    `    log-format "{\\"time\\":\\"%[date,iso8601? ]\\",\\"remote\\":\\"%ci\\",\\"method\\":\\"%HM\\",\\"path\\":%{+Q}HP,\\"status\\":%ST,\\"bytes\\":%B,\\"ms\\":%Ta,\\"tls\\":\\"%sslv\\",\\"cipher\\":\\"%sslc\\",\\"subject\\":%[ssl_c_s_dn(,0,rfc2253),json(utf8s)]}"`.replace(
      "%[date,iso8601? ]",
      "%[date,ltime(%Y-%m-%dT%H:%M:%S%z)]",
    ),
  );
  o.push(`    error-log-format "{\\"event\\":\\"handshake_failed\\",\\"remote\\":\\"%ci\\",\\"reason\\":%{+Q}[fc_err_str],\\"verify\\":\\"%[ssl_c_verify]\\"}"`);
  for (const [rel] of Object.entries(haproxyErrorFiles(m))) o.push(`    errorfile ${rel.slice(7, 10)} ${at(m, rel)}`);
  o.push("");
  o.push(`frontend thales_${v}`);
  o.push(`    # Mutual TLS: Thales's client certificate is required (handshake refused without one) and`);
  o.push(`    # verified against the profile's Thales Client CA (the CA, never Thales's leaf), depth ${m.verifyDepth}.`);
  o.push(
    `    bind ${listenText(m.listen, "")} ssl crt ${at(m, ENGINE_FILES.serverBundle)} ca-file ${at(m, ENGINE_FILES.clientCa)} verify required ca-verify-file ${at(m, ENGINE_FILES.clientCa)} alpn http/1.1`,
  );
  o.push(`    maxconn ${L.maxConnections}`);
  o.push(`    option forwardfor`);
  o.push(`    # Limits: request body size (413), same defaults as the node engine.`);
  o.push(`    http-request deny deny_status 413 if { req.hdr_val(content-length) gt ${L.maxBodyBytes} }`);
  o.push(`    http-request deny deny_status 403 unless { ssl_c_verify 0 } { ssl_c_used }`);
  if (m.allow.commonNames.length) o.push(`    http-request deny deny_status 403 unless { ssl_c_s_dn(CN) -m str ${m.allow.commonNames.map((c) => `"${c}"`).join(" ")} }`);
  if (m.allow.organizations.length) o.push(`    http-request deny deny_status 403 unless { ssl_c_s_dn(O) -m str ${m.allow.organizations.map((c) => `"${c}"`).join(" ")} }`);
  o.push(`    # Identity contract (src/policy/identity-headers.ts): every client-supplied spelling removed`);
  o.push(`    # (dashes or underscores, any case), then set from the verified connection.`);
  const names = [...new Set([...Object.values(IDENTITY_HEADERS), ...OTHER_CLIENT_CERT_HEADERS, ...FORWARDING_HEADERS])].sort();
  o.push(`    # x-correlation-id: the caller's (Thales's) is kept when it is one value matching the Thales rule.`);
  o.push(`    http-request set-var(txn.mtlskit_cid) req.fhdr(x-correlation-id) if { req.fhdr_cnt(x-correlation-id) eq 1 } { req.fhdr(x-correlation-id) -m reg '${CORRELATION_ID_PATTERN.source}' }`);
  for (const n of names) o.push(`    http-request del-header ${spellings(n, true)} -m reg`);
  for (const p of [...STRIPPED_HEADER_PREFIXES].sort()) o.push(`    http-request del-header ${spellings(p, false)} -m reg`);
  for (const n of Object.keys(HAPROXY_IDENTITY_VALUES).sort()) {
    const val = HAPROXY_IDENTITY_VALUES[n];
    if (val !== null && val !== undefined) o.push(`    http-request set-header ${n} '${val}'`);
  }
  o.push(`    http-request set-header x-forwarded-proto https`);
  o.push(`    http-request set-header x-forwarded-host %[req.hdr(host)]`);
  o.push(`    http-request set-header x-forwarded-port %[dst_port]`);
  o.push(`    http-request set-header x-real-ip %[src]`);
  o.push(`    http-request set-header forwarded "for=%[src];proto=https"`);
  o.push(`    http-request set-header x-correlation-id %[var(txn.mtlskit_cid)] if { var(txn.mtlskit_cid) -m found }`);
  o.push(`    http-request set-header x-correlation-id %[uuid(4)] unless { var(txn.mtlskit_cid) -m found }`);
  o.push(`    default_backend app_${v}`);
  o.push("");
  o.push(`backend app_${v}`);
  o.push(`    # Application down or too slow: ${m.upstreamErrors === "retryable" ? "503, which Thales retries (--upstream-errors retryable)" : "502/504 (--upstream-errors gateway)"}.`);
  o.push(`    retries 0`);
  if (m.upstream.prefix) o.push(`    http-request set-path ${m.upstream.prefix}%[path]`);
  o.push(`    server app ${up}`);
  if (m.statusPort !== undefined) {
    o.push("");
    o.push(`frontend mtlskit_stats`);
    o.push(`    # Counters for mtlskit's /metrics (HAProxy's Prometheus exporter), loopback only.`);
    o.push(`    bind 127.0.0.1:${m.statusPort}`);
    o.push(`    no log`);
    o.push(`    http-request use-service prometheus-exporter if { path /metrics }`);
  }
  o.push("");
  return o.join("\n");
}
