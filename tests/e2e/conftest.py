"""Fixtures shared by the end-to-end tests."""

import socket
import subprocess
import time

import pytest

import harness
from harness import Hbone, free_port, spawn


@pytest.fixture
def iperf_server():
    """An iperf3 server on a free port; yields the port."""
    port = free_port()
    spawn(["iperf3", "-s", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    yield port


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
