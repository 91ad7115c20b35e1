"""CLI contract and process lifecycle."""

import os
import signal
import socket
import subprocess

from harness import (CERTS, HBONE, LOOPBACK_TARGETS, Hbone, Mesh, NotifySocket, ROOT, TargetServer,
                     closed_without_data, echo, free_port, tls)
import yaml


def run(*args):
    return subprocess.run([HBONE, *args], capture_output=True, text=True, timeout=20, cwd=ROOT)


def test_version_and_help():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("hbone ")
    out = run("--help")
    assert out.returncode == 0
    for flag in ("--config", "--check-config", "--version"):
        assert flag in out.stdout


def test_readme_key_table_is_the_declared_keys():
    out = run("--config-keys")
    assert out.returncode == 0 and out.stdout.startswith("| key | default | reload | meaning |")
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- config-keys:")
    block = readme[readme.index("\n", start) + 1:readme.index("<!-- /config-keys -->")]
    assert block == out.stdout, "README's key table is stale: paste `hbone --config-keys`"


def test_check_config_accepts_shipped_configs():
    for name in ("gateway", "client", "sidecar", "node-gateway", "egress-gateway", "vm"):
        out = run("--check-config", f"config/{name}.yaml")
        assert out.returncode == 0, out.stderr


def test_check_config_reports_key_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"tls": tls("gateway"), "gateway": {"listen": "127.0.0.1:1"}},
                                  sort_keys=False) + "http2:\n  max_frame_size: 32MiB\n  windw: 1\n")
    out = run("--check-config", str(bad))
    assert out.returncode == 1
    assert f"{bad}:9: http2.max_frame_size: size \"32MiB\" out of range" in out.stderr, out.stderr
    assert f"{bad}:10: http2.windw: unknown key" in out.stderr, out.stderr


def test_unreadable_key_named(tmp_path):
    cfg = {"tls": dict(tls("gateway"), key=str(CERTS / "ca.pem")),
           "gateway": {"listen": "127.0.0.1:1"}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = run("--check-config", str(path))
    assert out.returncode == 1
    assert "tls.key: cannot load private key" in out.stderr, out.stderr


def test_listen_address_in_use(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    cfg = {"tls": tls("gateway"), "gateway": {"listen": f"127.0.0.1:{port}"}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = run("--config", str(path))
    assert out.returncode == 1
    assert f"gateway.listen: cannot listen on 127.0.0.1:{port}: Address already in use" in out.stderr
    assert "hbone running" not in out.stderr
    busy.close()


def test_cpu_affinity_outside_the_process_cpus_is_refused(tmp_path):
    cpu = max(os.sched_getaffinity(0)) + 1  # valid syntax, not a CPU this process may use
    cfg = {"tls": tls("gateway"), "gateway": {"listen": "127.0.0.1:0"}, "cpu_affinity": [cpu]}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = run("--config", str(path))
    assert out.returncode == 1
    assert f"cpu_affinity: CPU {cpu} is not one this process may run on" in out.stderr, out.stderr
    assert "hbone running" not in out.stderr


def test_sigterm_exits_cleanly(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port)
    with mesh.connect() as conn:
        conn.sendall(b"abc")
        assert conn.recv(3) == b"abc"
    assert mesh.stop() == (0, 0)


def test_systemd_hears_ready_once_serving_watchdog_pings_and_stopping(tmp_path):
    # What a Type=notify unit with WatchdogSec= (deploy/debian/hbone.service) relies on,
    # through a socket standing for systemd's NOTIFY_SOCKET.
    path = tmp_path / "notify"
    with NotifySocket(path, timeout=10) as systemd:
        gw = Hbone(tmp_path, "gateway", {"tls": tls("gateway"), "gateway": {"listen": "127.0.0.1:0"}}, wait=False,
                   env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "400000"})
        systemd.until("READY=1")
        # Ready means serving: the listener takes a connection at once.
        socket.create_connection(("127.0.0.1", gw.bound_port("gateway.listen")), timeout=2).close()
        systemd.heard.clear()
        for _ in range(3):  # every 200 ms (half the watchdog period) while the loops turn
            systemd.until("WATCHDOG=1")
            systemd.heard.remove("WATCHDOG=1")
        gw.proc.send_signal(signal.SIGTERM)
        systemd.until("STOPPING=1")
        assert gw.proc.wait(15) == 0


def test_sigint_stops_with_open_tunnel(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port)
    conn = mesh.connect()
    conn.sendall(b"abc")
    assert conn.recv(3) == b"abc"
    assert mesh.client.stop(signal.SIGINT) == 0
    assert closed_without_data(conn)
    assert mesh.gateway.stop(signal.SIGINT) == 0


def test_sidecar_runs_both_roles(tmp_path):
    server = TargetServer(echo)
    gw_port, local_port = free_port(), free_port()
    cfg = {"tls": tls("gateway"),
           "gateway": {"listen": f"127.0.0.1:{gw_port}", "allowed_destinations": LOOPBACK_TARGETS},
           "client": {"gateway": f"127.0.0.1:{gw_port}",
                      "listeners": [{"listen": f"127.0.0.1:{local_port}",
                                     "target": f"127.0.0.1:{server.port}"}]}}
    sidecar = Hbone(tmp_path, "sidecar", cfg)
    with socket.create_connection(("127.0.0.1", local_port), timeout=5) as conn:
        conn.sendall(b"both")
        assert conn.recv(4) == b"both"
    assert sidecar.stop() == 0
