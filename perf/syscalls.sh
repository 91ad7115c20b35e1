#!/usr/bin/env bash
# Where the work per byte and per message goes: system calls of both hbone processes
# (client and gateway), counted with perf's syscall tracepoints while traffic flows, with
# the bytes each read/write moved, plus HTTP/2 frames and TLS records from hbone itself.
#   perf/syscalls.sh [-m bulk|pingpong] [-t SECONDS] [-n MESSAGES] [-b BIN] [-o DIR]
# bulk: iperf3 -P1 for SECONDS; figures per GB through the tunnel.
# pingpong: MESSAGES round trips of 64 bytes, one at a time; figures per round trip.
# -b BIN measures another hbone binary the same way after this one (before/after).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=bulk seconds=5 messages=20000 out="" base_bin=""
while getopts "m:t:n:b:o:" opt; do
  case $opt in
    m) mode=$OPTARG ;;
    t) seconds=$OPTARG ;;
    n) messages=$OPTARG ;;
    b) base_bin=$(realpath "$OPTARG") ;;
    o) out=$OPTARG ;;
    *) echo "usage: $0 [-m bulk|pingpong] [-t SECONDS] [-n MESSAGES] [-b BIN] [-o DIR]" >&2; exit 2 ;;
  esac
done
case $mode in bulk|pingpong) ;; *) echo "mode must be bulk or pingpong" >&2; exit 2 ;; esac
out=${out:-perf/results/syscalls-$mode-$(date +%Y%m%d-%H%M%S)}
source perf/lib.sh
prepare "$out"
command -v perf > /dev/null || apt-get install -y -qq linux-perf > /dev/null

events=syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_ctl
for call in read write sendto recvfrom readv writev sendmsg recvmsg; do
  events+=,syscalls:sys_exit_$call
done

echo_port=$(free_port)
if [ "$mode" = bulk ]; then
  start_iperf_server "$echo_port"
else
  python3 perf/echo_server.py "$echo_port" &
  pids+=($!)
  sleep 0.3
fi

load() {  # DIR NAME: one run of the traffic; DIR/units: bytes or round trips
  if [ "$mode" = bulk ]; then
    iperf3 -c 127.0.0.1 -p "$client_port" -t "$seconds" -J > "$1/iperf-$2.json"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"])' \
      "$1/iperf-$2.json" > "$1/units-$2"
  else
    python3 perf/pingpong.py "$client_port" "$messages" > "$1/pingpong-$2.txt"
    echo "$messages" > "$1/units-$2"
  fi
}

measure() {  # LABEL BIN
  local label=$1 dir="$out/$1"
  mkdir -p "$dir"
  start_mesh "$2" "$dir" "$echo_port"
  sleep 0.3
  # Twice: CPU time without tracing (perf's tracepoints cost more than the calls), then
  # the calls with it.
  local cpu_client cpu_gateway
  cpu_client=$(cpu_seconds "$client_pid") cpu_gateway=$(cpu_seconds "$gateway_pid")
  load "$dir" untraced
  python3 -c 'import sys; a = [float(x) for x in sys.argv[1:]]; print(a[2] - a[0], a[3] - a[1])' \
    "$cpu_client" "$cpu_gateway" "$(cpu_seconds "$client_pid")" "$(cpu_seconds "$gateway_pid")" > "$dir/cpu"
  curl -s "http://127.0.0.1:$admin_cl/metrics" > "$dir/client-before.prom"
  curl -s "http://127.0.0.1:$admin_gw/metrics" > "$dir/gateway-before.prom"
  curl -s "http://127.0.0.1:$admin_cl/debug/tunnels" > "$dir/client-before.json"
  curl -s "http://127.0.0.1:$admin_gw/debug/tunnels" > "$dir/gateway-before.json"
  perf record -q -e "$events" -p "$client_pid,$gateway_pid" -o "$dir/perf.data" > /dev/null 2>&1 &
  local recorder=$!
  sleep 1
  load "$dir" traced
  kill -INT "$recorder"
  wait "$recorder" || true
  curl -s "http://127.0.0.1:$admin_cl/metrics" > "$dir/client-after.prom"
  curl -s "http://127.0.0.1:$admin_gw/metrics" > "$dir/gateway-after.prom"
  curl -s "http://127.0.0.1:$admin_cl/debug/tunnels" > "$dir/client-after.json"
  curl -s "http://127.0.0.1:$admin_gw/debug/tunnels" > "$dir/gateway-after.json"
  kill "$client_pid" "$gateway_pid"
  wait "$client_pid" "$gateway_pid" 2> /dev/null || true
  perf script -i "$dir/perf.data" -F pid,event,trace > "$dir/trace.txt" 2> /dev/null
  python3 perf/syscalls_report.py "$mode" "$dir" "$client_pid" "$gateway_pid" "$label" | tee "$dir/report.txt"
}

measure hbone "$bin"
[ -n "$base_bin" ] && measure base "$base_bin"
echo "results: $out"
