"""The Debian package (scripts/package.sh), installed with apt into a throwaway root: a
debian:12 container image made by scripts/vm-image.sh before the tests (`tests/run.sh image`
sets HBONE_VM_IMAGE; never installed onto the CI host), read here through `buildah mount`.
Its files, user and conffile; its unit checked by systemd's own tools; then the installed
binary run as its unit runs it (ExecStartPre as root, ExecStart as the unit's User with only
its ambient capabilities, ExecStopPost as root) in a network namespace standing for the VM:
it tells a test NOTIFY_SOCKET it is ready, carries a captured connection through a gateway,
and its capture rules are gone after SIGTERM."""

import configparser
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess

import pytest
import yaml

import netns
from harness import CERTS, ROOT, Hbone, NotifySocket, tls

IMAGE = os.environ.get("HBONE_VM_IMAGE")
pytestmark = pytest.mark.skipif(not IMAGE, reason="HBONE_VM_IMAGE unset: `tests/run.sh image` builds and tests the package")
UNIT = "lib/systemd/system/hbone.service"
GATEWAY_ID = "spiffe://cluster.local/ns/default/sa/gateway"
VM, GW = "198.18.40.1", "198.18.40.2"


def buildah(*args):
    return subprocess.run(["buildah", *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def vm_root():
    """A container of the VM image: the package installed, a root of its own for these tests."""
    container = buildah("from", "--pull-never", IMAGE)
    try:
        yield buildah("mount", container)
    finally:
        subprocess.run(["buildah", "umount", container], capture_output=True)
        subprocess.run(["buildah", "rm", container], capture_output=True)


def in_root(root, *args):
    return subprocess.run(["chroot", root, *args], capture_output=True, text=True)


def unit(root):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(f"{root}/{UNIT}")
    return parser["Service"]


def test_files_user_and_conffile(vm_root):
    listed = in_root(vm_root, "dpkg-query", "-L", "hbone").stdout.split()
    for path in ("/usr/bin/hbone", "/etc/hbone/hbone.yaml", "/usr/lib/hbone/capture.sh", f"/{UNIT}"):
        assert path in listed, path
    assert os.access(f"{vm_root}/usr/bin/hbone", os.X_OK) and os.access(f"{vm_root}/usr/lib/hbone/capture.sh", os.X_OK)
    assert in_root(vm_root, "/usr/bin/hbone", "--version").stdout.startswith("hbone ")
    # The shipped config is a conffile (an admin's edits survive upgrades) and is config/vm.yaml.
    conffiles = open(f"{vm_root}/var/lib/dpkg/info/hbone.conffiles").read().split()
    assert "/etc/hbone/hbone.yaml" in conffiles
    assert open(f"{vm_root}/etc/hbone/hbone.yaml").read() == (ROOT / "config" / "vm.yaml").read_text()
    assert in_root(vm_root, "/usr/bin/hbone", "--check-config", "/etc/hbone/hbone.yaml").returncode == 0
    # A system user with no login and no home of its own on disk.
    name, _, uid, gid, _, home, shell = in_root(vm_root, "getent", "passwd", "hbone").stdout.strip().split(":")
    assert int(uid) < 1000 and home == "/var/lib/hbone" and shell in ("/usr/sbin/nologin", "/bin/false")
    assert in_root(vm_root, "getent", "group", "hbone").stdout.split(":")[2] == gid
    # Installed disabled: nothing captures this host's traffic before it is configured.
    assert not os.path.exists(f"{vm_root}/etc/systemd/system/multi-user.target.wants/hbone.service")


def test_the_unit_verifies_and_is_hardened(vm_root):
    verify = in_root(vm_root, "systemd-analyze", "verify", f"/{UNIT}")
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    security = in_root(vm_root, "systemd-analyze", "security", "--offline=yes", f"/{UNIT}")
    level = float(re.search(r"Overall exposure level for hbone.service: ([\d.]+)", security.stdout).group(1))
    print(f"systemd-analyze security hbone.service: {level}")
    assert level <= 2.5, security.stdout
    service = unit(vm_root)
    assert service["Type"] == "notify" and service["User"] == "hbone"
    assert set(service["AmbientCapabilities"].split()) == {"CAP_NET_ADMIN", "CAP_NET_RAW"}
    assert set(service["CapabilityBoundingSet"].split()) == {"CAP_NET_ADMIN", "CAP_NET_RAW"}


@pytest.fixture
def topo():
    yield from netns.topology("p")


def in_vm(topo, vm, root, command, user=None, caps=(), env=None, binds=(), **kwargs):
    """`command` (a unit's command line) inside the installed root, in the VM's namespace:
    as root, or as `user` with only `caps` (ambient, as AmbientCapabilities= gives them, and
    no new privileges). /dev, /proc and `binds` (host directory, path in the root) are
    mounted in the mount namespace ip netns exec makes for the one process: nothing
    outlives it."""
    if user:
        caps_list = ",".join(f"+{c.lower().removeprefix('cap_')}" for c in caps)
        command = (f"setpriv --reuid={user} --regid={user} --init-groups --inh-caps=-all,{caps_list} "
                   f"--ambient-caps={caps_list} --bounding-set=-all,{caps_list} --no-new-privs {command}")
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    mounts = "".join(f"mkdir -p {root}{inside} && mount --bind {host} {root}{inside} && " for host, inside in binds)
    script = (f"{mounts}mount --bind /dev {root}/dev && mount -t proc proc {root}/proc && "
              f"exec chroot {root} /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin {exports} {command}")
    return topo.spawn(vm, "sh", "-c", script, **kwargs)


def capture_rules(topo, vm):
    return [line for line in topo.run(vm, "iptables-save").stdout.splitlines() if "HBONE" in line]


def test_the_installed_unit_captures_tunnels_notifies_and_cleans_up(vm_root, topo, tmp_path):
    vm = topo.add_node("vm", VM)
    gw = topo.add_node("gw", GW)
    # The gateway (the host build) and an echo service behind it, on the gateway's host.
    echo = topo.spawn(gw, "socat", "TCP-LISTEN:9000,fork,reuseaddr", "EXEC:cat", stdout=subprocess.DEVNULL)
    gateway = Hbone(tmp_path, "gateway", {"tls": tls("gateway"), "gateway": {
        "listen": "0.0.0.0:15008", "allowed_destinations": [f"{GW}/32"]}}, netns=gw)
    # The VM's config in place of the shipped one: certificate files, every 198.18.40.0/24
    # destination through the gateway.
    os.makedirs(f"{vm_root}/etc/hbone/certs", exist_ok=True)
    for name in ("client.pem", "client-key.pem", "ca.pem"):
        shutil.copy(CERTS / name, f"{vm_root}/etc/hbone/certs/{name}")
        os.chmod(f"{vm_root}/etc/hbone/certs/{name}", 0o644)
    config = yaml.safe_load(open(f"{vm_root}/etc/hbone/hbone.yaml"))
    config["identity"] = {"provider": "files"}
    config["tls"] = {"cert": "/etc/hbone/certs/client.pem", "key": "/etc/hbone/certs/client-key.pem",
                     "ca": "/etc/hbone/certs/ca.pem", "trust_domain": "cluster.local"}
    config["client"]["routes"] = [{"cidr": "198.18.40.0/24", "gateway": f"{GW}:15008", "identity": GATEWAY_ID}]
    config["workers"] = 1
    with open(f"{vm_root}/etc/hbone/hbone.yaml", "w") as f:
        yaml.safe_dump(config, f)
    # systemd's NOTIFY_SOCKET, where the unit's User may write (a short host path: the
    # root's own is longer than a unix socket's name may be), seen in the root at /run/systemd-test.
    notify_dir = tmp_path / "notify"
    notify_dir.mkdir()
    os.chmod(notify_dir, 0o755)
    with NotifySocket(notify_dir / "notify", timeout=20) as systemd:
        service = unit(vm_root)
        pre, main, post = (service[key].removeprefix("+") for key in ("ExecStartPre", "ExecStart", "ExecStopPost"))
        started = in_vm(topo, vm, vm_root, pre, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert started.wait(30) == 0, started.stdout.read()
        assert capture_rules(topo, vm), "ExecStartPre installed no capture rule"
        log = open(tmp_path / "vm-hbone.log", "w")
        hbone = in_vm(topo, vm, vm_root, main, user=service["User"], caps=service["AmbientCapabilities"].split(),
                      env={"NOTIFY_SOCKET": "/run/systemd-test/notify"}, binds=[(notify_dir, "/run/systemd-test")],
                      stdout=log, stderr=subprocess.STDOUT)
        try:
            systemd.until("READY=1")
        except socket.timeout:
            raise AssertionError("no READY=1:\n" + (tmp_path / "vm-hbone.log").read_text())
        # An unmodified app on the VM dials the service's own address: captured, tunnelled.
        talk = topo.run(vm, "/usr/bin/python3", "-c",
                        "import socket; c = socket.create_connection(('%s', 9000), timeout=10); "
                        "c.sendall(b'through the mesh'); c.shutdown(socket.SHUT_WR); "
                        "print(c.recv(100).decode())" % GW)
        assert talk.stdout.strip() == "through the mesh", talk.stderr + (tmp_path / "vm-hbone.log").read_text()
        gateway.wait_for_log("peer=spiffe://cluster.local/ns/default/sa/client")
        assert "route=\"198.18.40.0/24" in (tmp_path / "vm-hbone.log").read_text()
        # SIGTERM (systemctl stop): a drain, then exit 0; ExecStopPost removes the rules.
        hbone.send_signal(signal.SIGTERM)
        assert hbone.wait(45) == 0, (tmp_path / "vm-hbone.log").read_text()
    stopped = in_vm(topo, vm, vm_root, post, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert stopped.wait(30) == 0, stopped.stdout.read()
    assert capture_rules(topo, vm) == []
    assert gateway.stop() == 0
    echo.kill()
