"""http2.shared_stream_window: while two tunnels of one connection both send, the
receiver caps each stream's window (what one may queue ahead of the other in their TCP
connection); once only one sends, the windows go back to the configured size. Every byte
arrives either way."""

import hashlib
import json
import socket
import threading
import time

from harness import Mesh, TargetServer, random_bytes, wait_until

KiB, MiB = 1 << 10, 1 << 20
CAP = 256 * KiB


def slow_sink(conn):
    """Reads 64 KiB every 5 ms (~13 MB/s) through a small receive buffer: an upload stays
    in flight for seconds, held back by the gateway's windows. Returns the sha256 and
    length of what arrived."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * KiB)
    digest, total = hashlib.sha256(), 0
    while True:
        data = conn.recv(64 * KiB)
        if not data:
            return digest.hexdigest(), total
        digest.update(data)
        total += len(data)
        time.sleep(0.005)


def upload(mesh, payload):
    with mesh.connect(timeout=60) as conn:
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)  # the sink closes after the whole upload


def gateway_connection(mesh):
    """The gateway's one connection in /debug/tunnels; None before the client connected."""
    connections = json.loads(mesh.gateway.admin_request("/debug/tunnels")[1])["connections"]
    if not connections:
        return None
    (conn,) = connections
    return conn


def gateway_view(mesh):
    """(stream windows shared?, each tunnel's receive window size) on the gateway's one
    connection; (False, []) before the client connected or while it shakes hands."""
    conn = gateway_connection(mesh)
    if not conn:
        return False, []
    return (conn.get("stream_windows_shared", False),
            sorted(t["receive_window_size"] for t in conn["tunnels"] if "receive_window_size" in t))


def test_two_senders_share_a_connection_with_capped_windows(tmp_path):
    sink = TargetServer(slow_sink)
    mesh = Mesh(tmp_path, sink.port, gateway={"http2": {"shared_stream_window": "256KiB"}})
    payloads = [random_bytes(32 * MiB, seed=s) for s in (1, 2)]

    alone = threading.Thread(target=upload, args=(mesh, payloads[0]))
    alone.start()
    # One sender: nothing to share, the window stays as configured.
    assert wait_until(lambda: gateway_view(mesh) == (False, [4 * MiB]), timeout=5), gateway_view(mesh)
    second = threading.Thread(target=upload, args=(mesh, payloads[1]))
    second.start()
    assert wait_until(lambda: gateway_view(mesh) == (True, [CAP, CAP]), timeout=5), gateway_view(mesh)
    # The connection shows the cap, and the round trip its floor comes from (a PING sent
    # once the windows were shared, if none was answered before).
    def shows_cap():
        conn = gateway_connection(mesh)
        return conn["min_rtt_us"] > 0 and conn.get("shared_stream_window") == CAP
    assert wait_until(shows_cap, timeout=5), gateway_connection(mesh)
    alone.join(60)
    second.join(60)
    assert not alone.is_alive() and not second.is_alive()
    assert sorted(sink.wait_results(2)) == sorted((hashlib.sha256(p).hexdigest(), len(p)) for p in payloads)
    # Nobody sends any more: the cap is lifted within its one-second hold and a sweep.
    assert wait_until(lambda: gateway_view(mesh)[0] is False, timeout=5)
    assert mesh.stop() == (0, 0)
