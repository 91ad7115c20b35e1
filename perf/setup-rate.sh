#!/usr/bin/env bash
# Tunnel setup rate and its CPU, and idle memory per tunnel.
#  1. Rate: hbone-loadgen (native, libuv) opens N short tunnels (1 byte echoed, then FIN),
#     C at a time, in alternating rounds through
#       direct    the echo target itself
#       hbone     the pair, tunnels on pooled connections
#       per-conn  the pair with client.max_tunnels_per_connection: 1: a new HBONE
#                 connection (full mTLS handshake both sides) for every tunnel
#       go        the Go stdlib HBONE pair (perf/gohbone; net/http pools its HTTP/2 connections)
#       base      with -b BIN: the hbone path with another build (an earlier commit's), to
#                 compare two builds in one run
#     setups/s and its ratio to direct, p50/p99 setup latency (connect to first echoed
#     byte), and CPU µs per tunnel of each proxy process; per-conn minus hbone is what a
#     new connection's handshake costs each side. The controls: CPU µs per connection of
#     the echo target (accepts, reads, writes and closes as the client proxy does with an
#     application's connection) and of hbone-loadgen (dials as the gateway does).
#  2. Memory: perf/setup_rate.py opens and holds M tunnels (default 10000) and reports the
#     RSS growth of client and gateway per tunnel, then what is left 30 s after they end
#     (the hbone pair, and base's with -b).
#   perf/setup-rate.sh [-n N] [-c C] [-m M] [-r ROUNDS] [-p PATHS] [-b BIN] [-o DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
total=30000 concurrency=128 held=10000 rounds=2 out="" path_list=direct,hbone,per-conn,go base_bin=""
while getopts "n:c:m:r:p:o:b:" opt; do
  case $opt in
    n) total=$OPTARG ;;
    c) concurrency=$OPTARG ;;
    m) held=$OPTARG ;;
    r) rounds=$OPTARG ;;
    p) path_list=$OPTARG ;;
    o) out=$OPTARG ;;
    b) base_bin=$(realpath "$OPTARG") ;;
    *) echo "usage: $0 [-n N] [-c C] [-m M] [-r ROUNDS] [-p PATHS] [-b BIN] [-o DIR]" >&2; exit 2 ;;
  esac
done
[ -n "$base_bin" ] && path_list+=,base
out=${out:-perf/results/setup-$(date +%Y%m%d-%H%M%S)}
source perf/lib.sh
prepare "$out"
loadgen=$(dirname "$bin")/hbone-loadgen
ulimit -n "$(ulimit -Hn)"  # one fd per tunnel in each of the four processes
echo_port=$(free_port)
"$loadgen" echo "$echo_port" > "$out/echo.log" 2>&1 &
echo_pid=$!
pids+=("$echo_pid")
for _ in $(seq 100); do grep -q ready "$out/echo.log" && break; sleep 0.05; done
IFS=, read -r -a paths <<<"$path_list"
h2='http2: {max_concurrent_streams: 1000, streams_per_connection: 1000}'
# path -> port, and "client-pid gateway-pid" (the proxy processes whose CPU is counted)
declare -A port=([direct]=$echo_port) procs=([direct]="")
for path in "${paths[@]}"; do
  case $path in
    direct) ;;
    hbone|per-conn|base)
      mkdir -p "$out/$path"
      section="" path_bin=$bin
      [ "$path" = per-conn ] && section="  max_tunnels_per_connection: 1"
      [ "$path" = base ] && path_bin=$base_bin
      mesh_client_section=$section start_mesh "$path_bin" "$out/$path" "$echo_port" "$h2"
      # One access-log line per tunnel is the norm, but not what this measures.
      for admin in "$admin_gw" "$admin_cl"; do curl -sf -XPOST "127.0.0.1:$admin/logging?level=warn" > /dev/null; done
      port[$path]=$client_port procs[$path]="$client_pid $gateway_pid"
      ;;
    go)
      mkdir -p "$out/go"
      start_go_pair "$out/go" "$echo_port"
      read -r g c <<<"$go_pids"  # gateway first
      port[go]=$client_port procs[go]="$c $g"
      ;;
    *) echo "unknown path: $path" >&2; exit 2 ;;
  esac
