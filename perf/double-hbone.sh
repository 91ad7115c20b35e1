#!/usr/bin/env bash
# Double HBONE's setup cost: pooled inner connections against a handshake per connection,
# in alternating rounds of one run, on namespaces (needs root):
#
#   pod A  198.18.0.1 ──┐                 both pods: hbone client with capture, route
#   pod A2 198.18.0.4 ──┼── bridge          198.19.0.0/24 -> destination:15008 via the
#   east-west 198.18.0.3┘                   east-west gateway; echo target in pod C
#       └── pod C 198.19.0.2 (another network: node C's hbone gateway on :15008)
#
#   pooled    pod A, defaults: inner connections (TLS to node C inside a tunnel through the
#             east-west gateway) and their carriers are pooled; a tunnel costs no handshake
#   per-conn  pod A2, client.max_tunnels_per_connection: 1: every tunnel opens its own outer
#             and inner connection (two handshakes), the control for a proxy that handshakes
#             per connection (ztunnel opens a new inner TLS session for each, ztunnel#1672;
#             its outer one is pooled, so its cost lies between the two)
# Each round: N tunnels one after another (64 bytes echoed, then closed) and N at C at
# once, from each pod: setup p50/p99 (connect to first echoed byte), tunnels/s, and CPU
# µs per tunnel of pod A's client, the east-west gateway and node C's gateway; then `bulk`:
# 64 tunnels of 4 MiB echoed, 4 at once, pooled (what the inner connection's path to its
# carrier tunnel costs per byte), in MiB/s both ways together.
# -b BIN runs every daemon with another hbone binary (an earlier build, for before/after).
#   perf/double-hbone.sh [-n N] [-c C] [-r ROUNDS] [-b BIN] [-o DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
source perf/lib.sh
total=2000 concurrency=16 rounds=3 out=perf/results/double-hbone other_bin=""
while getopts "n:c:r:b:o:" opt; do
  case $opt in
    n) total=$OPTARG ;;
    c) concurrency=$OPTARG ;;
    r) rounds=$OPTARG ;;
    b) other_bin=$(realpath "$OPTARG") ;;
    o) out=$OPTARG ;;
    *) sed -n 2,24p "$0"; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "double-hbone.sh: needs root (ip netns, iptables)" >&2; exit 1; }
prepare "$out"
out=$(cd "$out" && pwd)
loadgen=$(dirname "$bin")/hbone-loadgen
[ -n "$other_bin" ] && bin=$other_bin
echo "daemons: $bin"

tag="hbdh$$"
trap 'cleanup; remove_namespaces' EXIT
br=$tag-br a=$tag-a a2=$tag-a2 ew=$tag-ew c=$tag-c
A=198.18.0.1 A2=198.18.0.4 EW=198.18.0.3 C=198.19.0.2
add_bridge "$br"
add_bridge_node "$br" "$a" a "$A"
add_bridge_node "$br" "$a2" a2 "$A2"
add_bridge_node "$br" "$ew" ew "$EW"
add_link_node "$ew" "$c" c 198.19.0.1 "$C"  # the east-west namespace does not forward

id=spiffe://cluster.local/ns/default/sa/gateway
certs="cert: certs/dev/%s.pem, key: certs/dev/%s-key.pem, ca: certs/dev/ca.pem"
cat > "$out/east-west.yaml" <<YAML
tls: {$(printf "$certs" gateway gateway)}
gateway: {listen: "$EW:15008", allowed_destinations: ["$C:15008"]}
YAML
cat > "$out/node-c.yaml" <<YAML
tls: {$(printf "$certs" gateway gateway)}
gateway: {listen: "$C:15008", require_arrived_address: true}  # inbound of the pod at $C
YAML
for pod in a a2; do
  lifetime=0
  [ $pod = a2 ] && lifetime=1
  cat > "$out/pod-$pod.yaml" <<YAML
tls: {$(printf "$certs" client client)}
client:
  max_tunnels_per_connection: $lifetime
  capture: {listen: "127.0.0.1:15001"}
  routes:
    - {cidr: 198.19.0.0/24, gateway: "destination:15008", identity: $id, via: "$EW:15008", via_identity: $id}
YAML
done
for ns in "$a" "$a2"; do
  in_ns "$ns" ip route add 198.19.0.0/24 via "$EW"
  in_ns "$ns" scripts/capture.sh install > /dev/null
done
in_ns "$c" "$loadgen" echo "$C:8080" > "$out/echo.log" 2>&1 & pids+=($!)
for f in "$c node-c" "$ew east-west" "$a pod-a" "$a2 pod-a2"; do
  set -- $f
  in_ns "$1" "$bin" --config "$out/$2.yaml" > "$out/$2.log" 2>&1 & pids+=($!)
