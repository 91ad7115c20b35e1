"""The mesh data plane on a multi-node topology built from network namespaces (netns.py):

  pod A 198.18.0.1 ──┐                       pod A: an unmodified app + hbone client with
  pod B 198.18.0.2 ──┼── bridge (own netns)         capture rules (scripts/capture.sh)
  egress 198.18.0.3 ─┘                       pod B: servers + hbone gateway on :15008
     ├── external 198.18.1.2 (only behind the egress namespace, which does not forward)
     └── pod C 198.19.0.2 (another network, the egress namespace its east-west gateway)

Applications in pod A connect to real addresses; hbone captures, routes and tunnels them.
Needs root (namespaces, iptables); skipped only where that is missing."""

import json
import select
import pathlib
import subprocess
import sys
import time

import pytest

import netns
from harness import ROOT, ConfigMapDir, Hbone, tls

pytestmark = pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))

A, B, EGRESS, EXT = "198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.1.2"
POD_C = "198.19.0.2"  # another network, reached only through the east-west gateway (egress)
GATEWAY_ID = "spiffe://cluster.local/ns/default/sa/gateway"
CLIENT_ID = "spiffe://cluster.local/ns/default/sa/client"
CAPTURE = str(ROOT / "scripts" / "capture.sh")
APP = [sys.executable, str(pathlib.Path(__file__).with_name("mesh_app.py"))]
MiB = 1 << 20

ROUTES = [
    # pod B's gateway is not "other": a route expecting it must fail.
    {"cidr": f"{B}/32", "ports": [9999], "gateway": "destination:15008",
     "identity": "spiffe://cluster.local/ns/default/sa/other"},
    {"cidr": f"{B}/32", "gateway": "destination:15008", "identity": GATEWAY_ID},
    {"cidr": f"{EGRESS}/32", "ports": [7000], "gateway": "direct"},
    {"cidr": "198.18.1.0/24", "gateway": f"{EGRESS}:15008", "identity": GATEWAY_ID},
]


class Mesh:
    def __init__(self, topo, tmp_path, client_extra=None, node_b_extra=None, routes=ROUTES, configmap=False,
                 egress_extra=None):
        self.topo = topo
        self.a = topo.add_node("a", A)
        self.b = topo.add_node("b", B)
        self.egress = topo.add_node("eg", EGRESS)
        self.ext = topo.link(self.egress, "ext", EXT, "198.18.1.1")
        topo.run(self.a, "ip", "route", "add", "198.18.1.0/24", "via", EGRESS)
        topo.run(self.a, CAPTURE, "install")
        self.node_b = Hbone(tmp_path, "node-b", {"tls": tls("gateway"),
                                                 "gateway": {"listen": f"{B}:15008", "require_arrived_address": True,
                                                             **(node_b_extra or {})}},
                            netns=self.b)
        self.egress_gw = Hbone(tmp_path, "egress", {"tls": tls("gateway"), "gateway": {
            "listen": f"{EGRESS}:15008", "allowed_destinations": [f"{EXT}:8080"], **(egress_extra or {})}},
            netns=self.egress)
        config = {"tls": tls("client"), "client": {"capture": {"listen": "127.0.0.1:15001"}, "routes": routes}}
        config.update(client_extra or {})
        # configmap: pod A's config mounted as kubelet mounts a ConfigMap (update() swaps it).
        self.configmap = ConfigMapDir(tmp_path / "pod-a-config", "pod-a.yaml", config) if configmap else None
        self.pod_a_config = config
        self.pod_a = Hbone(tmp_path, "pod-a", config, netns=self.a,
                           config_path=self.configmap.path if configmap else None)
        self.daemons = [self.pod_a, self.node_b, self.egress_gw]

    def stop(self):
        """Stops every daemon; each must exit 0 (under ASan: no error or leak found)."""
        codes = {d.name: d.stop() for d in self.daemons}
        assert all(code == 0 for code in codes.values()), codes

    def serve(self, ns, port, mode, size=0):
        proc = self.topo.spawn(ns, *APP, "serve", str(port), mode, str(size), stdout=subprocess.PIPE, text=True)
        assert json.loads(proc.stdout.readline()) == {"listening": port}
        return proc

    @staticmethod
    def seen(server, timeout=60):
        """The next connection a `serve` process reports."""
        ready, _, _ = select.select([server.stdout], [], [], timeout)
        assert ready, "the server saw no connection"
        return json.loads(server.stdout.readline())

    def talk(self, host, port, size=0, timeout=120, ns=None):
        """An app in pod A (or `ns`) talks to host:port; its JSON result."""
        out = self.topo.run(ns or self.a, "timeout", str(timeout), *APP, "talk", host, str(port), str(size))
        return json.loads(out.stdout)

    def exchange(self, server_ns, host, port, size, mode="talkfirst", client_ns=None):
        """A server in `server_ns` and an app talking to it, `size` bytes each way, each
        direction closed while the other is open; both arrive whole. (app, server) results."""
        server = self.serve(server_ns, port, mode, size)
        result = self.talk(host, port, size, ns=client_ns)
        seen = self.seen(server)
        assert "error" not in result and "error" not in seen, (result, seen)
        assert result["received"] == size and result["received_sha256"] == seen["sent_sha256"]
        assert seen["received"] == size and seen["received_sha256"] == result["sent_sha256"]
        return result, seen


