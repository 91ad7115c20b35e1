#!/usr/bin/env bash
# Fails unless `binary` loads exactly the TLS library it was built for (ldd), so that no
# dependency drags a second TLS implementation into the process.
set -euo pipefail
binary=$1 tls=$2
libs=$(ldd "$binary")
boring=$(grep -c 'android/libssl\.so' <<<"$libs" || true)
openssl=$(grep -c 'libssl\.so\.3' <<<"$libs" || true)
others=$(grep -c -E 'libgnutls|libmbedtls|libwolfssl|libnss3' <<<"$libs" || true)
echo "$binary: boringssl=$boring openssl=$openssl other TLS libraries=$others (want $tls alone)"
[ "$others" = 0 ] || exit 1
case "$tls" in
  boringssl) [ "$boring" = 1 ] && [ "$openssl" = 0 ] ;;
  openssl) [ "$openssl" = 1 ] && [ "$boring" = 0 ] ;;
  *) echo "unknown TLS backend $tls"; exit 2 ;;
esac
