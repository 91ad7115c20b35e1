#!/usr/bin/env bash
# What pinning buys: iperf3 -P1 through the mTLS pair unpinned and with cpu_affinity (the
# client's worker on the first CPU this script may use, the gateway's on the last),
# alternating for ROUNDS rounds. CPU is taken over the middle of each run (after a 1.5 s
# warm-up, for 4 s), per process, as CPU-seconds per GB and Gbit/s per proxy core.
#   perf/affinity.sh [-t SECONDS] [-r ROUNDS] [-b BIN] [-o DIR]     (SECONDS >= 7)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=8 rounds=3 out="" other_bin=""
while getopts "t:r:b:o:" opt; do
  case $opt in
    t) seconds=$OPTARG ;;
    r) rounds=$OPTARG ;;
    b) other_bin=$(realpath "$OPTARG") ;;
    o) out=$OPTARG ;;
    *) echo "usage: $0 [-t SECONDS] [-r ROUNDS] [-b BIN] [-o DIR]" >&2; exit 2 ;;
  esac
done
((seconds >= 7)) || { echo "-t must be at least 7 (1.5 s warm-up, 4 s measured)" >&2; exit 2; }
out=${out:-perf/results/affinity-$(date +%Y%m%d-%H%M%S)}
source perf/lib.sh
prepare "$out"
[ -n "$other_bin" ] && bin=$other_bin
read -r first_cpu last_cpu < <(python3 -c 'import os; c = sorted(os.sched_getaffinity(0)); print(c[0], c[-1])')
iperf_port=$(free_port)
start_iperf_server "$iperf_port"

echo "setting,round,gbps,client_cpu_per_gb,gateway_cpu_per_gb,gbps_per_core" > "$out/affinity.csv"
for ((round = 1; round <= rounds; round++)); do
  for setting in unpinned pinned; do
    dir="$out/$setting-$round"
    mkdir -p "$dir"
    mesh_client_yaml="" mesh_gateway_yaml=""
    if [ "$setting" = pinned ]; then
      mesh_client_yaml="cpu_affinity: [$first_cpu]" mesh_gateway_yaml="cpu_affinity: [$last_cpu]"
    fi
    start_mesh "$bin" "$dir" "$iperf_port"
    iperf3 -c 127.0.0.1 -p "$client_port" -t "$seconds" -i 0.5 -J > "$dir/iperf.json" &
    iperf=$!
    sleep 1.5
    t0=$(date +%s.%N) c0=$(cpu_seconds "$client_pid") g0=$(cpu_seconds "$gateway_pid")
    sleep 4
    t1=$(date +%s.%N) c1=$(cpu_seconds "$client_pid") g1=$(cpu_seconds "$gateway_pid")
    wait "$iperf"
    kill "$client_pid" "$gateway_pid"
    wait "$client_pid" "$gateway_pid" 2> /dev/null || true
    # Throughput over the same window, from iperf3's 0.5 s intervals.
    python3 - "$dir/iperf.json" "$setting" "$round" "$c0" "$c1" "$g0" "$g1" "$t0" "$t1" >> "$out/affinity.csv" <<'PY'
import json, sys
doc, setting, rnd = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
c0, c1, g0, g1, t0, t1 = map(float, sys.argv[4:10])
window = [i["sum"] for i in doc["intervals"] if 1.5 <= i["sum"]["start"] and i["sum"]["end"] <= 5.5]
gb = sum(s["bytes"] for s in window) / 1e9
span = sum(s["seconds"] for s in window)
gbps = gb * 8 / span
client, gateway = (c1 - c0) / (t1 - t0), (g1 - g0) / (t1 - t0)  # cores
print(f"{setting},{rnd},{gbps:.2f},{client * span / gb:.3f},{gateway * span / gb:.3f},{gbps / (client + gateway):.2f}")
PY
    tail -n 1 "$out/affinity.csv"
  done
done
python3 - "$out/affinity.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("setting   Gbit/s  client CPU-s/GB  gateway CPU-s/GB  Gbit/s per proxy core  (means)")
for setting in ("unpinned", "pinned"):
    r = [x for x in rows if x["setting"] == setting]
    m = lambda k: statistics.mean(float(x[k]) for x in r)
    print(f"{setting:9} {m('gbps'):6.2f}  {m('client_cpu_per_gb'):15.3f}  {m('gateway_cpu_per_gb'):16.3f}  {m('gbps_per_core'):21.2f}")
PY
echo "results: $out/affinity.csv"
