#!/usr/bin/env bash
# Istio's benchmark shape (#24): a fixed rate of small requests over keep-alive connections
# (defaults: 1,000 and 10,000 req/s over 64 connections, 1 KiB each way), driven by
# `hbone-loadgen rate` (latency from when each request was due: coordinated omission
# corrected, as wrk2 and fortio do) against `hbone-loadgen echo`, through:
#   direct   the echo itself: the reference latency
#   socat    two socat relays in a chain (a client side and a gateway side that only move
#            bytes: the same system calls as a proxy pair, without TLS and HTTP/2)
#   hbone    the mTLS HBONE pair (client listener -> gateway), defaults
#   go       the Go stdlib HBONE pair (perf/gohbone; installs golang-go)
#   base     with -b BIN: the hbone pair of another build (an earlier commit's)
# in alternating rounds of one run. Per path and rate: p50/p90/p99 and what each adds
# over direct, CPU µs per request of each proxy process (from /proc; µs per request / 1000
# = vCPU per 1,000 req/s, the unit of Istio's published figures) and its RSS after the run.
# -m mesh (root) runs it on network namespaces instead, as a mesh carries it: the load
# generator in pod A (198.18.0.1) sends to the echo in pod B (198.18.0.2) by its address,
#   direct   a port the capture rules exclude: the reference
#   hbone    captured by pod A's hbone (scripts/capture.sh), tunnelled to node B's gateway
#            by a static route
#   xds      the same from pod C (198.18.0.3), whose hbone has no routes: the fake istiod
#            (tests/support/fake_istiod.py) describes a cluster (perf/xds_scale.py's 10,000
#            workloads and 1,000 services) and the echo as a service (VIP 198.18.100.1:80 ->
#            pod B:7000, an HBONE workload): the mesh picks the endpoint and its identity
# and, after the request rounds, the cost of each captured connection on the tunnelled
# paths (hbone-loadgen run: short connections, 1 byte echoed) in alternating rounds.
#   perf/rps.sh [-m loopback|mesh] [-R RATES] [-c CONNECTIONS] [-s BYTES] [-t SECONDS] [-r ROUNDS] [-p PATHS] [-b BIN] [-o DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
source perf/lib.sh
rates=1000,10000 connections=64 bytes=1024 seconds=10 rounds=3 path_list="" mode=loopback base_bin=""
out=perf/results/rps-$(date +%Y%m%d-%H%M%S)
while getopts "m:R:c:s:t:r:p:o:b:" opt; do
  case $opt in
    m) mode=$OPTARG ;;
    R) rates=$OPTARG ;;
    c) connections=$OPTARG ;;
    s) bytes=$OPTARG ;;
    t) seconds=$OPTARG ;;
    r) rounds=$OPTARG ;;
    p) path_list=$OPTARG ;;
    o) out=$OPTARG ;;
    b) base_bin=$(realpath "$OPTARG") ;;
    *) sed -n 2,20p "$0"; exit 2 ;;
  esac
done
case $mode in
  loopback) path_list=${path_list:-direct,socat,hbone,go}${base_bin:+,base} ;;
  mesh) path_list=${path_list:-direct,hbone,xds}; [ "$(id -u)" -eq 0 ] || { echo "rps.sh -m mesh: needs root" >&2; exit 1; } ;;
  *) echo "-m: loopback or mesh" >&2; exit 2 ;;
esac
prepare "$out"
out=$(cd "$out" && pwd)
loadgen=$(dirname "$bin")/hbone-loadgen
IFS=, read -r -a paths <<<"$path_list"
IFS=, read -r -a rate_list <<<"$rates"
[[ " ${paths[*]} " == *" direct "* ]] || { echo "-p must include direct (the others are compared to it)" >&2; exit 2; }