done
admin_port() { grep -o 'admin.listen: listening on [0-9.:]*' "$out/$1.log" | sed 's/.*://'; }
for f in node-c east-west pod-a pod-a2; do wait_running "$out/$f.log"; done
grep -q ready "$out/echo.log"
pid_of() { pgrep -f -- "--config $out/$1.yaml" | head -n 1; }  # the daemon, not its background shell
pid_c=$(pid_of node-c) pid_ew=$(pid_of east-west) pid_a=$(pid_of pod-a) pid_a2=$(pid_of pod-a2)
# An access-log line per tunnel is not what this measures.
for f in "$c node-c" "$ew east-west" "$a pod-a" "$a2 pod-a2"; do
  set -- $f
  in_ns "$1" curl -sf -XPOST "127.0.0.1:$(admin_port "$2")/logging?level=warn" > /dev/null
done

csv="$out/double-hbone.csv"
echo "path,round,mode,tunnels,bytes,seconds,tunnels_per_s,p50_us,p99_us,client_us,east_west_us,node_c_us" > "$csv"
# measure PATH ROUND MODE CONCURRENCY [TUNNELS BYTES]: one loadgen run from the path's pod,
# with CPU per tunnel.
measure() {
  local path=$1 round=$2 mode=$3 conc=$4 total=${5:-$total} bytes=${6:-64} ns=$a pid=$pid_a
  [ "$path" = per-conn ] && ns=$a2 pid=$pid_a2
  local before after line
  before=$(for p in "$pid" "$pid_ew" "$pid_c"; do cpu_seconds "$p"; done | tr '\n' ' ')
  line=$(in_ns "$ns" "$loadgen" run "$C:8080" "$total" "$conc" "$bytes")
  after=$(for p in "$pid" "$pid_ew" "$pid_c"; do cpu_seconds "$p"; done | tr '\n' ' ')
  python3 - "$path" "$round" "$mode" "$total" "$bytes" "$line" "$before" "$after" >> "$csv" <<'PY'
import json, sys
path, rnd, mode, total, size, line, before, after = sys.argv[1:]
r = json.loads(line)
assert r["completed"] == int(total) and r["failed"] == 0 and r["corrupted"] == 0, line
cpu = [(float(y) - float(x)) * 1e6 / int(total) for x, y in zip(before.split(), after.split())]
print(f"{path},{rnd},{mode},{total},{size},{r['seconds']},{r['setups_per_second']},{r['setup_p50_us']},"
      f"{r['setup_p99_us']}," + ",".join(f"{c:.0f}" for c in cpu))
PY
}
# One warm-up tunnel each: pod A's pools exist before the first measured round.
for ns in "$a" "$a2"; do in_ns "$ns" "$loadgen" run "$C:8080" 1 1 64 > /dev/null; done
echo "double HBONE, $total tunnels per run (64 B echoed), sequential and $concurrency at once; $rounds rounds"
for r in $(seq "$rounds"); do
  for path in pooled per-conn; do
    measure "$path" "$r" sequential 1
    measure "$path" "$r" concurrent "$concurrency"
  done
  measure pooled "$r" bulk 4 64 $((4 << 20))
done
handshakes() {  # ns name: the daemon's gateway-side TLS handshakes that succeeded
  in_ns "$1" curl -s "http://127.0.0.1:$(admin_port "$2")/metrics" |
    awk '/^hbone_tls_handshakes_total\{.*result="ok"/ && /role="gateway"/ {s += $2} END {print s + 0}'
}
echo "TLS handshakes at node C: $(handshakes "$c" node-c), at the east-west gateway: $(handshakes "$ew" east-west)" \
  | tee "$out/handshakes.txt"
python3 - "$csv" <<'PY' | tee "$out/double-hbone.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
med = lambda path, mode, key: statistics.median(float(r[key]) for r in rows if r["path"] == path and r["mode"] == mode)
print(f"{'path':9} {'mode':11} {'tunnels/s':>9} {'p50 µs':>8} {'p99 µs':>8} {'CPU µs/tunnel: client':>22} {'east-west':>9} {'node C':>7}")
for mode in ("sequential", "concurrent"):
    for path in ("pooled", "per-conn"):
        print(f"{path:9} {mode:11} {med(path, mode, 'tunnels_per_s'):9.0f} {med(path, mode, 'p50_us'):8.0f} "
              f"{med(path, mode, 'p99_us'):8.0f} {med(path, mode, 'client_us'):22.0f} "
              f"{med(path, mode, 'east_west_us'):9.0f} {med(path, mode, 'node_c_us'):7.0f}")
    ratio = med("per-conn", mode, "p50_us") / med("pooled", mode, "p50_us")
    rate = med("pooled", mode, "tunnels_per_s") / med("per-conn", mode, "tunnels_per_s")
    print(f"  {mode}: pooled sets a tunnel up {ratio:.1f}x faster at p50, {rate:.1f}x the tunnels/s (medians of rounds)")
bulk = [2 * int(r["tunnels"]) * int(r["bytes"]) / float(r["seconds"]) / 2**20 for r in rows if r["mode"] == "bulk"]
cpu = statistics.median(float(r["client_us"]) for r in rows if r["mode"] == "bulk")
print(f"bulk, pooled: {statistics.median(bulk):.0f} MiB/s both ways (median of rounds), pod A's client "
      f"{cpu:.0f} CPU µs per 4 MiB tunnel")
PY
