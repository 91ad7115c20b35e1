#!/usr/bin/env bash
# Small-message latency: sockperf ping-pong (TCP, one connection) direct, through a socat
# relay and through hbone (client -> gateway, mTLS HTTP/2), in alternating order over
# rounds. Prints p50/p99 (sockperf reports half the round trip, in microseconds) and the
# latency each proxy adds over direct, and writes latency.csv to DIR.
#   perf/latency.sh [-t SECONDS] [-r ROUNDS] [-o DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=5 rounds=2 out=""
while getopts "t:r:o:" opt; do
  case $opt in
    t) seconds=$OPTARG ;;
    r) rounds=$OPTARG ;;
    o) out=$OPTARG ;;
    *) echo "usage: $0 [-t SECONDS] [-r ROUNDS] [-o DIR]" >&2; exit 2 ;;
  esac
done
out=${out:-perf/results/latency-$(date +%Y%m%d-%H%M%S)}
source perf/lib.sh
prepare "$out"

server_port=$(free_port) socat_port=$(free_port)
sockperf sr --tcp -i 127.0.0.1 -p "$server_port" > "$out/sockperf-server.log" 2>&1 &
pids+=($!)
socat -b 262144 "TCP-LISTEN:$socat_port,fork,reuseaddr,bind=127.0.0.1" "TCP:127.0.0.1:$server_port" &
pids+=($!)
start_mesh "$bin" "$out" "$server_port"
sleep 0.3
declare -A port=([direct]=$server_port [socat]=$socat_port [hbone]=$client_port)

echo "path,round,p50_us,p99_us" > "$out/runs.csv"
for ((round = 1; round <= rounds; round++)); do
  order=(direct socat hbone)
  ((round % 2 == 0)) && order=(hbone socat direct)
  for path in "${order[@]}"; do
    log="$out/$path-$round.log"
    sockperf pp --tcp -i 127.0.0.1 -p "${port[$path]}" -t "$seconds" > "$log" 2>&1
    p50=$(awk '/percentile 50.000/ {print $NF}' "$log")
    p99=$(awk '/percentile 99.000/ {print $NF}' "$log")
    echo "$path,$round,$p50,$p99" >> "$out/runs.csv"
    printf '  round %d %-6s p50 %8s us  p99 %8s us\n' "$round" "$path" "$p50" "$p99"
  done
done
python3 - "$out/runs.csv" "$out/latency.csv" <<'PY'
import csv, statistics, sys
runs = list(csv.DictReader(open(sys.argv[1])))
mean = {}
for path in ("direct", "socat", "hbone"):
    rs = [r for r in runs if r["path"] == path]
    mean[path] = {k: statistics.mean(float(r[k]) for r in rs) for k in ("p50_us", "p99_us")}
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["path", "p50_us", "p99_us", "added_p50_us", "added_p99_us"])
    print(f"{'path':<8} {'p50 us':>8} {'p99 us':>8} {'+p50 us':>8} {'+p99 us':>8}")
    for path, m in mean.items():
        add50 = m["p50_us"] - mean["direct"]["p50_us"]
        add99 = m["p99_us"] - mean["direct"]["p99_us"]
        w.writerow([path, f"{m['p50_us']:.2f}", f"{m['p99_us']:.2f}", f"{add50:.2f}", f"{add99:.2f}"])
        print(f"{path:<8} {m['p50_us']:>8.2f} {m['p99_us']:>8.2f} {add50:>8.2f} {add99:>8.2f}")
added = {p: mean[p]["p50_us"] - mean["direct"]["p50_us"] for p in ("socat", "hbone")}
if added["socat"] > 0:
    print(f"p50 latency added by hbone = {added['hbone'] / added['socat']:.2f} x that added by socat")
PY
echo "results: $out/latency.csv"
