#!/usr/bin/env bash
# The hbone demo on one machine: installs what is missing, builds, generates dev
# certificates, starts an iperf3 server, a gateway (config/gateway.yaml) and a client
# (config/client.yaml), runs iperf3 direct and through the tunnel (both directions),
# prints the throughput, and stops everything it started.
#   perf/demo.sh [seconds]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
scripts/deps.sh
bin_dir=$(scripts/build.sh boringssl | tail -n 1)
certs/gen.sh
out=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT

for port in 5201 15008 15001; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is already in use; stop what listens there and retry" >&2
    exit 1
  fi
done

iperf3 -s -p 5201 > "$out/iperf3-server.log" 2>&1 & pids+=($!)
"$bin_dir/hbone" --config config/gateway.yaml > "$out/gateway.log" 2>&1 & pids+=($!)
"$bin_dir/hbone" --config config/client.yaml > "$out/client.log" 2>&1 & pids+=($!)
for log in gateway client; do
  for _ in $(seq 100); do grep -q "hbone running" "$out/$log.log" && break; sleep 0.05; done
  grep -q "hbone running" "$out/$log.log" || { cat "$out/$log.log"; exit 1; }
done

measure() {  # label port [iperf3 flags...]
  local label=$1 port=$2
  shift 2
  iperf3 -c 127.0.0.1 -p "$port" -t "$seconds" -J "$@" > "$out/run.json"
  python3 - "$label" "$out/run.json" <<'PY'
import json, sys
end = json.load(open(sys.argv[2]))["end"]
print(f"{sys.argv[1]:<34} {end['sum_received']['bits_per_second'] / 1e9:7.2f} Gbit/s")
PY
}

echo "iperf3 -t $seconds over 127.0.0.1 (receiver throughput; one run, shared 2-core machine)"
measure "direct" 5201
measure "hbone mTLS HTTP/2 tunnel" 15001
measure "direct -R" 5201 -R
measure "hbone mTLS HTTP/2 tunnel -R" 15001 -R
echo "tunnel log (last lines of the gateway):"
tail -n 2 "$out/gateway.log"
