"""A node gateway that really receives its pods' traffic, on namespaces laid out like a
cluster: two nodes on an underlay bridge, each routing its own pod CIDR to pod namespaces
over veth pairs (forwarding on inside the nodes only):

  pod A 198.19.1.2 ── node 1 198.18.0.1 ──┐            ┌── node 2 198.18.0.2 ── pod C 198.19.2.2
  (sidecar: capture,                      └─ bridge ───┘    (node gateway,   └─ pod D 198.19.2.3
   destination:15008)                                        transparent)

Pod A's sidecar sends pod C's traffic to 198.19.2.2:15008, pod C's own address; node 2's
TPROXY rules (scripts/capture.sh node-install) hand it to the host-network gateway's
transparent listener, which dials pod C (no sidecar there) and, with
require_arrived_address, nothing but pod C. Needs root."""

import json
import pathlib
import select
import subprocess
import sys

import pytest

import netns
from harness import ROOT, Hbone, tls

pytestmark = pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))

NODE1, NODE2 = "198.18.0.1", "198.18.0.2"
POD_A, POD_C, POD_D = "198.19.1.2", "198.19.2.2", "198.19.2.3"
GATEWAY_ID = "spiffe://cluster.local/ns/default/sa/gateway"
CLIENT_ID = "spiffe://cluster.local/ns/default/sa/client"
CAPTURE = str(ROOT / "scripts" / "capture.sh")
APP = [sys.executable, str(pathlib.Path(__file__).with_name("mesh_app.py"))]
MiB = 1 << 20


