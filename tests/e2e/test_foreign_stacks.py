"""hbone against other stacks, both directions, 64 MiB each way with sha256 and half-close:
Go's crypto/tls + net/http2 (perf/gohbone) as client and as gateway; OpenSSL 3 as the TLS
peer for each TLS 1.3 cipher suite with a KeyUpdate requested mid-transfer (openssl_relay);
and a client shaped like ztunnel's (no SNI, TLS 1.3 only, baggage, forwarded and traceparent
on the CONNECT)."""

import json
import os
import secrets
import socket
import subprocess
import time

import h2.events
import pytest

from h2client import H2Client
from harness import (CERTS, LOOPBACK_TARGETS, ROOT, Hbone, TargetServer, echo, exchange, free_port,
                     random_bytes, sha256, spawn, tls)
from openssl_relay import TLS13_SUITES, OpenSSLRelay

MiB = 1 << 20
UP = random_bytes(64 * MiB, seed=21)    # target -> client
DOWN = random_bytes(64 * MiB, seed=22)  # client -> target
H2C = {"plaintext_h2c": True}


def gateway_config(**tls_extra):
    return {"log_level": "info", "tls": {**tls("gateway"), **tls_extra},
            "gateway": {"listen": "127.0.0.1:0", "allowed_destinations": LOOPBACK_TARGETS}}


def client_config(gateway_port, target_port, **tls_extra):
    identity = "" if tls_extra.get("plaintext_h2c") else "spiffe://cluster.local/ns/default/sa/gateway"
    return {"log_level": "info", "tls": {**tls("client"), **tls_extra},
            "client": {"gateway": f"127.0.0.1:{gateway_port}", "gateway_identity": identity,
                       "listeners": [{"listen": "127.0.0.1:0", "target": f"127.0.0.1:{target_port}"}]}}


def target():
    return TargetServer(lambda conn: exchange(conn, UP))


def transfer(port, server):
    """64 MiB each way through `port`, each side ending with FIN: both digests must match."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.settimeout(60)
        got = exchange(conn, DOWN)
    assert got == (sha256(UP), len(UP))
    (target_got,) = server.wait_results(1, timeout=60)
    assert target_got == (sha256(DOWN), len(DOWN))


def wait_listening(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture(scope="module")
def gohbone(tmp_path_factory):
    binary = tmp_path_factory.mktemp("go") / "gohbone"
    env = {**os.environ, "GOCACHE": "/tmp/hbone-gocache", "GOPATH": "/tmp/hbone-gopath", "GOFLAGS": "-mod=mod"}
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=ROOT / "perf" / "gohbone", env=env,
                   check=True, timeout=600)
    return binary


def test_go_client_to_hbone_gateway(tmp_path, gohbone):
    server = target()
    gateway = Hbone(tmp_path, "gateway", gateway_config())
    port = free_port()
    go_client = spawn([gohbone, "client", f"127.0.0.1:{port}", f"127.0.0.1:{gateway.bound_port('gateway.listen')}",
                       f"127.0.0.1:{server.port}", CERTS / "client.pem", CERTS / "client-key.pem", CERTS / "ca.pem"])
    wait_listening(port)
    transfer(port, server)
    gateway.wait_for_log("status=200 flags=- sent=67108864 received=67108864")
    assert "peer=spiffe://cluster.local/ns/default/sa/client" in gateway.log()
    go_client.kill()  # its pooled connection would hold the gateway's drain open
    assert gateway.stop() == 0


def test_hbone_client_to_go_gateway(tmp_path, gohbone):
    server = target()
    port = free_port()
    spawn([gohbone, "gateway", f"127.0.0.1:{port}", CERTS / "gateway.pem", CERTS / "gateway-key.pem",
           CERTS / "ca.pem"])
    wait_listening(port)
    client = Hbone(tmp_path, "client", client_config(port, server.port))
    transfer(client.bound_port("client.listeners[0].listen"), server)
    client.wait_for_log("status=200 flags=- sent=67108864 received=67108864")
    assert client.stop() == 0


def key_updates(hbone):
    """The record layer's KeyUpdate counts of `hbone`'s one TLS connection, or None where
    TLS records go through SSL_read/SSL_write (the OpenSSL build)."""
    connections = json.loads(hbone.admin_request("/debug/tunnels")[1])["connections"]
    assert len(connections) == 1
    return connections[0].get("tls_records")


def check_openssl_session(relay, suite, hbone):
    (session,) = relay.sessions
    assert (session["version"], session["cipher"], session["error"]) == ("TLSv1.3", suite, None)
    assert session["key_updates_requested"] == 1
    records = key_updates(hbone)
    if records is not None:  # hbone's own record layer: it read the KeyUpdate and answered it
        assert records["key_updates_received"] == 1 and records["key_updates_sent"] == 1, records


@pytest.mark.parametrize("suite", TLS13_SUITES)
def test_openssl_client_to_hbone_gateway(tmp_path, suite):
    """hbone client (h2c) -> OpenSSL 3 TLS client -> hbone gateway: the gateway's TLS meets
    OpenSSL's, one suite at a time, with a KeyUpdate asked of it mid-transfer."""
    server = target()
    gateway = Hbone(tmp_path, "gateway", gateway_config())
    relay = OpenSSLRelay(gateway.bound_port("gateway.listen"), "upstream", suite, cert="client")
    client = Hbone(tmp_path, "client", client_config(relay.port, server.port, **H2C))
    transfer(client.bound_port("client.listeners[0].listen"), server)
    check_openssl_session(relay, suite, gateway)
    assert (client.stop(), gateway.stop()) == (0, 0)
    relay.close()


