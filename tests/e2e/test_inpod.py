"""One hbone per node serving the node's pods in their own network namespaces (Istio
ambient's in-pod mode), fed by the fake istiod (workloads, CA) and a fake CNI agent per
node (tests/support/fake_cni_agent.py, ZDS):

  pod a1 198.18.11.2 ─┐                              ┌─ pod b1 198.18.21.2
  pod a2 198.18.12.2 ─┼─ node n1 198.18.0.1 ── bridge ── node n2 198.18.0.2 ─┼─ pod b2 198.18.22.2
  pod a3 198.18.13.2 ─┘    hbone (node:), agent      istiod 198.18.0.100     └─ pod b3 198.18.23.2

Each pod runs an unmodified app behind the rules istio-cni writes (scripts/capture.sh
pod-install); each node's hbone makes the pods' listeners inside their namespaces and
speaks for each pod with its own identity (service accounts "client", "server", "other")."""

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import pathlib

import pytest

import netns
import yaml

from harness import ROOT, Hbone, spawn, wait_until
from istiod import FakeIstiod, workload

pytestmark = pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))

CAPTURE = str(ROOT / "scripts" / "capture.sh")
AGENT = [sys.executable, str(ROOT / "tests" / "support" / "fake_cni_agent.py")]
APP = [sys.executable, str(pathlib.Path(__file__).with_name("mesh_app.py"))]
CP = "198.18.0.100"
NODES = {"n1": "198.18.0.1", "n2": "198.18.0.2"}
# pod: (node, its /24's third octet, service account)
PODS = {"a1": ("n1", 11, "client"), "a2": ("n1", 12, "server"), "a3": ("n1", 13, "other"),
        "b1": ("n2", 21, "client"), "b2": ("n2", 22, "server"), "b3": ("n2", 23, "other")}
MiB = 1 << 20


def pod_ip(name):
    return f"198.18.{PODS[name][1]}.2"


def identity(sa):
    return f"spiffe://cluster.local/ns/default/sa/{sa}"


