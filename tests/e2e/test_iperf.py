"""Real iperf3 through the tunnel, both directions."""

import json
import subprocess

import pytest

from harness import Mesh




@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_iperf3_through_tunnel(tmp_path, iperf_server, reverse):
    mesh = Mesh(tmp_path, iperf_server)
    cmd = ["iperf3", "-c", "127.0.0.1", "-p", str(mesh.client_port), "-t", "2", "-J"]
    if reverse:
        cmd.append("-R")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout)
    received = result["end"]["sum_received"]["bytes"]
    assert received > 0
    print(f"iperf3 {'-R ' if reverse else ''}through hbone: "
          f"{result['end']['sum_received']['bits_per_second'] / 1e9:.2f} Gbit/s")
    assert mesh.stop() == (0, 0)