@pytest.mark.parametrize("suite", TLS13_SUITES)
def test_hbone_client_to_openssl_server(tmp_path, suite):
    """hbone client -> OpenSSL 3 TLS server -> hbone gateway (h2c): the client's TLS meets
    OpenSSL's, one suite at a time, with a KeyUpdate asked of it mid-transfer."""
    server = target()
    gateway = Hbone(tmp_path, "gateway", gateway_config(**H2C))
    relay = OpenSSLRelay(gateway.bound_port("gateway.listen"), "downstream", suite, cert="gateway")
    client = Hbone(tmp_path, "client", client_config(relay.port, server.port))
    transfer(client.bound_port("client.listeners[0].listen"), server)
    check_openssl_session(relay, suite, client)
    assert (client.stop(), gateway.stop()) == (0, 0)
    relay.close()


def test_ztunnel_shaped_client(tmp_path):
    """ztunnel's CONNECT: TLS 1.3 only, no SNI, and baggage, forwarded and traceparent
    headers. Accepted, relayed, and the access log line names the trace id."""
    server = TargetServer(echo)
    gateway = Hbone(tmp_path, "gateway", gateway_config())
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    client = H2Client(gateway.bound_port("gateway.listen"), tls13_only=True)
    assert client.sock.version() == "TLSv1.3" and client.sock.server_hostname is None
    target_address = f"127.0.0.1:{server.port}"
    sid = client.request([
        (":method", "CONNECT"), (":authority", target_address),
        ("baggage", "k8s.cluster.name=Kubernetes,k8s.namespace.name=default,k8s.deployment.name=sleep,"
                    "service.name=sleep,service.version=v1"),
        ("forwarded", "for=127.0.0.1"),
        ("traceparent", f"00-{trace_id}-{span_id}-01"),
    ])
    assert client.status(sid) == "200"
    payload = random_bytes(60000, seed=23)  # inside the initial stream window
    client.conn.send_data(sid, payload, end_stream=True)
    client.flush()
    echoed = b""
    while True:
        event = client.wait(lambda e: isinstance(e, (h2.events.DataReceived, h2.events.StreamEnded))
                            and e.stream_id == sid)
        if isinstance(event, h2.events.StreamEnded):
            break
        echoed += event.data
        client.conn.acknowledge_received_data(event.flow_controlled_length, sid)
        client.flush()
    assert echoed == payload
    gateway.wait_for_log(f"trace_id={trace_id} status=200 flags=- sent=60000 received=60000")
    assert f"peer=spiffe://cluster.local/ns/default/sa/client dst={target_address}" in gateway.log()
    assert gateway.stop() == 0
