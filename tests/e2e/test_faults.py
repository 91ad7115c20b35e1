"""Drain and faults: SIGTERM lets transfers in flight finish; a gateway killed with -9
does not leave the client's local connections hanging, and new tunnels work again once a
gateway is back."""

import hashlib
import signal
import socket
import time

import pytest
import yaml

from relay import FaultyRelay
from harness import (Hbone, Mesh, TargetServer, closed_without_data, echo, random_bytes,
                     rejected_at_once, sha256)

MiB = 1 << 20


def test_transfer_in_flight_survives_sigterm(tmp_path):
    payload = random_bytes(48 * MiB, seed=7)

    def target(conn):  # paced: still sending well after the SIGTERM
        for i in range(0, len(payload), MiB):
            conn.sendall(payload[i:i + MiB])
            time.sleep(0.02)
        return "sent"

    server = TargetServer(target)
    mesh = Mesh(tmp_path, server.port)
    with mesh.connect() as conn:
        first = conn.recv(65536)
        mesh.gateway.proc.send_signal(signal.SIGTERM)
        mesh.client.proc.send_signal(signal.SIGTERM)
        digest = hashlib.sha256(first)
        rest_len = 0
        while chunk := conn.recv(1 << 18):
            digest.update(chunk)
            rest_len += len(chunk)
        assert len(first) + rest_len == len(payload)
        assert digest.hexdigest() == sha256(payload)
    assert mesh.gateway.proc.wait(10) == 0
    assert mesh.client.proc.wait(10) == 0
    assert "drain" in mesh.gateway.log()


def test_gateway_killed_then_back(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port)
    conn = mesh.connect()
    conn.sendall(b"before")
    assert conn.recv(6) == b"before"
    mesh.gateway.proc.kill()
    mesh.gateway.proc.wait()
    start = time.monotonic()
    assert closed_without_data(conn)
    assert time.monotonic() - start < 2, "local socket left hanging"
    conn.close()
    # A tunnel opened while no gateway runs fails fast instead of hanging.
    assert rejected_at_once(mesh.connect)
    config = yaml.safe_load(mesh.gateway.config_path.read_text())
    config["gateway"]["listen"] = f"127.0.0.1:{mesh.gateway_port}"  # where the client dials
    gateway = Hbone(tmp_path, "gateway-again", config)
    with mesh.connect() as again:
        again.sendall(b"after")
        assert again.recv(5) == b"after"
    assert mesh.client.metric("istio_tcp_connections_failed_total", response_flags="UF") >= 1
    assert mesh.client.stop() == 0
    assert gateway.stop() == 0


@pytest.mark.parametrize("fault", ["reset", "blackhole"])
def test_dead_pooled_connection_costs_no_tunnel(tmp_path, fault):
    """The pooled connection dies unnoticed between tunnels (reset on next write, or a
    silent blackhole caught by the keepalive PING): the next tunnel is retried on a fresh
    connection and works."""
    server = TargetServer(echo)
    relay = FaultyRelay()
    # A reset must meet the tunnel's HEADERS, not an earlier PING; a blackhole is only
    # noticed by the PING.
    keepalive = {"reset": "60s", "blackhole": "300ms"}[fault]
    mesh = Mesh(tmp_path, server.port,
                client={"client": {"gateway": f"127.0.0.1:{relay.port}"}},
                http2={"keepalive_interval": keepalive, "keepalive_timeout": "600ms"})
    relay.upstream_port = mesh.gateway_port
    with mesh.connect() as first:
        first.sendall(b"warm")
        assert first.recv(4) == b"warm"
        first.shutdown(socket.SHUT_WR)
        assert first.recv(1) == b""
    # Nothing of the first tunnel may still be in flight when the connection breaks.
    deadline = time.monotonic() + 5
    while mesh.client.metric("hbone_tunnels_active") or mesh.gateway.metric("hbone_tunnels_active"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert relay.accepted == 1
    relay.break_existing(fault)
    start = time.monotonic()
    with mesh.connect() as conn:
        conn.sendall(b"second")
        conn.settimeout(10)
        assert conn.recv(6) == b"second"
    assert time.monotonic() - start < 5
    assert relay.accepted == 2  # a fresh connection carried it
    mesh.client.wait_for_log("retrying on another connection")
    assert mesh.client.metric("istio_tcp_connections_failed_total") == 0
    relay.close()
    mesh.stop()
