"""gateway.policies (Istio AuthorizationPolicy, L4) on an egress gateway: each identity gets
exactly what the policies say (200 and bytes, or 403 with the deciding policy in the log and
the metrics), and a config swapped in the way kubelet updates a ConfigMap (a `..data`
symlink renamed, no signal) resets the open tunnel it no longer allows within a second while
the others carry on."""

import json
import pathlib
import select
import subprocess
import sys
import time

import h2.events
import pytest

import netns

from h2client import H2Client
from harness import CERTS as CERTS_DIR, LOOPBACK_TARGETS, ConfigMapDir, Hbone, TargetServer, echo, issue_cert, random_bytes, tls

OTHER = "spiffe://cluster.local/ns/default/sa/other"
CLIENT = "spiffe://cluster.local/ns/default/sa/client"
PAYMENTS = "spiffe://cluster.local/ns/payments/sa/api"


def policies(payments_host, payments_port, client_ports=None):
    client_rule = {"from": {"principals": ["cluster.local/ns/default/sa/client"]}}
    if client_ports:
        client_rule["to"] = {"ports": client_ports}
    return [
        {"name": "deny-other", "action": "DENY", "rules": [{"from": {"principals": [OTHER]}}]},
        {"name": "payments-egress", "action": "ALLOW",
         "rules": [{"from": {"namespaces": ["payments"]},
                    "to": {"cidrs": [f"{payments_host}/32"], "ports": [payments_port]}}]},
        {"name": "client", "rules": [client_rule]},
    ]


def tunnel(port, cert, target):
    """A CONNECT as `cert`: (client, stream id, status)."""
    client = H2Client(port, cert=cert)
    sid, status = client.connect(target)
    return client, sid, status


def echoes(client, sid, payload):
    """`payload` on the open tunnel comes back whole."""
    client.conn.send_data(sid, payload)
    client.flush()
    got = b""
    while len(got) < len(payload):
        event = client.wait(lambda e: isinstance(e, (h2.events.DataReceived, h2.events.StreamReset))
                            and e.stream_id == sid)
        assert isinstance(event, h2.events.DataReceived), f"stream reset: {event}"
        got += event.data
        client.conn.acknowledge_received_data(event.flow_controlled_length, sid)
        client.flush()
    return got == payload


def test_policies_per_identity_and_a_swapped_policy_resets_what_it_denies(tmp_path):
    # Two targets on loopback addresses of their own: the payments rule names one by CIDR.
    allowed = TargetServer(echo, host="127.0.0.2")
    elsewhere = TargetServer(echo, host="127.0.0.3")
    a, b = f"127.0.0.2:{allowed.port}", f"127.0.0.3:{elsewhere.port}"
    certs = {"client": "client",
             "other": issue_cert(tmp_path, "other", OTHER),
             "payments": issue_cert(tmp_path, "payments", PAYMENTS)}
    config = {"log_level": "info", "tls": tls("gateway"),
              "gateway": {"listen": "127.0.0.1:0", "allowed_destinations": LOOPBACK_TARGETS,
                          "policies": policies("127.0.0.2", allowed.port)}}
    configmap = ConfigMapDir(tmp_path / "config", "gateway.yaml", config)
    gateway = Hbone(tmp_path, "gateway", config, config_path=configmap.path)
    port = gateway.bound_port("gateway.listen")
    payload = random_bytes(50000, seed=31)

    # The table: who reaches what, and which policy decided.
    expected = [("client", a, "200", "client"), ("client", b, "200", "client"),
                ("other", a, "403", "deny-other"), ("payments", a, "200", "payments-egress"),
                ("payments", b, "403", "none-matched")]
    open_tunnels = {}
    for who, target, status, policy in expected:
        client, sid, got = tunnel(port, certs[who], target)
        assert got == status, (who, target, got)
        if status == "200":
            assert echoes(client, sid, payload), (who, target)
            open_tunnels[(who, target)] = (client, sid)
        else:
            gateway.wait_for_log(f"-> 403: denied: policy={policy} flags=UAEX")
            assert f"dst={target}" in gateway.log()
            client.sock.close()
    assert gateway.metric("hbone_policy_decisions_total", policy="client", action="allow") == 2
    assert gateway.metric("hbone_policy_decisions_total", policy="payments-egress", action="allow") == 1
    assert gateway.metric("hbone_policy_decisions_total", policy="deny-other", action="deny") == 1
    assert gateway.metric("hbone_policy_decisions_total", policy="none-matched", action="deny") == 1

    # kubelet's update: the client may now reach only the payments target's port. Its
    # tunnel to b must be reset within a second; the others carry on.
    config["gateway"]["policies"] = policies("127.0.0.2", allowed.port, client_ports=[allowed.port])
    swapped = time.monotonic()
    configmap.update(config)
    client, sid = open_tunnels[("client", b)]
    event = client.wait(lambda e: isinstance(e, h2.events.StreamReset) and e.stream_id == sid)
    assert time.monotonic() - swapped < 1.0 + 0.2  # the watch settles 200 ms after the rename
    assert event.error_code == 0xa  # CONNECT_ERROR
    gateway.wait_for_log(f"reset: policy=none-matched denies it now peer=spiffe://cluster.local/ns/default/sa/client "
                         f"dst={b}")
    # The main thread logs the reload once it handed the policy to the workers: on a busy
    # machine a worker's reset can be logged first.
    gateway.wait_for_log("reload (the config file changed): live keys applied")
    assert gateway.metric("hbone_policy_tunnels_reset_total") == 1
    for key in [("client", a), ("payments", a)]:
        assert echoes(*open_tunnels[key], payload), key
    # New requests follow the new policy at once.
    assert tunnel(port, "client", b)[2] == "403"
    assert gateway.metric("hbone_config_reloads_total", result="ok") == 1

    # An invalid file changes nothing, says why, counts an error.
    configmap.update({**config, "gateway": {**config["gateway"], "policies": [{"name": "x", "action": "MAYBE"}]}})
    gateway.wait_for_log("reload failed, nothing changed (the config file changed)")
    assert gateway.metric("hbone_config_reloads_total", result="error") == 1
    assert tunnel(port, "client", a)[2] == "200"
    for client, _ in open_tunnels.values():
        client.sock.close()
    assert gateway.stop() == 0