class Cluster:
    def __init__(self, topo, tmp_path):
        self.topo = topo
        self.node1 = topo.add_node("n1", NODE1)
        self.node2 = topo.add_node("n2", NODE2)
        for node in (self.node1, self.node2):
            topo.run(node, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        topo.run(self.node1, "ip", "route", "add", "198.19.2.0/24", "via", NODE2)
        topo.run(self.node2, "ip", "route", "add", "198.19.1.0/24", "via", NODE1)
        self.pod_a = self.add_pod(self.node1, "pa", POD_A, "198.19.1.1")
        self.pod_c = self.add_pod(self.node2, "pc", POD_C, "198.19.2.1")
        self.pod_d = self.add_pod(self.node2, "pd", POD_D, "198.19.2.1")
        topo.run(self.node2, CAPTURE, "node-install", "--pod-cidr", "198.19.2.0/24")
        self.gateway = Hbone(tmp_path, "node2-gateway", {"tls": tls("gateway"), "gateway": {
            "listen": "0.0.0.0:15008", "transparent": True, "require_arrived_address": True,
            "allowed_destinations": ["198.19.2.0/24"]}}, netns=self.node2)
        topo.run(self.pod_a, CAPTURE, "install")
        self.sidecar = Hbone(tmp_path, "pod-a", {"tls": tls("client"), "client": {
            "gateway": f"{POD_C}:15008",  # the explicit listener below: pod C's address, pod D's target
            "listeners": [{"listen": "127.0.0.1:15101", "target": f"{POD_D}:8080"}],
            "capture": {"listen": "127.0.0.1:15001"},
            "routes": [{"cidr": "198.19.0.0/16", "gateway": "destination:15008", "identity": GATEWAY_ID}]}},
            netns=self.pod_a)
        self.daemons = [self.sidecar, self.gateway]

    def add_pod(self, node, short, address, node_address):
        """A pod namespace behind `node` on a veth pair: a /32 each side, the node routes it."""
        pod = self.topo.add_namespace(short)
        dev = f"to-{short}"
        self.topo.run(node, "ip", "link", "add", dev, "type", "veth", "peer", "name", "eth0", "netns", pod)
        self.topo.run(node, "ip", "addr", "add", f"{node_address}/32", "dev", dev)
        self.topo.run(node, "ip", "link", "set", dev, "up")
        self.topo.run(node, "ip", "route", "add", f"{address}/32", "dev", dev, "src", node_address)
        self.topo.run(pod, "ip", "addr", "add", f"{address}/32", "dev", "eth0")
        self.topo.run(pod, "ip", "link", "set", "eth0", "up")
        self.topo.run(pod, "ip", "route", "add", f"{node_address}/32", "dev", "eth0")
        self.topo.run(pod, "ip", "route", "add", "198.18.0.0/15", "via", node_address)
        return pod

    def stop(self):
        codes = {d.name: d.stop() for d in self.daemons}
        assert all(code == 0 for code in codes.values()), codes

    def serve(self, ns, port, size):
        proc = self.topo.spawn(ns, *APP, "serve", str(port), "talkfirst", str(size), stdout=subprocess.PIPE,
                               text=True)
        assert json.loads(proc.stdout.readline()) == {"listening": port}
        return proc

    def talk(self, host, port, size, timeout=120):
        out = self.topo.run(self.pod_a, "timeout", str(timeout), *APP, "talk", host, str(port), str(size))
        return json.loads(out.stdout)


def seen(server, timeout=60):
    ready, _, _ = select.select([server.stdout], [], [], timeout)
    assert ready, "the server saw no connection"
    return json.loads(server.stdout.readline())


@pytest.fixture
def cluster(tmp_path):
    topo = netns.Topology("ng")
    made = None
    try:
        made = Cluster(topo, tmp_path)
        yield made
        made.stop()
    finally:
        topo.close()


def test_pod_to_pod_through_the_node_gateway(cluster):
    """16 MiB each way from pod A's app to pod C (no sidecar), equal sha256 both ways, through
    node 2's gateway: it saw pod A's identity and address and dialled pod C's address."""
    server = cluster.serve(cluster.pod_c, 8080, 16 * MiB)
    result = cluster.talk(POD_C, 8080, 16 * MiB)
    at_c = seen(server)
    assert "error" not in result and "error" not in at_c, (result, at_c)
    assert result["received"] == 16 * MiB and result["received_sha256"] == at_c["sent_sha256"]
    assert at_c["received"] == 16 * MiB and at_c["received_sha256"] == result["sent_sha256"]
    assert at_c["peer"] == "198.19.2.1"  # dialled by node 2, not by pod A
    cluster.gateway.wait_for_log(f"tunnel role=gateway src={POD_A}:")
    cluster.gateway.wait_for_log(f"peer={CLIENT_ID} dst={POD_C}:8080 status=200")
    cluster.sidecar.wait_for_log(f'dst={POD_C}:8080 route="198.19.0.0/16 via destination:15008" status=200')


def test_target_other_than_the_arrived_address_gets_400(cluster):
    """A CONNECT for pod D's address sent to pod C's address: 400, pod D never dialled."""
    server = cluster.serve(cluster.pod_d, 8080, 0)
    out = cluster.topo.run(cluster.pod_a, "timeout", "20", *APP, "talk", "127.0.0.1", "15101", "0")
    assert json.loads(out.stdout).get("error") == "reset"
    cluster.gateway.wait_for_log(f"-> 400: target {POD_D}:8080 is not the address this connection arrived on "
                                 f"({POD_C}:15008) flags=DPE")
    cluster.sidecar.wait_for_log(f"dst={POD_D}:8080 status=400")
    assert cluster.gateway.metric("hbone_gateway_destinations_refused_total", reason="not_arrived") == 1
    ready, _, _ = select.select([server.stdout], [], [], 0.5)
    assert not ready, "pod D was dialled"


def test_the_nodes_own_services_are_not_reached_through_its_bridge_address(cluster):
    """The node's pod-facing address (198.19.2.1, inside the pod CIDR the gateway may dial,
    as a bridge CNI's .1 is) with a host service on 0.0.0.0: a CONNECT for it, sent to that
    address as require_arrived_address wants, gets 403 and the host service sees nothing;
    pod C beside it still works."""
    host_service = cluster.serve(cluster.node2, 31250, 0)
    result = cluster.talk("198.19.2.1", 31250, 0, timeout=20)
    assert result.get("error") == "reset", result
    cluster.gateway.wait_for_log("-> 403: 198.19.2.1:31250 is an address of this host, dialled only when "
                                 "allowed_destinations names it exactly flags=UAEX")
    assert cluster.gateway.metric("hbone_gateway_destinations_refused_total", reason="host_address") == 1
    ready, _, _ = select.select([host_service.stdout], [], [], 0.5)
    assert not ready, "the host service was dialled"
    server = cluster.serve(cluster.pod_c, 8080, 1024)
    assert cluster.talk(POD_C, 8080, 1024).get("received") == 1024
    assert seen(server)["received"] == 1024


def test_node_install_is_idempotent_and_node_remove_leaves_nothing():
    topo = netns.Topology("ni")
    try:
        ns = topo.add_namespace("node")

        def state():
            return (topo.run(ns, "iptables", "-t", "mangle", "-S").stdout, topo.run(ns, "ip", "rule").stdout,
                    topo.run(ns, "ip", "route", "show", "table", "133", check=False).stdout)

        before = state()
        printed = topo.run(ns, CAPTURE, "node-install", "--pod-cidr", "198.19.2.0/24").stdout
        rules = state()
        assert ("-A HBONE_NODE_INBOUND -d 198.19.2.0/24 -p tcp -m tcp --dport 15008 -j TPROXY --on-port 15008 "
                "--on-ip 0.0.0.0 --tproxy-mark 0x100000/0x100000") in rules[0]
        assert "-A PREROUTING -p tcp -j HBONE_NODE_INBOUND" in rules[0]
        assert "fwmark 0x100000/0x100000 lookup 133" in rules[1]
        assert "local default dev lo" in rules[2]
        assert "HBONE_NODE_INBOUND" in printed  # it prints what it installed
        topo.run(ns, CAPTURE, "node-install", "--pod-cidr", "198.19.2.0/24")
        assert state() == rules
        topo.run(ns, CAPTURE, "node-remove")
        assert state() == before
        assert topo.run(ns, CAPTURE, "node-install", check=False).returncode == 2  # --pod-cidr is required
    finally:
        topo.close()
