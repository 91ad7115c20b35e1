"""Fixtures shared by the end-to-end tests."""

import subprocess
import time

import pytest

from harness import Hbone, free_port


@pytest.fixture
def iperf_server():
    """An iperf3 server on a free port; yields the port."""
    port = free_port()
    proc = subprocess.Popen(["iperf3", "-s", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    yield port
    proc.terminate()
    proc.wait(5)


@pytest.fixture(autouse=True)
def no_leftover_processes():
    """Kills whatever hbone a test started and did not stop (a failed assertion, a skip)."""
    yield
    for proc in Hbone.started:
        if proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait()
    Hbone.started.clear()
