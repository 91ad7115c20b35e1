"""identity.provider: spiffe_workload_api: the process's identity from a SPIFFE agent's
Workload API (the fake agent, tests/support/fake_spiffe_agent.py, Google's gRPC on a unix
socket, issuing from the dev CA): no certificate or key file in the config. The agent
refuses any call without the workload.spiffe.io header, so every test here would fail
without it."""

import json
import re
from datetime import datetime
import socket

import grpc
import pytest
from cryptography import x509

from harness import (CERTS, LOOPBACK_TARGETS, Hbone, NotifySocket, TargetServer, echo, paced_bulk, random_bytes,
                     raw_tls_client, sha256, start_bulk, tls, wait_until)
from spiffe_agent import FakeSpiffeAgent

MiB = 1 << 20
GATEWAY_ID = "spiffe://cluster.local/ns/default/sa/gateway"


def hex_serial(serial):
    """A serial as hbone writes it (upper case, an even number of digits), from the fake
    agent's hex or a number."""
    text = format(int(serial, 16) if isinstance(serial, str) else serial, "X")
    return "0" * (len(text) % 2) + text


def served_serial(gateway):
    """The serial of the certificate a new handshake with `gateway` gets."""
    with raw_tls_client(gateway.bound_port("gateway.listen"), cert="client") as conn:
        return hex_serial(x509.load_der_x509_certificate(conn.getpeercert(binary_form=True)).serial_number)


def issued(agent):
    """The serial of the SVID the agent sent last."""
    return hex_serial(agent.issued()[-1])


def agent_gateway(tmp_path, agent, name="gateway", wait=True):
    return Hbone(tmp_path, name, {"identity": agent.identity_config(),
                                  "gateway": {"listen": "127.0.0.1:0", "allowed_destinations": LOOPBACK_TARGETS}},
                 wait=wait)


def client_to(tmp_path, gateway, target_port, cert="client", name="client"):
    return Hbone(tmp_path, name, {
        "tls": tls(cert),
        "client": {"gateway": gateway.bound_address("gateway.listen"), "gateway_identity": GATEWAY_ID,
                   "listeners": [{"listen": "127.0.0.1:0", "target": f"127.0.0.1:{target_port}"}]}})


def round_trip(conn, data):
    """`data` through an echo and back; what came back (short if the tunnel closed)."""
    conn.sendall(data)
    back = b""
    while len(back) < len(data) and (chunk := conn.recv(len(data) - len(back))):
        back += chunk
    return back


class Pair:
    def __init__(self, gateway, client):
        self.gateway, self.client = gateway, client
        self.port = client.bound_port("client.listeners[0].listen")

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


def test_the_svid_serves_and_rotations_reach_new_handshakes_without_dropping_a_tunnel(tmp_path):
    agent = FakeSpiffeAgent(tmp_path, GATEWAY_ID)
    payload = random_bytes(32 * MiB, seed=37)
    server = TargetServer(paced_bulk(payload, chunk=1 * MiB, pause=0.25))
    gateway = agent_gateway(tmp_path, agent)
    pair = Pair(gateway, client_to(tmp_path, gateway, server.port))
    first = issued(agent)
    assert served_serial(gateway) == first
    gateway.wait_for_log(f"spiffe: SVID {GATEWAY_ID} installed (serial {first}")
    # Rotations while a tunnel runs (32 chunks, 0.25 s apart): each reaches the next
    # handshake; the tunnel, on its connection's old keys, stays whole.
    bulk, reader, result = start_bulk(pair)
    for _ in range(2):
        serial = hex_serial(agent.rotate())
        assert wait_until(lambda: served_serial(gateway) == serial, timeout=5)
    reader.join(60)
    assert result == {"digest": sha256(payload), "total": len(payload)}
    bulk.close()
    # Every call carried the Workload API's header (the agent refuses calls without it).
    calls = agent.calls()
    assert calls and all(c["metadata"].get("workload.spiffe.io") == "true" and c["refused"] is None for c in calls)
    assert pair.client.stop() == 0 and gateway.stop() == 0


def test_a_broken_message_is_refused_with_its_reason_and_the_svid_in_force_stays(tmp_path):
    agent = FakeSpiffeAgent(tmp_path, GATEWAY_ID)
    gateway = agent_gateway(tmp_path, agent)
    good = issued(agent)
    broken = hex_serial(agent.rotate(mismatched=True))  # its key is not its certificate's
    gateway.wait_for_log("error [")  # refused, with the reason
    assert "spiffe: issued certificate does not match the key" in gateway.log()
    assert f"(serial {broken}" not in gateway.log()
    assert served_serial(gateway) == good
    status = json.loads(gateway.admin_request("/config_dump")[1].decode().split("certificates: ", 1)[1].splitlines()[0])
    assert status["errors"] == 1 and status["serial"] == good and status["lastError"], status
    # The stream stayed open: the agent's next good message is installed.
    serial = hex_serial(agent.rotate())
    assert wait_until(lambda: served_serial(gateway) == serial, timeout=5)
    assert len(agent.calls()) == 1
    assert gateway.stop() == 0


