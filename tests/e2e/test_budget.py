"""limits.buffer_memory: a thousand tunnels whose targets never read hold the daemons'
memory within the budget, a fresh tunnel beside them still works, and the
memory comes back once they are gone, without an admin call."""

import os
import select
import socket
import threading
import time

from harness import Mesh, TargetServer, free_port, random_bytes, read_all, sha256

MiB = 1 << 20
TUNNELS = int(os.environ.get("BUDGET_TUNNELS", "1000"))
PAGE = os.sysconf("SC_PAGE_SIZE")
# What each stalled connection may park in kernel buffers (this machine's tcp_mem tops out
# near 2 GiB for every test at once): small socket buffers on the test's own sockets.
SOCKET_BUFFER = 64 * 1024


def rss_mib(pid):
    return int(open(f"/proc/{pid}/statm").read().split()[1]) * PAGE / MiB


class Sink:
    """Accepts connections and never reads from them."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.port = self.sock.getsockname()[1]
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


def send_until_stalled(conns, each, quiet=3.0):
    """Sends `each` bytes on every connection (non-blocking) until all is sent or nothing
    moved for `quiet` seconds; returns the bytes sent."""
    chunk = b"s" * 65536
    left = {c.fileno(): each for c in conns}
    by_fd = {c.fileno(): c for c in conns}
    poller = select.poll()
    for fd in left:
        poller.register(fd, select.POLLOUT)
    sent = 0
    last = time.monotonic()
    while left and time.monotonic() - last < quiet:
        for fd, _ in poller.poll(500):
            try:
                n = by_fd[fd].send(chunk[:left[fd]])
            except BlockingIOError:
                continue
            sent += n
            left[fd] -= n
            last = time.monotonic()
            if not left[fd]:
                del left[fd]
                poller.unregister(fd)
    return sent


def test_stalled_tunnels_stay_within_the_budget(tmp_path):
    sink = Sink()
    payload = random_bytes(16 * MiB, seed=11)
    fresh_target = TargetServer(lambda conn: (read_all(conn), conn.sendall(payload))[0])
    fresh_port = free_port()
    config = {"limits": {"buffer_memory": "64MiB"},
              "socket": {"send_buffer": "256KiB", "recv_buffer": "256KiB"}}
    mesh = Mesh(tmp_path, sink.port, gateway=dict(config), client={
        **config, "client": {"listeners": [
            {"listen": "127.0.0.1:0", "target": f"127.0.0.1:{sink.port}"},
            {"listen": f"127.0.0.1:{fresh_port}", "target": f"127.0.0.1:{fresh_target.port}"}]}},
        http2={"max_concurrent_streams": 1000, "streams_per_connection": 1000})
    daemons = (mesh.client, mesh.gateway)
    base = [rss_mib(d.proc.pid) for d in daemons]
    # Sanitizer builds have their own allocator (shadow memory, redzones, a quarantine of
    # freed blocks): their RSS says nothing of hbone's; the budget's own gauge still does.
    tcmalloc = mesh.client.metric("hbone_heap_allocated_bytes") > 0

    def heap_mib(d):
        return d.metric("hbone_heap_allocated_bytes") / MiB

    base_heap = [heap_mib(d) for d in daemons]
    peak = [0.0, 0.0]
    peak_heap = [0.0, 0.0]
    sampling = threading.Event()

    def sample():  # RSS and heap in use at their highest, every 50 ms while the tunnels stall
        while not sampling.is_set():
            for i, d in enumerate(daemons):
                peak[i] = max(peak[i], rss_mib(d.proc.pid))
                if tcmalloc:
                    peak_heap[i] = max(peak_heap[i], heap_mib(d))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    conns = []
    for _ in range(TUNNELS):
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
        c.connect(("127.0.0.1", mesh.client_port))
        c.setblocking(False)
        conns.append(c)
    sent = send_until_stalled(conns, MiB)
    sampling.set()
    sampler.join()
    held = [d.metric("hbone_buffered_bytes") / MiB for d in daemons]
    assert mesh.client.metric("hbone_buffer_budget_bytes") == 64 * MiB
    assert mesh.client.metric("hbone_buffer_budget_deferrals_total", role="client") > 0
    # Within the budget: a tunnel that holds nothing reads past it only what the peer's
    # windows take at once (here none: the gateway's withheld credit closed them), so what
    # is left over is two workers each taking the same last room at once.
    assert all(h <= 64 + 1 for h in held), held
    # A fresh tunnel beside them: every byte both ways.
    with socket.create_connection(("127.0.0.1", fresh_port), timeout=60) as fresh:
        fresh.sendall(b"hello")
        fresh.shutdown(socket.SHUT_WR)
        assert read_all(fresh) == (sha256(payload), len(payload))
    after_fresh = [rss_mib(d.proc.pid) for d in daemons]
    print(f"sent {sent / MiB:.0f} MiB; RSS {base} MiB at start, {peak} MiB at most while they stalled, "
          f"{after_fresh} after the fresh tunnel; heap in use {base_heap} at start, {peak_heap} at most; "
          f"buffered {held} MiB")
    if tcmalloc:
        for i in range(2):
            # What hbone holds: the budget, its momentary overshoot (the last room taken by
            # both workers at once, up to 3 MiB seen), and the stalled tunnels' own state
            # (their objects, nghttp2's streams: ~5 MiB for 1,000). (A tunnel that holds bytes
            # at the budget may still receive what its stream window had granted: the fresh
            # tunnel's download adds up to that for a moment.)
            assert peak_heap[i] - base_heap[i] <= 64 + 10, (base_heap, peak_heap, held)
            # RSS besides: free pages not yet handed back (looked at every 100 ms, later on a
            # busy machine: up to 7 MiB seen) and the allocator's caches (~4 MiB). Measured
            # peaks +67..+81 MiB; without the budget +326.
            assert peak[i] - base[i] <= 64 + 24, (base, peak, held)

    for c in conns:
        c.close()
    sink.close()
    # Everything comes back within 30 s, without an admin call.
    deadline = time.monotonic() + 30
    while True:
        now = [rss_mib(d.proc.pid) for d in daemons]
        buffered = [d.metric("hbone_buffered_bytes") for d in daemons]
        if buffered == [0, 0] and (not tcmalloc or all(n - b <= 16 for n, b in zip(now, base))):
            break
        assert time.monotonic() < deadline, (base, peak, now, buffered)
        time.sleep(1)
    assert mesh.stop() == (0, 0)
