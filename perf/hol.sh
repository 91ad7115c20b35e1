#!/usr/bin/env bash
# Head-of-line blocking between tunnels on one pooled HTTP/2 connection: sockperf
# ping-pong (64 B) through tunnel B, idle and while iperf3 saturates tunnel A on the same
# connection (two listeners on one client, one gateway), for each http2.max_frame_size x
# socket.notsent_lowat x http2.stream_window, and direct TCP measured the same way in the
# same run. The control: the same ping through a second client process, on an HBONE
# connection of its own, beside the same bulk tunnel: what sharing the CPUs costs without
# sharing a connection (`shared / own` near 1: the connection adds no head-of-line delay).
# Prints and writes hol.csv (latencies in us, bulk throughput, the client's send-queue p99
# from hbone_h2_send_queue_seconds) and hol.png.
# -s sweeps http2.shared_stream_window on the gateway (0: off): while the ping and the bulk
# tunnel both send, each stream's window is capped there.
# -r RATES: the bulk transfer at each rate (iperf3 -b; 0: as fast as it goes, the default),
#   e.g. -r 0,2G: at line rate, where the proxies' CPUs are the limit, and at a rate they
#   carry with room to spare, in one run.
# -k KEYS: more http2 keys for both daemons, e.g. 'keepalive_interval: 1s'.
#   perf/hol.sh [-t SECONDS] [-f 16KiB,1MiB] [-l 0,64KiB,256KiB] [-w 4MiB,256KiB] [-s 0,256KiB] [-r 0,2G] [-k KEYS] [-b BIN] [-o DIR]
# -b BIN: measure that hbone binary instead of a fresh build.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=5 frames=16KiB,1MiB lowats=0,16KiB,64KiB,256KiB windows=4MiB shares=0 out="" other_bin="" rates=0 keys=""
while getopts "t:f:l:w:s:r:k:b:o:" opt; do
  case $opt in
    t) seconds=$OPTARG ;;
    f) frames=$OPTARG ;;
    l) lowats=$OPTARG ;;
    w) windows=$OPTARG ;;
    s) shares=$OPTARG ;;
    r) rates=$OPTARG ;;
    k) keys=", $OPTARG" ;;
    b) other_bin=$(realpath "$OPTARG") ;;
    o) out=$OPTARG ;;
    *) echo "usage: $0 [-t SECONDS] [-f FRAMES] [-l LOWATS] [-w WINDOWS] [-s SHARED] [-r RATES] [-k KEYS] [-b BIN] [-o DIR]" >&2; exit 2 ;;
  esac
done
out=${out:-perf/results/hol-$(date +%Y%m%d-%H%M%S)}
source perf/lib.sh
prepare "$out"
[ -n "$other_bin" ] && bin=$other_bin

iperf_port=$(free_port) sockperf_port=$(free_port)
start_iperf_server "$iperf_port"
sockperf sr --tcp -i 127.0.0.1 -p "$sockperf_port" > "$out/sockperf-server.log" 2>&1 &
pids+=($!)
sleep 0.3

percentiles() {  # LOG: "p50,p99,p99.9"
  awk '/percentile 50.000/ {a=$NF} /percentile 99.000/ {b=$NF} /percentile 99.900/ {c=$NF}
       END {printf "%s,%s,%s", a, b, c}' "$1"
}

# beside NAME LABEL BULK_PORT PING_PORT: ping-pong while iperf3 runs; sets gbps.
beside() {
  iperf3 -c 127.0.0.1 -p "$3" -t $((seconds + 2)) -b "$rate" -J > "$out/$1-$2-bulk.json" &
  local iperf=$!
  sleep 1
  sockperf pp --tcp -i 127.0.0.1 -p "$4" -t "$seconds" > "$out/$1-$2.log" 2>&1
  wait "$iperf"
  gbps=$(python3 -c "import json,sys; print(f\"{json.load(open(sys.argv[1]))['end']['sum_received']['bits_per_second']/1e9:.2f}\")" \
    "$out/$1-$2-bulk.json")
}

