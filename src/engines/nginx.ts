/**
 * nginx configuration from the engine model: pure and deterministic (same model, same bytes).
 * `nginxConf` is a complete nginx.conf runnable with `nginx -p DIR -c DIR/nginx.conf`;
 * `nginxServerBlock` is the part for inclusion into an existing nginx (`http { include ...; }`).
 */
import { AEAD_FORWARD_SECRET_CIPHERS } from "../policy/tls.js";
import { CORRELATION_ID_PATTERN, FORWARDING_HEADERS, IDENTITY_HEADERS, OTHER_CLIENT_CERT_HEADERS } from "../policy/identity-headers.js";
import { at, ENGINE_FILES, listenText, seconds, type EngineModel } from "./model.js";

/** TLS 1.2 suites (OpenSSL names) and TLS 1.3 suites of the policy, split as nginx takes them. */
export function splitSuites(): { tls12: string; tls13: string } {
  const all = AEAD_FORWARD_SECRET_CIPHERS.split(":");
  return { tls12: all.filter((c) => !c.startsWith("TLS_")).join(":"), tls13: all.filter((c) => c.startsWith("TLS_")).join(":") };
}

/**
 * The identity headers and how nginx sets them. `null`: nginx (without njs) cannot produce the
 * header exactly, so it is removed and never passed from the client.
 */
export const NGINX_IDENTITY_VALUES: Readonly<Record<string, string | null>> = {
  [IDENTITY_HEADERS.subject]: "$ssl_client_s_dn",
  [IDENTITY_HEADERS.issuer]: "$ssl_client_i_dn",
  [IDENTITY_HEADERS.fingerprint]: null, // nginx has only the SHA-1 fingerprint
  [IDENTITY_HEADERS.serial]: "$ssl_client_serial",
  [IDENTITY_HEADERS.notAfter]: null, // nginx gives "Sep 21 10:00:00 2027 GMT", not ISO 8601
  [IDENTITY_HEADERS.pem]: "$ssl_client_escaped_cert",
  [IDENTITY_HEADERS.rfc9440]: null, // RFC 9440 needs the DER in base64: njs only
};

