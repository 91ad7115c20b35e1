"""No way into hbone through a tunnel: the gateway never dials its own listeners, and
dials loopback, link-local or unspecified addresses only when allowed_destinations names
them; the read-only metrics listener serves nothing that drains, reconfigures or profiles.
"""

import json
import pathlib
import resource
import select
import socket
import sys
import time

import pytest
import yaml

import netns
from h2client import H2Client
from harness import Hbone, Mesh, TargetServer, closed_without_data, echo, free_port, tls, wait_until


def test_default_refuses_loopback_and_own_listeners(tmp_path):
    """allowed_destinations: [] (any) still refuses hbone's own ports and loopback: 403,
    counted by reason, and nothing is dialled."""
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, gateway={"gateway": {"allowed_destinations": []}})
    gw = mesh.gateway
    admin_port = int(gw.admin.rsplit(":", 1)[1])
    client = H2Client(mesh.gateway_port)
    assert client.connect(f"127.0.0.1:{admin_port}")[1] == "403"
    assert client.connect(f"127.0.0.1:{mesh.gateway_port}")[1] == "403"
    assert client.connect(f"127.0.0.1:{server.port}")[1] == "403"
    assert client.connect(f"[::1]:{server.port}")[1] == "403"
    assert client.connect(f"0.0.0.0:{server.port}")[1] == "403"
    assert client.connect(f"localhost:{server.port}")[1] == "403"  # judged after DNS
    client.sock.close()
    assert server.accepted == 0
    assert gw.metric("hbone_gateway_destinations_refused_total", reason="own_listener") == 2
    assert gw.metric("hbone_gateway_destinations_refused_total", reason="loopback") == 3
    assert gw.metric("hbone_gateway_destinations_refused_total", reason="unspecified") == 1
    log = gw.log()
    assert f"-> 403: 127.0.0.1:{admin_port} is one of hbone's own listeners flags=UAEX" in log
    assert "is a loopback address (127.0.0.0/8), dialled only when allowed_destinations names it" in log
    assert "admin:" not in log  # the admin endpoint saw no request
    assert mesh.stop() == (0, 0)


def test_named_loopback_works_own_listeners_never(tmp_path):
    """With loopback listed a loopback target works; hbone's own listeners still do not, in
    any spelling of their address."""
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, gateway={"gateway": {"allowed_destinations": ["127.0.0.1/32"]}})
    admin_port = int(mesh.gateway.admin.rsplit(":", 1)[1])
    client_admin_port = int(mesh.client.admin.rsplit(":", 1)[1])
    with mesh.connect() as conn:
        conn.sendall(b"ping")
        assert conn.recv(4) == b"ping"
    client = H2Client(mesh.gateway_port)
    for target in (f"127.0.0.1:{admin_port}", f"[::ffff:127.0.0.1]:{admin_port}",
                   f"127.0.0.1:{mesh.gateway_port}"):
        assert client.connect(target)[1] == "403", target
    # Only the gateway's own listeners are its own: the client's (another process) are
    # loopback targets like any other, allowed here.
    assert client.connect(f"127.0.0.1:{client_admin_port}")[1] == "200"
    client.sock.close()
    assert mesh.gateway.metric("hbone_gateway_destinations_refused_total", reason="own_listener") == 3
    assert "admin:" not in mesh.gateway.log()
    assert mesh.stop() == (0, 0)


