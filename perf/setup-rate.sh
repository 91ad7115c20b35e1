#!/usr/bin/env bash
# Tunnel setup rate on a warm pooled connection and idle memory per tunnel: opens N tunnels
# (default 10000) through an hbone client to an echo target, holds them, and reports the
# rate and the RSS growth of client and gateway per tunnel (perf/setup_rate.py).
#   perf/setup-rate.sh [-n TUNNELS] [-c CONCURRENCY] [-o DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
total=10000 concurrency=200 out=""
while getopts "n:c:o:" opt; do
  case $opt in
    n) total=$OPTARG ;;
    c) concurrency=$OPTARG ;;
    o) out=$OPTARG ;;
    *) echo "usage: $0 [-n TUNNELS] [-c CONCURRENCY] [-o DIR]" >&2; exit 2 ;;
  esac
done
out=${out:-perf/results/setup-$(date +%Y%m%d-%H%M%S)}
source perf/lib.sh
prepare "$out"
ulimit -n "$(ulimit -Hn)"  # one fd per tunnel in each of the four processes
echo_port=$(free_port)
python3 perf/setup_rate.py echo "$echo_port" > "$out/echo.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q ready "$out/echo.log" && break; sleep 0.05; done
start_mesh "$bin" "$out" "$echo_port" "$(printf 'http2: {max_concurrent_streams: 1000, streams_per_connection: 1000}')"
python3 perf/setup_rate.py "$client_port" "$client_pid" "$gateway_pid" "$total" "$concurrency" \
  | tee "$out/setup-rate.txt"