# measure NAME BULK_PORT PING_PORT [OWN_PORT]: idle ping-pong, then ping-pong beside
# iperf3, then (OWN_PORT) the control through the other client beside it.
measure() {
  local name=$1 bulk_port=$2 ping_port=$3
  sockperf pp --tcp -i 127.0.0.1 -p "$ping_port" -t "$seconds" > "$out/$name-idle.log" 2>&1
  own=-,-,-
  own_gbps=-
  if [ -n "${4:-}" ]; then
    beside "$name" own "$bulk_port" "$4"
    own=$(percentiles "$out/$name-own.log") own_gbps=$gbps
  fi
  beside "$name" busy "$bulk_port" "$ping_port"
  idle=$(percentiles "$out/$name-idle.log") busy=$(percentiles "$out/$name-busy.log")
}

# The send-queue p99 from the client's histogram (upper bound of its bucket), in us.
queue_p99() {
  curl -s "http://127.0.0.1:$admin_cl/metrics" | python3 -c '
import re, sys
buckets = []
for line in sys.stdin:
    m = re.match(r"hbone_h2_send_queue_seconds_bucket\{.*role=\"client\".*le=\"([^\"]+)\"\} (\S+)", line)
    if m:
        buckets.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), float(m.group(2))))
total = buckets[-1][1] if buckets else 0
print(next((f"{le * 1e6:.0f}" for le, n in buckets if total and n >= 0.99 * total), "-"))'
}

echo "path,frame,lowat,window,idle_p50,idle_p99,idle_p999,busy_p50,busy_p99,busy_p999,bulk_gbps,queue_p99_us,own_p50,own_p99,own_p999,shared_window,own_bulk_gbps,rate" > "$out/hol.csv"
IFS=, read -r -a rate_list <<<"$rates"
IFS=, read -r -a window_list <<<"$windows"
IFS=, read -r -a frame_list <<<"$frames"
IFS=, read -r -a lowat_list <<<"$lowats"
IFS=, read -r -a share_list <<<"$shares"
for rate in "${rate_list[@]}"; do
measure direct "$iperf_port" "$sockperf_port"
echo "direct,-,-,-,$idle,$busy,$gbps,-,$own,-,-,$rate" >> "$out/hol.csv"
printf '%-7s %-6s %-7s %-7s %-14s rate %-4s idle p50/p99/p99.9 %-26s  busy %-26s  bulk %5s Gbit/s\n' direct - - - "" "$rate" "$idle" "$busy" "$gbps"
for share in "${share_list[@]}"; do
for window in "${window_list[@]}"; do
for frame in "${frame_list[@]}"; do
  for lowat in "${lowat_list[@]}"; do
    name="hbone-$frame-$lowat-$window-$share-$rate"
    mkdir -p "$out/$name"
    yaml="http2: {max_frame_size: $frame, stream_window: $window, shared_stream_window: $share$keys}"
    [ "$lowat" != 0 ] && yaml+=$'\n'"socket: {notsent_lowat: $lowat}"
    mesh_second_target=$sockperf_port start_mesh "$bin" "$out/$name" "$iperf_port" "$yaml"
    start_own_client "$sockperf_port"
    sleep 0.3
    measure "$name" "$client_port" "$client_port2" "$own_port"
    connections=$(curl -s "http://127.0.0.1:$admin_cl/debug/tunnels" |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["connections"]) if isinstance(d, dict) and "connections" in d else "?")')
    queue=$(queue_p99)
    echo "hbone,$frame,$lowat,$window,$idle,$busy,$gbps,$queue,$own,$share,$own_gbps,$rate" >> "$out/hol.csv"
    ratio=$(awk -v a="$busy" -v b="$own" 'BEGIN {split(a, x, ","); split(b, y, ","); printf "%.2f", x[2] / y[2]}')
    printf '%-7s %-6s %-7s %-7s shared %-7s rate %-4s idle p50/p99/p99.9 %-26s  busy %-26s  own connection %-26s  p99 shared/own %s  bulk %5s Gbit/s (own: %s)  queue p99 <= %s us  (%s connection)\n' \
      hbone "$frame" "$lowat" "$window" "$share" "$rate" "$idle" "$busy" "$own" "$ratio" "$gbps" "$own_gbps" "$queue" "$connections"
    kill "$client_pid" "$gateway_pid" "$own_pid"
    wait "$client_pid" "$gateway_pid" "$own_pid" 2> /dev/null || true
  done
done
done
done
done
if command -v gnuplot > /dev/null; then
  gnuplot -e "csv='$out/hol.csv'; png='$out/hol.png'" perf/hol.gp && echo "chart: $out/hol.png"
fi
echo "results: $out/hol.csv"
