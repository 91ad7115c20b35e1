#!/usr/bin/env bash
# Small-message latency: sockperf ping-pong (TCP, one connection, 64-byte messages) direct,
# through a socat relay, through hbone (client -> gateway, mTLS HTTP/2) and through the same
# pair over h2c (tls.plaintext_h2c: TLS's share), in alternating order over rounds.
# -b BIN adds path `base`: the mTLS pair run by another hbone binary, for before/after.
# Prints p50/p99 (sockperf reports half the round trip, in microseconds), the latency each
# proxy adds over direct, and the line the target is judged by: hbone's added p50 and p99
# over socat's (target <= 2). The control for that target is path `socat2`, two socat relays
# in a chain: a proxy pair's four process wake-ups per round trip against one relay's two
# (the figure a pair that only moves bytes adds here). Writes runs.csv and latency.csv to DIR.
#   perf/latency.sh [-t SECONDS] [-r ROUNDS] [-b BIN] [-o DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=5 rounds=3 out="" base_bin=""
while getopts "t:r:b:o:" opt; do
  case $opt in
    t) seconds=$OPTARG ;;
    r) rounds=$OPTARG ;;
    b) base_bin=$(realpath "$OPTARG") ;;
    o) out=$OPTARG ;;
    *) echo "usage: $0 [-t SECONDS] [-r ROUNDS] [-b BIN] [-o DIR]" >&2; exit 2 ;;
  esac
done
out=${out:-perf/results/latency-$(date +%Y%m%d-%H%M%S)}
source perf/lib.sh
prepare "$out"

server_port=$(free_port) socat_port=$(free_port) socat2_port=$(free_port) socat2_mid=$(free_port)
sockperf sr --tcp -i 127.0.0.1 -p "$server_port" > "$out/sockperf-server.log" 2>&1 &
pids+=($!)
socat -b 262144 "TCP-LISTEN:$socat_port,fork,reuseaddr,bind=127.0.0.1" "TCP:127.0.0.1:$server_port" &
pids+=($!)
socat -b 262144 "TCP-LISTEN:$socat2_mid,fork,reuseaddr,bind=127.0.0.1" "TCP:127.0.0.1:$server_port" &
pids+=($!)
socat -b 262144 "TCP-LISTEN:$socat2_port,fork,reuseaddr,bind=127.0.0.1" "TCP:127.0.0.1:$socat2_mid" &
pids+=($!)
declare -A port=([direct]=$server_port [socat]=$socat_port [socat2]=$socat2_port)
paths=(direct socat socat2 hbone h2c)
mkdir -p "$out/hbone" "$out/h2c"
start_mesh "$bin" "$out/hbone" "$server_port"
port[hbone]=$client_port
start_mesh "$bin" "$out/h2c" "$server_port" "" ", plaintext_h2c: true"
port[h2c]=$client_port
if [ -n "$base_bin" ]; then
  mkdir -p "$out/base"
  start_mesh "$base_bin" "$out/base" "$server_port"
  port[base]=$client_port
  paths+=(base)
fi
sleep 0.3

echo "path,round,p50_us,p99_us" > "$out/runs.csv"
for ((round = 1; round <= rounds; round++)); do
  order=("${paths[@]}")
  if ((round % 2 == 0)); then
    order=()
    for ((i = ${#paths[@]} - 1; i >= 0; i--)); do order+=("${paths[i]}"); done
  fi
  for path in "${order[@]}"; do
    log="$out/$path-$round.log"
    sockperf pp --tcp -i 127.0.0.1 -p "${port[$path]}" -t "$seconds" > "$log" 2>&1
    p50=$(awk '/percentile 50.000/ {print $NF}' "$log")
    p99=$(awk '/percentile 99.000/ {print $NF}' "$log")
    echo "$path,$round,$p50,$p99" >> "$out/runs.csv"
    printf '  round %d %-6s p50 %8s us  p99 %8s us\n' "$round" "$path" "$p50" "$p99"
  done
done
python3 - "$out/runs.csv" "$out/latency.csv" "${paths[@]}" <<'PY'
import csv, statistics, sys
runs = list(csv.DictReader(open(sys.argv[1])))
paths = sys.argv[3:]
mean = {}
for path in paths:
    rs = [r for r in runs if r["path"] == path]
    mean[path] = {k: statistics.mean(float(r[k]) for r in rs) for k in ("p50_us", "p99_us")}
added = {p: {k: mean[p][k] - mean["direct"][k] for k in ("p50_us", "p99_us")} for p in paths}
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["path", "p50_us", "p99_us", "added_p50_us", "added_p99_us"])
    print(f"{'path':<8} {'p50 us':>8} {'p99 us':>8} {'+p50 us':>8} {'+p99 us':>8}")
    for path in paths:
        m, a = mean[path], added[path]
        w.writerow([path, f"{m['p50_us']:.2f}", f"{m['p99_us']:.2f}", f"{a['p50_us']:.2f}", f"{a['p99_us']:.2f}"])
        print(f"{path:<8} {m['p50_us']:>8.2f} {m['p99_us']:>8.2f} {a['p50_us']:>8.2f} {a['p99_us']:>8.2f}")
def ratio(path, key):
    socat = added["socat"][key]
    return added[path][key] / socat if socat > 0 else float("inf")
for path in [p for p in paths if p not in ("direct", "socat")]:
    r50, r99 = ratio(path, "p50_us"), ratio(path, "p99_us")
    target = ""
    if path == "hbone":
        target = f"  (target <= 2.00x: {'met' if max(r50, r99) <= 2 else 'missed'})"
    print(f"added by {path} / added by socat: p50 {r50:.2f}x  p99 {r99:.2f}x{target}")
# The pair against a pair that only moves bytes: what hbone's own work adds per relay.
pair = added["socat2"]
for path in [p for p in paths if p in ("hbone", "h2c", "base")]:
    r = {k: added[path][k] / pair[k] if pair[k] > 0 else float("inf") for k in ("p50_us", "p99_us")}
    print(f"added by {path} / added by the socat pair: p50 {r['p50_us']:.2f}x  p99 {r['p99_us']:.2f}x")
PY
echo "results: $out/latency.csv"