function regexEscape(v: string): string {
  return v.replace(/[.*+?^${}()|[\]\\/"]/g, "\\$&");
}

function varName(m: EngineModel): string {
  return m.profile.replace(/[^A-Za-z0-9]/g, "_");
}

/** The `conf.d/thales-<profile>.conf` text: maps (allow lists) and the `server` block. */
export function nginxServerBlock(m: EngineModel): string {
  const { tls12, tls13 } = splitSuites();
  const v = varName(m);
  const L = m.limits;
  const up = `${m.upstream.host.includes(":") ? `[${m.upstream.host}]` : m.upstream.host}:${m.upstream.port}`;
  const out: string[] = [];
  out.push(`# mtlskit: the endpoint Thales calls for profile '${m.profile}'. Generated; regenerate with mtlskit.`);
  out.push(`# Include inside http { }. Every rule below comes from the Thales connectivity pages (docs/reference).`);
  out.push("");
  out.push(`# Optional allow lists (--allow-cn / --allow-o), on top of the CA verification.`);
  out.push(`map $ssl_client_s_dn $mtlskit_${v}_cn_ok {`);
  out.push(`    default ${m.allow.commonNames.length ? 0 : 1};`);
  for (const cn of m.allow.commonNames) out.push(`    "~(^|,)CN=${regexEscape(cn)}(,|$)" 1;`);
  out.push(`}`);
  out.push(`# x-correlation-id: the caller's (Thales's) when it matches the Thales rule, else nginx's request id.`);
  out.push(`map $http_x_correlation_id $mtlskit_${v}_cid {`);
  out.push(`    default $request_id;`);
  out.push(`    "~${CORRELATION_ID_PATTERN.source}" $http_x_correlation_id;`);
  out.push(`}`);
  out.push(`map $ssl_client_s_dn $mtlskit_${v}_o_ok {`);
  out.push(`    default ${m.allow.organizations.length ? 0 : 1};`);
  for (const o of m.allow.organizations) out.push(`    "~(^|,)O=${regexEscape(o)}(,|$)" 1;`);
  out.push(`}`);
  out.push("");
  if (m.tokenKey) {
    out.push(`# Always empty: makes ssl_certificate_key a per-handshake load in the worker (key in a token).`);
    out.push(`map "" $mtlskit_${v}_token_key {`);
    out.push(`    default "";`);
    out.push(`}`);
    out.push("");
  }
  out.push(`# --max-connections: connections served at once on this listener; more are answered 503.`);
  out.push(`limit_conn_zone $server_port zone=mtlskit_${v}_conn:1m;`);
  out.push("");
  out.push(`upstream mtlskit_${v}_app {`);
  out.push(`    server ${up};`);
  out.push(`    keepalive 32;`);
  out.push(`}`);
  out.push("");
  out.push(`server {`);
  out.push(`    # Thales calls HTTPS on 443 or 8443.`);
  out.push(`    listen ${listenText(m.listen, "*")} ssl;`);
  out.push(`    server_name _;`);
  out.push("");
  out.push(`    # Server certificate followed by its intermediates (Thales verifies the chain to a public root).`);
  out.push(`    ssl_certificate ${at(m, ENGINE_FILES.serverChain)};`);
  if (m.tokenKey) {
    // libp11 cannot use a key opened by nginx's master after the fork into workers (object handles
    // are per process): the empty variable makes each worker load the key from the token itself,
    // per handshake (nginx >= 1.15.9). The PIN is in a 0600 file named by the URI, never here.
    out.push(`    # Private key in a PKCS#11 token (OpenSSL pkcs11 engine; OPENSSL_CONF=${at(m, ENGINE_FILES.opensslConf)}); it never leaves the token.`);
    out.push(`    ssl_certificate_key "engine:pkcs11:${m.tokenKey.uri}?pin-source=file:${at(m, ENGINE_FILES.tokenPin)}$mtlskit_${v}_token_key";`);
  } else {
    out.push(`    ssl_certificate_key ${at(m, ENGINE_FILES.serverKey)};`);
  }
  out.push("");
  out.push(`    # TLS 1.2 and 1.3 only; forward-secret AEAD suites only (src/policy/tls.ts); no renegotiation, no compression.`);
  out.push(`    ssl_protocols TLSv1.2 TLSv1.3;`);
  out.push(`    ssl_ciphers ${tls12};`);
  out.push(`    ssl_conf_command Ciphersuites ${tls13};`);
  out.push(`    ssl_conf_command Options -Compression,NoRenegotiation;`);
  out.push(`    ssl_prefer_server_ciphers on;`);
  out.push(`    ssl_session_cache shared:mtlskit_${v}:1m;`);
  out.push(`    ssl_session_timeout 5m;`);
  out.push("");
  out.push(`    # Mutual TLS: Thales's client certificate is required and verified against the Thales Client CA`);
  out.push(`    # of the profile (the CA, never Thales's leaf certificate), chain depth ${m.verifyDepth}.`);
  out.push(`    ssl_client_certificate ${at(m, ENGINE_FILES.clientCa)};`);
  out.push(`    ssl_verify_client on;`);
  out.push(`    ssl_verify_depth ${m.verifyDepth};`);
  out.push("");
  out.push(`    # Limits (same defaults as the node engine).`);
  out.push(`    client_max_body_size ${L.maxBodyBytes};`);
  out.push(`    client_header_buffer_size 4k;`);
  out.push(`    large_client_header_buffers 4 ${Math.max(1, Math.ceil(L.maxHeaderBytes / 1024))}k;`);
  out.push(`    client_header_timeout ${seconds(L.headersTimeoutMs)}s;`);
  out.push(`    client_body_timeout ${seconds(L.requestTimeoutMs)}s;`);
  out.push(`    keepalive_timeout ${seconds(L.idleTimeoutMs)}s;`);
  out.push(`    limit_conn mtlskit_${v}_conn ${L.maxConnections};`);
  out.push(`    limit_conn_status 503;`);
  out.push("");
  out.push(`    # Header names with underscores (x_client_cert) or invalid characters are dropped, so that no`);
  out.push(`    # spelling of an identity header reaches the application.`);
  out.push(`    underscores_in_headers off;`);
  out.push(`    ignore_invalid_headers on;`);
  out.push("");
  out.push(`    location / {`);
  out.push(`        if ($ssl_client_verify != SUCCESS) { return 403; }`);
  out.push(`        if ($mtlskit_${v}_cn_ok = 0) { return 403; }`);
  out.push(`        if ($mtlskit_${v}_o_ok = 0) { return 403; }`);
  out.push(`        proxy_pass http://mtlskit_${v}_app${m.upstream.prefix};`);
  out.push(`        proxy_http_version 1.1;`);
  out.push(`        proxy_set_header Connection "";`);
  out.push(`        proxy_connect_timeout ${seconds(L.upstreamConnectTimeoutMs)}s;`);
  out.push(`        proxy_read_timeout ${seconds(L.upstreamTimeoutMs)}s;`);
  out.push(`        proxy_send_timeout ${seconds(L.upstreamTimeoutMs)}s;`);
  out.push(`        proxy_next_upstream off;`);
  out.push(`        proxy_intercept_errors off;`);
  out.push(`        # Identity contract (src/policy/identity-headers.ts): client-supplied copies removed, then set`);
  out.push(`        # from the verified connection. Empty value: nginx cannot produce it exactly, removed.`);
  for (const name of [...Object.keys(NGINX_IDENTITY_VALUES)].sort()) out.push(`        proxy_set_header ${name} "${NGINX_IDENTITY_VALUES[name] ?? ""}";`);
  for (const name of [...OTHER_CLIENT_CERT_HEADERS].sort()) out.push(`        proxy_set_header ${name} "";`);
  const fwd: Record<string, string> = {
    "x-forwarded-for": "$remote_addr",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "$host",
    "x-forwarded-port": "$server_port",
    forwarded: `"for=\\"$remote_addr\\";proto=https"`,
    "x-real-ip": "$remote_addr",
    "x-correlation-id": `$mtlskit_${v}_cid`,
  };
  for (const name of [...FORWARDING_HEADERS].sort()) {
    const val = fwd[name];
    out.push(`        proxy_set_header ${name} ${val === undefined ? '""' : val.startsWith('"') ? val : `"${val}"`};`);
  }
  out.push(`        proxy_set_header Host $host;`);
  out.push(`    }`);
  out.push("");
  out.push(`    # Application down or too slow: ${m.upstreamErrors === "retryable" ? "503, which Thales retries (--upstream-errors retryable)" : "502/504 (--upstream-errors gateway)"}.`);
  if (m.upstreamErrors === "retryable") {
    out.push(`    error_page 502 504 @mtlskit_${v}_unavailable;`);
    out.push(`    location @mtlskit_${v}_unavailable {`);
    out.push(`        default_type application/json;`);
    out.push(`        return 503 '{"error":"upstream unavailable"}';`);
    out.push(`    }`);
  }
  out.push(`}`);
  out.push("");
  return out.join("\n");
}

/** The complete `nginx.conf`: everything (pid, logs, temp paths) inside the folder. */
export function nginxConf(m: EngineModel, options: { workers?: number | "auto"; daemon?: boolean } = {}): string {
  const out: string[] = [];
  out.push(`# mtlskit: nginx for the Thales profile '${m.profile}'. Generated; regenerate with mtlskit.`);
  out.push(`# Run: ${m.tokenKey ? `OPENSSL_CONF=${at(m, ENGINE_FILES.opensslConf)} ` : ""}nginx -p ${m.dir} -c ${at(m, "nginx.conf")}`);
  out.push(`worker_processes ${options.workers ?? "auto"};`);
  if (m.tokenKey) {
    out.push(`# Key in a PKCS#11 token: the workers open the token, so they keep what the module needs.`);
    for (const name of ["OPENSSL_CONF", ...m.tokenKey.passEnv.filter((n) => n !== "OPENSSL_CONF")]) out.push(`env ${name};`);
    if (m.tokenKey.user) out.push(`user ${m.tokenKey.user};`);
  }
  out.push(`pid ${at(m, "nginx.pid")};`);
  out.push(`# Info level: refused handshakes and client certificate errors are logged with their reason.`);
  out.push(`error_log ${at(m, "logs/error.log")} info;`);
  if (options.daemon === false) out.push(`daemon off;`);
  out.push("");
  out.push(`events {`);
  out.push(`    worker_connections ${Math.max(1024, m.limits.maxConnections * 2)};`);
  out.push(`}`);
  out.push("");
  out.push(`http {`);
  out.push(`    server_tokens off;`);
  for (const t of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) out.push(`    ${t}_temp_path ${at(m, `temp/${t}`)};`);
  out.push(`    # One JSON line per request, with the verified client identity (written in 64 KiB blocks, at least every second:`);
  out.push(`    # a write per request would cost on the data path).`);
  out.push(
    `    log_format mtlskit_json escape=json '{"time":"$time_iso8601","remote":"$remote_addr","method":"$request_method","path":"$uri","status":$status,` +
      `"bytes":$body_bytes_sent,"ms":"$request_time","tls":"$ssl_protocol","cipher":"$ssl_cipher","verify":"$ssl_client_verify","subject":"$ssl_client_s_dn","correlation":"$mtlskit_${varName(m)}_cid"}';`,
  );
  out.push(`    access_log ${at(m, "logs/access.log")} mtlskit_json buffer=64k flush=1s;`);
  out.push("");
  out.push(`    include ${at(m, `conf.d/thales-${m.profile}.conf`)};`);
  if (m.statusPort !== undefined) {
    out.push("");
    out.push(`    # Counters for mtlskit's /metrics (stub_status), loopback only.`);
    out.push(`    server {`);
    out.push(`        listen 127.0.0.1:${m.statusPort};`);
    out.push(`        access_log off;`);
    out.push(`        location = /stub_status { stub_status; }`);
    out.push(`    }`);
  }
  out.push(`}`);
  out.push("");
  return out.join("\n");
}
