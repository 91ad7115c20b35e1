#!/usr/bin/env bash
# Where parallel tunnels run with several workers: iperf3 -P N through a client/gateway pair
# with `workers: W` on both sides; halfway through, /debug/tunnels says which worker carries
# each tunnel (and its rate), and /proc/PID/task says how much CPU each worker thread used
# over the middle half of the run.
#   perf/workers.sh [-t SECONDS] [-P STREAMS] [-w WORKERS] [-o DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10 streams=4 workers=2 out=""
while getopts "t:P:w:o:" opt; do
  case $opt in
    t) seconds=$OPTARG ;;
    P) streams=$OPTARG ;;
    w) workers=$OPTARG ;;
    o) out=$OPTARG ;;
    *) echo "usage: $0 [-t SECONDS] [-P STREAMS] [-w WORKERS] [-o DIR]" >&2; exit 2 ;;
  esac
done
out=${out:-perf/results/workers-$(date +%Y%m%d-%H%M%S)}
source perf/lib.sh
prepare "$out"

iperf_port=$(free_port)
start_iperf_server "$iperf_port"
start_mesh "$bin" "$out" "$iperf_port" "workers: $workers"

# One sampler started before the load (python starts slowly on a saturated machine): at
# 1/4 and 3/4 of the run, CPU seconds per worker thread (named hbone-wN); at 1/2, both
# sides' /debug/tunnels.
python3 - "$out" "$seconds" "$client_pid" "$gateway_pid" "$admin_cl" "$admin_gw" > "$out/samples.json" <<'PY' &
import json, os, sys, time, urllib.request
out, seconds, pids, admins = sys.argv[1], float(sys.argv[2]), sys.argv[3:5], sys.argv[5:7]
tick = os.sysconf("SC_CLK_TCK")

def thread_cpu(pid):
    cpu = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        base = f"/proc/{pid}/task/{tid}"
        name = open(f"{base}/comm").read().strip()
        if name.startswith("hbone-w"):
            fields = open(f"{base}/stat").read().rsplit(")", 1)[1].split()
            cpu[name] = (int(fields[11]) + int(fields[12])) / tick
    return cpu

start = time.monotonic() + 0.5  # iperf3 starts after the sampler
def at(fraction):
    time.sleep(max(0.0, start + seconds * fraction - time.monotonic()))

at(0.25)
t0, cpu0 = time.monotonic(), [thread_cpu(p) for p in pids]
at(0.5)
tunnels = [json.load(urllib.request.urlopen(f"http://127.0.0.1:{a}/debug/tunnels")) for a in admins]
at(0.75)
t1, cpu1 = time.monotonic(), [thread_cpu(p) for p in pids]
json.dump({"seconds": t1 - t0, "cpu0": cpu0, "cpu1": cpu1, "tunnels": tunnels}, sys.stdout)
PY
sampler=$!
sleep 0.5  # the sampler's start-up
iperf3 -c 127.0.0.1 -p "$client_port" -P "$streams" -t "$seconds" -J > "$out/iperf.json"
wait "$sampler"

python3 - "$out" <<'PY'
import collections, json, sys
out = sys.argv[1]
total = json.load(open(f"{out}/iperf.json"))["end"]["sum_received"]["bits_per_second"] / 1e9
samples = json.load(open(f"{out}/samples.json"))
print(f"iperf3 total: {total:.2f} Gbit/s")
print(f"{'side':<8} {'worker':<7} {'connections':>11} {'tunnels':>8} {'Gbit/s':>7} {'thread cores':>13}")
for i, side in enumerate(("client", "gateway")):
    conns = collections.Counter()
    tunnels = collections.Counter()
    rate = collections.Counter()
    for c in samples["tunnels"][i]["connections"]:
        conns[c["worker"]] += 1
        for t in c["tunnels"]:
            if t["bytes_sent"] + t["bytes_received"] > 1 << 20:  # data streams, not iperf3's control
                tunnels[c["worker"]] += 1
                rate[c["worker"]] += (t["rate_sent"] + t["rate_received"]) * 8 / 1e9
    cpu0, cpu1 = samples["cpu0"][i], samples["cpu1"][i]
    for name in sorted(cpu1):
        w = int(name.removeprefix("hbone-w"))
        cores = (cpu1[name] - cpu0.get(name, 0)) / samples["seconds"]
        print(f"{side:<8} {w:<7} {conns[w]:>11} {tunnels[w]:>8} {rate[w]:>7.2f} {cores:>13.2f}")
PY
