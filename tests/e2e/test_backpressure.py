"""Flow control as backpressure: a reader that stops reading throttles the sender; memory
stays bounded by the windows instead of growing with what the sender has to send."""

import pathlib
import socket
import subprocess
import threading
import time

from harness import HBONE, Mesh, TargetServer, free_port, random_bytes, read_all, sha256, spawn

MiB = 1 << 20
RELAY = str(pathlib.Path(HBONE).with_name("hbone-rtt-relay"))


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


def test_sender_resumes_after_its_socket_drains(tmp_path):
    """A 1 Gbit/s, 1 ms path and windows far above its BDP: the client's TLS output keeps
    hitting its high-water mark and the socket often drains it all at once. Each upload
    must still arrive whole. Keepalive PINGs are off: before the fix, a flush that found
    the buffer above the mark skipped nghttp2, the socket then took everything, and the
    sender sat on data and credit until the next PING woke it (10 s later)."""
    payload = random_bytes(64 * MiB, seed=11)
    server = TargetServer(read_all)
    relay_port = free_port()
    h2 = {"stream_window": "64MiB", "connection_window": "256MiB", "keepalive_interval": "0s"}
    mesh = Mesh(tmp_path, server.port, http2=h2,
                client={"client": {"gateway": f"127.0.0.1:{relay_port}"}})
    relay = spawn([RELAY, str(relay_port), str(mesh.gateway_port), "1", "1000"],
                  stdout=subprocess.PIPE, text=True)
    assert relay.stdout.readline().startswith("ready")
    for round_ in range(1, 6):
        with mesh.connect(timeout=60) as conn:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
            # 64 MiB take 0.5 s at 1 Gbit/s; a stalled sender never finishes.
            results = server.wait_results(round_, timeout=30)
        assert results[-1] == (sha256(payload), len(payload)), round_
    assert mesh.stop() == (0, 0)


def frames_over(proc, size):
    """DATA frames the client sent with a payload above `size` (a bucket bound)."""
    total = proc.metric("hbone_h2_data_frame_bytes_count", role="client")
    within = proc.metric("hbone_h2_data_frame_bytes_bucket", role="client", le=str(size))
    return total, total - within


def test_notsent_lowat_bounds_what_a_tunnel_queues(tmp_path):
    """With socket.notsent_lowat a frame never holds more than the room below it, so another
    tunnel's bytes queue behind at most that much; without it, bulk frames are larger."""
    payload = random_bytes(32 * MiB, seed=14)
    server = TargetServer(read_all)
    # 1 MiB reads: the tunnel's buffer then holds far more than 64 KiB while the connection
    # waits, so only the per-frame bound keeps frames small.
    for name, socket_config in (("default", None), ("lowat", {"notsent_lowat": "64KiB", "read_size": "1MiB"})):
        (tmp_path / name).mkdir()
        mesh = Mesh(tmp_path / name, server.port, client={"socket": socket_config} if socket_config else None)
        with mesh.connect() as conn:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
            conn.recv(1)
        total, over = frames_over(mesh.client, 65536)
        assert total > 0
        if socket_config:
            assert over == 0, (total, over)
        else:
            assert over > 0, (total, over)  # the bound above is the setting's doing
        assert mesh.client.metric("hbone_h2_send_queue_seconds_count", role="client") >= 1
        assert mesh.stop() == (0, 0)
    results = server.wait_results(2)
    assert all(r == (sha256(payload), len(payload)) for r in results), results
    server.close()
