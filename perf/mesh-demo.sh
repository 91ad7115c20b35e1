#!/usr/bin/env bash
# The mesh on one machine, built from network namespaces (README: "Sidecar and egress"):
# pod A (an unmodified iperf3/curl + hbone with capture rules) and node B (servers + an
# hbone node gateway on 15008) on a bridge in its own namespace, 198.18.0.0/24 (RFC 2544).
# Measures, in alternating rounds of one run: iperf3 from pod A to B's address
#   raw       uncaptured (capture.sh --exclude-ports), no proxy: the reference
#   capture   captured, tunnelled by route `destination:15008`
#   listener  the explicit-listener path (client.listeners, 127.0.0.1 in pod A) to the same
#             gateway, so capture's cost shows as the ratio capture / listener
# and a curl download through capture (sha256 checked). Removes everything it made.
# -m sets pod A's interface MTU (default 1500): the app's side of a redirected connection
# takes its MSS from it, while the explicit listener's is loopback's.
#   perf/mesh-demo.sh [-t seconds] [-r rounds] [-m MTU] [-o DIR]   (needs root)
set -euo pipefail
cd "$(dirname "$0")/.."
source perf/lib.sh
seconds=5 rounds=3 mtu=1500 out=perf/results/mesh-demo
while getopts "t:r:m:o:" opt; do
  case $opt in
    t) seconds=$OPTARG ;;
    r) rounds=$OPTARG ;;
    m) mtu=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n 2,14p "$0"; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "mesh-demo.sh: needs root (ip netns, iptables)" >&2; exit 1; }
prepare "$out"
out=$(cd "$out" && pwd)

tag="hbdemo$$"
trap 'cleanup; remove_namespaces' EXIT
br=$tag-br a=$tag-a b=$tag-b A=198.18.0.1 B=198.18.0.2
add_bridge "$br"
add_bridge_node "$br" "$a" a "$A"
add_bridge_node "$br" "$b" b "$B"
in_ns "$br" ip link set p-a mtu "$mtu"
in_ns "$a" ip link set eth0 mtu "$mtu"
echo "capture rules in pod A:"
in_ns "$a" scripts/capture.sh install --exclude-ports 5202 | sed 's/^/  /'

cat > "$out/node-b.yaml" <<YAML
tls: {cert: certs/dev/gateway.pem, key: certs/dev/gateway-key.pem, ca: certs/dev/ca.pem}
gateway: {listen: "$B:15008", require_arrived_address: true}  # inbound of the pod at $B
YAML
cat > "$out/pod-a.yaml" <<YAML
tls: {cert: certs/dev/client.pem, key: certs/dev/client-key.pem, ca: certs/dev/ca.pem}
client:
  gateway: "$B:15008"
  gateway_identity: spiffe://cluster.local/ns/default/sa/gateway
  listeners: [{listen: "127.0.0.1:15101", target: "$B:5201"}]
  capture: {listen: "127.0.0.1:15001"}
  routes:
    - {cidr: "$B/32", gateway: "destination:15008", identity: spiffe://cluster.local/ns/default/sa/gateway}
YAML
in_ns "$b" "$bin" --config "$out/node-b.yaml" > "$out/node-b.log" 2>&1 & pids+=($!)
in_ns "$a" "$bin" --config "$out/pod-a.yaml" > "$out/pod-a.log" 2>&1 & pids+=($!)
in_ns "$b" iperf3 -s -p 5201 > /dev/null 2>&1 & pids+=($!)
in_ns "$b" iperf3 -s -p 5202 > /dev/null 2>&1 & pids+=($!)
mkdir -p "$out/site"
head -c $((64 << 20)) /dev/urandom > "$out/site/blob"
in_ns "$b" python3 -m http.server 8000 --bind "$B" --directory "$out/site" > /dev/null 2>&1 & pids+=($!)
wait_running "$out/node-b.log"
wait_running "$out/pod-a.log"
sleep 0.5

gbits() {  # host port: receiver Gbit/s of one iperf3 run from pod A
  in_ns "$a" iperf3 -c "$1" -p "$2" -t "$seconds" -J | python3 -c \
    'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}
echo
echo "iperf3 -t $seconds from pod A (MTU $mtu), $rounds alternating rounds (Gbit/s; one run, shared machine)"
echo "path,round,gbit_per_s" > "$out/mesh-demo.csv"
printf "%-6s %9s %9s %9s %17s\n" round raw capture listener capture/listener
for r in $(seq "$rounds"); do
  raw=$(gbits $B 5202)
  cap=$(gbits $B 5201)
  lis=$(gbits 127.0.0.1 15101)
  printf "%s,%s,%s\n" raw "$r" "$raw" capture "$r" "$cap" listener "$r" "$lis" >> "$out/mesh-demo.csv"
  printf "%-6s %9s %9s %9s %16.2fx\n" "$r" "$raw" "$cap" "$lis" "$(echo "$cap / $lis" | bc -l)"
done
python3 - "$out/mesh-demo.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
by = {p: [float(r["gbit_per_s"]) for r in rows if r["path"] == p] for p in ("raw", "capture", "listener")}
ratio = statistics.median(c / l for c, l in zip(by["capture"], by["listener"]))
print(f"median  {statistics.median(by['raw']):9.2f} {statistics.median(by['capture']):9.2f} "
      f"{statistics.median(by['listener']):9.2f} {ratio:16.2f}x   (median of the rounds' ratios; target >= 0.90x)")
PY
echo
want=$(sha256sum "$out/site/blob" | cut -d' ' -f1)
start=$(date +%s.%N)
got=$(in_ns "$a" curl -sf "http://$B:8000/blob" | sha256sum | cut -d' ' -f1)
end=$(date +%s.%N)
[ "$got" = "$want" ] && verdict="sha256 equal" || verdict="SHA256 DIFFERS"
printf "curl 64 MiB from pod A via capture: %.2f s, %s\n" "$(echo "$end - $start" | bc -l)" "$verdict"
echo "pod A's access log (last tunnel):"
grep "tunnel role=client" "$out/pod-a.log" | tail -n 1 | sed 's/^/  /'
echo "capture counters:"
in_ns "$a" curl -s "http://127.0.0.1:$(grep -o 'admin.listen: listening on [0-9.:]*' "$out/pod-a.log" | sed 's/.*://')/metrics" \
  | grep '^hbone_capture_connections_total' | grep -v ' 0$' | sed 's/^/  /'
[ "$verdict" = "sha256 equal" ]