# path -> target address and "client-pid gateway-pid" (the proxy processes whose CPU is
# counted); run_in: the namespace the load generator runs in (mesh: the path's pod).
declare -A port procs=([direct]="") run_in
in_pod() { local ns=${run_in[$1]:-}; shift; if [ -n "$ns" ]; then in_ns "$ns" "$@"; else "$@"; fi; }
if [ "$mode" = mesh ]; then
  tag="hbrps$$"
  trap 'cleanup; remove_namespaces' EXIT
  br=$tag-br a=$tag-a b=$tag-b A=198.18.0.1 B=198.18.0.2
  add_bridge "$br"
  add_bridge_node "$br" "$a" a "$A"
  add_bridge_node "$br" "$b" b "$B"
  # Tens of thousands of short connections from one address to one port (the load
  # generator's to the echo, the gateway's dials of it) would run out of ports in TIME_WAIT.
  many_ports() { in_ns "$1" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000"; }
  many_ports "$a"
  many_ports "$b"
  in_ns "$a" scripts/capture.sh install --exclude-ports 7001 > /dev/null
  certs="cert: certs/dev/%s.pem, key: certs/dev/%s-key.pem, ca: certs/dev/ca.pem"
  printf 'tls: {%s}\ngateway: {listen: "%s:15008", require_arrived_address: true}\n' "$(printf "$certs" gateway gateway)" "$B" > "$out/node-b.yaml"
  cat > "$out/pod-a.yaml" <<YAML
tls: {$(printf "$certs" client client)}
client:
  capture: {listen: "127.0.0.1:15001"}
  routes: [{cidr: "$B/32", gateway: "destination:15008", identity: spiffe://cluster.local/ns/default/sa/gateway}]
YAML
  for port_ in 7000 7001; do in_ns "$b" "$loadgen" echo "$B:$port_" > "$out/echo-$port_.log" 2>&1 & pids+=($!); done
  for f in "$b node-b" "$a pod-a"; do
    set -- $f
    in_ns "$1" "$bin" --config "$out/$2.yaml" > "$out/$2.log" 2>&1 & pids+=($!)
    wait_running "$out/$2.log"
    in_ns "$1" curl -sf -XPOST "127.0.0.1:15000/logging?level=warn" > /dev/null  # no line per tunnel
  done
  gateway_pid=$(pgrep -f -- "--config $out/node-b.yaml" | head -n 1)
  port=([direct]=$B:7001 [hbone]=$B:7000)
  procs[hbone]="$(pgrep -f -- "--config $out/pod-a.yaml" | head -n 1) $gateway_pid"
  run_in=([direct]=$a [hbone]=$a)
  if [[ " ${paths[*]} " == *" xds "* ]]; then
    c=$tag-c C=198.18.0.3
    add_bridge_node "$br" "$c" c "$C"
    many_ports "$c"
    in_ns "$c" ip route add 198.18.100.0/24 dev eth0  # the VIPs: captured, never sent
    in_ns "$c" scripts/capture.sh install > /dev/null
    # The fake istiod on pod C's loopback; it runs while its stdin (a FIFO this script holds
    # open) is open.
    mkfifo "$out/istiod.in"
    exec {istiod_in}<>"$out/istiod.in"
    in_ns "$c" /usr/bin/python3 tests/support/fake_istiod.py --cert certs/dev/istiod.pem \
      --key certs/dev/istiod-key.pem < "$out/istiod.in" > "$out/istiod.out" 2> "$out/istiod.log" & pids+=($!)
    for _ in $(seq 300); do [ "$(wc -l < "$out/istiod.out")" -ge 2 ] && break; sleep 0.1; done
    declare -A istiod
    while read -r key value; do istiod[$key]=$value; done < "$out/istiod.out"
    /usr/bin/python3 - "$out/cluster.json" <<'PY'
import json, sys
sys.path[:0] = ["perf", "tests/e2e"]
from xds_scale import cluster
from istiod import service, workload
workloads, services = cluster(10000, 1000)
echo = service("default", "echo.default.svc.cluster.local", "198.18.100.1", [(80, 7000)])
pod_b = workload("Kubernetes//Pod/default/echo-b", "198.18.0.2", service_account="gateway",
                 services={echo["name"]: [(80, 7000)]})
json.dump({"type": "address", "resources": workloads + services + [echo, pod_b]}, open(sys.argv[1], "w"))
PY
    in_ns "$c" curl -sf -XPOST "127.0.0.1:${istiod[CONTROL]}/push" --data-binary "@$out/cluster.json" > /dev/null
    cat > "$out/pod-c.yaml" <<YAML
tls: {$(printf "$certs" client client)}
client:
  capture: {listen: "127.0.0.1:15001"}
xds: {address: "127.0.0.1:${istiod[PORT]}", root_ca: certs/dev/ca.pem, istiod_san: istiod.istio-system.svc, token_file: ""}
YAML
    in_ns "$c" "$bin" --config "$out/pod-c.yaml" > "$out/pod-c.log" 2>&1 & pids+=($!)
    for _ in $(seq 300); do in_ns "$c" curl -sf 127.0.0.1:15000/healthz/ready > /dev/null && break; sleep 0.1; done
    in_ns "$c" curl -sf 127.0.0.1:15000/healthz/ready > /dev/null || { cat "$out/pod-c.log" >&2; exit 1; }
    in_ns "$c" curl -sf -XPOST "127.0.0.1:15000/logging?level=warn" > /dev/null
    port[xds]=198.18.100.1:80
    procs[xds]="$(pgrep -f -- "--config $out/pod-c.yaml" | head -n 1) $gateway_pid"
    run_in[xds]=$c
  fi
fi

if [ "$mode" = loopback ]; then
  echo_port=$(free_port)
  "$loadgen" echo "$echo_port" > "$out/echo.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q ready "$out/echo.log" && break; sleep 0.05; done
  port[direct]=$echo_port
  for path in "${paths[@]}"; do
    case $path in
      direct) ;;
      socat)
        gw=$(free_port) port[socat]=$(free_port)
        socat "TCP-LISTEN:$gw,fork,reuseaddr,bind=127.0.0.1,backlog=1024,nodelay" "TCP:127.0.0.1:$echo_port,nodelay" &
        gw_pid=$!
        socat "TCP-LISTEN:${port[socat]},fork,reuseaddr,bind=127.0.0.1,backlog=1024,nodelay" "TCP:127.0.0.1:$gw,nodelay" &
        procs[socat]="$! $gw_pid"
        pids+=("$gw_pid" "$!")
        ;;
      hbone|base)
        mkdir -p "$out/$path"
        path_bin=$bin
        [ "$path" = base ] && path_bin=$base_bin
        start_mesh "$path_bin" "$out/$path" "$echo_port"
        for admin in "$admin_gw" "$admin_cl"; do  # no access-log line per request's tunnel
          curl -sf -XPOST "127.0.0.1:$admin/logging?level=warn" > /dev/null
        done
        port[$path]=$client_port procs[$path]="$client_pid $gateway_pid"
        ;;
      go)
        mkdir -p "$out/go"
        start_go_pair "$out/go" "$echo_port"
        port[go]=$client_port
        read -r g c <<<"$go_pids"  # gateway first
        procs[go]="$c $g"
        ;;
      *) echo "unknown path: $path" >&2; exit 2 ;;
    esac
  done
