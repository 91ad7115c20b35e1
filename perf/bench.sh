#!/usr/bin/env bash
# Throughput of hbone against direct and a plain TCP relay, measured in one run.
#   perf/bench.sh [-t SECONDS] [-r ROUNDS] [-p direct,socat,hbone,h2c,socat2,pinned,w2,go,library] [-b BIN] [-y YAML]
#                 [-m P1,P4,R] [-o DIR]
# Paths: direct iperf3; socat relay (-b 262144); hbone client -> gateway over mTLS HTTP/2;
# h2c: the same hbone pair with tls.plaintext_h2c (no TLS: what the crypto costs);
# socat2: two socat relays in a chain (not in the default list): two processes moving every
# byte twice with nothing else to do, the most any client+gateway pair can get per core;
# pinned: the mTLS pair with the client's worker on the first CPU this script may use and
# the gateway's on the last (`cpu_affinity`; not in the default list);
# w2: the mTLS pair with `workers: 2` on both sides (not in the default list); go: the Go
# stdlib HBONE pair of perf/gohbone (not in the default list; installs golang-go); library: the
# mTLS pair with `tls.record_layer: library` (SSL_read/SSL_write instead of hbone's own record
# layer: what the in-place record layer gains; not in the default list).
# -b BIN adds path `base`: the mTLS pair run by another hbone binary (an earlier build), for
# before/after figures from one run. -y YAML adds path `tuned`: the mTLS pair with YAML added
# to both configs (e.g. -y 'socket: {read_size: 1MiB}'). -m: the modes to run (default all).
# Modes: -P1, -P4, -R. Rounds alternate the path order (A B C, then C B A, ...) so drift on
# this shared machine does not favour one path. For each path and mode: receiver Gbit/s
# (mean over rounds), ratio to direct in the same mode, CPU seconds per second of the proxy
# processes (/proc/PID/stat, threads and reaped children included), and Gbit/s per proxy
# core. Writes results.csv, iperf3 JSON per run and bench.png (gnuplot) to DIR
# (default perf/results/bench-<timestamp>).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10 rounds=2 out="" path_list=direct,socat,hbone,h2c base_bin="" tuned_yaml="" mode_list=P1,P4,R
while getopts "t:r:p:b:y:m:o:" opt; do
  case $opt in
    t) seconds=$OPTARG ;;
    r) rounds=$OPTARG ;;
    p) path_list=$OPTARG ;;
    b) base_bin=$(realpath "$OPTARG") ;;
    y) tuned_yaml=$OPTARG ;;
    m) mode_list=$OPTARG ;;
    o) out=$OPTARG ;;
    *) echo "usage: $0 [-t SECONDS] [-r ROUNDS] [-p PATHS] [-b BIN] [-y YAML] [-m MODES] [-o DIR]" >&2; exit 2 ;;
  esac
done
out=${out:-perf/results/bench-$(date +%Y%m%d-%H%M%S)}
source perf/lib.sh
prepare "$out"

iperf_port=$(free_port) socat_port=$(free_port)
start_iperf_server "$iperf_port"
socat -b 262144 "TCP-LISTEN:$socat_port,fork,reuseaddr,bind=127.0.0.1" "TCP:127.0.0.1:$iperf_port" &
socat_pid=$!
pids+=("$socat_pid")
IFS=, read -r -a paths <<<"$path_list"
[ -n "$base_bin" ] && paths+=(base)
[ -n "$tuned_yaml" ] && paths+=(tuned)
[[ " ${paths[*]} " == *" direct "* ]] || { echo "-p must include direct (ratios are to it)" >&2; exit 2; }
# path -> "port pids"
declare -A port=([direct]=$iperf_port [socat]=$socat_port)
declare -A procs=([direct]="" [socat]="$socat_pid")
if [[ " ${paths[*]} " == *" socat2 "* ]]; then
  port[socat2]=$(free_port)
  socat -b 262144 "TCP-LISTEN:${port[socat2]},fork,reuseaddr,bind=127.0.0.1" "TCP:127.0.0.1:$socat_port" &
  pids+=($!)
  procs[socat2]="$! $socat_pid"
fi
declare -A mesh_yaml=([hbone]="" [h2c]="" [w2]="workers: 2" [base]="" [tuned]="$tuned_yaml" [pinned]="" [library]="")
declare -A mesh_tls=([hbone]="" [h2c]=", plaintext_h2c: true" [w2]="" [base]="" [tuned]="" [pinned]=""
                     [library]=", record_layer: library")
read -r first_cpu last_cpu < <(python3 -c 'import os; c = sorted(os.sched_getaffinity(0)); print(c[0], c[-1])')
for path in "${paths[@]}"; do
  [ -n "${port[$path]:-}" ] && continue
  if [ "$path" = go ]; then
    mkdir -p "$out/go"
    start_go_pair "$out/go" "$iperf_port"
    port[go]=$client_port
    procs[go]=$go_pids
    continue
  fi
  [ -n "${mesh_yaml[$path]+set}" ] || { echo "unknown path: $path" >&2; exit 2; }
  mkdir -p "$out/$path"
  path_bin=$bin
  [ "$path" = base ] && path_bin=$base_bin
  mesh_client_yaml="" mesh_gateway_yaml=""
  if [ "$path" = pinned ]; then
    mesh_client_yaml="cpu_affinity: [$first_cpu]" mesh_gateway_yaml="cpu_affinity: [$last_cpu]"
  fi
  start_mesh "$path_bin" "$out/$path" "$iperf_port" "${mesh_yaml[$path]}" "${mesh_tls[$path]}"
  port[$path]=$client_port
  procs[$path]="$gateway_pid $client_pid"
done
IFS=, read -r -a modes <<<"$mode_list"
echo "path,mode,round,gbps,cpu_before,cpu_after,time_before,time_after" > "$out/runs.csv"
for ((round = 1; round <= rounds; round++)); do
  order=("${paths[@]}")
  if ((round % 2 == 0)); then
    order=()
    for ((i = ${#paths[@]} - 1; i >= 0; i--)); do order+=("${paths[i]}"); done
  fi
  for mode in "${modes[@]}"; do
    for path in "${order[@]}"; do
      case $mode in P1) flags=() ;; P4) flags=(-P 4) ;; R) flags=(-R) ;; esac
      json="$out/$path-$mode-$round.json"
      cpu0=$(cpu_seconds ${procs[$path]:-})
      t0=$(date +%s.%N)
      iperf3 -c 127.0.0.1 -p "${port[$path]}" -t "$seconds" -J "${flags[@]}" > "$json"
      t1=$(date +%s.%N)
      cpu1=$(cpu_seconds ${procs[$path]:-})
      gbps=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['end']['sum_received']['bits_per_second']/1e9)" "$json")
      echo "$path,$mode,$round,$gbps,$cpu0,$cpu1,$t0,$t1" >> "$out/runs.csv"
      printf '  round %d %-6s %-3s %6.2f Gbit/s\n' "$round" "$path" "$mode" "$gbps"
    done
  done
done
python3 perf/summarize.py "$out/runs.csv" "$out/results.csv" "$out/chart.csv"
if command -v gnuplot >/dev/null; then
  gnuplot -e "csv='$out/chart.csv'; png='$out/bench.png'" perf/bench.gp
  echo "chart: $out/bench.png"
fi
echo "results: $out/results.csv"