class Agent:
    """The fake CNI agent of one node."""

    def __init__(self, socket_path):
        self.proc = spawn([*AGENT, "--socket", str(socket_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True)
        assert "listening" in json.loads(self.proc.stdout.readline())

    def command(self, **command):
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def next_event(self):
        line = self.proc.stdout.readline()
        assert line, "the fake CNI agent exited"
        return json.loads(line)

    def until(self, predicate):
        while True:
            event = self.next_event()
            if predicate(event):
                return event

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


class InpodMesh:
    def __init__(self, topo, tmp_path):
        self.topo = topo
        self.nodes = {name: topo.add_node(name, ip) for name, ip in NODES.items()}
        self.cp = topo.add_node("cp", CP)
        self.pods = {}
        for name, (node, octet, _) in PODS.items():
            ns = topo.link(self.nodes[node], name, f"198.18.{octet}.2", f"198.18.{octet}.1")
            topo.run(ns, "ip", "route", "add", "default", "via", f"198.18.{octet}.1")
            topo.run(ns, CAPTURE, "pod-install")
            self.pods[name] = ns
        for node in NODES:
            topo.run(self.nodes[node], "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # Each pod's /24 through its node, from the other node and from istiod's (outside the mesh).
        for name, (node, octet, _) in PODS.items():
            for other in [*(self.nodes[n] for n in NODES if n != node), self.cp]:
                topo.run(other, "ip", "route", "add", f"198.18.{octet}.0/24", "via", NODES[node])
        self.istiod = FakeIstiod(tmp_path, netns=self.cp, listen=CP, ca=True)
        self.istiod.push("address", [workload(f"Kubernetes//Pod/default/{name}", pod_ip(name), name=name,
                                              service_account=sa) for name, (_, _, sa) in PODS.items()])
        self.agents, self.daemons = {}, {}
        for node in NODES:
            socket_path = tmp_path / f"{node}-zds.sock"
            self.agents[node] = Agent(socket_path)
            self.daemons[node] = Hbone(tmp_path, node, {
                "node": {"zds_socket": str(socket_path)}, "xds": self.istiod.xds_config(),
                "identity": {"provider": "istio_ca"}}, netns=self.nodes[node])
        for name, (node, _, sa) in PODS.items():
            self.agents[node].command(add=name, netns=f"/var/run/netns/{self.pods[name]}", name=name,
                                      namespace="default", service_account=sa)
        for node, agent in self.agents.items():
            agent.until(lambda e: e.get("sent") == "snapshot_sent")
        for d in self.daemons.values():
            assert wait_until(lambda: d.admin_request("/healthz/ready")[0] == 200, timeout=30), d.log()

    def serve(self, pod, size):
        proc = self.topo.spawn(self.pods[pod], *APP, "serve", "8080", "talkfirst", str(size), stdout=subprocess.PIPE,
                               text=True)
        assert json.loads(proc.stdout.readline()) == {"listening": 8080}
        return proc

    def talk(self, pod, host, port, size=0, timeout=120):
        """From an app in `pod` (or in any namespace of the topology: `pod` as its name)."""
        ns = self.pods.get(pod, pod)
        out = self.topo.run(ns, "timeout", str(timeout), *APP, "talk", host, str(port), str(size))
        return json.loads(out.stdout)

    def stop(self):
        codes = {node: d.stop() for node, d in self.daemons.items()}
        for agent in self.agents.values():
            agent.stop()
        assert all(code == 0 for code in codes.values()), codes


@pytest.fixture
def topo():
    yield from netns.topology("i")


@pytest.fixture
def mesh(topo, tmp_path):
    return InpodMesh(topo, tmp_path)


def transfer(mesh, source, destination, size=16 * MiB):
    """`size` bytes each way between an app in `source` and one in `destination`, whole."""
    server = mesh.serve(destination, size)
    try:
        result = mesh.talk(source, pod_ip(destination), 8080, size, timeout=60)
        ready, _, _ = select.select([server.stdout], [], [], 10)
        assert ready, f"{destination}'s app saw no connection from {source}: {result}"
        seen = json.loads(server.stdout.readline())
    finally:
        server.kill()
        server.wait()
    assert "error" not in result and "error" not in seen, (source, destination, result, seen)
    assert result["received"] == size and result["received_sha256"] == seen["sent_sha256"], (source, destination)
    assert seen["received"] == size and seen["received_sha256"] == result["sent_sha256"], (source, destination)
    # The app saw who connected: the source pod's own address (istiod's, from outside).
    assert seen["peer"] == (pod_ip(source) if source in PODS else CP), (source, destination, seen)


def tunnel_logged(mesh, source, destination, status):
    """The destination's node logged a tunnel from `source`'s own address and identity."""
    pattern = (rf"src={re.escape(pod_ip(source))}:\d+ peer={re.escape(identity(PODS[source][2]))} "
               rf"dst={re.escape(pod_ip(destination))}:8080 status={status}")
    node = mesh.daemons[PODS[destination][0]]
    return wait_until(lambda: re.search(pattern, node.log()), timeout=10)


def test_pods_reach_pods_on_the_other_node_each_with_its_own_identity(mesh):
    for source in ("a1", "a2", "a3"):
        for destination in ("b1", "b2", "b3"):
            transfer(mesh, source, destination)
            # The destination pod's proxy saw the source pod's own address and identity; the
            # source pod's proxy required the destination pod's (else no 200: the test's
            # mutants show it).
            assert tunnel_logged(mesh, source, destination, 200), (source, destination)
    transfer(mesh, "b3", "a1", MiB)  # and the other way
    assert tunnel_logged(mesh, "b3", "a1", 200)
    # Each identity's certificate was asked for on its pods' behalf, by each node.
    asked = [c["identity"] for c in mesh.istiod.csrs() if c.get("impersonated") == c.get("identity")]
    assert sorted(asked) == sorted(identity(sa) for sa in ("client", "server", "other") for _ in NODES), asked
    mesh.stop()


def test_a_policy_selecting_one_pod_admits_only_the_service_account_it_names(mesh):
    mesh.istiod.push("authorization", [{"name": "default/only-client", "authorization": {
        "name": "only-client", "namespace": "default", "scope": "WORKLOAD_SELECTOR", "action": "ALLOW",
        "rules": [{"clauses": [{"matches": [{"principals": [{"exact": "cluster.local/ns/default/sa/client"}]}]}]}]}}])
    mesh.istiod.push("address", [workload("Kubernetes//Pod/default/b2", pod_ip("b2"), name="b2", service_account="server",
                                          authorizationPolicies=["default/only-client"])])
    for d in mesh.daemons.values():
        assert wait_until(lambda: d.metric("hbone_xds_pushes_total", type="Address", result="ack") >= 2), d.log()
    transfer(mesh, "a1", "b2", MiB)  # the service account it names
    assert tunnel_logged(mesh, "a1", "b2", 200)
    refused = mesh.talk("a2", pod_ip("b2"), 8080, 0, timeout=30)  # another one
    assert refused.get("received", 0) == 0, refused
    assert tunnel_logged(mesh, "a2", "b2", 403)
    transfer(mesh, "a2", "b3", MiB)  # a pod the policy does not select
    assert tunnel_logged(mesh, "a2", "b3", 200)
    # Plaintext from outside the mesh (istiod's node) arrives at the pods' port 15006: it
    # has no identity, so the pod whose policy names one refuses it; the other takes it.
    transfer(mesh, mesh.cp, "b3", MiB)
    assert "error" in mesh.talk(mesh.cp, pod_ip("b2"), 8080, 0, timeout=30)
    n2 = mesh.daemons["n2"]
    assert re.search(rf"direct src={CP}:\d+ dst={pod_ip('b3')}:8080 route=\"inbound plaintext\"", n2.log())
    n2.wait_for_log(f"dst={pod_ip('b2')}:8080: denied: policy=none-matched, reset")
    mesh.stop()


# IPv6 beside IPv4 (dual-stack), from RFC 5180's benchmarking range 2001:2::/48.
NODES6 = {"n1": "2001:2::1", "n2": "2001:2::2"}


def pod_ip6(name):
    return f"2001:2:0:{PODS[name][1]}::2"


def add_ipv6(mesh):
    """Each node and pod gets an IPv6 address and routes beside its IPv4 ones, and istiod
    describes each pod with both (nodad: usable at once)."""
    topo = mesh.topo
    for node, address in NODES6.items():
        topo.run(mesh.nodes[node], "ip", "-6", "addr", "add", f"{address}/64", "dev", "eth0", "nodad")
        topo.run(mesh.nodes[node], "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
    for name, (node, octet, _) in PODS.items():
        topo.run(mesh.nodes[node], "ip", "-6", "addr", "add", f"2001:2:0:{octet}::1/64", "dev", f"to-{name}", "nodad")
        topo.run(mesh.pods[name], "ip", "-6", "addr", "add", f"{pod_ip6(name)}/64", "dev", "eth0", "nodad")
        topo.run(mesh.pods[name], "ip", "-6", "route", "add", "default", "via", f"2001:2:0:{octet}::1")
        for other in NODES:
            if other != node:
                topo.run(mesh.nodes[other], "ip", "-6", "route", "add", f"2001:2:0:{octet}::/64", "via", NODES6[node])
    pods = []
    for name, (_, _, sa) in PODS.items():
        pod = workload(f"Kubernetes//Pod/default/{name}", pod_ip(name), name=name, service_account=sa)
        pod["workload"]["addresses"].append(pod_ip6(name))
        pods.append(pod)
    mesh.istiod.push("address", pods)
    for d in mesh.daemons.values():
        assert wait_until(lambda: d.metric("hbone_xds_pushes_total", type="Address", result="ack") >= 2), d.log()


def test_dual_stack_pods_reach_each_other_over_ipv6_and_ipv4(mesh):
    """A pod's listeners are on [::] and take both families: with IPv6 beside IPv4, a pod
    reaches another over IPv6 through both node proxies with its own identity, the rules
    capturing it being istio-cni's IPv6 ones (capture.sh pod-install writes both), and
    over IPv4 as before."""
    add_ipv6(mesh)
    server = mesh.topo.spawn(mesh.pods["b1"], "socat", "TCP6-LISTEN:8080,reuseaddr,fork", "EXEC:cat",
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_until(lambda: ":8080" in mesh.topo.run(mesh.pods["b1"], "ss", "-ltn").stdout)
    for source in ("a1", "a3"):
        echo = mesh.topo.run(mesh.pods[source], "sh", "-c",
                             f"echo {source} | socat -t 5 - TCP6:[{pod_ip6('b1')}]:8080")
        assert echo.stdout == f"{source}\n", echo
        pattern = (rf"src=\[{re.escape(pod_ip6(source))}\]:\d+ peer={re.escape(identity(PODS[source][2]))} "
                   rf"dst=\[{re.escape(pod_ip6('b1'))}\]:8080 status=200")
        assert wait_until(lambda: re.search(pattern, mesh.daemons["n2"].log()), timeout=10), pattern
    echo = mesh.topo.run(mesh.pods["a2"], "sh", "-c", f"echo four | socat -t 5 - TCP:{pod_ip('b1')}:8080")
    assert echo.stdout == "four\n", echo
    assert tunnel_logged(mesh, "a2", "b1", 200)
    server.kill()
    mesh.stop()


def test_the_dial_to_the_app_never_repeats_the_peers_own_tuple(mesh):
    """Plaintext to a pod comes from the peer's address and port to the app's port; hbone
    dials the app from the peer's address too (the app sees who connected), so from any
    port but the peer's: that tuple is the relayed connection's own, which conntrack would
    take the dial for. With one local port in both namespaces (the peer's is the only one
    hbone could get) the dial fails and says why, rather than reuse it; with the usual
    range, the same connection goes through."""
    one_port = "net.ipv4.ip_local_port_range=40000 40000"
    for ns in (mesh.cp, mesh.pods["b3"]):
        mesh.topo.run(ns, "sysctl", "-qw", one_port)
    refused = mesh.talk(mesh.cp, pod_ip("b3"), 8080, 0, timeout=30)
    assert refused.get("received", 0) == 0, refused
    mesh.daemons["n2"].wait_for_log("bound to the peer's own port twice")
    for ns in (mesh.cp, mesh.pods["b3"]):
        mesh.topo.run(ns, "sysctl", "-qw", "net.ipv4.ip_local_port_range=32768 60999")
    transfer(mesh, mesh.cp, "b3", MiB)
    mesh.stop()


def dumped(daemon, part):
    """One part of the daemon's /config_dump (JSON on its own line)."""
    status, body = daemon.admin_request("/config_dump")
    assert status == 200
    line = next(l for l in body.decode().splitlines() if l.startswith(f"{part}: "))
    return json.loads(line.split(": ", 1)[1])


def listeners_in(mesh, pod):
    out = mesh.topo.run(mesh.pods[pod], "ss", "-Hltn").stdout
    return sorted({int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines()} & {15001, 15006, 15008})


def test_a_pod_deleted_leaves_nothing_and_one_added_is_served_within_a_second(mesh):
    n2, agent = mesh.daemons["n2"], mesh.agents["n2"]
    assert listeners_in(mesh, "b1") == [15001, 15006, 15008]
    server = mesh.topo.spawn(mesh.pods["b1"], "socat", "TCP-LISTEN:8080,reuseaddr,fork", "EXEC:cat",
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_until(lambda: ":8080" in mesh.topo.run(mesh.pods["b1"], "ss", "-ltn").stdout)
    client = mesh.topo.spawn(mesh.pods["a1"], "socat", "-", f"TCP:{pod_ip('b1')}:8080", stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    client.stdin.write(b"hello\n")
    client.stdin.flush()
    ready, _, _ = select.select([client.stdout], [], [], 30)
    assert ready and client.stdout.readline() == b"hello\n"
    assert identity("client") in {c["identity"] for c in dumped(n2, "workload_certificates")}

    agent.command(**{"del": "b1"})
    assert agent.until(lambda e: e.get("sent") == "del") == {"sent": "del", "uid": "b1", "error": "", "conn": 1}
    # Its listeners are gone from its namespace, its tunnel ended, and its identity's
    # certificate went with it (b1 was n2's only pod of service account "client").
    assert wait_until(lambda: listeners_in(mesh, "b1") == [], timeout=5)
    assert client.wait(30) is not None
    assert "b1" not in {p["uid"] for p in dumped(n2, "pods")}
    assert identity("client") not in {c["identity"] for c in dumped(n2, "workload_certificates")}
    n2.wait_for_log(f"ca: certificate for {identity('client')} dropped: no pod of it is left")

    # Added again: answered, listening and holding its certificate within a second.
    started = time.monotonic()
    agent.command(add="b1", netns=f"/var/run/netns/{mesh.pods['b1']}", name="b1", namespace="default",
                  service_account="client")
    assert agent.until(lambda e: e.get("sent") == "add" and e["uid"] == "b1") == \
        {"sent": "add", "uid": "b1", "error": "", "conn": 1}
    assert wait_until(lambda: listeners_in(mesh, "b1") == [15001, 15006, 15008] and
                      any(p["uid"] == "b1" and p["state"] == "serving" for p in dumped(n2, "pods")), timeout=5)
    served_after = time.monotonic() - started
    assert served_after <= 1.0, served_after
    transfer(mesh, "a1", "b3", MiB)  # b1's own app is the echo: another pod's transfer
    echo = mesh.topo.run(mesh.pods["a1"], "sh", "-c", f"echo again | socat -t 5 - TCP:{pod_ip('b1')}:8080")
    assert echo.stdout == "again\n", echo
    assert tunnel_logged(mesh, "a1", "b1", 200)
    server.kill()
    mesh.stop()


def listener_counts(mesh, pod):
    """How many sockets listen on each of hbone's ports in `pod`'s namespace."""
    out = mesh.topo.run(mesh.pods[pod], "ss", "-Hltn").stdout
    ports = [int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines()]
    return [ports.count(port) for port in (15001, 15006, 15008)]


def every_b_pod_listens(mesh, times):
    return all(listener_counts(mesh, pod) == [times] * 3 for pod in ("b1", "b2", "b3"))


def descriptors_besides_connections(mesh, daemon, node):
    """The daemon's open descriptors less its TCP connections (in its node's namespace and
    its pods'): listeners, pods' namespaces, the agent's socket, its loops' own (a worker
    makes its tunnels' epoll set with its first tunnel: count after each carried one)."""
    pid = daemon.proc.pid
    connections = set()
    for ns in [mesh.nodes[node], *(mesh.pods[pod] for pod, (on, _, _) in PODS.items() if on == node)]:
        out = mesh.topo.run(ns, "ss", "-Htnp", "state", "connected").stdout
        connections |= set(re.findall(rf"pid={pid},fd=(\d+)", out))
    return len(os.listdir(f"/proc/{pid}/fd")) - len(connections)


def echo_server(mesh, pod):
    proc = mesh.topo.spawn(mesh.pods[pod], "socat", "TCP-LISTEN:8080,reuseaddr,fork", "EXEC:cat",
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_until(lambda: ":8080" in mesh.topo.run(mesh.pods[pod], "ss", "-ltn").stdout)
    return proc


def echo_through_each_worker(mesh):
    """A tunnel into b1 and one out of b2, which n2's two workers serve (pods go to the
    worker with the fewest: b1, b2, b3 to the first, the second, the first)."""
    for source, destination in (("a1", "b1"), ("b2", "a2")):
        echo = mesh.topo.run(mesh.pods[source], "sh", "-c", f"echo hi | socat -t 5 - TCP:{pod_ip(destination)}:8080")
        assert echo.stdout == "hi\n", echo


def results(proc, timeout=60):
    out, _ = proc.communicate(timeout=timeout)
    return [json.loads(line) for line in out.splitlines()]


def replace_node_proxy(mesh, tmp_path, node, name):
    """Another hbone on `node`, with the same config: started now; ready once the agent's
    snapshot reached it."""
    old = mesh.daemons[node]
    config = yaml.safe_load(old.config_path.read_text())
    mesh.daemons[node] = Hbone(tmp_path, name, config, netns=mesh.nodes[node])
    return mesh.daemons[node]


def test_hbone_replaced_under_load_adopts_every_pod_again_and_leaks_nothing(topo, tmp_path):
    """As ztunnel's DaemonSet rolls (maxSurge 1, maxUnavailable 0) the next hbone starts
    beside the running one, takes the agent's snapshot and listens in every pod beside it
    (SO_REUSEPORT); the old one, told to stop, stops listening at once and drains: its
    tunnels end whole, and new connections never go unserved. After a crash (SIGKILL) the
    pods' listeners go with the process; the next one adopts the pods from the agent's
    snapshot and serves within 2 s of its start, with the descriptors the first one had."""
    mesh = InpodMesh(topo, tmp_path)
    n2, agent = mesh.daemons["n2"], mesh.agents["n2"]
    assert every_b_pod_listens(mesh, 1)
    servers = [echo_server(mesh, pod) for pod in ("b1", "a2", "b3", "a3")]
    echo_through_each_worker(mesh)
    fds_at_start = descriptors_besides_connections(mesh, n2, "n2")
    # Through n2 both ways: tunnels arriving at b1 and b3, tunnels leaving b2 and b3.
    trickles = [mesh.topo.spawn(mesh.pods[src], *APP, "trickle", pod_ip(dst), "8080", "6", stdout=subprocess.PIPE,
                                text=True) for src, dst in (("a1", "b1"), ("b2", "a2"))]
    loads = [mesh.topo.spawn(mesh.pods[src], *APP, "repeat", pod_ip(dst), "8080", "10", stdout=subprocess.PIPE,
                             text=True) for src, dst in (("a3", "b3"), ("b3", "a3"))]
    time.sleep(1)

    # Rolling: the next one beside it, then the old one told to stop.
    started = time.monotonic()
    nxt = replace_node_proxy(mesh, tmp_path, "n2", "n2-next")
    assert agent.until(lambda e: e.get("sent") == "snapshot_sent") == \
        {"sent": "snapshot_sent", "uid": "", "error": "", "conn": 2}
    assert wait_until(lambda: nxt.admin_request("/healthz/ready")[0] == 200, timeout=10), nxt.log()
    ready_after = time.monotonic() - started
    assert every_b_pod_listens(mesh, 2)
    n2.proc.send_signal(signal.SIGTERM)
    assert wait_until(lambda: every_b_pod_listens(mesh, 1), timeout=5)
    for trickle in trickles:  # through the old one, to their end
        (result,) = results(trickle)
        assert "error" not in result and result["received"] == result["sent"] > 0, result
        assert result["received_sha256"] == result["sent_sha256"], result
    assert n2.proc.wait(timeout=15) == 0, n2.log()
    assert "draining" in n2.log()
    for load in loads:
        attempts = results(load)
        failed = [a for a in attempts if not a.get("ok")]
        assert len(attempts) > 20 and not failed, (ready_after, failed)
    assert re.search(rf"src={re.escape(pod_ip('a3'))}:\d+ peer=\S+ dst={re.escape(pod_ip('b3'))}:8080 status=200",
                     nxt.log())
    assert ready_after <= 2.0, ready_after

    # A crash: nothing drains; the next one adopts the pods and serves within 2 s.
    load = mesh.topo.spawn(mesh.pods["a3"], *APP, "repeat", pod_ip("b3"), "8080", "5", stdout=subprocess.PIPE,
                           text=True)
    time.sleep(0.5)
    nxt.proc.kill()
    nxt.proc.wait()
    assert every_b_pod_listens(mesh, 0)
    crashed = time.monotonic()
    third = replace_node_proxy(mesh, tmp_path, "n2", "n2-third")
    attempts = results(load)
    served = [a["started"] - crashed for a in attempts if a.get("ok") and a["started"] > crashed]
    assert served and served[0] <= 2.0, attempts
    assert all(a.get("ok") for a in attempts if a["started"] - crashed > served[0]), attempts
    assert every_b_pod_listens(mesh, 1)
    echo_through_each_worker(mesh)
    # Its connections aside, the descriptors the first one had, and 4 of them each pod's
    # (its namespace, its 3 listeners): none left when its pods are gone.
    assert wait_until(lambda: descriptors_besides_connections(mesh, third, "n2") == fds_at_start, timeout=10), \
        (descriptors_besides_connections(mesh, third, "n2"), fds_at_start)
    for pod in ("b1", "b2", "b3"):
        agent.command(**{"del": pod})
        assert agent.until(lambda e: e.get("sent") == "del")["error"] == ""
    assert wait_until(lambda: every_b_pod_listens(mesh, 0), timeout=5)
    assert wait_until(lambda: descriptors_besides_connections(mesh, third, "n2") == fds_at_start - 3 * 4, timeout=10), \
        (descriptors_besides_connections(mesh, third, "n2"), fds_at_start)
    for pod in ("b1", "b2", "b3"):  # and as many again with them back
        agent.command(add=pod, netns=f"/var/run/netns/{mesh.pods[pod]}", name=pod, namespace="default",
                      service_account=PODS[pod][2])
        assert agent.until(lambda e: e.get("sent") == "add")["error"] == ""
    assert every_b_pod_listens(mesh, 1)
    assert wait_until(lambda: descriptors_besides_connections(mesh, third, "n2") == fds_at_start), \
        (descriptors_besides_connections(mesh, third, "n2"), fds_at_start)
    for server in servers:
        server.kill()
    mesh.stop()


def test_the_cni_agent_restarted_drops_nothing_and_its_snapshot_reconciles(mesh):
    """The agent restarting (istio-cni's DaemonSet rolling): the node proxy keeps serving
    every pod and stays ready while the agent is away, connects again, and the agent's new
    snapshot reconciles: b3, deleted meanwhile, goes; b2, whose namespace the agent lost
    (KeepWorkload), stays; b1 is the same pod again. A tunnel across all of it ends whole."""
    n2, agent = mesh.daemons["n2"], mesh.agents["n2"]
    servers = [echo_server(mesh, pod) for pod in ("b1", "b2")]
    trickle = mesh.topo.spawn(mesh.pods["a1"], *APP, "trickle", pod_ip("b1"), "8080", "4", stdout=subprocess.PIPE,
                              text=True)
    time.sleep(0.5)
    fds_before = descriptors_besides_connections(mesh, n2, "n2")
    agent.command(restart=True, forget=["b3"], keep=["b2"], away=2)
    assert agent.until(lambda e: "disconnected" in e) == {"disconnected": 1}
    n2.wait_for_log("inpod: the CNI agent closed the connection (the pods stay served)")
    assert n2.admin_request("/healthz/ready")[0] == 200
    assert listeners_in(mesh, "b3") == [15001, 15006, 15008]  # nothing changes while it is away
    assert agent.until(lambda e: e.get("sent") == "snapshot_sent") == \
        {"sent": "snapshot_sent", "uid": "", "error": "", "conn": 2}
    n2.wait_for_log("inpod: snapshot reconciled: 2 pods served, 1 removed")
    assert wait_until(lambda: listeners_in(mesh, "b3") == [], timeout=5)
    assert sorted(p["uid"] for p in dumped(n2, "pods")) == ["b1", "b2"]
    assert listeners_in(mesh, "b1") == listeners_in(mesh, "b2") == [15001, 15006, 15008]
    (result,) = results(trickle)
    assert "error" not in result and result["received"] == result["sent"] > 0, result
    assert result["received_sha256"] == result["sent_sha256"], result
    # The snapshot's descriptors of pods already served were closed, b3's 4 went with it.
    assert wait_until(lambda: descriptors_besides_connections(mesh, n2, "n2") == fds_before - 4), \
        (descriptors_besides_connections(mesh, n2, "n2"), fds_before)
    echo = mesh.topo.run(mesh.pods["a1"], "sh", "-c", f"echo kept | socat -t 5 - TCP:{pod_ip('b2')}:8080")
    assert echo.stdout == "kept\n", echo
    for server in servers:
        server.kill()
    mesh.stop()