fi
sleep 0.5

rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
csv="$out/rps.csv"
echo "path,rate,round,requests,achieved,p50_us,p90_us,p99_us,client_us_per_req,gateway_us_per_req,client_rss_mib,gateway_rss_mib" > "$csv"
echo "rps ($mode): ${rates} req/s over $connections connections, $bytes B each way, $seconds s per run, $rounds alternating rounds"
for round in $(seq "$rounds"); do
  order=("${paths[@]}")
  if ((round % 2 == 0)); then
    order=()
    for ((i = ${#paths[@]} - 1; i >= 0; i--)); do order+=("${paths[i]}"); done
  fi
  for rate in "${rate_list[@]}"; do
    for path in "${order[@]}"; do
      read -r cl gw <<<"${procs[$path]}"
      c0=0 g0=0
      [ -n "${cl:-}" ] && c0=$(cpu_seconds "$cl") g0=$(cpu_seconds "$gw")
      line=$(in_pod "$path" "$loadgen" rate "${port[$path]}" "$connections" "$rate" "$seconds" "$bytes") ||
        { echo "$path at $rate req/s failed: $line" >&2; exit 1; }
      sleep 0.3  # socat's forked relays end with their connections and are reaped: their CPU counts
      c1=0 g1=0 crss="-" grss="-"
      if [ -n "${cl:-}" ]; then
        c1=$(cpu_seconds "$cl") g1=$(cpu_seconds "$gw")
        if [ "$path" != socat ]; then crss=$(rss_mib "$cl") grss=$(rss_mib "$gw"); fi  # socat: a process per connection
      fi
      python3 - "$path" "$rate" "$round" "$line" "$c0" "$c1" "$g0" "$g1" "$crss" "$grss" >> "$csv" <<'PY'
import json, sys
path, rate, rnd, line, c0, c1, g0, g1, crss, grss = sys.argv[1:]
r = json.loads(line)
assert r["errors"] == 0 and r["corrupted"] == 0, line
per = lambda a, b: f"{(float(b) - float(a)) * 1e6 / r['requests']:.1f}" if path != "direct" else "-"
print(f"{path},{rate},{rnd},{r['requests']},{r['rate']},{r['p50_us']},{r['p90_us']},{r['p99_us']},"
      f"{per(c0, c1)},{per(g0, g1)},{crss},{grss}")
PY
    done
  done
done
python3 - "$csv" <<'PY' | tee "$out/rps.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def med(path, rate, key):
    vals = [float(r[key]) for r in rows if r["path"] == path and r["rate"] == rate and r[key] != "-"]
    return statistics.median(vals) if vals else None
fmt = lambda v, f="{:.0f}": "-" if v is None else f.format(v)
paths = list(dict.fromkeys(r["path"] for r in rows))
for rate in dict.fromkeys(r["rate"] for r in rows):
    print(f"\n{rate} req/s (medians of rounds)")
    print(f"{'path':7} {'achieved':>9} {'p50':>6} {'p90':>6} {'p99':>7} {'+p50':>6} {'+p90':>6} {'+p99':>7} "
          f"{'CPU µs/req client':>17} {'gateway':>8} {'RSS MiB client':>14} {'gateway':>8}")
    base = {k: med("direct", rate, k) for k in ("p50_us", "p90_us", "p99_us")}
    for p in paths:
        v = {k: med(p, rate, k) for k in ("achieved", "p50_us", "p90_us", "p99_us", "client_us_per_req",
                                          "gateway_us_per_req", "client_rss_mib", "gateway_rss_mib")}
        added = [v[k] - base[k] for k in ("p50_us", "p90_us", "p99_us")]
        print(f"{p:7} {v['achieved']:9.0f} {v['p50_us']:6.0f} {v['p90_us']:6.0f} {v['p99_us']:7.0f} "
              f"{added[0]:6.0f} {added[1]:6.0f} {added[2]:7.0f} {fmt(v['client_us_per_req'], '{:.1f}'):>17} "
              f"{fmt(v['gateway_us_per_req'], '{:.1f}'):>8} {fmt(v['client_rss_mib'], '{:.1f}'):>14} "
              f"{fmt(v['gateway_rss_mib'], '{:.1f}'):>8}")
print("\nadded = path minus direct, µs; CPU µs per request / 1000 = vCPU per 1,000 req/s")
PY
if command -v gnuplot > /dev/null; then
  python3 - "$csv" > "$out/rps-summary.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("label,added_p50,added_p99,client_us,gateway_us")
for rate in dict.fromkeys(r["rate"] for r in rows):
    med = lambda p, k: statistics.median(float(r[k]) for r in rows if r["path"] == p and r["rate"] == rate)
    for p in dict.fromkeys(r["path"] for r in rows):
        if p == "direct":
            continue
        print(f"{p} @{rate}/s,{med(p, 'p50_us') - med('direct', 'p50_us'):.1f},"
              f"{med(p, 'p99_us') - med('direct', 'p99_us'):.1f},{med(p, 'client_us_per_req'):.1f},"
              f"{med(p, 'gateway_us_per_req'):.1f}")
PY
  gnuplot -e "csv='$out/rps-summary.csv'; png='$out/rps.png'" perf/rps.gp
  echo "chart: $out/rps.png"
fi

[ "$mode" = mesh ] || exit 0
# Each captured connection's cost: what the route decision (static route or the mesh's
# service, endpoint and identity) adds to a tunnel's setup.
setups=20000 setup_concurrency=64
echo "connections: $setups per run, $setup_concurrency at a time, 1 byte echoed each" | tee "$out/connections.txt"
for round in $(seq "$rounds"); do
  order=()
  for path in "${paths[@]}"; do [ "$path" = direct ] || order+=("$path"); done
  ((round % 2 == 0)) && order=($(printf '%s\n' "${order[@]}" | tac))
  for path in "${order[@]}"; do
    read -r cl gw <<<"${procs[$path]}"
    c0=$(cpu_seconds "$cl") g0=$(cpu_seconds "$gw")
    line=$(in_pod "$path" "$loadgen" run "${port[$path]}" "$setups" "$setup_concurrency" 1) ||
      { echo "$path: connections failed: $line" >&2; exit 1; }
    c1=$(cpu_seconds "$cl") g1=$(cpu_seconds "$gw")
    echo "$path $c0 $c1 $g0 $g1 $line" >> "$out/connections.txt"
  done
done
python3 - "$out/connections.txt" "$setups" <<'PY' | tee -a "$out/connections.txt"
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    if "{" not in line:
        continue
    head, data = line.split("{", 1)
    path, c0, c1, g0, g1 = head.split()
    r = json.loads("{" + data)
    assert r["failed"] == 0 and r["corrupted"] == 0, line
    per = lambda a, b: (float(b) - float(a)) * 1e6 / int(sys.argv[2])
    runs.setdefault(path, []).append((r["setups_per_second"], per(c0, c1), per(g0, g1)))
print(f"{'path':7} {'setups/s':>9} {'CPU µs/connection client':>25} {'gateway':>8}  (medians of rounds)")
for path, rows in runs.items():
    med = lambda i: statistics.median(r[i] for r in rows)
    print(f"{path:7} {med(0):9.0f} {med(1):25.1f} {med(2):8.1f}")
PY