APP = [sys.executable, str(pathlib.Path(__file__).with_name("mesh_app.py"))]
POD, EGRESS, EXT = "198.18.0.1", "198.18.0.3", "198.18.1.2"


@pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))
def test_egress_gateway_policies_in_namespaces(tmp_path):
    """The same table on hosts of their own: a pod namespace with one hbone client per
    identity, an egress gateway namespace, and the external network behind it. Unmodified
    apps talk through the clients; a ConfigMap swap on the egress gateway resets the open
    tunnel its new policy denies while another identity's transfer spans the swap whole."""
    topo = netns.Topology("p")
    daemons = []
    try:
        pod, egress = topo.add_node("pod", POD), topo.add_node("eg", EGRESS)
        ext = topo.link(egress, "ext", EXT, "198.18.1.1")
        servers = {port: topo.spawn(ext, *APP, "serve", str(port), "talkfirst", "1000", stdout=subprocess.PIPE,
                                    text=True) for port in (8080, 9090)}
        for server in servers.values():
            assert json.loads(server.stdout.readline())["listening"]
        config = {"tls": tls("gateway"), "gateway": {"listen": f"{EGRESS}:15008",
                                                       "allowed_destinations": ["198.18.1.0/24"],
                                                       "policies": policies(EXT, 8080)}}
        configmap = ConfigMapDir(tmp_path / "egress-config", "egress.yaml", config)
        gateway = Hbone(tmp_path, "egress", config, netns=egress, config_path=configmap.path)
        daemons.append(gateway)
        certs = {"client": (CERTS_DIR / "client.pem", CERTS_DIR / "client-key.pem"),
                 "other": issue_cert(tmp_path, "other", OTHER), "payments": issue_cert(tmp_path, "payments", PAYMENTS)}
        ports = {}
        for who, (cert, key) in certs.items():
            client = Hbone(tmp_path, who, {
                "tls": {**tls("client"), "cert": str(cert), "key": str(key)},
                "client": {"gateway": f"{EGRESS}:15008", "gateway_identity": "spiffe://cluster.local/ns/default/sa/gateway",
                           "listeners": [{"listen": "127.0.0.1:0", "target": f"{EXT}:{port}"} for port in (8080, 9090)]}},
                netns=pod)
            daemons.append(client)
            ports[who] = [client.bound_port(f"client.listeners[{i}].listen") for i in range(2)]

        def talk(who, index):
            out = topo.run(pod, "timeout", "30", *APP, "talk", "127.0.0.1", str(ports[who][index]), "1000")
            return json.loads(out.stdout)

        for who, index, allowed, policy in [("client", 0, True, "client"), ("client", 1, True, "client"),
                                            ("other", 0, False, "deny-other"),
                                            ("payments", 0, True, "payments-egress"),
                                            ("payments", 1, False, "none-matched")]:
            result = talk(who, index)
            port = (8080, 9090)[index]
            if allowed:
                assert result.get("received") == 1000, (who, port, result)
            else:
                assert result.get("error") == "reset", (who, port, result)
                gateway.wait_for_log(f"-> 403: denied: policy={policy} flags=UAEX peer={certs_id(who)} dst={EXT}:{port}")
        assert gateway.metric("hbone_policy_decisions_total", policy="client", action="allow") == 2

        # Two transfers open across the swap: the client's to :9090 (the new policy denies
        # it) and payments' to :8080 (still allowed).
        denied = topo.spawn(pod, *APP, "trickle", "127.0.0.1", str(ports["client"][1]), "4", stdout=subprocess.PIPE,
                            text=True)
        kept = topo.spawn(pod, *APP, "trickle", "127.0.0.1", str(ports["payments"][0]), "4", stdout=subprocess.PIPE,
                          text=True)
        time.sleep(1)
        config["gateway"]["policies"] = policies(EXT, 8080, client_ports=[8080])
        swapped = time.monotonic()
        configmap.update(config)
        ready, _, _ = select.select([denied.stdout], [], [], 5)
        assert ready and time.monotonic() - swapped < 1.0 + 0.5, "the denied tunnel was not reset in time"
        assert "error" in json.loads(denied.stdout.readline())
        gateway.wait_for_log(f"reset: policy=none-matched denies it now peer={certs_id('client')} dst={EXT}:9090")
        ready, _, _ = select.select([kept.stdout], [], [], 30)
        assert ready, "the allowed transfer did not finish"
        sent = json.loads(kept.stdout.readline())
        # :8080 saw the client's and payments' talks, then this transfer.
        seen = [json.loads(servers[8080].stdout.readline()) for _ in range(3)][-1]
        assert "error" not in sent and "error" not in seen, (sent, seen)
        assert (seen["received"], seen["received_sha256"]) == (sent["sent"], sent["sent_sha256"])
        assert (sent["received"], sent["received_sha256"]) == (1000, seen["sent_sha256"])
        assert gateway.metric("hbone_policy_tunnels_reset_total") == 1
        codes = {d.name: d.stop() for d in daemons}
        assert all(code == 0 for code in codes.values()), codes
    finally:
        topo.close()


def certs_id(who):
    return {"client": CLIENT, "other": OTHER, "payments": PAYMENTS}[who]
