"""Fixtures shared by the end-to-end tests."""

import subprocess
import time

import pytest

from harness import free_port


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
