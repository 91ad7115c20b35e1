"""mTLS and SPIFFE identity checks at the gateway, each rejection logged with its reason."""

import socket
import ssl
import subprocess
import time

import pytest

from harness import CERTS, Hbone, Mesh, TargetServer, closed_without_data, echo, raw_tls_client, tls


def refused(mesh):
    """A local connection to the client ends without a byte of data. The client may reset
    it before connect() returns (a refusal that came back fast): that is a refusal too."""
    try:
        conn = mesh.connect()
    except ConnectionResetError:
        return True
    with conn:
        try:
            conn.sendall(b"x")
        except (ConnectionResetError, BrokenPipeError):
            return True
        return closed_without_data(conn)


def test_client_without_certificate_rejected(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port)
    tls = raw_tls_client(mesh.gateway_port)
    # TLS 1.3: the client finishes first; the server's verdict arrives as an alert.
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        assert tls.recv(100) == b""
    mesh.gateway.wait_for_log("TLS handshake failed")
    assert "CERTIFICATE" in mesh.gateway.log().upper()
    assert mesh.gateway.metric("hbone_tls_handshakes_total", result="no_certificate") == 1
    assert server.accepted == 0
    mesh.stop()


def test_certificate_from_other_ca_rejected(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, client_tls="rogue")
    assert refused(mesh)
    mesh.gateway.wait_for_log("certificate verification failed")
    assert mesh.gateway.metric("hbone_tls_handshakes_total", result="bad_certificate") >= 1
    assert mesh.gateway.metric("hbone_tls_handshakes_total", result="error") == 0
    assert server.accepted == 0
    mesh.stop()


def test_identity_outside_trust_domain_rejected(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, client_tls="foreign")
    assert refused(mesh)
    mesh.gateway.wait_for_log(
        "spiffe://other.domain/ns/default/sa/client is not in trust domain cluster.local")
    assert server.accepted == 0
    mesh.stop()


def test_identity_not_in_allow_list_gets_403(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, client_tls="other", gateway={
        "gateway": {"allowed_identities": ["spiffe://cluster.local/ns/default/sa/client"]}})
    assert refused(mesh)
    mesh.gateway.wait_for_log("-> 403: identity spiffe://cluster.local/ns/default/sa/other not allowed")
    mesh.client.wait_for_log("status=403")
    assert server.accepted == 0
    mesh.stop()


def test_allowed_identity_passes(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, gateway={
        "gateway": {"allowed_identities": ["spiffe://cluster.local/ns/default/sa/client"]}})
    with mesh.connect() as conn:
        conn.sendall(b"hi")
        assert conn.recv(2) == b"hi"
    mesh.stop()


def test_client_checks_gateway_identity(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, client={
        "client": {"gateway_identity": "spiffe://cluster.local/ns/default/sa/someone-else"}})
    assert refused(mesh)
    mesh.client.wait_for_log("gateway identity spiffe://cluster.local/ns/default/sa/gateway is "
                             "not the configured spiffe://cluster.local/ns/default/sa/someone-else")
    assert server.accepted == 0
    mesh.stop()


def test_silent_peer_dropped_at_handshake_timeout(tmp_path):
    """A peer that connects and never speaks TLS is closed at tls.handshake_timeout."""
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, gateway={"tls": {"handshake_timeout": "500ms"}})
    silent = socket.create_connection(("127.0.0.1", mesh.gateway_port), timeout=5)
    start = time.monotonic()
    assert closed_without_data(silent)
    assert 0.4 <= time.monotonic() - start < 3
    mesh.gateway.wait_for_log("TLS handshake timeout after 500ms")
    assert mesh.gateway.metric("hbone_tls_handshakes_total", result="timeout") == 1
    # Meanwhile and after, real clients are served.
    with mesh.connect() as conn:
        conn.sendall(b"ok")
        assert conn.recv(2) == b"ok"
    mesh.stop()


def test_a_san_with_control_bytes_is_logged_escaped(tmp_path):
    """A certificate from the trusted CA whose URI SAN holds a NUL and a line feed: refused,
    and the log shows the bytes escaped on one line, no forged line after them."""
    uri = b"spiffe://cluster.local/ns/a\x00\nforged line"
    san = b"\x30" + bytes([len(uri) + 2]) + b"\x86" + bytes([len(uri)]) + uri  # GeneralNames { URI }
    key, csr, cert, ext = (tmp_path / name for name in ("evil-key.pem", "evil.csr", "evil.pem", "evil.ext"))
    ext.write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\n"
                   f"extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DER:{san.hex()}\n")
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)
    run("req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", str(key),
        "-out", str(csr), "-subj", "/CN=evil")
    run("x509", "-req", "-in", str(csr), "-CA", str(CERTS / "ca.pem"), "-CAkey", str(CERTS / "ca-key.pem"),
        "-set_serial", "4242", "-days", "1", "-extfile", str(ext), "-out", str(cert))
    gw = Hbone(tmp_path, "gateway", {"tls": tls("gateway"), "gateway": {"listen": "127.0.0.1:0"}})
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(CERTS / "ca.pem")
    ctx.check_hostname = False
    ctx.set_alpn_protocols(["h2"])
    ctx.load_cert_chain(cert, key)
    sock = socket.create_connection(("127.0.0.1", gw.bound_port("gateway.listen")), timeout=5)
    try:
        with ctx.wrap_socket(sock) as conn:
            assert closed_without_data(conn)  # TLS 1.3: the refusal comes after the handshake
    except (ssl.SSLError, ConnectionResetError):
        pass
    gw.wait_for_log('malformed SPIFFE URI SAN "spiffe://cluster.local/ns/a\\x00\\x0aforged line"')
    assert "\x00" not in gw.log()
    assert not any(line.startswith("forged") for line in gw.log().splitlines())
    assert gw.stop() == 0
