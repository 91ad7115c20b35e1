#!/usr/bin/env bash
# Dev PKI for hbone (never for production): EC P-256 keys, SPIFFE URI SANs.
#   certs/dev/ca.pem                      trust bundle (the mesh CA)
#   certs/dev/{gateway,client,other}.pem  spiffe://cluster.local/ns/default/sa/<name>, signed by ca
#   certs/dev/other-ca.pem, rogue.pem     a second CA and a client it signed (must be rejected)
#   certs/dev/foreign.pem                 spiffe://other.domain/ns/default/sa/client, signed by ca
#   certs/dev/istiod.pem                  DNS:istiod.istio-system.svc (a control plane's serving
#                                         certificate, no SPIFFE id), signed by ca
# Each *.pem has its key in *-key.pem. Re-running keeps existing files (and makes those a
# newer version of this script adds) unless --force.
set -euo pipefail
cd "$(dirname "$0")"
out=dev
[ "${1:-}" = "--force" ] && rm -rf "$out"
if [ -f "$out/ca.pem" ] && [ -f "$out/foreign.pem" ] && [ -f "$out/istiod.pem" ]; then
  echo "certs/$out exists (use --force to regenerate)"
  exit 0
fi
mkdir -p "$out"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ca() {  # name subject
  [ -f "$out/$1.pem" ] && return
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$out/$1-key.pem" -out "$out/$1.pem" -days 3650 -subj "/O=hbone dev/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
}

leaf() {  # name ca subject-alt-names
  local name=$1 issuer=$2 sans=$3
  [ -f "$out/$name.pem" ] && return
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$out/$name-key.pem" -out "$tmp/$name.csr" -subj "/O=hbone dev/CN=$name" 2>/dev/null
  cat > "$tmp/$name.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$sans
EXT
  openssl x509 -req -in "$tmp/$name.csr" -CA "$out/$issuer.pem" -CAkey "$out/$issuer-key.pem" \
    -CAcreateserial -CAserial "$tmp/$issuer.srl" -days 825 -sha256 \
    -extfile "$tmp/$name.ext" -out "$out/$name.pem" 2>/dev/null
}

ca ca "hbone dev mesh CA"
ca other-ca "hbone dev untrusted CA"
for sa in gateway client other; do
  leaf "$sa" ca "URI:spiffe://cluster.local/ns/default/sa/$sa,DNS:localhost,IP:127.0.0.1"
done
leaf rogue other-ca "URI:spiffe://cluster.local/ns/default/sa/client,DNS:localhost,IP:127.0.0.1"
leaf foreign ca "URI:spiffe://other.domain/ns/default/sa/client,DNS:localhost,IP:127.0.0.1"
leaf istiod ca "DNS:istiod.istio-system.svc,DNS:istiod.istio-system.svc.cluster.local"
chmod 644 "$out"/*.pem
chmod 600 "$out"/*-key.pem
echo "wrote $(ls "$out" | wc -l) files to certs/$out"
