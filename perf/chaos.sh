#!/usr/bin/env bash
# Chaos soak: checksummed streams through a client and gateway while random faults hit them
# (targets resetting, slow readers, gateway kill -9 and restart, SIGHUP, the path blackholed
# or reset, connection floods); prints tunnels started, finished, reset by a fault, hung and
# corrupted (both must be 0), and each side's fds/RSS at the end vs the start
# (tests/e2e/test_chaos.py, which CI runs for 20 s).
#   perf/chaos.sh [-t SECONDS] [-n STREAMS] [-v boringssl|asan]   (defaults: 600 12 boringssl)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=600 streams=12 variant=boringssl
while getopts "t:n:v:" opt; do
  case $opt in
    t) seconds=$OPTARG ;;
    n) streams=$OPTARG ;;
    v) variant=$OPTARG ;;
    *) echo "usage: $0 [-t SECONDS] [-n STREAMS] [-v boringssl|asan]" >&2; exit 2 ;;
  esac
done
scripts/deps.sh
certs/gen.sh > /dev/null
dir=$(scripts/build.sh "$variant" | tail -n 1)
cd tests/e2e
HBONE_BIN="$PWD/../../$dir/hbone" CHAOS_SECONDS=$seconds CHAOS_STREAMS=$streams \
  /usr/bin/python3 -m pytest -q -s -p no:cacheprovider test_chaos.py
