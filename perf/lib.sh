# Shared helpers for perf/ scripts (sourced). Everything started is stopped on exit.
pids=()
issued_ports=$(mktemp)
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$issued_ports"
}
trap cleanup EXIT

# prepare DIR: the output folder, dependencies, a BoringSSL build, dev certs; sets $bin.
prepare() {
  mkdir -p "$1"
  scripts/deps.sh
  bin=$(scripts/build.sh boringssl | tail -n 1)/hbone
  certs/gen.sh >/dev/null
}

# A port free now and never handed out before in this run (the kernel may offer a port
# again once its probe socket is closed; a file, since callers run this in a subshell).
free_port() {
  python3 - "$issued_ports" <<'PY'
import socket, sys
seen = set(open(sys.argv[1]).read().split())
while True:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = str(s.getsockname()[1])
    s.close()
    if port not in seen:
        break
open(sys.argv[1], "a").write(port + "\n")
print(port)
PY
}

start_iperf_server() {  # port
  iperf3 -s -p "$1" > /dev/null 2>&1 &
  pids+=($!)
  sleep 0.3
}

# CPU seconds (user+system, threads and reaped children) of the given pids, summed.
cpu_seconds() {
  python3 - "$@" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
total = 0
for pid in sys.argv[1:]:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    total += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
print(total / tick)
PY
}

wait_running() {  # log
  for _ in $(seq 200); do grep -q "hbone running" "$1" && return 0; sleep 0.05; done
  cat "$1" >&2
  return 1
}

# start_mesh BIN DIR TARGET_PORT [extra YAML for both] [extra tls keys]: sets gateway_pid
# client_pid client_port admin_gw admin_cl. With mesh_rtt_ms set, the client reaches the
# gateway through hbone-rtt-relay (mesh_rtt_ms, optional mesh_rate_mbit); sets relay_pid.
# mesh_log_level: hbone's log level (default info). mesh_second_target: a second client
# listener (port client_port2) to that target port, its tunnels on the same pooled connection.
# start_own_client (after start_mesh) adds a second client process with its own connection.
# mesh_gateway_yaml / mesh_client_yaml: YAML for one side only (e.g. cpu_affinity);
# mesh_client_section: keys inside the client's `client:` section, indented by two.
start_mesh() {
  local bin=$1 dir=$2 target=$3 extra=${4:-} tls_extra=${5:-}
  local gw_port dial_port second=""
  gw_port=$(free_port) client_port=$(free_port) admin_gw=$(free_port) admin_cl=$(free_port)
  if [ -n "${mesh_second_target:-}" ]; then
    client_port2=$(free_port)
    second=", {listen: 127.0.0.1:$client_port2, target: 127.0.0.1:$mesh_second_target}"
  fi
  dial_port=$gw_port
  if [ -n "${mesh_rtt_ms:-}" ]; then
    dial_port=$(free_port)
    "$(dirname "$bin")/hbone-rtt-relay" "$dial_port" "$gw_port" "$mesh_rtt_ms" "${mesh_rate_mbit:-0}" \
      > "$dir/relay.log" 2>&1 &
    relay_pid=$!
    pids+=("$relay_pid")
  fi
  # info level at least: the "running" line is awaited below; per-tunnel lines are few.
  local level=${mesh_log_level:-info}
  cat > "$dir/gateway.yaml" <<YAML
log_level: $level
admin: {listen: 127.0.0.1:$admin_gw}
tls: {cert: certs/dev/gateway.pem, key: certs/dev/gateway-key.pem, ca: certs/dev/ca.pem$tls_extra}
gateway: {listen: 127.0.0.1:$gw_port, allowed_destinations: [127.0.0.0/8]}
$extra
${mesh_gateway_yaml:-}
YAML
  mesh_bin=$bin mesh_dir=$dir mesh_dial_port=$dial_port mesh_extra=$extra mesh_tls_extra=$tls_extra
  write_client_yaml "$dir/client.yaml" "$admin_cl" "{listen: 127.0.0.1:$client_port, target: 127.0.0.1:$target}$second"
  "$bin" --config "$dir/gateway.yaml" > "$dir/gateway.log" 2>&1 &
  gateway_pid=$!
  pids+=("$gateway_pid")
  "$bin" --config "$dir/client.yaml" > "$dir/client.log" 2>&1 &
  client_pid=$!
  pids+=("$client_pid")
  wait_running "$dir/gateway.log"
  wait_running "$dir/client.log"
}

