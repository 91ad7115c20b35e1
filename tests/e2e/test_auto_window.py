"""http2.stream_window: auto over a 20 ms RTT (hbone-rtt-relay between client and gateway):
the receiving side measures the bandwidth-delay product with PINGs and raises its windows,
which the sender sees as new SETTINGS; every byte still arrives."""

import json
import pathlib
import subprocess
import time

from harness import HBONE, Mesh, TargetServer, free_port, random_bytes, read_all, sha256, spawn

RELAY = str(pathlib.Path(HBONE).with_name("hbone-rtt-relay"))
MiB = 1 << 20


def connections(hbone):
    status, body = hbone.admin_request("/debug/tunnels")
    assert status == 200
    return json.loads(body)["connections"]


def test_auto_window_grows_over_rtt(tmp_path):
    payload = random_bytes(24 * MiB, seed=3)

    def target(conn):  # a download: the client side receives, its windows must grow
        conn.sendall(payload)
        return "sent"

    server = TargetServer(target)
    relay_port = free_port()  # started once the mesh has its gateway port
    auto = {"stream_window": "auto", "max_window": "32MiB"}
    mesh = Mesh(tmp_path, server.port, http2=auto,
                client={"client": {"gateway": f"127.0.0.1:{relay_port}"}})
    relay = spawn([RELAY, str(relay_port), str(mesh.gateway_port), "20"],
                  stdout=subprocess.PIPE, text=True)
    assert relay.stdout.readline().startswith("ready")
    with mesh.connect(timeout=60) as conn:
        assert read_all(conn) == (sha256(payload), len(payload))
        # The gateway (the sender) is told: SETTINGS_INITIAL_WINDOW_SIZE goes up. The last
        # raise may still be on its way (one RTT through the relay) when the data is in.
        deadline = time.monotonic() + 10
        while True:
            [client_conn] = connections(mesh.client)
            [gateway_conn] = connections(mesh.gateway)
            sizer = client_conn["auto_window"]
            if gateway_conn["peer_settings"]["initial_window_size"] == sizer["stream_window"]:
                break
            assert time.monotonic() < deadline, (gateway_conn["peer_settings"], sizer)
            time.sleep(0.05)
    assert sizer["stream_window"] > 256 << 10, sizer
    assert sizer["stream_window"] <= 32 * MiB
    assert 0.015 < sizer["rtt_seconds"] < 0.1, sizer  # the relay's 20 ms, measured by PING
    mesh.stop()
    relay.kill()
