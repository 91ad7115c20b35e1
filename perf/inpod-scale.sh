#!/usr/bin/env bash
# The node proxy at scale (#36): one hbone in in-pod mode serving N pods (default 200) on
# one node; the time to add them, each idle pod's RSS and descriptors, and CPU per request
# through it against the single-identity sidecar pair (perf/inpod_scale.py says how).
#   perf/inpod-scale.sh [-n PODS] [-a ACCOUNTS] [-R RATE] [-t SECONDS] [-r ROUNDS] [-o DIR]   (root)
set -euo pipefail
cd "$(dirname "$0")/.."
source perf/lib.sh
pods=200 accounts=20 rate=1000 seconds=10 rounds=3 out=perf/results/inpod-scale-$(date +%Y%m%d-%H%M%S)
while getopts "n:a:R:t:r:o:" opt; do
  case $opt in
    n) pods=$OPTARG ;;
    a) accounts=$OPTARG ;;
    R) rate=$OPTARG ;;
    t) seconds=$OPTARG ;;
    r) rounds=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n 2,6p "$0"; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "inpod-scale.sh: needs root (network namespaces)" >&2; exit 1; }
prepare "$out"
/usr/bin/python3 perf/inpod_scale.py "$bin" "$out" --pods "$pods" --accounts "$accounts" --rate "$rate" \
  --seconds "$seconds" --rounds "$rounds"
