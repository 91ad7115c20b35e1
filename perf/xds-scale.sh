#!/usr/bin/env bash
# The control plane at cluster scale (#35): one push of 10,000 workloads and 1,000 services
# from the fake istiod (tests/support/fake_istiod.py) to one hbone, then small pushes into
# that state: seconds from sent to ACKed, hbone's CPU for each, its RSS growth.
#   perf/xds-scale.sh [-w WORKLOADS] [-s SERVICES] [-u UPDATES] [-o DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
source perf/lib.sh
workloads=10000 services=1000 updates=20 out=perf/results/xds-scale-$(date +%Y%m%d-%H%M%S)
while getopts "w:s:u:o:" opt; do
  case $opt in
    w) workloads=$OPTARG ;;
    s) services=$OPTARG ;;
    u) updates=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n 2,6p "$0"; exit 2 ;;
  esac
done
prepare "$out"
/usr/bin/python3 perf/xds_scale.py "$bin" "$out" --workloads "$workloads" --services "$services" --updates "$updates"
