"""Bytes through the tunnel: large random transfers both ways, and half-close."""

import json
import socket

from harness import Mesh, TargetServer, exchange, random_bytes, read_all, sha256

MiB = 1 << 20


def test_64mib_each_way_sha256_equal(tmp_path):
    upstream_payload = random_bytes(64 * MiB, seed=1)   # target -> client
    downstream_payload = random_bytes(64 * MiB, seed=2)  # client -> target

    def target(conn):
        return exchange(conn, upstream_payload)

    server = TargetServer(target)
    mesh = Mesh(tmp_path, server.port)
    with mesh.connect() as conn:
        got_sha, got_len = exchange(conn, downstream_payload)
    (target_sha, target_len), = server.wait_results(1)
    assert (target_len, target_sha) == (len(downstream_payload), sha256(downstream_payload))
    assert (got_len, got_sha) == (len(upstream_payload), sha256(upstream_payload))
    assert mesh.stop() == (0, 0)


def test_half_close_client_first(tmp_path):
    """Client sends, shuts down its write side, then reads the whole reply: the target
    must see EOF (END_STREAM -> shutdown) while its reply still flows back."""
    request = random_bytes(3 * MiB + 17, seed=3)

    def target(conn):
        digest, count = read_all(conn)          # returns only after the client's FIN
        reply = f"{digest} {count}".encode() * 1000
        conn.sendall(reply)
        return reply

    server = TargetServer(target)
    mesh = Mesh(tmp_path, server.port)
    with mesh.connect() as conn:
        conn.sendall(request)
        conn.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    assert reply == f"{sha256(request)} {len(request)}".encode() * 1000
    assert server.wait_results(1)[0] == reply
    mesh.stop()


def test_half_close_target_first(tmp_path):
    """Target sends and shuts down first; the client reads to EOF, then answers on the
    half-open connection and the target receives it."""
    greeting = random_bytes(2 * MiB + 5, seed=4)

    def target(conn):
        conn.sendall(greeting)
        conn.shutdown(socket.SHUT_WR)
        return read_all(conn)

    server = TargetServer(target)
    mesh = Mesh(tmp_path, server.port)
    with mesh.connect() as conn:
        got_sha, got_len = read_all(conn)       # EOF arrives while our side is open
        assert (got_sha, got_len) == (sha256(greeting), len(greeting))
        answer = b"thanks:" + got_sha.encode()
        conn.sendall(answer)
        conn.shutdown(socket.SHUT_WR)
        assert conn.recv(1) == b""
    assert server.wait_results(1)[0] == (sha256(answer), len(answer))
    mesh.stop()


def test_target_reset_reaches_client(tmp_path):
    """A reset by the target arrives at the client's socket as a reset, not a clean EOF."""
    def target(conn):
        conn.recv(5)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        return "reset"

    server = TargetServer(target)
    mesh = Mesh(tmp_path, server.port)
    with mesh.connect() as conn:
        conn.sendall(b"hello")
        try:
            data = conn.recv(10)
            assert False, f"expected a reset, got {data!r}"
        except ConnectionResetError:
            pass
    mesh.stop()


def test_record_layer_library_fallback(tmp_path):
    """tls.record_layer: library keeps SSL_read/SSL_write after the handshake (the fallback
    operators can choose); every byte still arrives, and /debug/tunnels says which ran."""
    payload = random_bytes(8 << 20, seed=5)
    server = TargetServer(lambda conn: (read_all(conn), conn.sendall(payload))[0])
    for layer in ("own", "library"):
        tls_extra = {"tls": {"record_layer": layer}}
        (tmp_path / layer).mkdir()
        mesh = Mesh(tmp_path / layer, server.port, gateway=dict(tls_extra), client=dict(tls_extra))
        with mesh.connect() as conn:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
            assert read_all(conn) == (sha256(payload), len(payload))
            status, body = mesh.client.admin_request("/debug/tunnels")
        used = {c.get("tls_record_layer") for c in json.loads(body)["connections"]}
        if layer == "library":
            assert used == {"ssl"}, used
        else:
            assert used <= {"in-place", "ssl"} and used, used  # in-place where BoringSSL runs
        assert mesh.stop() == (0, 0)
