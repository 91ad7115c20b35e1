#!/usr/bin/python3
"""The node proxy at scale (#36): one hbone in in-pod mode on a node namespace, the fake
istiod (workloads, CA) and the fake CNI agent (tests/support/), N pod namespaces (default
200, over S service accounts). Measures, in one run:
  - adding the N pods live (the agent's adds, one after another, as istio-cni sends them):
    seconds from the first add to every pod serving (listeners made in its namespace, its
    identity's certificate issued);
  - each idle pod's cost: hbone's RSS and open descriptors, (after - before) / N;
  - CPU per request in perf/rps.sh's shape (hbone-loadgen rate: RATE req/s over 64
    keep-alive connections, 1 KiB each way) from pod p0 to an echo in pod p1 through the
    node proxy (both ends in the one process), against the single-identity sidecar pair on
    the same node (pod sa's capture client -> pod sb's gateway: two processes), alternating
    rounds.

    perf/inpod_scale.py HBONE_BIN OUT_DIR [--pods 200] [--accounts 20] [--rate 1000]
                        [--seconds 10] [--rounds 3]
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import harness  # noqa: E402
import netns  # noqa: E402
from harness import Hbone, tls, wait_until  # noqa: E402
from istiod import FakeIstiod, workload  # noqa: E402
from xds_scale import proc_stat  # noqa: E402  (perf/, this script's directory)

AGENT = ["/usr/bin/python3", str(ROOT / "tests" / "support" / "fake_cni_agent.py")]
CAPTURE = str(ROOT / "scripts" / "capture.sh")
NODE, SA, SB = "198.18.0.1", "198.18.0.11", "198.18.0.12"


def pod_ip(i):
    """Pod i behind the node on its own /24: 198.18.1.2 and on, into 198.19.0.0/16."""
    block = 1 + i
    return f"198.{18 + block // 256}.{block % 256}.2"


def usage(pid):
    """(CPU seconds, RSS bytes, open descriptors) of a process."""
    return (*proc_stat(pid), len(os.listdir(f"/proc/{pid}/fd")))


def quiet(daemon):
    """No access-log line per tunnel during the load."""
    assert daemon.admin_request("/logging?level=warn", method="POST")[0] == 200


def serving(daemon):
    body = daemon.admin_request("/config_dump")[1].decode()
    line = next(l for l in body.splitlines() if l.startswith("pods: "))
    return sum(1 for p in json.loads(line[len("pods: "):]) if p["state"] == "serving")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin")
    parser.add_argument("out")
    parser.add_argument("--pods", type=int, default=200)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    harness.HBONE = args.bin
    loadgen = str(pathlib.Path(args.bin).parent / "hbone-loadgen")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    topo = netns.Topology("s")
    try:
        run(topo, args, loadgen, out)
    finally:
        for proc in harness.children:
            proc.kill()
        for daemon in Hbone.started:
            daemon.proc.kill()
        topo.close()


def run(topo, args, loadgen, out):
    node = topo.add_node("n", NODE)
    topo.run(node, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    pods = []
    print(f"making {args.pods} pod namespaces", flush=True)
    for i in range(args.pods):
        ip = pod_ip(i)
        ns = topo.link(node, f"p{i}", ip, ip.rsplit(".", 1)[0] + ".1")
        topo.run(ns, "ip", "route", "add", "default", "via", ip.rsplit(".", 1)[0] + ".1")
        pods.append(ns)
    for ns in pods[:2]:  # the pods that carry the load get istio-cni's rules
        topo.run(ns, CAPTURE, "pod-install")
    account = lambda i: f"sa{i % args.accounts}"
    istiod = FakeIstiod(out, netns=node, ca=True)
    istiod.push("address", [workload(f"Kubernetes//Pod/default/p{i}", pod_ip(i), name=f"p{i}",
                                     service_account=account(i)) for i in range(args.pods)])
    socket_path = out / "zds.sock"
    agent = harness.spawn([*AGENT, "--socket", str(socket_path)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                          text=True)
    assert wait_until(lambda: socket_path.exists(), timeout=30)
    proxy = Hbone(out, "node-proxy", {"workers": 2, "node": {"zds_socket": str(socket_path)},
                                      "xds": istiod.xds_config(), "identity": {"provider": "istio_ca"}}, netns=node)
    assert wait_until(lambda: proxy.admin_request("/healthz/ready")[0] == 200, timeout=30), proxy.log()
    quiet(proxy)
    time.sleep(2)
    _, rss0, fds0 = usage(proxy.proc.pid)

    started = time.monotonic()
    for i, ns in enumerate(pods):
        agent.stdin.write(json.dumps({"add": f"p{i}", "netns": f"/var/run/netns/{ns}", "name": f"p{i}",
                                      "namespace": "default", "service_account": account(i)}) + "\n")
    agent.stdin.flush()
    assert wait_until(lambda: serving(proxy) == args.pods, timeout=120), proxy.log()[-2000:]
    add_seconds = time.monotonic() - started
    time.sleep(3)  # idle: the adds' transient allocations returned
    _, rss1, fds1 = usage(proxy.proc.pid)

    # The sidecar pair on the same node's bridge, with its static route (perf/rps.sh -m mesh).
    sa, sb = topo.add_node("sa", SA), topo.add_node("sb", SB)
    topo.run(sa, CAPTURE, "install")
    side_a = Hbone(out, "sidecar-a", {"tls": tls("client"), "client": {
        "capture": {"listen": "127.0.0.1:15001"},
        "routes": [{"cidr": f"{SB}/32", "gateway": "destination:15008",
                    "identity": "spiffe://cluster.local/ns/default/sa/gateway"}]}}, netns=sa)
    side_b = Hbone(out, "sidecar-b", {"tls": tls("gateway"), "gateway": {"listen": f"{SB}:15008",
                                                                          "require_arrived_address": True}}, netns=sb)
    for daemon in (side_a, side_b):
        quiet(daemon)
    for ns, ip in ((pods[1], pod_ip(1)), (sb, SB)):
        echo = topo.spawn(ns, loadgen, "echo", f"{ip}:7000", stdout=subprocess.PIPE, text=True)
        assert "ready" in echo.stdout.readline()
    paths = {"node proxy": (pods[0], f"{pod_ip(1)}:7000", [proxy.proc.pid]),
             "sidecars": (sa, f"{SB}:7000", [side_a.proc.pid, side_b.proc.pid])}
    rows = []
    for rnd in range(args.rounds):
        for name in (list(paths) if rnd % 2 == 0 else list(reversed(paths))):
            ns, target, pids = paths[name]
            cpu0 = sum(usage(pid)[0] for pid in pids)
            line = topo.run(ns, loadgen, "rate", target, "64", str(args.rate), str(args.seconds), "1024").stdout
            r = json.loads(line)
            assert r["errors"] == 0 and r["corrupted"] == 0, line
            cpu1 = sum(usage(pid)[0] for pid in pids)
            rows.append({"path": name, "round": rnd, "requests": r["requests"], "p50_us": r["p50_us"],
                         "p99_us": r["p99_us"], "cpu_us_per_request": (cpu1 - cpu0) * 1e6 / r["requests"]})
    med = lambda name, key: statistics.median(r[key] for r in rows if r["path"] == name)
    result = {
        "pods": args.pods, "service_accounts": args.accounts,
        "add_seconds": round(add_seconds, 3),
        "rss_before_mib": round(rss0 / 2**20, 1), "rss_after_mib": round(rss1 / 2**20, 1),
        "rss_per_pod_kib": round((rss1 - rss0) / args.pods / 1024, 1),
        "fds_before": fds0, "fds_after": fds1, "fds_per_pod": round((fds1 - fds0) / args.pods, 2),
        "rate": args.rate, "rounds": rows,
        "cpu_us_per_request": {name: round(med(name, "cpu_us_per_request"), 1) for name in paths},
        "p50_us": {name: med(name, "p50_us") for name in paths},
        "p99_us": {name: med(name, "p99_us") for name in paths},
    }
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=1))
    node_cpu, side_cpu = result["cpu_us_per_request"]["node proxy"], result["cpu_us_per_request"]["sidecars"]
    print(f"{args.pods} pods added in {add_seconds:.2f} s; per idle pod {result['rss_per_pod_kib']} KiB RSS, "
          f"{result['fds_per_pod']} descriptors; CPU per request: node proxy {node_cpu} µs, sidecar pair "
          f"{side_cpu} µs (ratio {node_cpu / side_cpu:.2f})")
    agent.stdin.close()


if __name__ == "__main__":
    main()
