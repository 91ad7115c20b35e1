"""A sidecar fed only by the fake istiod, on network namespaces laid out as nodes:

  pod A 198.18.0.1 ──┐                        pod A: an unmodified app + hbone with capture
  pod B 198.18.0.2 ──┼── bridge (own netns)          and no client.routes: the mesh decides
  pod C 198.18.0.3 ──┤                        pods B, C: endpoints of echo (VIP 198.18.100.1),
  istiod 198.18.0.100┘                               each with an hbone gateway on :15008
                                                     and its own identity (gateway, other)

Every hbone speaks delta ADS to the fake istiod (tests/support/fake_istiod.py)."""

import json
import select
import subprocess
import sys
import pathlib

import pytest

import netns
from harness import ROOT, Hbone, tls, wait_until
from istiod import FakeIstiod, service, workload

pytestmark = pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))

A, B, C, CP = "198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.100"
VIP = "198.18.100.1"
ECHO = "default/echo.default.svc.cluster.local"
CLIENT_ID = "spiffe://cluster.local/ns/default/sa/client"
CAPTURE = str(ROOT / "scripts" / "capture.sh")
APP = [sys.executable, str(pathlib.Path(__file__).with_name("mesh_app.py"))]
MiB = 1 << 20


def pod(name, ip, sa, endpoint=True, **extra):
    return workload(f"Kubernetes//Pod/default/{name}", ip, name=name, service_account=sa,
                    services={ECHO: [(80, 8080)]} if endpoint else None, **extra)


POD_A = pod("a", A, "client", endpoint=False)
POD_B = pod("b", B, "gateway")
POD_C = pod("c", C, "other")
ECHO_SERVICE = service("default", "echo.default.svc.cluster.local", VIP, [(80, 8080)])


class XdsMesh:
    def __init__(self, topo, tmp_path):
        self.topo = topo
        self.a = topo.add_node("a", A)
        self.b = topo.add_node("b", B)
        self.c = topo.add_node("c", C)
        self.cp = topo.add_node("cp", CP)
        topo.run(self.a, "ip", "route", "add", "198.18.100.0/24", "dev", "eth0")  # VIPs: captured, never sent
        topo.run(self.a, CAPTURE, "install")
        self.istiod = FakeIstiod(tmp_path, netns=self.cp, listen=CP)
        self.push("address", [POD_A, POD_B, POD_C, ECHO_SERVICE])
        xds = self.istiod.xds_config()
        gateway = lambda ip: {"listen": f"{ip}:15008", "require_arrived_address": True}
        self.node_b = Hbone(tmp_path, "node-b", {"tls": tls("gateway"), "gateway": gateway(B), "xds": xds},
                            netns=self.b)
        self.node_c = Hbone(tmp_path, "node-c", {"tls": tls("other"), "gateway": gateway(C), "xds": xds},
                            netns=self.c)
        self.pod_a = Hbone(tmp_path, "pod-a", {"tls": tls("client"), "xds": xds,
                                               "client": {"capture": {"listen": "127.0.0.1:15001"}}},
                           netns=self.a)
        self.daemons = [self.pod_a, self.node_b, self.node_c]
        for d in self.daemons:
            assert wait_until(lambda: d.admin_request("/healthz/ready")[0] == 200, timeout=30), d.log()

    def push(self, kind, resources=(), removed=()):
        """A push, and every hbone's answer to it (the answers of a mesh not started yet: none)."""
        nonce = self.istiod.push(kind, resources, removed)
        streams = len(getattr(self, "daemons", []))
        assert wait_until(lambda: len([r for r in self.istiod.requests() if r.get("nonce") == nonce]) == streams,
                          timeout=10)
        answers = [r for r in self.istiod.requests() if r.get("nonce") == nonce]
        assert all(r["error"] is None for r in answers), answers
        return answers

    def serve(self, ns, size):
        proc = self.topo.spawn(ns, *APP, "serve", "8080", "talkfirst", str(size), stdout=subprocess.PIPE, text=True)
        assert json.loads(proc.stdout.readline()) == {"listening": 8080}
        return proc

    def talk(self, host, port, size=0, timeout=120):
        out = self.topo.run(self.a, "timeout", str(timeout), *APP, "talk", host, str(port), str(size))
        return json.loads(out.stdout)

    @staticmethod
    def seen(servers, timeout=60):
        """(server, its report) of the next connection one of `servers` finished."""
        ready, _, _ = select.select([s.stdout for s in servers], [], [], timeout)
        assert ready, "no server saw a connection"
        server = next(s for s in servers if s.stdout is ready[0])
        return server, json.loads(server.stdout.readline())

    def stop(self):
        codes = {d.name: d.stop() for d in self.daemons}
        assert all(code == 0 for code in codes.values()), codes


@pytest.fixture
def topo():
    yield from netns.topology("x")


@pytest.fixture
def mesh(topo, tmp_path):
    return XdsMesh(topo, tmp_path)