@pytest.fixture
def topo():
    yield from netns.topology("m")


@pytest.fixture
def make_mesh(topo, tmp_path):
    made = []

    def make(**kwargs):
        made.append(Mesh(topo, tmp_path, **kwargs))
        return made[-1]

    yield make
    for mesh in made:
        mesh.stop()


@pytest.fixture
def mesh(make_mesh):
    return make_mesh()


def test_app_reaches_pod_b_by_its_address_with_half_close_both_ways(mesh):
    _, seen = mesh.exchange(mesh.b, B, 8080, 64 * MiB)
    # Pod B's server is reached by its own node's hbone, not by pod A.
    assert seen["peer"] == B
    mesh.node_b.wait_for_log(f"peer={CLIENT_ID} dst={B}:8080")
    mesh.pod_a.wait_for_log(f'dst={B}:8080 route="{B}/32 via destination:15008"')
    assert mesh.pod_a.metric("hbone_capture_connections_total", outcome="tunnel") == 1
    tunnels = json.loads(mesh.pod_a.admin_request("/debug/tunnels")[1])
    assert f"{B}:15008 {GATEWAY_ID}" in json.dumps(tunnels)


def test_proxy_protocol_tells_the_backend_who_it_was(make_mesh):
    mesh = make_mesh(node_b_extra={"proxy_protocol": "v2"})
    _, seen = mesh.exchange(mesh.b, B, 8080, MiB, mode="proxy")
    assert seen["peer"] == B  # the connection is the gateway's ...
    assert seen["proxy_source"].startswith(f"{A}:")  # ... on behalf of pod A's app
    assert seen["proxy_destination"] == B
    assert seen["proxy_identity"] == CLIENT_ID


def test_reset_is_carried_to_the_app(mesh):
    mesh.serve(mesh.b, 8081, "reset")
    assert mesh.talk(B, 8081)["error"] == "reset"


