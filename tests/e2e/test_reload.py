"""SIGHUP: certificates and allow-lists are re-read; new handshakes use the new
certificate, new requests the new allow-list; tunnels open across the reload carry on with
every byte; a broken reload changes nothing."""

import shutil
import signal
import socket
import ssl
import time

import pytest
import yaml

from harness import (CERTS, Mesh, TargetServer, echo, free_port, issue_cert, paced_bulk, random_bytes, start_bulk,
                     rejected_at_once, sha256)

MiB = 1 << 20
GATEWAY_ID = "spiffe://cluster.local/ns/default/sa/gateway"


def issue_gateway_cert(directory, name):
    """A fresh gateway certificate (same SPIFFE id, new key and serial) from the dev CA."""
    return issue_cert(directory, name, GATEWAY_ID)


def served_certificate(port):
    """DER of the certificate the gateway presents in a new handshake."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(CERTS / "ca.pem")
    ctx.load_cert_chain(CERTS / "client.pem", CERTS / "client-key.pem")
    ctx.set_alpn_protocols(["h2"])
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5)) as s:
        return s.getpeercert(binary_form=True)


def der(path):
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def recv_exactly(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        assert chunk, "closed early"
        data += chunk
    return data


def reload(hbone, config_path, config, expect="ok"):
    before = hbone.metric("hbone_config_reloads_total", result=expect)
    config_path.write_text(yaml.safe_dump(config))
    hbone.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while hbone.metric("hbone_config_reloads_total", result=expect) == before:
        assert time.monotonic() < deadline, f"no {expect} reload counted:\n{hbone.log()}"
        time.sleep(0.02)


def test_rotated_certificate_and_allow_list(tmp_path):
    payload = random_bytes(32 * MiB, seed=11)

    server = TargetServer(paced_bulk(payload))
    # The gateway reads its certificate from files this test rotates.
    live_cert, live_key = tmp_path / "gw.pem", tmp_path / "gw-key.pem"
    shutil.copy(CERTS / "gateway.pem", live_cert)
    shutil.copy(CERTS / "gateway-key.pem", live_key)
    # tls.watch and watch_config off: this test is about SIGHUP (the watchers would reload on
    # the copies and the rewritten config too).
    mesh = Mesh(tmp_path, server.port, gateway={"watch_config": False,
                                                "tls": {"cert": str(live_cert), "key": str(live_key), "watch": False}})
    gw, config_path = mesh.gateway, mesh.gateway.config_path
    config = yaml.safe_load(config_path.read_text())
    assert served_certificate(mesh.gateway_port) == der(CERTS / "gateway.pem")

    bulk, reader, result = start_bulk(mesh)

    # 1. Rotate the certificate files in place, then SIGHUP.
    new_cert, new_key = issue_gateway_cert(tmp_path, "gw-rotated")
    shutil.copy(new_cert, live_cert)
    shutil.copy(new_key, live_key)
    reload(gw, config_path, config)
    assert served_certificate(mesh.gateway_port) == der(new_cert)
    assert der(new_cert) != der(CERTS / "gateway.pem")
    with mesh.connect() as conn:  # the client (old pooled connection) still tunnels
        conn.sendall(b"after rotation")
        assert recv_exactly(conn, 14) == b"after rotation"

    # 2. A broken reload (missing key file) changes nothing.
    broken = yaml.safe_load(config_path.read_text())
    broken["tls"]["key"] = str(tmp_path / "missing-key.pem")
    reload(gw, config_path, broken, expect="error")
    gw.wait_for_log("reload failed, nothing changed")
    assert served_certificate(mesh.gateway_port) == der(new_cert)
    # So does a config file that is not there (a swap caught half-way, say).
    away = config_path.rename(config_path.with_suffix(".away"))
    gw.proc.send_signal(signal.SIGHUP)
    gw.wait_for_log(f"reload failed, nothing changed (SIGHUP): {config_path}: (file): cannot open config file")
    away.rename(config_path)
    assert served_certificate(mesh.gateway_port) == der(new_cert)

    # 3. An allow-list without the client: its new requests get 403, on the same connection.
    config["gateway"]["allowed_identities"] = ["spiffe://cluster.local/ns/default/sa/other"]
    reload(gw, config_path, config)
    assert rejected_at_once(mesh.connect)
    assert gw.metric("istio_tcp_connections_failed_total", response_flags="UAEX") == 1
    assert gw.metric("hbone_h2_connections_active", role="gateway") == 1

    # The transfer that was in flight across all three reloads is whole.
    reader.join(30)
    assert result == {"digest": sha256(payload), "total": len(payload)}
    assert gw.metric("hbone_config_reloads_total", result="ok") == 2
    assert gw.metric("hbone_config_reloads_total", result="error") == 2
    status, dump = gw.admin_request("/config_dump")
    assert b"sa/other" in dump
    bulk.close()
    mesh.stop()


def test_client_reload_applies_to_new_pooled_connections(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, client={"http2": {"streams_per_connection": 1}})
    cl, config_path = mesh.client, mesh.client.config_path
    config = yaml.safe_load(config_path.read_text())
    held = mesh.connect()
    held.sendall(b"one")
    assert recv_exactly(held, 3) == b"one"
    # The client now insists on another gateway identity: the open tunnel stays, a new
    # pooled connection (streams_per_connection: 1) is refused at the identity check.
    config["client"]["gateway_identity"] = "spiffe://cluster.local/ns/default/sa/other"
    reload(cl, config_path, config)
    assert rejected_at_once(mesh.connect)
    cl.wait_for_log("is not the configured spiffe://cluster.local/ns/default/sa/other")
    held.sendall(b"still")
    assert recv_exactly(held, 5) == b"still"
    held.close()
    mesh.stop()


def test_listeners_added_removed_and_retargeted_by_the_config_file(tmp_path):
    """client.listeners are live: rewriting the file binds a new listener, closes a removed
    one (its open tunnel carries on) and sends a kept listener's next connections to its new
    target."""
    first, second = TargetServer(echo), TargetServer(echo)
    kept_port, removed_port, added_port = free_port(), free_port(), free_port()
    listeners = [{"listen": f"127.0.0.1:{kept_port}", "target": f"127.0.0.1:{first.port}"},
                 {"listen": f"127.0.0.1:{removed_port}", "target": f"127.0.0.1:{first.port}"}]
    mesh = Mesh(tmp_path, first.port, client={"client": {"listeners": listeners}})
    client = mesh.client
    open_tunnel = socket.create_connection(("127.0.0.1", removed_port), timeout=10)
    open_tunnel.sendall(b"before")
    assert recv_exactly(open_tunnel, 6) == b"before"

    config = yaml.safe_load(client.config_path.read_text())
    config["client"]["listeners"] = [
        {"listen": f"127.0.0.1:{kept_port}", "target": f"127.0.0.1:{second.port}"},
        {"listen": f"127.0.0.1:{added_port}", "target": f"127.0.0.1:{first.port}"}]
    before = client.metric("hbone_config_reloads_total", result="ok")
    client.config_path.write_text(yaml.safe_dump(config))  # watch_config: no signal
    deadline = time.monotonic() + 5
    while client.metric("hbone_config_reloads_total", result="ok") == before:
        assert time.monotonic() < deadline, client.log()
        time.sleep(0.02)
    client.wait_for_log(f"client.listeners: 127.0.0.1:{removed_port} removed by the reload")
    for port, server in [(added_port, first), (kept_port, second)]:
        accepted = server.accepted
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"hello")
            assert recv_exactly(conn, 5) == b"hello"
        assert server.accepted == accepted + 1
    with pytest.raises(ConnectionRefusedError):  # nothing listens there any more
        socket.create_connection(("127.0.0.1", removed_port), timeout=2)
    open_tunnel.sendall(b"after")  # the removed listener's tunnel carries on
    assert recv_exactly(open_tunnel, 5) == b"after"
    open_tunnel.close()
    mesh.stop()


def test_a_reload_whose_new_listener_cannot_bind_changes_nothing(tmp_path):
    """A reload is all or nothing: one that adds a listener on a port already taken (and
    retargets another) counts one error and no success, and the kept listener still goes
    to its old target; once the port is free, the same file applies whole."""
    first, second = TargetServer(echo), TargetServer(echo)
    kept_port = free_port()
    taken = socket.socket()  # no SO_REUSEPORT: hbone's bind of the same port fails
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    taken_port = taken.getsockname()[1]
    mesh = Mesh(tmp_path, first.port, client={"client": {"listeners": [
        {"listen": f"127.0.0.1:{kept_port}", "target": f"127.0.0.1:{first.port}"}]}})
    client = mesh.client

    def echoes_through(port, server):
        accepted = server.accepted
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"hello")
            assert recv_exactly(conn, 5) == b"hello"
        return server.accepted == accepted + 1

    config = yaml.safe_load(client.config_path.read_text())
    config["client"]["listeners"] = [
        {"listen": f"127.0.0.1:{kept_port}", "target": f"127.0.0.1:{second.port}"},
        {"listen": f"127.0.0.1:{taken_port}", "target": f"127.0.0.1:{first.port}"}]
    config["limits"] = {"max_tunnels": 7}
    ok = client.metric("hbone_config_reloads_total", result="ok")
    reload(client, client.config_path, config, expect="error")
    client.wait_for_log("reload failed, nothing changed (SIGHUP): client.listeners[1].listen: cannot listen on")
    assert client.metric("hbone_config_reloads_total", result="ok") == ok
    assert client.metric("hbone_config_reloads_total", result="error") == 1
    assert echoes_through(kept_port, first)  # not retargeted
    assert "max_tunnels: 7" not in client.admin_request("/config_dump")[1].decode()

    taken.close()
    reload(client, client.config_path, config)
    assert echoes_through(kept_port, second)
    assert echoes_through(taken_port, first)
    assert "max_tunnels: 7" in client.admin_request("/config_dump")[1].decode()
    assert client.metric("hbone_config_reloads_total", result="error") == 1
    mesh.stop()
