"""The container image (scripts/image.sh, run by `tests/run.sh image`, which sets
HBONE_IMAGE): from the image's root filesystem (buildah mount + chroot: this sandbox cannot
run containers with rlimits), hbone runs, the shipped configs check, and a gateway from the
image, as uid 65532, carries a sha256-checked tunnel from the host build's client. The
image holds no compiler and runs as 65532."""

import os
import shutil
import socket
import subprocess
import threading

import pytest

from harness import CERTS, Hbone, TargetServer, echo, free_port, random_bytes, read_all, sha256, spawn, tls

IMAGE = os.environ.get("HBONE_IMAGE")
pytestmark = pytest.mark.skipif(not IMAGE, reason="HBONE_IMAGE unset: `tests/run.sh image` builds and tests the image")
MiB = 1 << 20


def buildah(*args):
    return subprocess.run(["buildah", *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def rootfs():
    container = buildah("from", "--pull-never", IMAGE)
    try:
        root = buildah("mount", container)
        # The dev certificates where the shipped configs look for them (relative to /etc/hbone).
        shutil.copytree(CERTS, f"{root}/etc/hbone/certs/dev", dirs_exist_ok=True)
        os.chmod(f"{root}/etc/hbone/certs", 0o755)
        for name in os.listdir(f"{root}/etc/hbone/certs/dev"):
            os.chmod(f"{root}/etc/hbone/certs/dev/{name}", 0o644)  # readable by uid 65532
        yield root
    finally:
        subprocess.run(["buildah", "umount", container], capture_output=True)
        subprocess.run(["buildah", "rm", container], capture_output=True)


def in_image(root, *args, user="65532:65532"):
    return ["chroot", f"--userspec={user}", root, *args]


def test_image_runs_as_65532_without_a_compiler(rootfs):
    assert buildah("inspect", "--format", "{{.OCIv1.Config.User}}", IMAGE) == "65532:65532"
    for tool in ("gcc", "cc", "c++", "clang", "cmake", "make"):
        assert not os.path.exists(f"{rootfs}/usr/bin/{tool}"), tool
    out = subprocess.run(in_image(rootfs, "/usr/local/bin/hbone", "--version"), capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("hbone "), out.stdout + out.stderr
    size = buildah("images", "--format", "{{.Size}}", IMAGE).splitlines()[0]
    print(f"image {IMAGE}: {size}")


def test_shipped_configs_check_inside_the_image(rootfs):
    for name in sorted(os.listdir(f"{rootfs}/etc/hbone")):
        if not name.endswith(".yaml"):
            continue
        out = subprocess.run(["chroot", "--userspec=65532:65532", rootfs, "/bin/sh", "-c",
                              f"cd /etc/hbone && /usr/local/bin/hbone --check-config {name}"],
                             capture_output=True, text=True)
        assert out.returncode == 0, name + ": " + out.stdout + out.stderr


def test_gateway_from_the_image_carries_a_tunnel(rootfs, tmp_path):
    payload = random_bytes(16 * MiB, seed=5)
    server = TargetServer(echo)
    port, admin = free_port(), free_port()
    config = f"""tls: {{cert: certs/dev/gateway.pem, key: certs/dev/gateway-key.pem, ca: certs/dev/ca.pem}}
admin: {{listen: "127.0.0.1:{admin}"}}
gateway: {{listen: "127.0.0.1:{port}", allowed_destinations: ["127.0.0.0/8"]}}
"""
    (tmp_path / "image-gateway.yaml").write_text(config)
    shutil.copy(tmp_path / "image-gateway.yaml", f"{rootfs}/tmp/image-gateway.yaml")
    log = open(tmp_path / "image-gateway.log", "w")
    gateway = spawn(["chroot", "--userspec=65532:65532", rootfs, "/bin/sh", "-c",
                     "cd /etc/hbone && exec /usr/local/bin/hbone --config /tmp/image-gateway.yaml"],
                    stdout=log, stderr=subprocess.STDOUT)
    client = Hbone(tmp_path, "host-client", {"tls": tls("client"), "client": {
        "gateway": f"127.0.0.1:{port}", "gateway_identity": "spiffe://cluster.local/ns/default/sa/gateway",
        "listeners": [{"listen": "127.0.0.1:0", "target": f"127.0.0.1:{server.port}"}]}})
    with socket.create_connection(("127.0.0.1", client.bound_port("client.listeners[0].listen")), timeout=30) as conn:
        received = []
        reader = threading.Thread(target=lambda: received.append(read_all(conn)))
        reader.start()
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        reader.join(60)
    assert received == [(sha256(payload), len(payload))]
    assert client.stop() == 0
    gateway.terminate()
    assert gateway.wait(15) == 0
    assert "tunnel role=gateway" in (tmp_path / "image-gateway.log").read_text()
