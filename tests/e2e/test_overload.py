"""Overload: out of file descriptors the gateway neither spins nor loses what it carries;
accepting resumes by itself once descriptors are free."""

import socket
import time

from h2client import H2Client
from harness import Mesh, TargetServer, echo

LIMIT = 64  # the gateway's descriptors (prlimit): a few dozen connections exhaust it


def cpu_seconds(pid):
    """User + system CPU time of a process, from /proc."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (USER_HZ 100)


def plain_connections(port, n):
    """`n` TCP connections that send nothing; those the gateway resets at once (accepted
    into its descriptor reserve) may fail already in connect() and are left out."""
    opened = []
    for _ in range(n):
        try:
            opened.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except ConnectionResetError:
            pass
    return opened


def test_out_of_descriptors_gateway_pauses_accepting_and_recovers(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, gateway={"tls": {"handshake_timeout": "60s"}},
                gateway_wrapper=["prlimit", f"--nofile={LIMIT}:{LIMIT}"])
    gw = mesh.gateway
    tunnel = mesh.connect()
    tunnel.sendall(b"open")
    assert tunnel.recv(4) == b"open"

    # Plain TCP connections that never speak TLS hold the gateway's descriptors (until the
    # handshake timeout, far away). Once they reach the reserve (the last eighth of the
    # limit) the gateway resets the rest as it accepts them.
    flood = plain_connections(mesh.gateway_port, 200)
    gw.wait_for_log(f"accept on 127.0.0.1:{mesh.gateway_port}: Too many open files")

    # The reserve keeps dials going for open connections, up to its last quarter (kept for
    # the admin endpoint and the runtime: net/descriptor_reserve.h). Tunnels beyond find no
    # descriptor to dial with: 503 at the gateway (overflow, not the target's fault), a
    # reset for the application; the others work.
    burst = []
    outcomes = []
    for _ in range(LIMIT // 4):
        try:
            conn = mesh.connect()
        except ConnectionResetError:  # refused before connect() returned
            outcomes.append(b"")
            continue
        burst.append(conn)
    for conn in burst:
        try:
            conn.sendall(b"burst")
            outcomes.append(conn.recv(5))
        except (ConnectionResetError, BrokenPipeError):
            outcomes.append(b"")
    assert set(outcomes) == {b"", b"burst"}, outcomes
    gw.wait_for_log("-> 503: out of descriptors: ")
    assert "flags=UO" in gw.log()

    # More connections keep arriving at the limit: each is reset as it is accepted and the
    # listener pauses between them. Well under 5% of a core. (That accept() failing
    # outright does not spin either is unit-tested: tests/unit/net/acceptor_test.cc.)
    waiting = plain_connections(mesh.gateway_port, 20)
    before = cpu_seconds(gw.proc.pid)
    time.sleep(3)
    assert cpu_seconds(gw.proc.pid) - before < 0.15
    assert gw.admin_request("/healthz/ready") == (200, b"ready\n")  # the admin endpoint still answers

    # The open tunnel keeps moving bytes.
    for _ in range(100):
        tunnel.sendall(b"x" * 4096)
        got = b""
        while len(got) < 4096:
            got += tunnel.recv(4096 - len(got))
        assert got == b"x" * 4096

    # Descriptors come back: accepting resumes without anything being done to hbone.
    for s in burst + flood + waiting:
        s.close()
    deadline = time.monotonic() + 30
    while True:
        try:
            client = H2Client(mesh.gateway_port)
            break
        except (OSError, AssertionError):
            assert time.monotonic() < deadline, "the gateway never accepted again"
            time.sleep(0.2)
    assert client.connect(f"127.0.0.1:{server.port}")[1] == "200"
    client.sock.close()
    assert gw.metric("hbone_accept_errors_total", reason="emfile") >= 2
    assert mesh.client.metric("istio_tcp_connections_failed_total", response_flags="UF") >= 1
    with mesh.connect() as again:
        again.sendall(b"again")
        assert again.recv(5) == b"again"
    tunnel.close()
    assert mesh.stop() == (0, 0)
