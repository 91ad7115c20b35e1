"""workers: N runs N event loops, each with its own SO_REUSEPORT listeners; the gateway
places accepted connections on the least loaded worker (gateway.balance: exact)."""

import json
import os
import re

from harness import Mesh, TargetServer, echo


def thread_ids(log, role):
    return set(re.findall(r"\[(\d+)\] tunnel role=" + role, log))


def test_two_workers_carry_tunnels(tmp_path):
    server = TargetServer(echo)
    # One stream per pooled connection and 40 tunnels held open: 40 local connections
    # and 40 TLS connections, which the kernel spreads over both workers' listeners
    # (all on one worker: odds 2^-39).
    mesh = Mesh(tmp_path, server.port, workers=2, http2={"streams_per_connection": 1})
    conns = [mesh.connect() for _ in range(40)]
    for i, conn in enumerate(conns):
        conn.sendall(b"x%d" % i)
        assert conn.recv(8) == b"x%d" % i
    for conn in conns:
        conn.close()
    server.wait_results(40)
    mesh.stop()
    assert len(thread_ids(mesh.client.log(), "client")) == 2, mesh.client.log()
    assert len(thread_ids(mesh.gateway.log(), "gateway")) == 2, mesh.gateway.log()


def gateway_connections_per_worker(mesh):
    status, body = mesh.gateway.admin_request("/debug/tunnels")
    assert status == 200
    per_worker = [0, 0]
    for conn in json.loads(body)["connections"]:
        per_worker[conn["worker"]] += 1
    return per_worker


def test_gateway_spreads_pooled_connections_evenly(tmp_path):
    server = TargetServer(echo)
    # A one-worker client whose pool opens a connection per tunnel: 8 long-lived HTTP/2
    # connections arriving one by one. The kernel's hash alone splits them 4/4 only 27% of
    # the time; exact balance must every time.
    mesh = Mesh(tmp_path, server.port, http2={"streams_per_connection": 1},
                gateway={"workers": 2})
    conns = []
    for i in range(8):
        conn = mesh.connect()
        conn.sendall(b"x%d" % i)
        assert conn.recv(8) == b"x%d" % i
        conns.append(conn)
    assert gateway_connections_per_worker(mesh) == [4, 4]
    for conn in conns:
        conn.close()
    server.wait_results(8)
    mesh.stop()


def worker_cpus(hbone):
    """{thread name: Cpus_allowed_list} of an hbone process's worker threads."""
    out = {}
    tasks = f"/proc/{hbone.proc.pid}/task"
    for tid in os.listdir(tasks):
        name = open(f"{tasks}/{tid}/comm").read().strip()
        if name.startswith("hbone-w"):
            status = open(f"{tasks}/{tid}/status").read()
            out[name] = re.search(r"Cpus_allowed_list:\s*(\S+)", status).group(1)
    return out


def test_cpu_affinity_pins_each_worker(tmp_path):
    cpus = sorted(os.sched_getaffinity(0))
    first, last = cpus[0], cpus[-1]
    server = TargetServer(echo)
    # Gateway: two workers on one listed CPU (round robin over the list); client: one.
    mesh = Mesh(tmp_path, server.port, gateway={"workers": 2, "cpu_affinity": [last]},
                client={"cpu_affinity": [first]})
    conn = mesh.connect()
    conn.sendall(b"pinned")
    assert conn.recv(16) == b"pinned"
    conn.close()
    assert worker_cpus(mesh.gateway) == {"hbone-w0": str(last), "hbone-w1": str(last)}
    assert worker_cpus(mesh.client) == {"hbone-w0": str(first)}
    assert f"cpu_affinity: worker 1 runs on CPU {last}" in mesh.gateway.log()
    server.wait_results(1)
    assert mesh.stop() == (0, 0)


def test_without_cpu_affinity_workers_may_run_anywhere(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port)
    allowed = open(f"/proc/{mesh.gateway.proc.pid}/status").read()
    process_cpus = re.search(r"Cpus_allowed_list:\s*(\S+)", allowed).group(1)
    assert worker_cpus(mesh.gateway) == {"hbone-w0": process_cpus}
    assert "cpu_affinity" not in mesh.gateway.log()
    assert mesh.stop() == (0, 0)
