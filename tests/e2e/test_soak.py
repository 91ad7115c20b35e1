"""Soak: rounds of 10,000 concurrent tunnels, every byte checked (hbone-loadgen), opened
and closed again; afterwards the client's and gateway's fd counts and heap in use are back
to what they were after the first round, and so is RSS once free heap is handed back
(POST /memory/release); without that call, the daemons' own policy (free heap above 2 MiB
and a burst's allocator caches go back every second): the caches hold little after the
rounds, and the RSS figures before the first tunnel and after the rounds are printed. SOAK_SECONDS (default 20)
sets how long the rounds go on; perf/soak.sh runs it for minutes."""

import collections
import json
import os
import pathlib
import subprocess
import time

from harness import HBONE, Mesh, free_port, spawn, wait_until

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


def stuck(mesh):
    """What each side still holds when a round hangs: open tunnels counted by state."""
    report = {}
    for side, hbone in (("client", mesh.client), ("gateway", mesh.gateway)):
        states = collections.Counter()
        for conn in json.loads(hbone.admin_request("/debug/tunnels")[1])["connections"]:
            for t in conn["tunnels"]:
                states[(t["status"], t["bytes_sent"], t["bytes_received"], t["deferred"])] += 1
        report[side] = {"tunnels_active": hbone.metric("hbone_tunnels_active"),
                        "(status, sent, received, deferred)": dict(states.most_common(5))}
    return report


def allocator_cache_mib(hbone):
    """Freed objects tcmalloc keeps cached (thread, transfer and central caches)."""
    status, body = hbone.admin_request("/memory/release", method="POST")
    assert status == 200, body
    return json.loads(body)["cached_bytes"] / (1 << 20)


def quiescent(hbone):
    """(fds, RSS MiB, heap MiB in use or None) after the daemon handed all its free heap
    back to the OS. Sanitizer builds have their own allocator (501: nothing to release, no
    heap figures); glibc's releases but gives no heap figures."""
    status, body = hbone.admin_request("/memory/release", method="POST")
    if status == 501:
        return fds(hbone.proc.pid), rss_mib(hbone.proc.pid), None
    assert status == 200, body
    heap = json.loads(body)
    if "free_bytes" not in heap:
        return fds(hbone.proc.pid), rss_mib(hbone.proc.pid), None
    assert heap["free_bytes"] < 1 << 20, heap  # released: what is left is in use
    return fds(hbone.proc.pid), rss_mib(hbone.proc.pid), heap["allocated_bytes"] / (1 << 20)


def test_soak_10k_concurrent_tunnels_no_leak(tmp_path):
    port = free_port()
    echo = spawn([LOADGEN, "echo", str(port)], stdout=subprocess.PIPE, text=True)
    assert echo.stdout.readline().strip() == "ready"
    # Quarantine kept small so ASan builds measure hbone's memory, not ASan's.
    env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16"}
    h2 = {"max_concurrent_streams": 1000, "streams_per_connection": 1000}
    # The target is one single-threaded echo with a 4096-connection accept queue: under a
    # storm of 10,000 dials a slow machine drops SYNs, retried after 1, 3 and 7 s. The
    # harness's 2 s dial deadline would make those 503s; this test is about hbone's leaks.
    mesh = Mesh(tmp_path, port, http2=h2, env=env, gateway={"gateway": {"connect_timeout": "10s"}})
    for hbone in (mesh.client, mesh.gateway):
        hbone.admin_request("/logging?level=warn", method="POST")

    def round_(n):
        try:
            out = subprocess.run([LOADGEN, "run", str(mesh.client_port), str(TUNNELS), "0", "512", "1"],
                                 capture_output=True, text=True, timeout=240)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"round {n} hung: {stuck(mesh)}") from None
        result = json.loads(out.stdout.splitlines()[-1])
        assert out.returncode == 0 and result["completed"] == TUNNELS, (n, out.stdout, out.stderr)
        assert result["corrupted"] == 0
        settle(mesh)
        return result

    sides = {"client": mesh.client, "gateway": mesh.gateway}
    started = {side: rss_mib(hbone.proc.pid) for side, hbone in sides.items()}  # before any tunnel
    round_(0)  # warm: pooled connections, allocator pools
    base = {side: quiescent(hbone) for side, hbone in sides.items()}
    rounds, start = 0, time.monotonic()
    while rounds < 3 or time.monotonic() - start < SECONDS:
        rounds += 1
        result = round_(rounds)
    elapsed = time.monotonic() - start
    # Without an admin call, what the rounds used goes back to the OS (the daemon hands free
    # heap back every second, from tcmalloc or glibc's allocator): RSS returns near where it
    # was before the first tunnel. Sanitizer builds release nothing (no such counter).
    for side, hbone in sides.items():
        if not any(name == "hbone_heap_released_bytes_total" for name, _ in hbone.metrics()):
            continue
        assert wait_until(lambda: rss_mib(hbone.proc.pid) - started[side] < 16, timeout=30), \
            f"{side}: RSS {started[side]:.1f} -> {rss_mib(hbone.proc.pid):.1f} MiB 30 s after the rounds"
        assert hbone.metric("hbone_heap_released_bytes_total") > 0
    unreleased = {side: round(rss_mib(hbone.proc.pid), 1) for side, hbone in sides.items()}
    # What the rounds' tunnels freed does not stay in the allocator's caches (in RSS, out
    # of reach of a release of free heap): each worker hands its cache back after a burst.
    for side, hbone in sides.items():
        if base[side][2] is None:
            continue  # no tcmalloc, no caches of its to look at
        assert wait_until(lambda: allocator_cache_mib(hbone) < 12, timeout=10), \
            f"{side}: {allocator_cache_mib(hbone):.1f} MiB in allocator caches after the rounds"
    after = {side: quiescent(hbone) for side, hbone in sides.items()}
    print(f"soak: {rounds + 1} rounds of {TUNNELS} concurrent tunnels in {elapsed:.0f}s, "
          f"last {result['setups_per_second']:.0f}/s; (fds, RSS MiB, heap MiB) "
          f"before {base} after {after}; RSS before the first tunnel {started}, after the rounds {unreleased}")
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