def test_a_service_vip_reaches_each_endpoint_by_hbone_with_its_identity(mesh):
    servers = {mesh.serve(mesh.b, 16 * MiB): "b", mesh.serve(mesh.c, 16 * MiB): "c"}
    landed = []
    for _ in range(2):
        result = mesh.talk(VIP, 80, 16 * MiB)
        server, seen = mesh.seen(servers)
        assert "error" not in result and "error" not in seen, (result, seen)
        # 16 MiB each way, whole.
        assert result["received"] == 16 * MiB and result["received_sha256"] == seen["sent_sha256"]
        assert seen["received"] == 16 * MiB and seen["received_sha256"] == result["sent_sha256"]
        landed.append(servers[server])
    assert sorted(landed) == ["b", "c"]  # round robin over the service's endpoints
    # Each endpoint's hbone saw pod A's identity; pod A asked each for its own.
    mesh.node_b.wait_for_log(f"peer={CLIENT_ID} dst={B}:8080 status=200")
    mesh.node_c.wait_for_log(f"peer={CLIENT_ID} dst={C}:8080 status=200")
    status, body = mesh.pod_a.admin_request("/debug/tunnels")
    # A push that gives B another service account: pod A refuses B's certificate from now on.
    mesh.push("address", [pod("b", B, "impostor"), pod("c", C, "other", status="UNHEALTHY")])
    result = mesh.talk(VIP, 80, 0, timeout=30)
    assert "error" in result or result["received"] == 0, result
    mesh.pod_a.wait_for_log("gateway identity spiffe://cluster.local/ns/default/sa/gateway is not the configured "
                            "spiffe://cluster.local/ns/default/sa/impostor")
    mesh.stop()


def test_pushed_endpoints_take_connections_as_soon_as_acked(mesh):
    servers = {mesh.serve(mesh.b, 1024): "b", mesh.serve(mesh.c, 1024): "c"}
    mesh.push("address", removed=["Kubernetes//Pod/default/c"])
    for _ in range(3):
        assert mesh.talk(VIP, 80, 1024)["received"] == 1024
        assert servers[mesh.seen(servers)[0]] == "b"
    mesh.push("address", [POD_C])  # a new endpoint
    landed = set()
    for _ in range(2):
        assert mesh.talk(VIP, 80, 1024)["received"] == 1024
        landed.add(servers[mesh.seen(servers)[0]])
    assert landed == {"b", "c"}
    mesh.push("address", removed=["Kubernetes//Pod/default/b"])  # a removed one gets none
    for _ in range(3):
        assert mesh.talk(VIP, 80, 1024)["received"] == 1024
        assert servers[mesh.seen(servers)[0]] == "c"
    mesh.stop()


