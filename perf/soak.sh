#!/usr/bin/env bash
# Soak for minutes: rounds of 10,000 concurrent tunnels through a client and gateway, every
# byte checked by hbone-loadgen, then fds, RSS and heap in use compared with the first
# round's (tests/e2e/test_soak.py, which CI runs for 20 s).
#   perf/soak.sh [-d SECONDS] [-n TUNNELS] [-v boringssl|asan]   (defaults: 300 10000 boringssl)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=300 tunnels=10000 variant=boringssl
while getopts "d:n:v:" opt; do
  case $opt in
    d) seconds=$OPTARG ;;
    n) tunnels=$OPTARG ;;
    v) variant=$OPTARG ;;
    *) echo "usage: $0 [-d SECONDS] [-n TUNNELS] [-v boringssl|asan]" >&2; exit 2 ;;
  esac
done
scripts/deps.sh
certs/gen.sh > /dev/null
dir=$(scripts/build.sh "$variant" | tail -n 1)
ulimit -n "$(ulimit -Hn)"
cd tests/e2e
HBONE_BIN="$PWD/../../$dir/hbone" SOAK_SECONDS=$seconds SOAK_TUNNELS=$tunnels \
  /usr/bin/python3 -m pytest -q -s -p no:cacheprovider test_soak.py
