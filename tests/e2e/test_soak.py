"""Soak: rounds of 10,000 concurrent tunnels, every byte checked (hbone-loadgen), opened
and closed again; afterwards the client's and gateway's fd counts are back to what they
were after the first round and RSS has not crept. SOAK_SECONDS (default 20) sets how long
the rounds go on; perf/soak.sh runs it for minutes."""

import json
import os
import pathlib
import subprocess
import time

from harness import HBONE, Mesh, free_port

LOADGEN = str(pathlib.Path(HBONE).with_name("hbone-loadgen"))
TUNNELS = int(os.environ.get("SOAK_TUNNELS", "10000"))
SECONDS = float(os.environ.get("SOAK_SECONDS", "20"))
PAGE = os.sysconf("SC_PAGE_SIZE")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mib(pid):
    return int(open(f"/proc/{pid}/statm").read().split()[1]) * PAGE / (1 << 20)


def settle(mesh, timeout=20):
    """Waits until neither side holds a tunnel."""
    deadline = time.monotonic() + timeout
    while (mesh.client.metric("hbone_tunnels_active") or mesh.gateway.metric("hbone_tunnels_active")):
        assert time.monotonic() < deadline, "tunnels still open after the round"
        time.sleep(0.1)
    time.sleep(1.5)  # idle connections release their buffers at the next once-a-second sweep


def quiescent(hbone, timeout=15):
    """(fds, RSS MiB, heap MiB in use or None) once the daemon has handed its free heap back
    to the OS (it checks every 5 s; sanitizer builds have no heap metrics: a fixed wait)."""
    pid = hbone.proc.pid
    start = time.monotonic()
    deadline = start + timeout
    while True:
        samples = hbone.metrics()
        free = samples.get(("hbone_heap_free_bytes", frozenset()))
        if free is None and time.monotonic() - start > 6:
            return fds(pid), rss_mib(pid), None
        if free is not None and free < 40 << 20:
            allocated = samples[("hbone_heap_allocated_bytes", frozenset())] / (1 << 20)
            return fds(pid), rss_mib(pid), allocated
        assert time.monotonic() < deadline, f"free heap not released: {free}"
        time.sleep(0.5)


def test_soak_10k_concurrent_tunnels_no_leak(tmp_path):
    port = free_port()
    echo = subprocess.Popen([LOADGEN, "echo", str(port)], stdout=subprocess.PIPE, text=True)
    assert echo.stdout.readline().strip() == "ready"
    # Quarantine kept small so ASan builds measure hbone's memory, not ASan's.
    env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16"}
    h2 = {"max_concurrent_streams": 1000, "streams_per_connection": 1000}
    mesh = Mesh(tmp_path, port, http2=h2, env=env)
    for hbone in (mesh.client, mesh.gateway):
        hbone.admin_request("/logging?level=warn", method="POST")

    def round_(n):
        out = subprocess.run([LOADGEN, "run", str(mesh.client_port), str(TUNNELS), "0", "512", "1"],
                             capture_output=True, text=True, timeout=300)
        result = json.loads(out.stdout.splitlines()[-1])
        assert out.returncode == 0 and result["completed"] == TUNNELS, (n, out.stdout, out.stderr)
        assert result["corrupted"] == 0
        settle(mesh)
        return result

    sides = {"client": mesh.client, "gateway": mesh.gateway}
    round_(0)  # warm: pooled connections, allocator pools
    base = {side: quiescent(hbone) for side, hbone in sides.items()}
    rounds, start = 0, time.monotonic()
    while rounds < 3 or time.monotonic() - start < SECONDS:
        rounds += 1
        result = round_(rounds)
    elapsed = time.monotonic() - start
    after = {side: quiescent(hbone) for side, hbone in sides.items()}
    print(f"soak: {rounds + 1} rounds of {TUNNELS} concurrent tunnels in {elapsed:.0f}s, "
          f"last {result['setups_per_second']:.0f}/s; (fds, RSS MiB, heap MiB) "
          f"before {base} after {after}")
    for side in sides:
        (fds0, rss0, heap0), (fds1, rss1, heap1) = base[side], after[side]
        # (an admin scrape may hold one keep-alive socket)
        assert fds1 <= fds0 + 1, f"{side} fds {fds0} -> {fds1}"
        assert rss1 - rss0 < 16, f"{side} RSS {rss0:.1f} -> {rss1:.1f} MiB"
        if heap0 is not None:
            assert heap1 - heap0 < 6, f"{side} heap in use {heap0:.1f} -> {heap1:.1f} MiB"
    assert mesh.client.metric("istio_tcp_connections_failed_total") == 0
    assert mesh.gateway.metric("istio_tcp_connections_opened_total") == (rounds + 1) * TUNNELS
    assert mesh.stop() == (0, 0)  # in sanitizer builds: no leak or error report at exit
    echo.kill()