def test_the_agent_restarted_backoff_then_the_new_svid(tmp_path):
    agent = FakeSpiffeAgent(tmp_path, GATEWAY_ID)
    server = TargetServer(echo)
    gateway = agent_gateway(tmp_path, agent)
    pair = Pair(gateway, client_to(tmp_path, gateway, server.port))
    held = pair.connect()
    assert round_trip(held, b"before") == b"before"
    serial = issued(agent)
    agent.kill()
    gateway.wait_for_log("UNAVAILABLE")
    # Meanwhile the certificate in force stays: new handshakes get it, a new tunnel works.
    assert served_serial(gateway) == serial
    with pair.connect() as conn:
        assert round_trip(conn, b"meanwhile") == b"meanwhile"
    # Back-off: each retry waits longer (1 s, x1.6, +-20%: every next delay is longer), and
    # the next attempt (its failure's log line) comes no sooner than the delay announced.
    failure = r"(\S+) error .* fetching again in (\d+) ms"
    assert wait_until(lambda: len(re.findall(failure, gateway.log())) >= 3, timeout=15)
    seen = [(datetime.fromisoformat(t), int(d)) for t, d in re.findall(failure, gateway.log())]
    delays = [d for _, d in seen]
    assert all(b > a for a, b in zip(delays, delays[1:])), delays
    assert 800 <= delays[0] <= 1200, delays
    for (at, delay), (next_at, _) in zip(seen, seen[1:]):
        assert (next_at - at).total_seconds() * 1000 >= delay * 0.95, seen
    agent.start()
    new = issued(agent)
    assert wait_until(lambda: served_serial(gateway) == new, timeout=10)
    assert round_trip(held, b"after") == b"after"  # the tunnel made before it all
    held.close()
    assert pair.client.stop() == 0 and gateway.stop() == 0


def test_no_identity_yet_nothing_serves_until_the_agent_grants_one(tmp_path):
    # Meanwhile systemd (a socket standing for its NOTIFY_SOCKET) hears why, and watchdog
    # pings: the main loop turns while it waits.
    agent = FakeSpiffeAgent(tmp_path, GATEWAY_ID)
    agent.deny()
    with NotifySocket(tmp_path / "notify") as systemd:
        gateway = Hbone(tmp_path, "gateway", {"identity": agent.identity_config(), "gateway": {
            "listen": "127.0.0.1:0"}}, wait=False,
            env={"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000"})
        systemd.until("STATUS=waiting for a certificate (spiffe_workload_api)")
        gateway.wait_for_log("PERMISSION_DENIED: no identity issued; fetching again in")
        gateway.wait_for_log("waiting for a certificate (spiffe_workload_api) before serving")
        systemd.heard.clear()
        systemd.until("WATCHDOG=1")
        assert "READY=1" not in systemd.heard and "hbone running" not in gateway.log()
        assert gateway.admin_request("/healthz/ready")[0] == 503
        agent.deny(allow=True)
        systemd.until("READY=1")
    gateway.wait_for_log("hbone running", timeout=15)
    assert wait_until(lambda: gateway.admin_request("/healthz/ready")[0] == 200, timeout=5)
    assert served_serial(gateway) == issued(agent)
    assert gateway.stop() == 0


def test_federated_bundles_are_trusted(tmp_path):
    # rogue.pem is signed by a CA the mesh does not trust (certs/dev/other-ca.pem): only a
    # gateway whose agent sends that CA as a federated bundle accepts it. The gateway
    # without it, in the same run, is the control.
    federated = FakeSpiffeAgent(tmp_path, GATEWAY_ID, federate=[("spiffe://other.domain", CERTS / "other-ca.pem")],
                                name="federated")
    plain = FakeSpiffeAgent(tmp_path, GATEWAY_ID, name="plain")
    server = TargetServer(echo)
    for agent, accepted in ((federated, True), (plain, False)):
        gateway = agent_gateway(tmp_path, agent, name=f"gateway-{accepted}")
        client = client_to(tmp_path, gateway, server.port, cert="rogue", name=f"client-{accepted}")
        with Pair(gateway, client).connect() as conn:
            try:
                answer = round_trip(conn, b"federated")
            except (ConnectionResetError, BrokenPipeError):
                answer = b""
        assert (answer == b"federated") == accepted
        if not accepted:
            gateway.wait_for_log("certificate verification failed")
        assert client.stop() == 0 and gateway.stop() == 0


def test_the_fake_agent_refuses_a_call_without_the_header(tmp_path):
    # What makes the header impossible to forget: hbone's calls above all pass this guard.
    agent = FakeSpiffeAgent(tmp_path, GATEWAY_ID)
    with grpc.insecure_channel(f"unix:{agent.socket}") as channel:
        fetch = channel.unary_stream("/SpiffeWorkloadAPI/FetchX509SVID", request_serializer=lambda m: m,
                                     response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as refused:
            next(iter(fetch(b"", timeout=10)))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert next(iter(fetch(b"", metadata=[("workload.spiffe.io", "true")], timeout=10)))
    assert agent.calls()[0]["refused"] == "INVALID_ARGUMENT"
