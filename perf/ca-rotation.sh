#!/usr/bin/env bash
# Certificates by CSR at the issue's own figures (#35): the fake istiod's CA grants 2-minute
# certificates and a 48 MiB transfer through a CA-certified gateway and client is paced
# over 5 minutes; it must stay whole while each process renews at least twice
# (tests/e2e/test_ca.py's rotation test, which CI runs scaled down to 4 s and 12 s).
#   perf/ca-rotation.sh [-t TTL_SECONDS] [-s TRANSFER_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source perf/lib.sh
ttl=120 seconds=300
while getopts "t:s:" opt; do
  case $opt in
    t) ttl=$OPTARG ;;
    s) seconds=$OPTARG ;;
    *) sed -n 2,6p "$0"; exit 2 ;;
  esac
done
prepare perf/results
bin=$(realpath "$bin")
cd tests/e2e
CA_CERT_TTL=$ttl CA_TRANSFER_SECONDS=$seconds HBONE_BIN=$bin \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider test_ca.py -k rotations
