#!/usr/bin/env bash
# HTTP/2 tuning sweep: iperf3 through hbone for every combination of stream window,
# connection window, max frame size and socket read size; optionally through
# hbone-rtt-relay (--rtt MS, --rate MBIT) between client and gateway, with a plain TCP
# stream through an identical relay measured in the same run as the reference.
#   perf/sweep.sh [-t S] [--rtt MS] [--rate MBIT] [--streams "64KiB 1MiB"] [--conn-factors "4"]
#                 [--frames "16KiB 1MiB"] [--reads "64KiB 256KiB"] [-o DIR]
# Each point: receiver Gbit/s, proxy CPU cores, Gbit/s per core, ratio to the reference
# (plain TCP through the relay, or direct without one). Writes sweep.csv and sweep.png;
# prints the table and a recommended setting.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=4 rtt="" rate=0 out=""
streams="64KiB 256KiB 1MiB 4MiB 16MiB auto" factors="4" frames="16KiB 1MiB" reads="64KiB 256KiB"
while [ $# -gt 0 ]; do
  case $1 in
    -t) seconds=$2 ;;
    --rtt) rtt=${2%ms} ;;
    --rate) rate=$2 ;;
    --streams) streams=$2 ;;
    --conn-factors) factors=$2 ;;
    --frames) frames=$2 ;;
    --reads) reads=$2 ;;
    -o) out=$2 ;;
    *) echo "usage: $0 [-t S] [--rtt MS] [--rate MBIT] [--streams L] [--conn-factors L] [--frames L] [--reads L] [-o DIR]" >&2
       exit 2 ;;
  esac
  shift 2
done
out=${out:-perf/results/sweep-$(date +%Y%m%d-%H%M%S)}
source perf/lib.sh
prepare "$out"
iperf_port=$(free_port)
start_iperf_server "$iperf_port"

bytes() { python3 -c "import sys; u={'B':1,'KiB':1<<10,'MiB':1<<20,'GiB':1<<30}; s=sys.argv[1]; n=s.rstrip('BKMGi'); print(int(float(n)*u[s[len(n):]]))" "$1"; }
gbps_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['end']['sum_received']['bits_per_second']/1e9)" "$1"; }

# The reference: plain TCP, through the same kind of relay when there is an RTT.
ref_port=$iperf_port
if [ -n "$rtt" ]; then
  ref_port=$(free_port)
  "$(dirname "$bin")/hbone-rtt-relay" "$ref_port" "$iperf_port" "$rtt" "$rate" > "$out/ref-relay.log" 2>&1 &
  pids+=($!)
  sleep 0.2
  export mesh_rtt_ms=$rtt mesh_rate_mbit=$rate
fi
reference() {
  iperf3 -c 127.0.0.1 -p "$ref_port" -t "$seconds" -J > "$out/reference-$1.json"
  gbps_of "$out/reference-$1.json"
}
ref_before=$(reference before)
echo "reference (plain TCP${rtt:+ through the relay, RTT ${rtt} ms}${rate:+, cap ${rate} Mbit/s}): $ref_before Gbit/s"

echo "stream_window,connection_window,max_frame_size,read_size,gbps,proxy_cores,gbps_per_core" > "$out/sweep.csv"
for stream in $streams; do
  for factor in $factors; do
    if [ "$stream" = auto ]; then  # grows by itself; the connection window follows it
      conn=$((16 << 20)) stream_value=auto
    else
      conn=$(( $(bytes "$stream") * factor )) stream_value=$(bytes "$stream")
      ((conn > 2147483647)) && conn=2147483647
    fi
    for frame in $frames; do
      for read in $reads; do
        point="$out/point"
        rm -rf "$point" && mkdir -p "$point"
        start_mesh "$bin" "$point" "$iperf_port" "$(printf 'http2: {stream_window: %s, connection_window: %sB, max_frame_size: %s}\nsocket: {read_size: %s}' "$stream" "$conn" "$frame" "$read")"
        sleep 0.3
        cpu0=$(cpu_seconds "$gateway_pid" "$client_pid") t0=$(date +%s.%N)
        iperf3 -c 127.0.0.1 -p "$client_port" -t "$seconds" -J > "$point/iperf.json"
        t1=$(date +%s.%N) cpu1=$(cpu_seconds "$gateway_pid" "$client_pid")
        kill "$gateway_pid" "$client_pid" ${relay_pid:-} 2>/dev/null || true
        wait "$gateway_pid" "$client_pid" 2>/dev/null || true
        gbps=$(gbps_of "$point/iperf.json")
        cores=$(python3 -c "print(($cpu1 - $cpu0) / ($t1 - $t0))")
        per_core=$(python3 -c "print($gbps / $cores if $cores > 0.01 else 0)")
        echo "$stream_value,$conn,$(bytes "$frame"),$(bytes "$read"),$gbps,$cores,$per_core" >> "$out/sweep.csv"
        printf '  stream %-6s conn %-10s frame %-6s read %-6s %6.2f Gbit/s  %.2f cores\n' \
          "$stream" "${conn}B" "$frame" "$read" "$gbps" "$cores"
      done
    done
  done
done
ref_after=$(reference after)
python3 perf/sweep_report.py "$out" "$ref_before" "$ref_after" "${rtt:-0}" "$rate"
