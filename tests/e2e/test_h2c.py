"""tls.plaintext_h2c (benchmarks and fuzzing only): the same tunnels over HTTP/2 without
TLS; really plaintext (a plain-TCP HTTP/2 client is served); refused with identity checks."""

import socket
import subprocess

import h2.config
import h2.connection
import h2.events

from harness import HBONE, Mesh, TargetServer, echo, exchange, random_bytes, sha256

H2C = {"tls": {"plaintext_h2c": True}}


def test_tunnel_over_h2c(tmp_path):
    payload = random_bytes(8 << 20, seed=5)
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, gateway=H2C, client={**H2C, "client": {"gateway_identity": ""}})
    with mesh.connect() as conn:
        assert exchange(conn, payload) == (sha256(payload), len(payload))
    assert mesh.gateway.metric("hbone_tls_handshakes_total") == 0
    assert "plaintext_h2c" in mesh.gateway.log()

    # A plain-TCP HTTP/2 client (no TLS at all) gets its CONNECT answered.
    sock = socket.create_connection(("127.0.0.1", mesh.gateway_port), timeout=5)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, validate_outbound_headers=False))  # it wants :path even on CONNECT
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "CONNECT"), (":authority", f"127.0.0.1:{server.port}")])
    sock.sendall(conn.data_to_send())
    status = None
    while status is None:
        data = sock.recv(65536)
        assert data, "gateway closed the h2c connection"
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                status = dict(event.headers)[b":status"]
        sock.sendall(conn.data_to_send())
    assert status == b"200"
    sock.close()
    mesh.stop()


def test_h2c_refuses_identity_checks(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("tls:\n  plaintext_h2c: true\ngateway:\n  listen: 127.0.0.1:0\n"
                      "  allowed_identities: [spiffe://cluster.local/ns/a/sa/b]\n")
    result = subprocess.run([HBONE, "--check-config", str(config)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "bad.yaml:2: tls.plaintext_h2c: gateway.allowed_identities needs TLS identities" in result.stderr
