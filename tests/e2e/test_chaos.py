"""Chaos soak: checksummed streams run while random faults hit them: targets resetting,
slow readers, the gateway killed with -9 and started again, SIGHUPs, the path between client
and gateway blackholed or reset, connection floods. Streams may be reset by a fault, none may
hang and none may be corrupted (bytes that arrive are the bytes sent, and a stream that ends
cleanly is whole); descriptors are back where they were. CHAOS_SECONDS (default 20) sets the
length; perf/chaos.sh runs it for minutes and prints the summary."""

import hashlib
import os
import random
import select
import signal
import socket
import struct
import threading
import time

import yaml

from harness import Hbone, Mesh
from relay import FaultyRelay

SECONDS = float(os.environ.get("CHAOS_SECONDS", "20"))
STREAMS = int(os.environ.get("CHAOS_STREAMS", "12"))
SIZES = [1 << 10, 64 << 10, 1 << 20, 4 << 20]
PAGE = os.sysconf("SC_PAGE_SIZE")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mib(pid):
    return int(open(f"/proc/{pid}/statm").read().split()[1]) * PAGE / (1 << 20)


class EchoTarget:
    """Echoes every connection to EOF; reset_one() resets a random live one (a target that
    crashes or aborts)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.live = set()
        self.doomed = set()  # to be reset by their own thread
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.live.add(conn)
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn):
        try:
            while data := conn.recv(1 << 16):
                conn.sendall(data)
            with self.lock:
                doomed = conn in self.doomed
            if doomed:  # an abort: RST, not FIN
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            with self.lock:
                self.live.discard(conn)
                self.doomed.discard(conn)
            conn.close()

    def reset_one(self):
        with self.lock:
            if not self.live:
                return
            conn = random.choice(list(self.live))
            self.doomed.add(conn)
        try:
            conn.shutdown(socket.SHUT_RD)  # wakes its thread, which closes it with RST
        except OSError:
            pass


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {"started": 0, "finished": 0, "reset": 0, "hung": 0, "corrupted": 0}
        self.corruptions = []

    def add(self, outcome, detail=None):
        with self.lock:
            self.counts[outcome] += 1
            if detail:
                self.corruptions.append(detail)


def one_stream(port, tally, rng):
    """One checksummed stream: `size` random bytes sent and echoed back, on one thread with
    poll(), so that the first error or end either direction meets is the one counted (an RST
    is reported once, to whichever call comes first)."""
    size = rng.choice(SIZES)
    slow = rng.random() < 0.2  # a slow reader: the tunnel is held back by its consumer
    payload = rng.randbytes(size)
    tally.add("started")
    try:
        conn = socket.create_connection(("127.0.0.1", port), timeout=30)
    except OSError:
        tally.add("reset")  # refused at once (e.g. while the gateway restarts)
        return
    conn.setblocking(False)
    poller = select.poll()
    poller.register(conn, select.POLLIN | select.POLLOUT)
    received = hashlib.sha256()
    sent = total = 0
    quiet_since = time.monotonic()
    try:
        while True:
            events = poller.poll(1000)
            if not events:
                if time.monotonic() - quiet_since > 30:
                    tally.add("hung")
                    return
                continue
            quiet_since = time.monotonic()
            flags = events[0][1]
            if flags & select.POLLOUT and sent < size:
                sent += conn.send(payload[sent:sent + (1 << 16)])
                if sent == size:
                    conn.shutdown(socket.SHUT_WR)
                    poller.modify(conn, select.POLLIN)
            if flags & (select.POLLIN | select.POLLHUP | select.POLLERR):
                data = conn.recv(1 << 16)
                if not data:
                    break
                received.update(data)
                total += len(data)
                if slow:
                    time.sleep(0.002)
    except BlockingIOError:
        pass
    except OSError:
        tally.add("reset")
        return
    finally:
        conn.close()
    if total == size and received.hexdigest() == hashlib.sha256(payload).hexdigest():
        tally.add("finished")
    else:
        # A clean end that is not whole, or other bytes than were sent: corrupted.
        tally.add("corrupted", f"{size} bytes sent ({sent} so far), a clean end after {total} echoed")


def test_chaos(tmp_path):
    target = EchoTarget()
    relay = FaultyRelay()  # the path between client and gateway, to break
    mesh = Mesh(tmp_path, target.port,
                client={"client": {"gateway": f"127.0.0.1:{relay.port}"}},
                http2={"keepalive_interval": "1s", "keepalive_timeout": "3s"})
    relay.upstream_port = mesh.gateway_port
    gateway_config = yaml.safe_load(mesh.gateway.config_path.read_text())
    gateway_config["gateway"]["listen"] = f"127.0.0.1:{mesh.gateway_port}"
    tally = Tally()
    one_stream(mesh.client_port, tally, random.Random(0))  # warm: a pooled connection exists
    start = {"client": (fds(mesh.client.proc.pid), rss_mib(mesh.client.proc.pid)),
             "gateway": (fds(mesh.gateway.proc.pid), rss_mib(mesh.gateway.proc.pid))}
    stop = threading.Event()

    def worker(seed):
        rng = random.Random(seed)
        while not stop.is_set():
            one_stream(mesh.client_port, tally, rng)

    workers = [threading.Thread(target=worker, args=(i + 1,)) for i in range(STREAMS)]
    for w in workers:
        w.start()
    faults = {"target_reset": 0, "gateway_restart": 0, "sighup": 0, "blackhole": 0, "path_reset": 0, "flood": 0}
    rng = random.Random(42)
    gateway = mesh.gateway
    restarts = 0
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(0.3, 1.5))
        fault = rng.choice(list(faults))
        faults[fault] += 1
        if fault == "target_reset":
            target.reset_one()
        elif fault == "gateway_restart":
            gateway.proc.kill()
            gateway.proc.wait()
            restarts += 1
            gateway = Hbone(tmp_path, f"gateway-{restarts}", dict(gateway_config))
        elif fault == "sighup":
            for d in (mesh.client, gateway):
                d.proc.send_signal(signal.SIGHUP)
        elif fault in ("blackhole", "path_reset"):
            relay.break_existing("blackhole" if fault == "blackhole" else "reset")
        else:  # a flood of connections that never speak TLS, gone again
            flood = []
            for _ in range(100):
                try:
                    flood.append(socket.create_connection(("127.0.0.1", mesh.gateway_port), timeout=2))
                except OSError:
                    pass
            for s in flood:
                s.close()
    stop.set()
    for w in workers:
        w.join(120)
    assert not any(w.is_alive() for w in workers), "a stream hung past its timeouts"
    # Quiet again: no tunnel left, then the descriptors each side held at the start.
    settle = time.monotonic() + 30
    while mesh.client.metric("hbone_tunnels_active") or gateway.metric("hbone_tunnels_active"):
        assert time.monotonic() < settle, "tunnels still open after the chaos"
        time.sleep(0.1)
    end = {"client": (fds(mesh.client.proc.pid), rss_mib(mesh.client.proc.pid)),
           "gateway": (fds(gateway.proc.pid), rss_mib(gateway.proc.pid))}
    summary = dict(tally.counts, faults=faults, start=start, end=end, seconds=SECONDS)
    print("chaos:", summary)
    assert tally.counts["corrupted"] == 0, tally.corruptions[:5]
    assert tally.counts["hung"] == 0, summary
    assert tally.counts["finished"] > 0, summary
    # Pooled connections come and go with the faults: a few descriptors either way.
    assert end["client"][0] <= start["client"][0] + 4, summary
    assert end["gateway"][0] <= start["gateway"][0] + 4, summary
    relay.close()
    target.sock.close()
    assert mesh.client.stop() == 0
    assert gateway.stop() == 0
