#!/usr/bin/env bash
# Tunnel setup rate on a warm pooled connection, and idle memory per tunnel.
#  1. Rate: hbone-loadgen (native, libuv) opens N short tunnels (1 byte echoed, then FIN),
#     C at a time, directly to the echo target and through hbone, in alternating rounds:
#     setups/s, p50/p99 setup latency (connect to first echoed byte), ratio to direct.
#  2. Memory: perf/setup_rate.py opens and holds M tunnels (default 10000) and reports the
#     RSS growth of client and gateway per tunnel.
#   perf/setup-rate.sh [-n N] [-c C] [-m M] [-r ROUNDS] [-o DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
total=30000 concurrency=128 held=10000 rounds=2 out=""
while getopts "n:c:m:r:o:" opt; do
  case $opt in
    n) total=$OPTARG ;;
    c) concurrency=$OPTARG ;;
    m) held=$OPTARG ;;
    r) rounds=$OPTARG ;;
    o) out=$OPTARG ;;
    *) echo "usage: $0 [-n N] [-c C] [-m M] [-r ROUNDS] [-o DIR]" >&2; exit 2 ;;
  esac
done
out=${out:-perf/results/setup-$(date +%Y%m%d-%H%M%S)}
source perf/lib.sh
prepare "$out"
loadgen=$(dirname "$bin")/hbone-loadgen
ulimit -n "$(ulimit -Hn)"  # one fd per tunnel in each of the four processes
echo_port=$(free_port)
"$loadgen" echo "$echo_port" > "$out/echo.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q ready "$out/echo.log" && break; sleep 0.05; done
start_mesh "$bin" "$out" "$echo_port" "$(printf 'http2: {max_concurrent_streams: 1000, streams_per_connection: 1000}')"
# One access-log line per tunnel is the norm, but not what this measures.
for admin in "$admin_gw" "$admin_cl"; do curl -sf -XPOST "127.0.0.1:$admin/logging?level=warn" > /dev/null; done

echo "rate: $total tunnels per run, concurrency $concurrency, 1 byte echoed each" | tee "$out/setup-rate.txt"
for round in $(seq "$rounds"); do
  for path in direct hbone; do
    port=$echo_port
    [ "$path" = hbone ] && port=$client_port
    line=$("$loadgen" run "$port" "$total" "$concurrency" 1)
    echo "$path $line" | tee -a "$out/setup-rate.txt"
  done
done
python3 - "$out/setup-rate.txt" <<'PY' | tee -a "$out/setup-rate.txt"
import json, sys
best = {}
for line in open(sys.argv[1]):
    if line.startswith(("direct {", "hbone {")):
        path, data = line.split(" ", 1)
        r = json.loads(data)
        assert r["failed"] == 0 and r["corrupted"] == 0, line
        best.setdefault(path, []).append(r)
for path, runs in best.items():
    rate = sum(r["setups_per_second"] for r in runs) / len(runs)
    p50 = sum(r["setup_p50_us"] for r in runs) / len(runs)
    p99 = sum(r["setup_p99_us"] for r in runs) / len(runs)
    print(f"{path:7s} {rate:8.0f} setups/s  p50 {p50 / 1000:.2f} ms  p99 {p99 / 1000:.2f} ms")
d = sum(r["setups_per_second"] for r in best["direct"]) / len(best["direct"])
h = sum(r["setups_per_second"] for r in best["hbone"]) / len(best["hbone"])
print(f"hbone / direct: {h / d:.2f}")
PY
echo "memory: $held tunnels held" | tee -a "$out/setup-rate.txt"
python3 perf/setup_rate.py "$client_port" "$client_pid" "$gateway_pid" "$held" 200 \
  | tee -a "$out/setup-rate.txt"
