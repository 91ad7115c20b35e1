"""What the local application sees when the target cannot be reached."""

import socket
import time

from harness import Mesh, closed_without_data, rejected_at_once


def test_closed_port_gives_503_and_closes_local(tmp_path, dead_port):
    mesh = Mesh(tmp_path, dead_port)
    assert rejected_at_once(mesh.connect)
    mesh.gateway.wait_for_log("-> 503: connection refused")
    mesh.client.wait_for_log("status=503")
    mesh.stop()


def test_connect_timeout_honoured(tmp_path):
    # A listener that never accepts, with its tiny backlog filled: further SYNs are
    # dropped, so the gateway's connect can only time out.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    port = blackhole.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
    time.sleep(0.2)
    mesh = Mesh(tmp_path, port, gateway={"gateway": {"connect_timeout": "700ms"}})
    start = time.monotonic()
    with mesh.connect() as conn:
        assert closed_without_data(conn)
    elapsed = time.monotonic() - start
    assert 0.6 <= elapsed < 3.0, elapsed
    mesh.gateway.wait_for_log("-> 503: connect timeout")
    mesh.stop()
    blackhole.close()
