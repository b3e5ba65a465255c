#!/usr/bin/env bash
# The main job, until `mtlskit demo` (and the emulator) land: a D1 PreProd client identity
# from nothing to a CSR ready for Thales, checked by mtlskit and by openssl, plus the MT
# self-signed certificate of a sandbox profile. Everything happens in a temporary folder
# (or the folder given as $1, kept for inspection).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/cli/main.js ] || node scripts/build.mjs
work=${1:-$(mktemp -d)}
mkdir -p "$work"
[ -n "${1:-}" ] || trap 'rm -rf "$work"' EXIT
mtlskit() { node bin/mtlskit.js "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. D1 PreProd: an ECDSA P-256 private key (PKCS#8, mode 0600)"
mtlskit key create --type ecdsa-p256 --out "$work/d1-preprod.key"

step "2. D1 PreProd: the CSR, with the Common Name derived from the D1 rules"
mtlskit csr create --program d1 --env preprod --gateway-id 123456 \
  --subject "/C=FR/ST=Ile-de-France/L=Paris/O=Example Payments SA/OU=Integration" \
  --key "$work/d1-preprod.key" --out "$work/d1-preprod.csr"

step "3. D1 PreProd: lint the CSR against the D1 rules, with the key"
mtlskit lint "$work/d1-preprod.csr" --program d1 --env preprod --gateway-id 123456 --key "$work/d1-preprod.key"

step "4. D1 PreProd: what Thales will see"
mtlskit inspect "$work/d1-preprod.csr"

if command -v openssl >/dev/null; then
  step "5. openssl agrees: the CSR's signature verifies"
  openssl req -verify -noout -in "$work/d1-preprod.csr"
fi

step "6. MT sandbox: a self-signed client certificate for Thales to endorse"
mtlskit cert self-signed --program mt --env sandbox --cn "MT-SANDBOX-123456" \
  --subject "/C=FR/O=Example Payments SA" --type ecdsa-p256 --days 730 \
  --key-out "$work/mt-sandbox.key" --out "$work/mt-sandbox.crt"
mtlskit lint "$work/mt-sandbox.crt" --program mt --env sandbox --cn "MT-SANDBOX-123456" --key "$work/mt-sandbox.key"
mtlskit cert needs-renewal "$work/mt-sandbox.crt" --within 30d

printf '\n\033[1mdone:\033[0m the files are in %s%s\n' "$work" "$([ -n "${1:-}" ] && echo "" || echo " (removed on exit; pass a folder to keep them: npm run demo -- DIR)")"