def test_listeners_a_reload_adds_are_own_and_removed_ones_are_not(tmp_path):
    """A node that is gateway and client: a client listener added by a reload is one of its
    own from then on (403), one the reload removed is a loopback port like any other (here
    nothing listens: 503)."""
    kept, removed, added = free_port(), free_port(), free_port()
    config = {"tls": tls("gateway"),
              "gateway": {"listen": "127.0.0.1:0", "allowed_destinations": ["127.0.0.1/32"]},
              "client": {"gateway": "127.0.0.1:9", "listeners": [
                  {"listen": f"127.0.0.1:{port}", "target": "127.0.0.1:9"} for port in (kept, removed)]}}
    node = Hbone(tmp_path, "node", config)
    client = H2Client(node.bound_port("gateway.listen"))
    assert client.connect(f"127.0.0.1:{removed}")[1] == "403"
    config["client"]["listeners"] = [{"listen": f"127.0.0.1:{port}", "target": "127.0.0.1:9"}
                                     for port in (kept, added)]
    node.config_path.write_text(yaml.safe_dump(config))  # watch_config: no signal
    node.wait_for_log(f"client.listeners: 127.0.0.1:{removed} removed by the reload")
    assert wait_until(lambda: client.connect(f"127.0.0.1:{added}")[1] == "403")
    assert client.connect(f"127.0.0.1:{kept}")[1] == "403"
    assert client.connect(f"127.0.0.1:{removed}")[1] == "503"
    client.sock.close()
    assert node.metric("hbone_gateway_destinations_refused_total", reason="own_listener") >= 3
    assert node.stop() == 0


def test_tunnel_to_the_gateways_admin_port_is_reset(tmp_path):
    """An application whose tunnel targets the gateway's admin port cannot drain it: its
    connection ends without a byte and the gateway keeps running."""
    admin_port = free_port()
    mesh = Mesh(tmp_path, admin_port, gateway={"admin": {"listen": f"127.0.0.1:{admin_port}"}})
    conn = mesh.connect()
    conn.sendall(b"POST /quitquitquit HTTP/1.0\r\n\r\n")
    assert closed_without_data(conn)
    conn.close()
    mesh.gateway.wait_for_log(f"-> 403: 127.0.0.1:{admin_port} is one of hbone's own listeners")
    assert mesh.gateway.admin_request("/healthz/ready") == (200, b"ready\n")
    assert "quitquitquit" not in mesh.gateway.log()
    assert mesh.client.metric("istio_tcp_connections_failed_total", response_flags="UAEX") == 1
    assert mesh.stop() == (0, 0)


ADMIN_ONLY = ["/quitquitquit", "/config_dump", "/debug/tunnels", "/debug/pprof/heap",
              "/debug/pprof/profile?seconds=1", "/certs", "/logging?level=debug", "/memory/release"]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_metrics_listener_is_read_only(tmp_path, host):
    """admin.metrics_listen answers GET /metrics and /healthz/ready and nothing else; both
    listeners take IPv6 addresses."""
    bracketed = f"[{host}]" if ":" in host else host
    cfg = {"tls": tls("gateway"), "gateway": {"listen": "127.0.0.1:0"},
           "admin": {"listen": f"{bracketed}:0", "metrics_listen": f"{bracketed}:0"}}
    gw = Hbone(tmp_path, "gateway", cfg)
    assert gw.admin.startswith(bracketed)
    ro = gw.bound_address("admin.metrics_listen")
    assert ro.startswith(bracketed) and ro != gw.admin
    status, body = gw.admin_request("/metrics", address=ro)
    assert status == 200 and b"hbone_tunnels_active" in body
    assert gw.admin_request("/healthz/ready", address=ro) == (200, b"ready\n")
    for path in ADMIN_ONLY:
        for method in ("GET", "POST"):
            assert gw.admin_request(path, method=method, address=ro)[0] == 404, (path, method)
    assert gw.admin_request("/metrics", method="POST", address=ro)[0] == 405
    # The full endpoint still serves everything.
    assert gw.admin_request("/config_dump")[0] == 200
    assert "quitquitquit" not in gw.log() and "log level set" not in gw.log()
    assert gw.stop() == 0


@pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))
def test_link_local_refused_in_a_namespace_with_only_loopback(tmp_path):
    """A metadata endpoint (169.254.169.254) and IPv6 link-local: 403 unless named. Run in
    a namespace that has nothing but loopback, so nothing is ever dialled off this host;
    named, the same target gets 503 (unreachable), which shows the guard made the 403."""
    topo = netns.Topology("ll")
    try:
        ns = topo.add_namespace("only-lo")
        gw_port, metadata_port, link_port, named_port = (free_port() for _ in range(4))
        gw = Hbone(tmp_path, "gateway", {"tls": tls("gateway"), "gateway": {
            "listen": f"127.0.0.1:{gw_port}", "connect_timeout": "2s",
            "allowed_destinations": ["198.18.0.0/15", "169.254.169.253/32"]}}, netns=ns)
        client = Hbone(tmp_path, "client", {"tls": tls("client"), "client": {
            "gateway": f"127.0.0.1:{gw_port}",
            "listeners": [{"listen": f"127.0.0.1:{metadata_port}", "target": "169.254.169.254:80"},
                          {"listen": f"127.0.0.1:{link_port}", "target": "[fe80::1]:80"},
                          {"listen": f"127.0.0.1:{named_port}", "target": "169.254.169.253:80"}]}}, netns=ns)
        for port in (metadata_port, link_port, named_port):
            out = topo.run(ns, "curl", "-s", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}",
                           f"http://127.0.0.1:{port}/latest/meta-data/", check=False)
            assert out.stdout == "000", out  # no HTTP answer: the tunnel was refused
        gw.wait_for_log("-> 403: 169.254.169.254:80 is a link-local address (169.254.0.0/16)")
        gw.wait_for_log("-> 403: [fe80::1]:80 is a link-local address (fe80::/10)")
        gw.wait_for_log("-> 503: unreachable")  # the named one was dialled, and nothing answered
        assert gw.metric("hbone_gateway_destinations_refused_total", reason="link_local") == 2
        assert client.stop() == 0 and gw.stop() == 0
    finally:
        topo.close()


def connect_in(topo, ns, port, *targets):
    """CONNECT statuses from a gateway in namespace `ns` (h2client.py run there)."""
    out = topo.run(ns, sys.executable, str(pathlib.Path(__file__).with_name("h2client.py")), str(port), *targets)
    return json.loads(out.stdout)


@pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))
def test_metadata_and_host_addresses_refused_in_a_namespace_with_only_loopback(tmp_path):
    """allowed_destinations 0.0.0.0/0 and ::/0 open neither a cloud's metadata addresses (in
    their IPv6 forms that carry IPv4 too) nor an address of the host: one the namespace
    gains after the start is refused as well, and dialled once named exactly (nothing
    listens there: 503). Nothing leaves the namespace: it has nothing but loopback."""
    topo = netns.Topology("md")
    try:
        ns = topo.add_namespace("only-lo")
        port = free_port()
        config = {"tls": tls("gateway"), "gateway": {"listen": f"127.0.0.1:{port}", "connect_timeout": "2s",
                                                     "allowed_destinations": ["0.0.0.0/0", "::/0"]}}
        gw = Hbone(tmp_path, "gateway", config, netns=ns)
        metadata = ["[fd20:ce::254]:80", "100.100.100.200:80", "168.63.129.16:80", "[fd00:ec2::254]:80",
                    "[64:ff9b::100.100.100.200]:80", "[64:ff9b::a9fe:a9fe]:80", "[::169.254.169.254]:80"]
        assert connect_in(topo, ns, port, *metadata) == ["403"] * len(metadata)
        assert gw.metric("hbone_gateway_destinations_refused_total", reason="metadata") == 5
        assert gw.metric("hbone_gateway_destinations_refused_total", reason="link_local") == 2
        topo.run(ns, "ip", "addr", "add", "198.18.9.9/32", "dev", "lo")
        gw.wait_for_log("host addresses changed")
        assert connect_in(topo, ns, port, "198.18.9.9:80", "[::ffff:198.18.9.9]:80") == ["403", "403"]
        gw.wait_for_log("-> 403: 198.18.9.9:80 is an address of this host, dialled only when allowed_destinations "
                        "names it exactly")
        config["gateway"]["allowed_destinations"].append("198.18.9.9/32")
        gw.config_path.write_text(yaml.safe_dump(config))
        gw.wait_for_log("live keys applied")
        assert connect_in(topo, ns, port, "198.18.9.9:80") == ["503"]
        assert gw.metric("hbone_gateway_destinations_refused_total", reason="host_address") == 2
        assert gw.stop() == 0
    finally:
        topo.close()


