"""workers: N runs N event loops, each with its own SO_REUSEPORT listeners."""

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