done

echo "rate: $total tunnels per run, concurrency $concurrency, 1 byte echoed each" | tee "$out/setup-rate.txt"
for round in $(seq "$rounds"); do
  for path in "${paths[@]}"; do
    read -r cl gw <<<"${procs[$path]}"
    c0=0 g0=0 e0=$(cpu_seconds "$echo_pid")
    [ -n "${cl:-}" ] && c0=$(cpu_seconds "$cl") g0=$(cpu_seconds "$gw")
    line=$("$loadgen" run "${port[$path]}" "$total" "$concurrency" 1)
    c1=0 g1=0 e1=$(cpu_seconds "$echo_pid")
    [ -n "${cl:-}" ] && c1=$(cpu_seconds "$cl") g1=$(cpu_seconds "$gw")
    # µs per tunnel: client, gateway, echo target
    cpu=$(python3 -c "import sys; a = [float(x) for x in sys.argv[1:]]; print(' '.join(f'{(a[i + 1] - a[i]) * 1e6 / a[6]:.1f}' for i in (0, 2, 4)))" \
      "$c0" "$c1" "$g0" "$g1" "$e0" "$e1" "$total")
    echo "$path $cpu $line" | tee -a "$out/setup-rate.txt"
  done
done
python3 - "$out/setup-rate.txt" <<'PY' | tee -a "$out/setup-rate.txt"
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    if "{" not in line:
        continue
    head, data = line.split("{", 1)
    path, client_us, gateway_us, echo_us = head.split()
    r = json.loads("{" + data)
    assert r["failed"] == 0 and r["corrupted"] == 0, line
    runs.setdefault(path, []).append((r, float(client_us), float(gateway_us), float(echo_us)))
med = lambda path, f: statistics.median(f(x) for x in runs[path])
direct = med("direct", lambda x: x[0]["setups_per_second"])
print(f"{'path':9} {'setups/s':>9} {'x direct':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU µs/tunnel client':>21} "
      f"{'gateway':>8} {'echo':>6} {'loadgen':>8}")
for path in runs:
    rate = med(path, lambda x: x[0]["setups_per_second"])
    cpu = f"{'':21} {'':8}" if path == "direct" else f"{med(path, lambda x: x[1]):21.1f} {med(path, lambda x: x[2]):8.1f}"
    print(f"{path:9} {rate:9.0f} {rate / direct:8.2f} {med(path, lambda x: x[0]['setup_p50_us']) / 1000:7.2f} "
          f"{med(path, lambda x: x[0]['setup_p99_us']) / 1000:7.2f} {cpu} {med(path, lambda x: x[3]):6.1f} "
          f"{med(path, lambda x: x[0]['cpu_us_per_setup']):8.1f}")
if "hbone" in runs and "per-conn" in runs:
    print("a new HBONE connection's handshake, CPU µs: client "
          f"{med('per-conn', lambda x: x[1]) - med('hbone', lambda x: x[1]):.0f}, gateway "
          f"{med('per-conn', lambda x: x[2]) - med('hbone', lambda x: x[2]):.0f} (per-conn minus pooled)")
print("(medians of the rounds)")
PY
for path in hbone base; do
  [ -n "${procs[$path]:-}" ] || continue
  read -r cl gw <<<"${procs[$path]}"
  echo "memory: $held tunnels held (the $path pair)" | tee -a "$out/setup-rate.txt"
  python3 perf/setup_rate.py "${port[$path]}" "$cl" "$gw" "$held" 200 | tee -a "$out/setup-rate.txt"
done
