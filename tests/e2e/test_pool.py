"""Many tunnels multiplexed over pooled HTTP/2 connections."""

import re
import subprocess
import time

from harness import Mesh, TargetServer, echo, established_on_port


def open_tunnels(mesh, count):
    conns = []
    for i in range(count):
        conn = mesh.connect()
        conn.sendall(f"ping {i}\n".encode())
        conns.append(conn)
    for i, conn in enumerate(conns):
        expected = f"ping {i}\n".encode()
        got = b""
        while len(got) < len(expected):
            got += conn.recv(64)
        assert got == expected
    return conns


def wait_established(port, want, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and established_on_port(port) != want:
        time.sleep(0.05)
    return established_on_port(port)


def test_200_tunnels_on_one_connection_then_a_second(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, http2={"streams_per_connection": 200,
                                              "max_concurrent_streams": 200})
    conns = open_tunnels(mesh, 200)
    # Counted on the gateway's side: TLS connections accepted on its port.
    assert wait_established(mesh.gateway_port, 1) == 1
    assert server.accepted == 200
    conns += open_tunnels(mesh, 1)
    assert wait_established(mesh.gateway_port, 2) == 2
    for conn in conns:
        conn.close()
    server.wait_results(201)
    mesh.stop()


def test_streams_per_connection_limit_spreads_tunnels(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, http2={"streams_per_connection": 100})
    conns = open_tunnels(mesh, 201)
    assert wait_established(mesh.gateway_port, 3) == 3
    for conn in conns:
        conn.close()
    server.wait_results(201)
    mesh.stop()


def test_refused_streams_retried_on_another_connection(tmp_path):
    """Tunnels sent before the gateway's SETTINGS arrived, beyond its limit, are refused
    (REFUSED_STREAM: never dialled) and carried on a second pooled connection instead."""
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, gateway={"http2": {"max_concurrent_streams": 5}},
                client={"http2": {"streams_per_connection": 100}})
    conns = open_tunnels(mesh, 8)
    assert wait_established(mesh.gateway_port, 2) == 2
    assert mesh.gateway.metric("hbone_h2_streams_refused_total") == 3
    assert mesh.client.metric("istio_tcp_connections_failed_total") == 0
    for conn in conns:
        conn.close()
    server.wait_results(8)
    assert server.accepted == 8
    mesh.stop()


def test_idle_pooled_connection_is_closed_and_redialled(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, client={"client": {"pool_idle_timeout": "1s"}})
    for conn in open_tunnels(mesh, 2):
        conn.close()
    idle_from = time.monotonic()
    assert wait_established(mesh.gateway_port, 1) == 1
    # No tunnel for 1 s: GOAWAY, the connection closes; never before the timeout (a busy
    # machine can only make it later).
    mesh.client.wait_for_log("idle for 1s, closing", timeout=5)
    assert wait_established(mesh.gateway_port, 0) == 0
    assert time.monotonic() - idle_from >= 1.0
    assert mesh.client.metric("hbone_h2_connections_active", role="client") == 0
    # The next tunnel dials a new one.
    open_tunnels(mesh, 1)
    assert wait_established(mesh.gateway_port, 1) == 1
    mesh.stop()


def test_pooled_connections_have_tcp_keepalive(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, client={"socket": {"keepalive_time": "42s", "user_timeout": "77s"}},
                gateway={"socket": {"keepalive_time": "42s"}})
    conns = open_tunnels(mesh, 1)
    # ss shows the keepalive timer on each end (started at 42 s) once no data is in flight
    # (a retransmission timer is shown instead while there is).
    def timers(port_filter):
        deadline = time.monotonic() + 5
        while True:
            out = subprocess.run(["ss", "-tnoH", "state", "established", port_filter],
                                 capture_output=True, text=True).stdout
            if "timer:(keepalive," in out or time.monotonic() > deadline:
                return out
            time.sleep(0.1)
    for side in (f"( dport = :{mesh.gateway_port} )", f"( sport = :{mesh.gateway_port} )"):
        out = timers(side)
        left = re.search(r"timer:\(keepalive,(\d+)sec", out)
        assert left and 0 < int(left.group(1)) <= 42, out  # counting down from 42 s, however slow we are
    for conn in conns:
        conn.close()
    mesh.stop()


def test_max_tunnels_per_connection_rotates_connections(tmp_path):
    """client.max_tunnels_per_connection: 2. The first two tunnels share a connection,
    which then takes no more: the third opens a second connection while the first two are
    still open; the first connection closes (GOAWAY) once both have ended."""
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, client={"client": {"max_tunnels_per_connection": 2}})
    first = open_tunnels(mesh, 2)
    assert wait_established(mesh.gateway_port, 1) == 1
    third = open_tunnels(mesh, 1)
    assert wait_established(mesh.gateway_port, 2) == 2
    assert mesh.gateway.metric("hbone_tls_handshakes_total", role="gateway", result="ok") == 2
    for conn in first:
        conn.sendall(b"still open\n")  # the drained connection carries its tunnels on
        assert conn.recv(64) == b"still open\n"
        conn.close()
    assert wait_established(mesh.gateway_port, 1) == 1  # drained and closed
    third[0].close()
    fourth = open_tunnels(mesh, 1)  # the second connection has room for one more
    assert mesh.gateway.metric("hbone_tls_handshakes_total", role="gateway", result="ok") == 2
    fourth[0].close()
    server.wait_results(4)
    assert mesh.client.metric("istio_tcp_connections_failed_total") == 0
    assert mesh.stop() == (0, 0)


def test_max_tunnels_per_connection_counts_tunnels_waiting_for_the_handshake(tmp_path):
    """Five tunnels at once on a fresh client with client.max_tunnels_per_connection: 2:
    whether they arrive before or after a connection is ready, each connection takes two
    at most, so three connections (handshakes) carry them."""
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, client={"client": {"max_tunnels_per_connection": 2}})
    conns = open_tunnels(mesh, 5)
    assert mesh.gateway.metric("hbone_tls_handshakes_total", role="gateway", result="ok") == 3
    for conn in conns:
        conn.close()
    server.wait_results(5)
    assert mesh.stop() == (0, 0)
