"""Fixtures shared by the end-to-end tests."""

import socket
import subprocess

import pytest

import harness
from harness import Hbone, free_port, spawn


@pytest.fixture
def iperf_server():
    """An iperf3 server on a free port; yields the port. A test run beside this one may
    take the port between free_port() and iperf3's bind: then iperf3 exits, and another
    port is tried (never a port some other process listens on)."""
    for _ in range(5):
        port = free_port()
        proc = spawn(["iperf3", "-s", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        listening = f"pid={proc.pid},"
        if harness.wait_until(lambda: proc.poll() is not None or listening in subprocess.run(
                ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout, timeout=5) \
                and proc.poll() is None:
            yield port
            return
    pytest.fail("iperf3 found no free port in 5 tries")


@pytest.fixture
def dead_port():
    """A port where a connect is refused: bound but not listening, and held for the test,
    so no other process (a test run beside this one) can start listening there."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture(autouse=True)
def no_leftover_processes():
    """Kills whatever hbone or helper a test started and did not stop (a failed assertion,
    a skip)."""
    yield
    for proc in harness.children:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    harness.children.clear()
    for proc in Hbone.started:
        if proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait()
    Hbone.started.clear()
