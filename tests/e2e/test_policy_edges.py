"""gateway.policies at their edges: `hosts` decided on one canonical form of the name and
before any DNS lookup; a policy that changes while a target is being dialled decides that
tunnel too. In namespaces of their own, so that the name lookups go to a recorder the test
runs, never to the host's resolver."""

import json
import pathlib
import shutil
import subprocess
import sys
import time

import pytest
import yaml

import netns
from harness import Hbone, free_port, tls

pytestmark = pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))

H2CLIENT = str(pathlib.Path(__file__).with_name("h2client.py"))
CLIENT_ID = "spiffe://cluster.local/ns/default/sa/client"

# Prints one line per DNS query datagram it receives on 127.0.0.1:53, and never answers.
DNS_RECORDER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
while True:
    data, _ = s.recvfrom(4096)
    print(data[12:].split(b"\\0")[0].hex(), flush=True)
"""


def connect_in(topo, ns, port, *targets):
    out = topo.run(ns, sys.executable, H2CLIENT, str(port), *targets)
    return json.loads(out.stdout)


def test_hosts_are_decided_canonically_and_before_dns(tmp_path):
    """DENY hosts [blocked.example, *.evil.example]: the names in any case and with the
    trailing dot of an absolute name get 403, and none of them is looked up (a recorder is
    the namespace's only resolver); a name no policy denies is looked up (the control)."""
    topo = netns.Topology("dn")
    ns = topo.add_namespace("only-lo")
    etc = pathlib.Path("/etc/netns") / ns  # ip netns exec mounts these over /etc
    try:
        etc.mkdir(parents=True)
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        recorder = topo.spawn(ns, sys.executable, "-c", DNS_RECORDER, stdout=subprocess.PIPE, text=True)
        assert recorder.stdout.readline() == "ready\n"
        port = free_port()
        gw = Hbone(tmp_path, "gateway", {"tls": tls("gateway"), "gateway": {
            "listen": f"127.0.0.1:{port}", "connect_timeout": "2s", "allowed_destinations": ["198.18.0.0/15"],
            "policies": [{"name": "deny-hosts", "action": "DENY",
                          "rules": [{"to": {"hosts": ["blocked.example", "*.evil.example."]}}]}]}}, netns=ns)
        denied = ["blocked.example:80", "blocked.example.:80", "BLOCKED.Example.:80", "sub.evil.example:80",
                  "sub.evil.example.:80", "a.b.EVIL.example.:443"]
        assert connect_in(topo, ns, port, *denied) == ["403"] * len(denied)
        assert gw.metric("hbone_policy_decisions_total", policy="deny-hosts", action="deny") == len(denied)
        gw.wait_for_log("-> 403: denied: policy=deny-hosts flags=UAEX peer=" + CLIENT_ID + " dst=blocked.example:80")
        assert "dst=blocked.example.:80" not in gw.log() and "BLOCKED" not in gw.log()
        assert connect_in(topo, ns, port, "allowed.example:80") == ["503"]  # looked up, no answer
        gw.stop()
        recorder.kill()
        queries = recorder.stdout.read().split()
        names = {bytes.fromhex(q) for q in queries}
        assert names and all(b"allowed" in n for n in names), names
    finally:
        topo.close()
        shutil.rmtree(etc, ignore_errors=True)


def test_a_deny_that_arrives_while_dialling_decides_the_tunnel(tmp_path):
    """The target drops SYNs until a DENY for the peer has been swapped in (after 1 s), so the
    dial completes on the SYN retransmitted at ~3 s. The tunnel is refused (403) under the
    policy in force then, not opened under the one it started with."""
    topo = netns.Topology("dd")
    try:
        gw_ns = topo.add_namespace("gw")
        target_ns = topo.link(gw_ns, "tg", "198.18.5.2", "198.18.5.1")
        drop_syn = ["-p", "tcp", "--dport", "8080", "--syn", "-j", "DROP"]
        topo.run(target_ns, "iptables", "-I", "INPUT", *drop_syn)
        target = topo.spawn(target_ns, sys.executable, "-c",
                            "import socket;s=socket.create_server(('198.18.5.2',8080));print('ready',flush=True);"
                            "c,_=s.accept();print('accepted',flush=True);print(repr(c.recv(10)),flush=True)",
                            stdout=subprocess.PIPE, text=True)
        assert target.stdout.readline() == "ready\n"
        port = free_port()
        config = {"tls": tls("gateway"), "gateway": {"listen": f"127.0.0.1:{port}",
                                                     "allowed_destinations": ["198.18.5.0/24"]}}
        gw = Hbone(tmp_path, "gateway", config, netns=gw_ns)
        client = topo.spawn(gw_ns, sys.executable, H2CLIENT, str(port), "198.18.5.2:8080", stdout=subprocess.PIPE,
                            text=True)
        time.sleep(1)
        config["gateway"]["policies"] = [{"name": "deny-client", "action": "DENY",
                                          "rules": [{"from": {"principals": [CLIENT_ID]}}]}]
        gw.config_path.write_text(yaml.safe_dump(config))
        gw.wait_for_log("live keys applied")
        topo.run(target_ns, "iptables", "-D", "INPUT", *drop_syn)
        out, _ = client.communicate(timeout=20)
        assert json.loads(out) == ["403"]
        gw.wait_for_log("denied: policy=deny-client (changed while dialling)")
        assert gw.metric("hbone_policy_decisions_total", policy="deny-client", action="deny") == 1
        # The connection made was reset, not relayed: not a byte reached the target.
        assert target.stdout.readline() == "accepted\n"
        assert target.stdout.readline().strip() in ("b''", "")
        assert gw.stop() == 0
    finally:
        topo.close()