def test_curl_and_iperf3_unmodified(mesh, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    blob = (site / "blob").open("wb")
    blob.write(bytes(range(256)) * (64 * 1024))  # 16 MiB
    blob.close()
    mesh.topo.spawn(mesh.b, sys.executable, "-m", "http.server", "8000", "--bind", B, "--directory", str(site),
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mesh.topo.spawn(mesh.b, "iperf3", "-s", "-p", "5201", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    want = subprocess.run(["sha256sum", str(site / "blob")], capture_output=True, text=True).stdout.split()[0]
    got = mesh.topo.run(mesh.a, "sh", "-c", f"curl -sf --retry 3 --retry-connrefused http://{B}:8000/blob | sha256sum")
    assert got.stdout.split()[0] == want
    for reverse in ([], ["-R"]):
        out = mesh.topo.run(mesh.a, "iperf3", "-c", B, "-p", "5201", "-n", "64M", "-J", *reverse)
        report = json.loads(out.stdout)
        assert "error" not in report, report
        # (iperf3's receiver total may stop short of the last bytes in flight.)
        assert report["end"]["sum_sent"]["bytes"] >= 64 * MiB and report["end"]["sum_received"]["bytes"] > 0


def test_unrouted_destination_is_reset_and_counted(mesh):
    result = mesh.talk("198.18.0.99", 80, timeout=10)
    assert result.get("error") == "reset", result
    assert result["reset_after"] < 1  # a reset at once, not a hang
    assert mesh.pod_a.metric("hbone_capture_unrouted_total") == 1
    mesh.pod_a.wait_for_log("dst=198.18.0.99:80: no route matches")


def test_direct_route_goes_in_the_clear(mesh):
    _, seen = mesh.exchange(mesh.egress, EGRESS, 7000, MiB)
    assert seen["peer"] == A  # no tunnel: the connection comes from pod A itself
    assert mesh.pod_a.metric("hbone_capture_connections_total", outcome="direct") == 1
    assert "dst=198.18.0.3:7000" not in mesh.egress_gw.log()


def test_own_connections_are_not_captured_and_the_mark_is_why(make_mesh):
    # The capture rules skip mark 0x539; an hbone that does not set it sees its own
    # direct dial come back through the capture listener: refused and counted, no loop.
    mesh = make_mesh(client_extra={"socket": {"mark": 0}})
    mesh.serve(mesh.egress, 7000, "talkfirst", MiB)
    start = time.monotonic()
    assert mesh.talk(EGRESS, 7000, MiB, timeout=20).get("error") == "reset"
    assert time.monotonic() - start < 10
    assert mesh.pod_a.metric("hbone_capture_connections_total", outcome="loop") == 1
    mesh.pod_a.wait_for_log("hbone's own connection was captured")


def test_egress_gateway_decides_by_its_allow_list(mesh):
    _, seen = mesh.exchange(mesh.ext, EXT, 8080, MiB)
    assert seen["peer"] == "198.18.1.1"  # from the egress gateway
    mesh.serve(mesh.ext, 8081, "talkfirst", MiB)
    start = time.monotonic()
    assert mesh.talk(EXT, 8081, timeout=20).get("error") == "reset"
    assert time.monotonic() - start < 10
    mesh.egress_gw.wait_for_log(f"-> 403: destination {EXT}:8081 not allowed")
    mesh.pod_a.wait_for_log(f"dst={EXT}:8081 route=\"198.18.1.0/24 via {EGRESS}:15008\" status=403")


def test_wrong_gateway_identity_is_refused(mesh):
    mesh.serve(mesh.b, 9999, "talkfirst", MiB)
    assert mesh.talk(B, 9999, timeout=20).get("error") == "reset"
    mesh.pod_a.wait_for_log(f"gateway identity {GATEWAY_ID} is not the configured spiffe://cluster.local/ns/default/sa/other")


def test_tproxy_capture_of_routed_traffic(mesh, tmp_path):
    # The egress namespace as a router for pod B: TPROXY hands pod B's packets to
    # 198.18.1.0/24 to a transparent listener, whose accepted sockets carry the original
    # destination as their local address. Tunnelled to the egress gateway beside it. (The
    # TPROXY mark must not share a bit with socket.mark 0x539: the gateway's marked dial
    # would be routed to the local table. And only packets from the bridge: external's
    # replies to the egress namespace are addressed to 198.18.1.0/24 too.)
    topo, eg = mesh.topo, mesh.egress
    topo.run(mesh.b, "ip", "route", "add", "198.18.1.0/24", "via", EGRESS)
    topo.run(eg, "iptables", "-t", "mangle", "-A", "PREROUTING", "-i", "eth0", "-p", "tcp", "-d", "198.18.1.0/24",
             "-j", "TPROXY", "--on-port", "15002", "--tproxy-mark", "0x2/0x2")
    topo.run(eg, "ip", "rule", "add", "fwmark", "0x2/0x2", "lookup", "100")
    topo.run(eg, "ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100")
    router = Hbone(tmp_path, "router", {"tls": tls("client"), "client": {
        "capture": {"listen": "0.0.0.0:15002", "mode": "tproxy"},
        "routes": [{"cidr": "198.18.1.0/24", "gateway": f"{EGRESS}:15008", "identity": GATEWAY_ID}]}}, netns=eg)
    mesh.daemons.append(router)
    mesh.exchange(mesh.ext, EXT, 8080, MiB, client_ns=mesh.b)
    router.wait_for_log(f'src={B}:')
    router.wait_for_log(f'dst={EXT}:8080 route="198.18.1.0/24 via {EGRESS}:15008" status=200')
    mesh.egress_gw.wait_for_log(f"peer={CLIENT_ID} dst={EXT}:8080 status=200")


def test_capture_script_is_idempotent_and_removes_everything(topo):
    ns = topo.add_namespace("rules")
    before = topo.run(ns, "iptables", "-t", "nat", "-S").stdout
    first = topo.run(ns, CAPTURE, "install", "--uid", "1337", "--exclude-ports", "22,9090",
                     "--exclude-cidrs", "10.96.0.0/12").stdout
    rules = topo.run(ns, "iptables", "-t", "nat", "-S").stdout
    assert "-A HBONE_OUTPUT -m mark --mark 0x539 -j RETURN" in rules
    assert "-A HBONE_OUTPUT -p tcp -m owner --uid-owner 1337 -j RETURN" in rules or "--uid-owner 1337" in rules
    assert "-A HBONE_OUTPUT -p tcp -m tcp --dport 15008 -j RETURN" in rules
    assert "-A HBONE_OUTPUT -d 10.96.0.0/12 -j RETURN" in rules
    assert "-A HBONE_OUTPUT -p tcp -j REDIRECT --to-ports 15001" in rules
    assert "-A HBONE_OUTPUT -p tcp -j REDIRECT --to-ports 15001" in first  # it prints what it installed
    topo.run(ns, CAPTURE, "install", "--uid", "1337", "--exclude-ports", "22,9090", "--exclude-cidrs", "10.96.0.0/12")
    assert topo.run(ns, "iptables", "-t", "nat", "-S").stdout == rules
    topo.run(ns, CAPTURE, "remove")
    assert topo.run(ns, "iptables", "-t", "nat", "-S").stdout == before


def test_route_added_by_a_configmap_swap_takes_traffic_at_once(make_mesh):
    """A route added to the running sidecar's config (kubelet's ..data swap, no signal) takes
    captured traffic within a second; a transfer on another route spans the swap whole."""
    mesh = make_mesh(routes=ROUTES[:3], configmap=True)  # no route to the external network
    pod_b_server = mesh.serve(mesh.b, 9100, "talkfirst", MiB)
    trickle = mesh.topo.spawn(mesh.a, *APP, "trickle", B, "9100", "3", stdout=subprocess.PIPE, text=True)
    ext_server = mesh.serve(mesh.ext, 8080, "talkfirst", 1000)
    assert mesh.talk(EXT, 8080, 1000, timeout=20).get("error") == "reset"  # unrouted
    mesh.pod_a.wait_for_log(f"dst={EXT}:8080: no route matches, reset")

    mesh.configmap.update({**mesh.pod_a_config, "client": {**mesh.pod_a_config["client"], "routes": ROUTES}})
    swapped = time.monotonic()
    while "error" in (result := mesh.talk(EXT, 8080, 1000, timeout=20)):
        assert time.monotonic() - swapped < 1.0 + 0.5, result  # the watch settles 200 ms after the rename
    assert result["received"] == 1000 and mesh.seen(ext_server)["received"] == 1000
    mesh.pod_a.wait_for_log("reload (the config file changed): live keys applied")
    mesh.pod_a.wait_for_log(f'dst={EXT}:8080 route="198.18.1.0/24 via {EGRESS}:15008" status=200')

    # The pod B transfer that was open across the swap, every byte both ways.
    ready, _, _ = select.select([trickle.stdout], [], [], 30)
    assert ready, "the trickling transfer did not finish"
    sent = json.loads(trickle.stdout.readline())
    seen = mesh.seen(pod_b_server)
    assert "error" not in sent and "error" not in seen, (sent, seen)
    assert (sent["received"], sent["received_sha256"]) == (MiB, seen["sent_sha256"])
    assert (seen["received"], seen["received_sha256"]) == (sent["sent"], sent["sent_sha256"])


def pod_c_behind_the_east_west_gateway(make_mesh, tmp_path, routes, **mesh_extra):
    """A mesh whose pod A routes to pod C (198.19.0.0/24) through the east-west gateway,
    and pod C's node gateway."""
    mesh = make_mesh(routes=routes, egress_extra={"allowed_destinations": [f"{POD_C}:15008"]}, **mesh_extra)
    pod_c = mesh.topo.link(mesh.egress, "c", POD_C, "198.19.0.1")
    mesh.topo.run(mesh.a, "ip", "route", "add", "198.19.0.0/24", "via", EGRESS)
    node_c = Hbone(tmp_path, "node-c", {"tls": tls("gateway"), "gateway": {"listen": f"{POD_C}:15008",
                                                                   "require_arrived_address": True}},
                   netns=pod_c)
    mesh.daemons.append(node_c)
    return mesh, pod_c, node_c


def test_double_hbone_through_an_east_west_gateway(make_mesh, tmp_path):
    """Another network, 198.19.0.0/24, joined to pod A's only by the east-west gateway (the
    egress namespace, which does not forward): an unmodified app in pod A reaches pod C by
    its address. The east-west gateway sees only a CONNECT to pod C's node (:15008) and
    ciphertext; TLS and HTTP/2 to that node run inside the tunnel, pooled: a second tunnel
    costs no handshake. An inner gateway with the wrong identity is refused."""
    wrong_id = "spiffe://cluster.local/ns/default/sa/other"
    via = {"gateway": "destination:15008", "via": f"{EGRESS}:15008", "via_identity": GATEWAY_ID}
    routes = [{"cidr": f"{POD_C}/32", "ports": [9999], "identity": wrong_id, **via},
              {"cidr": "198.19.0.0/24", "identity": GATEWAY_ID, **via}]
    mesh, pod_c, node_c = pod_c_behind_the_east_west_gateway(make_mesh, tmp_path, routes)

    setups = []  # pod A's accept-to-200 of each tunnel, from its setup histogram
    for port, size in ((8080, 64 * MiB), (8081, MiB)):
        before = mesh.pod_a.metric("hbone_tunnel_setup_seconds_sum", role="client")
        _, seen = mesh.exchange(pod_c, POD_C, port, size)
        setups.append(mesh.pod_a.metric("hbone_tunnel_setup_seconds_sum", role="client") - before)
        assert seen["peer"] == POD_C  # dialled by pod C's node
        # Pod C's node sees pod A's identity.
        node_c.wait_for_log(f"peer={CLIENT_ID} dst={POD_C}:{port} status=200 flags=- sent={size} received={size}")
    print(f"double HBONE setup: first tunnel {setups[0] * 1e3:.2f} ms (two handshakes), "
          f"second {setups[1] * 1e3:.2f} ms (pooled)")
    # One TLS handshake at each gateway: the inner connection is pooled, and so is its carrier.
    assert node_c.metric("hbone_tls_handshakes_total", role="gateway", result="ok") == 1
    assert mesh.egress_gw.metric("hbone_tls_handshakes_total", role="gateway", result="ok") == 1
    # The east-west gateway carries one tunnel, to pod C's node's HBONE port, for pod A.
    (conn,) = json.loads(mesh.egress_gw.admin_request("/debug/tunnels")[1])["connections"]
    assert conn["peer_identity"] == CLIENT_ID
    assert [t["target"] for t in conn["tunnels"]] == [f"{POD_C}:15008"]
    # Pod A shows both pools: the inner one through the east-west gateway, and its carrier.
    pools = {c["pool"] for c in json.loads(mesh.pod_a.admin_request("/debug/tunnels")[1])["connections"]}
    assert pools == {f"{POD_C}:15008 {GATEWAY_ID} through {EGRESS}:15008 {GATEWAY_ID}", f"{EGRESS}:15008 {GATEWAY_ID}"}
    mesh.pod_a.wait_for_log(f'dst={POD_C}:8081 route="198.19.0.0/24 via destination:15008 through {EGRESS}:15008" '
                            "status=200")

    # The inner gateway must be the route's identity: pod C's node is not `sa/other`.
    mesh.serve(pod_c, 9999, "talkfirst", MiB)
    assert mesh.talk(POD_C, 9999, MiB, timeout=20).get("error") == "reset"
    mesh.pod_a.wait_for_log(f"gateway identity {GATEWAY_ID} is not the configured {wrong_id}")

    # All the east-west gateway ever saw of pod C were its node's HBONE port, for pod A.
    mesh.daemons.remove(mesh.egress_gw)
    assert mesh.egress_gw.stop() == 0
    log = mesh.egress_gw.log()
    assert f"dst={POD_C}:15008" in log and f"peer={CLIENT_ID}" in log
    assert not [line for line in log.splitlines() if "dst=" in line and f"dst={POD_C}:15008" not in line]
    assert not [line for line in log.splitlines() if "peer=" in line and f"peer={CLIENT_ID}" not in line]


def test_double_hbone_with_a_connection_per_tunnel(make_mesh, tmp_path):
    """client.max_tunnels_per_connection: 1 on pod A: each tunnel to pod C opens its own
    carrier and inner connection, which drain as soon as their one tunnel is sent; the
    inner one, drained by its carrier's GOAWAY before its own handshake, still carries its
    tunnel."""
    routes = [{"cidr": "198.19.0.0/24", "gateway": "destination:15008", "identity": GATEWAY_ID,
               "via": f"{EGRESS}:15008", "via_identity": GATEWAY_ID}]
    mesh, pod_c, node_c = pod_c_behind_the_east_west_gateway(
        make_mesh, tmp_path, routes, client_extra={"client": {
            "capture": {"listen": "127.0.0.1:15001"}, "routes": routes, "max_tunnels_per_connection": 1}})
    for port in (8080, 8081):
        mesh.exchange(pod_c, POD_C, port, MiB)
    assert node_c.metric("hbone_tls_handshakes_total", role="gateway", result="ok") == 2
    assert mesh.egress_gw.metric("hbone_tls_handshakes_total", role="gateway", result="ok") == 2
    assert mesh.pod_a.metric("istio_tcp_connections_failed_total") == 0
