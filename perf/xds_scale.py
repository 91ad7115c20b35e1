#!/usr/bin/python3
"""The control plane at cluster scale (#35): the fake istiod pushes N workloads and M
services to one hbone in a single response, then small pushes into that state; measures
how long each takes from sent to ACKed, the hbone process's CPU for it and its RSS growth.

    perf/xds_scale.py HBONE_BIN OUT_DIR [--workloads 10000] [--services 1000] [--updates 20]
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
from harness import Hbone, tls, wait_until  # noqa: E402
from istiod import FakeIstiod, service, workload  # noqa: E402


def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) * 1024
    return cpu, rss


def ip(i):
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def cluster(n_workloads, n_services):
    """A cluster's Address resources: workloads in 10.0.0.0/8 spread over 50 namespaces,
    200 service accounts and 100 nodes, each an endpoint of one of the services (VIPs from
    10.100.0.0), 80 -> 8080. Also perf/rps.sh's background state."""
    services = [service("ns%d" % (i % 50), f"svc{i}.ns{i % 50}.svc.cluster.local", ip(0x640000 + i), [(80, 8080)])
                for i in range(n_services)]
    workloads = [workload(f"Kubernetes//Pod/ns{i % 50}/pod-{i}", ip(i + 1), service_account=f"sa{i % 200}",
                          services={services[i % n_services]["name"]: [(80, 8080)]}, node=f"node-{i % 100}")
                 for i in range(n_workloads)]
    return workloads, services


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin")
    parser.add_argument("out")
    parser.add_argument("--workloads", type=int, default=10000)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=20)
    args = parser.parse_args()
    os.environ["HBONE_BIN"] = args.bin
    import harness
    harness.HBONE = args.bin
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    istiod = FakeIstiod(out)
    hbone = Hbone(out, "node", {"gateway": {"listen": "127.0.0.1:0"}, "tls": tls("gateway"),
                                "xds": istiod.xds_config()})
    assert wait_until(lambda: hbone.admin_request("/healthz/ready")[0] == 200, timeout=30)
    pid = hbone.proc.pid

    def timed_push(resources=(), removed=()):
        cpu0, _ = proc_stat(pid)
        reply = istiod._call("/push", {"type": "address", "resources": list(resources), "removed": list(removed)})
        assert wait_until(lambda: istiod.answer_to(reply["nonce"]), timeout=120)
        answer = istiod.answer_to(reply["nonce"])
        assert answer["error"] is None, answer["error"][:500]
        cpu1, rss = proc_stat(pid)
        return answer["time"] - reply["sent"], cpu1 - cpu0, rss

    workloads, services = cluster(args.workloads, args.services)
    _, rss_before = proc_stat(pid)
    seconds, cpu, rss_after = timed_push(workloads + services)
    dump = hbone.admin_request("/config_dump")[1]
    assert dump.count(b'"uid":') == args.workloads, "not every workload is in force"
    update_s, update_cpu = [], []
    for u in range(args.updates):
        s, c, _ = timed_push([workload(f"Kubernetes//Pod/ns0/pod-{u}", ip(u + 1), service_account="moved",
                                       services={services[0]["name"]: [(80, 8080)]})])
        update_s.append(s)
        update_cpu.append(c)
    _, rss_end = proc_stat(pid)
    result = {
        "workloads": args.workloads, "services": args.services,
        "full_push_seconds": round(seconds, 3), "full_push_cpu_seconds": round(cpu, 3),
        "rss_before_mib": round(rss_before / 2**20, 1), "rss_after_mib": round(rss_after / 2**20, 1),
        "rss_growth_mib": round((rss_after - rss_before) / 2**20, 1),
        "update_push_seconds_median": round(statistics.median(update_s), 4),
        "update_push_seconds_max": round(max(update_s), 4),
        "update_push_cpu_ms_median": round(1000 * statistics.median(update_cpu), 1),
        "rss_end_mib": round(rss_end / 2**20, 1),
    }
    hbone.stop()
    istiod.kill()
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
