"""workers: N runs N event loops, each with its own SO_REUSEPORT listeners."""

import re

from harness import Mesh, TargetServer, echo


def thread_ids(log, role):
    return set(re.findall(r"\[(\d+)\] tunnel role=" + role, log))


def test_two_workers_carry_tunnels(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, workers=2)
    for i in range(40):  # the kernel spreads new connections across both listeners
        with mesh.connect() as conn:
            conn.sendall(b"x%d" % i)
            assert conn.recv(8) == b"x%d" % i
    server.wait_results(40)
    mesh.stop()
    assert len(thread_ids(mesh.client.log(), "client")) == 2, mesh.client.log()
    assert len(thread_ids(mesh.gateway.log(), "gateway")) == 2, mesh.gateway.log()