def open_echo_tunnel(mesh):
    """An echo server on pod B and a connection to it from pod A held open: (client, server)."""
    server = mesh.topo.spawn(mesh.b, "socat", "TCP-LISTEN:8080,reuseaddr,fork", "EXEC:cat",
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_until(lambda: ":8080" in mesh.topo.run(mesh.b, "ss", "-ltn").stdout)
    client = mesh.topo.spawn(mesh.a, "socat", "-", f"TCP:{B}:8080", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    echo(client, b"hello\n")
    return client, server


def echo(client, line):
    client.stdin.write(line)
    client.stdin.flush()
    ready, _, _ = select.select([client.stdout], [], [], 30)
    assert ready and client.stdout.readline() == line


def test_a_pushed_deny_resets_the_open_tunnel_and_refuses_new_ones(mesh):
    client, _ = open_echo_tunnel(mesh)
    mesh.push("authorization", [{"name": "default/deny-client", "authorization": {
        "name": "deny-client", "namespace": "default", "scope": "NAMESPACE", "action": "DENY",
        "rules": [{"clauses": [{"matches": [{"principals": [{"exact": "cluster.local/ns/default/sa/client"}]}]}]}]}}])
    mesh.node_b.wait_for_log("policy=default/deny-client denies it now")
    assert client.wait(30) is not None  # its tunnel was reset
    result = mesh.talk(B, 8080, 0, timeout=30)
    assert result.get("received", 0) == 0
    mesh.node_b.wait_for_log(f"peer={CLIENT_ID} dst={B}:8080 status=403")
    mesh.stop()


def test_istiod_away_drops_no_tunnel_and_resyncs(mesh):
    client, _ = open_echo_tunnel(mesh)
    mesh.istiod.kill()
    for d in mesh.daemons:
        assert wait_until(lambda: d.metric("hbone_xds_connected") == 0)
    echo(client, b"still here\n")
    # New connections go by the last state meanwhile (B by its address: HBONE, its identity).
    second = mesh.topo.spawn(mesh.a, "socat", "-", f"TCP:{B}:8080", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    echo(second, b"meanwhile\n")
    mesh.istiod.start()
    for d in mesh.daemons:
        assert wait_until(lambda: d.metric("hbone_xds_connected") == 1, timeout=30), d.log()
    echo(client, b"and after\n")
    held = [r["initial"] for r in mesh.istiod.requests() if r.get("type") == "address" and "initial" in r]
    assert len(held) == 3 and all(sorted(h) == sorted(mesh.istiod.versions()["address"]) for h in held)
    for c in (client, second):  # FIN: the tunnels end, and the drain does not wait for them
        c.stdin.close()
        assert c.wait(30) == 0
    mesh.stop()


def test_what_the_mesh_does_not_know_passes_through_and_waypoints_are_refused(mesh):
    server = mesh.topo.spawn(mesh.cp, *APP, "serve", "7000", "talkfirst", "4096", stdout=subprocess.PIPE, text=True)
    assert json.loads(server.stdout.readline()) == {"listening": 7000}
    result = mesh.talk(CP, 7000, 4096)  # istiod's node is no workload: passthrough, plain TCP
    assert result["received"] == 4096
    assert mesh.pod_a.metric("hbone_capture_connections_total", outcome="direct") == 1
    guarded = service("default", "guarded.default.svc.cluster.local", "198.18.100.2", [(80, 8080)])
    guarded["service"]["waypoint"] = {"address": {"network": "", "address": "198.18.0.50"}, "hboneMtlsPort": 15008}
    mesh.push("address", [guarded])
    result = mesh.talk("198.18.100.2", 80, 0, timeout=30)
    assert result.get("received", 0) == 0
    mesh.pod_a.wait_for_log("service default/guarded.default.svc.cluster.local has waypoint /198.18.0.50:15008")
    assert mesh.pod_a.metric("hbone_capture_connections_total", outcome="refused") == 1
    mesh.stop()


def test_a_workload_on_another_network_is_reached_through_its_network_gateway(mesh, tmp_path):
    """Pod D is on network "west" (198.19.0.4), which pod A's network reaches only through
    west's east-west gateway (198.18.0.5, a namespace that does not forward). The mesh says
    so (D's network_gateway): pod A's connection to the remote service's VIP goes by double
    HBONE, a tunnel to D's node inside one to the gateway, D checked by its own identity and
    the gateway by the one istiod gives the gateway's workload. A push that gives the gateway
    another identity stops new connections through it."""
    west_gw, d, vip = "198.18.0.5", "198.19.0.4", "198.18.100.2"
    east_west = mesh.topo.add_node("e", west_gw)
    pod_d = mesh.topo.link(east_west, "d", d, "198.19.0.1")
    gw = Hbone(tmp_path, "east-west", {"tls": tls("gateway"), "gateway": {
        "listen": f"{west_gw}:15008", "allowed_destinations": [f"{d}:15008"]}}, netns=east_west)
    node_d = Hbone(tmp_path, "node-d", {"tls": tls("other"), "gateway": {
        "listen": f"{d}:15008", "require_arrived_address": True}}, netns=pod_d)
    remote = service("default", "remote.default.svc.cluster.local", vip, [(80, 8080)])
    gateway_workload = lambda sa: workload("Kubernetes//Pod/default/east-west", west_gw, service_account=sa,
                                           network="west")
    pod_d_workload = workload("Kubernetes//Pod/default/d", d, service_account="other", network="west",
                              services={remote["name"]: [(80, 8080)]},
                              networkGateway={"address": {"network": "west", "address": west_gw},
                                              "hboneMtlsPort": 15008})
    mesh.push("address", [remote, pod_d_workload, gateway_workload("gateway")])

    server = mesh.serve(pod_d, 4 * MiB)
    result = mesh.talk(vip, 80, 4 * MiB)
    _, seen = mesh.seen([server])
    assert result["received"] == 4 * MiB and result["received_sha256"] == seen["sent_sha256"]
    assert seen["received"] == 4 * MiB and seen["received_sha256"] == result["sent_sha256"]
    node_d.wait_for_log(f"peer={CLIENT_ID} dst={d}:8080 status=200")
    # All the gateway carries: pod A's tunnel to D's node port (the inner connection, pooled).
    (carrier,) = json.loads(gw.admin_request("/debug/tunnels")[1])["connections"]
    assert carrier["peer_identity"] == CLIENT_ID
    assert [t["target"] for t in carrier["tunnels"]] == [f"{d}:15008"]
    mesh.pod_a.wait_for_log(f'route="mesh: service default/remote.default.svc.cluster.local endpoint '
                            f'Kubernetes//Pod/default/d through west/{west_gw}:15008"')
    pools = {c["pool"] for c in json.loads(mesh.pod_a.admin_request("/debug/tunnels")[1])["connections"]}
    assert f"{d}:15008 spiffe://cluster.local/ns/default/sa/other through {west_gw}:15008 " \
           "spiffe://cluster.local/ns/default/sa/gateway" in pools, pools

    mesh.push("address", [gateway_workload("impostor")])
    result = mesh.talk(vip, 80, 0, timeout=30)
    assert result.get("received", 0) == 0, result
    mesh.pod_a.wait_for_log("gateway identity spiffe://cluster.local/ns/default/sa/gateway is not the configured "
                            "spiffe://cluster.local/ns/default/sa/impostor")
    server.kill()
    assert gw.stop() == 0 and node_d.stop() == 0
    mesh.stop()