def readable(sock):
    """Whether `sock` has bytes or an EOF to read now (poll: select stops at descriptor 1023)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def probes_with_a_thousand_held(gw, ro, port):
    """One round of the test below on a fresh set of connections: "" once checked, else why
    it gave no verdict. Everything it checks before the 5 s request deadline must happen
    before it, and each probe within a second (a slow, shared machine may take longer: the
    round is then tried again; a starved probe waits for the deadline every time); what the
    deadline does is checked after."""
    held = []

    def connect_from(source):
        s = socket.socket()
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        held.append(s)
        return s

    try:
        start = time.monotonic()
        for i in range(1000):
            connect_from(f"127.0.1.{i % 40 + 1}")
        for _ in range(3):
            for path in ("/healthz/ready", "/metrics"):
                asked = time.monotonic()
                assert gw.admin_request(path, address=ro, timeout=5)[0] == 200, path
                if time.monotonic() - asked >= 1.0:
                    return f"{path} took {time.monotonic() - asked:.1f} s"
        one_source = [connect_from("127.0.2.1") for _ in range(40)]
        # The 33rd and later from one address are closed (readable: EOF), the first 32 held.
        assert wait_until(lambda: sum(1 for s in one_source if readable(s)) == 8, timeout=3)
        # Past 1,024 (the 1,032 held and the probes' lingering ones) the oldest made room.
        closed = [readable(s) for s in held[:1000]]
        first_held = [readable(s) for s in one_source[:32]]
        if time.monotonic() - start > 4.5:  # the deadline may have closed some already
            return f"the round took {time.monotonic() - start:.1f} s to set up"
        assert not any(first_held)
        evicted = sum(closed)
        assert 8 <= evicted <= 8 + 6 and closed == [True] * evicted + [False] * (1000 - evicted)
        held[evicted].settimeout(10)
        assert held[evicted].recv(1) == b""  # closed unanswered at the deadline
        assert 4.5 < time.monotonic() - start < 5.0 + 3.0
        return ""
    finally:
        for s in held:
            s.close()


def test_probes_are_answered_while_a_thousand_idle_connections_are_held(tmp_path):
    """The probe and metrics listener (open to every pod on a node) cannot be starved: with
    1,000 idle connections held from 40 addresses, /healthz/ready and /metrics on a new
    connection answer within a second; one address gets 32 connections at most (the rest
    close unanswered); past 1,024 the oldest idle ones make room; an idle connection is
    closed after the 5 s request deadline."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    gw = Hbone(tmp_path, "gateway", {"tls": tls("gateway"), "gateway": {"listen": "127.0.0.1:0"},
                                     "admin": {"listen": "127.0.0.1:0", "metrics_listen": "127.0.0.1:0"}})
    ro = gw.bound_address("admin.metrics_listen")
    port = int(ro.rsplit(":", 1)[1])
    no_verdict = []
    while why := probes_with_a_thousand_held(gw, ro, port):
        no_verdict.append(why)
        assert len(no_verdict) < 3, no_verdict
        # the previous round's connections leave the server first
        assert wait_until(lambda: gw.admin_request("/healthz/ready", address=ro)[0] == 200, timeout=10)
        time.sleep(1)
    assert gw.admin_request("/healthz/ready", address=ro)[0] == 200
    assert gw.stop() == 0
