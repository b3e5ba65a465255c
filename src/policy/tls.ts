/**
 * The cipher suites of every mtlskit TLS endpoint, both directions: forward secret (ECDHE) and
 * AEAD (GCM, ChaCha20-Poly1305) only, in Mozilla's "intermediate" order without the DHE suites
 * (no CBC, no static RSA key exchange, no DHE with server-chosen groups). TLS 1.3 suites are
 * all forward secret and AEAD.
 */
export const AEAD_FORWARD_SECRET_CIPHERS = [
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");
