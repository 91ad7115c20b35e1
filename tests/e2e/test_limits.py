"""Tunnel caps and the idle timeout: the excess is refused with the right status (gateway)
or a reset (client), counted, and admitted tunnels are unharmed; places come back when
tunnels end."""

import socket
import time

import h2.events
import yaml

from h2client import H2Client
from harness import Mesh, TargetServer, echo, rejected_at_once, wait_until

PROCESS = {"limit": "max_tunnels"}
IDENTITY = {"limit": "max_tunnels_per_identity"}


def echoes(conn, payload):
    conn.sendall(payload)
    got = b""
    while len(got) < len(payload):
        data = conn.recv(65536)
        assert data, "tunnel closed"
        got += data
    return got == payload


def test_gateway_max_tunnels_503_then_place_returned(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, gateway={"limits": {"max_tunnels": 2}})
    target = f"127.0.0.1:{server.port}"
    client = H2Client(mesh.gateway_port)
    first, second = client.connect(target), client.connect(target)
    assert [first[1], second[1]] == ["200", "200"]
    sid, status = client.connect(target)
    assert status == "503"
    gw = mesh.gateway
    assert gw.metric("hbone_tunnel_limit_rejections_total", role="gateway", **PROCESS) == 1
    assert gw.metric("istio_tcp_connections_failed_total", response_flags="UO") == 1
    # Ending one tunnel gives its place back.
    client.conn.end_stream(first[0])
    client.flush()
    client.wait(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == first[0])
    assert wait_until(lambda: gw.metric("hbone_tunnels_active", role="gateway") == 1)
    assert client.connect(target)[1] == "200"
    assert wait_until(lambda: server.accepted >= 3)  # accepted in its own thread
    time.sleep(0.1)
    assert server.accepted == 3  # the refused CONNECT never reached the target
    client.sock.close()
    mesh.stop()


def test_per_identity_cap_429_other_identity_unaffected(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, gateway={"limits": {"max_tunnels_per_identity": 2}})
    target = f"127.0.0.1:{server.port}"
    greedy = H2Client(mesh.gateway_port)
    assert [greedy.connect(target)[1] for _ in range(3)] == ["200", "200", "429"]
    # Another connection of the same identity shares the cap ...
    second = H2Client(mesh.gateway_port)
    assert second.connect(target)[1] == "429"
    # ... another identity has its own.
    other = H2Client(mesh.gateway_port, cert="other")
    assert [other.connect(target)[1] for _ in range(2)] == ["200", "200"]
    assert mesh.gateway.metric("hbone_tunnel_limit_rejections_total", **IDENTITY) == 2
    assert mesh.gateway.metric("hbone_tunnel_limit_rejections_total", **PROCESS) == 0
    # The greedy client's connection dies: its places come back.
    greedy.sock.close()
    assert wait_until(lambda: mesh.gateway.metric("hbone_tunnels_active", role="gateway") == 2)
    assert second.connect(target)[1] == "200"
    second.sock.close()
    other.sock.close()
    mesh.stop()


def test_client_max_tunnels_resets_excess_local_connections(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, client={"limits": {"max_tunnels": 3}})
    held = [mesh.connect() for _ in range(3)]
    for i, conn in enumerate(held):
        assert echoes(conn, b"held %d" % i)
    assert rejected_at_once(mesh.connect)
    assert mesh.client.metric("hbone_tunnel_limit_rejections_total", role="client", **PROCESS) == 1
    for i, conn in enumerate(held):  # admitted tunnels unharmed
        assert echoes(conn, b"still %d" % i)
    held.pop().close()
    assert wait_until(lambda: mesh.client.metric("hbone_tunnels_active", role="client") == 2)
    again = mesh.connect()
    assert echoes(again, b"admitted again")
    for conn in held + [again]:
        conn.close()
    mesh.stop()


def test_idle_tunnel_closed_busy_one_kept(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, client={"limits": {"idle_timeout": "2s"}})
    idle, busy = mesh.connect(), mesh.connect()
    assert echoes(idle, b"hello") and echoes(busy, b"hello")
    start = time.monotonic()
    idle.settimeout(0.4)
    closed_at = None
    while time.monotonic() - start < 5:
        assert echoes(busy, b"tick"), "a tunnel with traffic must stay open"
        if closed_at is None:
            try:
                data = idle.recv(1)
                assert data == b""
                closed_at = time.monotonic() - start
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed_at = time.monotonic() - start
    assert closed_at is not None and 1.5 < closed_at < 4.5, closed_at
    assert mesh.client.metric("hbone_tunnel_idle_timeouts_total", role="client") == 1
    mesh.client.wait_for_log('close="idle timeout"')
    assert echoes(busy, b"still open")
    busy.close()
    mesh.stop()


def test_caps_change_with_a_reload(tmp_path):
    """limits.* are live: a reload that lowers the per-identity cap holds back the next
    tunnel (429) and closes none; one that lifts it admits again."""
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port)
    gw = mesh.gateway
    target = f"127.0.0.1:{server.port}"
    client = H2Client(mesh.gateway_port)
    open_sids = [client.connect(target)[0] for _ in range(2)]
    config = yaml.safe_load(gw.config_path.read_text())
    for cap, expect in [(2, "429"), (0, "200")]:
        config["limits"] = {"max_tunnels_per_identity": cap}
        before = gw.metric("hbone_config_reloads_total", result="ok")
        gw.config_path.write_text(yaml.safe_dump(config))  # watch_config reloads it
        assert wait_until(lambda: gw.metric("hbone_config_reloads_total", result="ok") > before)
        assert client.connect(target)[1] == expect
    # The two tunnels opened before any cap still carry bytes.
    for sid in open_sids:
        client.conn.send_data(sid, b"still here")
        client.flush()
        event = client.wait(lambda e, sid=sid: isinstance(e, h2.events.DataReceived) and e.stream_id == sid)
        assert event.data == b"still here"
    assert gw.metric("hbone_tunnel_limit_rejections_total", role="gateway", **IDENTITY) == 1
    client.sock.close()
    mesh.stop()
