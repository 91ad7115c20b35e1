"""Flow control as backpressure: a reader that stops reading throttles the sender; memory
stays bounded by the windows instead of growing with what the sender has to send."""

import socket
import threading
import time

from harness import Mesh, TargetServer

MiB = 1 << 20


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_slow_local_reader_bounds_memory(tmp_path):
    sent = {"bytes": 0}
    stop = threading.Event()

    def target(conn):  # pushes as fast as the tunnel lets it
        chunk = b"\xab" * MiB
        conn.settimeout(0.2)
        while not stop.is_set():
            try:
                sent["bytes"] += conn.send(chunk)
            except socket.timeout:
                continue
            except OSError:
                break
        return sent["bytes"]

    server = TargetServer(target)
    mesh = Mesh(tmp_path, server.port, http2={"stream_window": "1MiB",
                                              "connection_window": "4MiB"},
                client={"socket": {"recv_buffer": "128KiB", "send_buffer": "128KiB"}},
                gateway={"socket": {"recv_buffer": "128KiB", "send_buffer": "128KiB"}})
    conn = mesh.connect()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    base = {p.name: rss_kib(p.proc.pid) for p in (mesh.client, mesh.gateway)}
    time.sleep(2)  # the target would push gigabytes in this time if nothing pushed back
    stalled_at = sent["bytes"]
    time.sleep(1)
    assert sent["bytes"] - stalled_at < 8 * MiB, "sender was not throttled"
    assert stalled_at < 64 * MiB, stalled_at
    for p in (mesh.client, mesh.gateway):
        grown = rss_kib(p.proc.pid) - base[p.name]
        assert grown < 24 * 1024, f"{p.name} grew {grown} KiB"
    # Reading resumes the flow, and every byte arrives.
    got = 0
    conn.settimeout(5)
    while got < stalled_at + 4 * MiB:
        data = conn.recv(MiB)
        assert data and set(data) == {0xab}
        got += len(data)
    stop.set()
    conn.close()
    mesh.stop()