write_client_yaml() {  # FILE ADMIN_PORT LISTENERS (from start_mesh's settings)
  cat > "$1" <<YAML
log_level: ${mesh_log_level:-info}
admin: {listen: 127.0.0.1:$2}
tls: {cert: certs/dev/client.pem, key: certs/dev/client-key.pem, ca: certs/dev/ca.pem$mesh_tls_extra}
client:
  gateway: 127.0.0.1:$mesh_dial_port
  listeners: [$3]
${mesh_client_section:-}
$mesh_extra
${mesh_client_yaml:-}
YAML
}

# start_own_client TARGET_PORT: another client process, as configured by the last
# start_mesh, to the same gateway: its tunnels have an HBONE connection of their own. Sets
# own_port and own_pid.
start_own_client() {
  local admin
  own_port=$(free_port) admin=$(free_port)
  write_client_yaml "$mesh_dir/own-client.yaml" "$admin" "{listen: 127.0.0.1:$own_port, target: 127.0.0.1:$1}"
  "$mesh_bin" --config "$mesh_dir/own-client.yaml" > "$mesh_dir/own-client.log" 2>&1 &
  own_pid=$!
  pids+=("$own_pid")
  wait_running "$mesh_dir/own-client.log"
}

# start_go_pair DIR TARGET_PORT: the Go stdlib HBONE pair (perf/gohbone: crypto/tls and
# net/http's HTTP/2, mTLS with the dev certificates) in front of TARGET_PORT; installs Go
# and builds it on first use. Sets client_port and go_pids.
start_go_pair() {
  local dir target=$2 gw_port
  dir=$(realpath "$1")
  command -v go > /dev/null || apt-get install -y -qq golang-go > /dev/null
  (cd perf/gohbone && GOCACHE="${GOCACHE:-/tmp/hbone-gocache}" GOFLAGS=-mod=mod go build -o "$dir/gohbone" .)
  gw_port=$(free_port) client_port=$(free_port)
  "$dir/gohbone" gateway "127.0.0.1:$gw_port" certs/dev/gateway.pem certs/dev/gateway-key.pem certs/dev/ca.pem \
    > "$dir/go-gateway.log" 2>&1 &
  go_pids="$!"
  pids+=("$!")
  "$dir/gohbone" client "127.0.0.1:$client_port" "127.0.0.1:$gw_port" "127.0.0.1:$target" \
    certs/dev/client.pem certs/dev/client-key.pem certs/dev/ca.pem > "$dir/go-client.log" 2>&1 &
  go_pids+=" $!"
  pids+=("$!")
  sleep 0.5
}

# Network namespaces (needs root); remove_namespaces deletes every one made, with what
# runs inside. Only 198.18.0.0/15 inside them, never routed out.
namespaces=()
remove_namespaces() {
  for ns in "${namespaces[@]}"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
add_ns() { ip netns add "$1"; namespaces=("$1" "${namespaces[@]}"); in_ns "$1" ip link set lo up; }
add_bridge() {  # ns: a namespace holding bridge br0
  add_ns "$1"
  in_ns "$1" ip link add br0 type bridge
  in_ns "$1" ip link set br0 up
}
add_bridge_node() {  # bridge-ns ns short address: ns on the bridge (port p-short) at address/24
  local br=$1 ns=$2 short=$3 addr=$4
  add_ns "$ns"
  in_ns "$br" ip link add "p-$short" type veth peer name eth0 netns "$ns"
  in_ns "$br" ip link set "p-$short" master br0 up
  in_ns "$ns" ip addr add "$addr/24" dev eth0
  in_ns "$ns" ip link set eth0 up
}
add_link_node() {  # ns new-ns short ns-address address: new-ns behind ns on a veth, /24
  local ns=$1 peer=$2 short=$3 ns_addr=$4 addr=$5
  add_ns "$peer"
  in_ns "$ns" ip link add "to-$short" type veth peer name eth0 netns "$peer"
  in_ns "$ns" ip addr add "$ns_addr/24" dev "to-$short"
  in_ns "$ns" ip link set "to-$short" up
  in_ns "$peer" ip addr add "$addr/24" dev eth0
  in_ns "$peer" ip link set eth0 up
}
