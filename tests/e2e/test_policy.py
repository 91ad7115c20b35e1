"""gateway.policies (Istio AuthorizationPolicy, L4) on an egress gateway: each identity gets
exactly what the policies say (200 and bytes, or 403 with the deciding policy in the log and
the metrics), and a config swapped in the way kubelet updates a ConfigMap (a `..data`
symlink renamed, no signal) resets the open tunnel it no longer allows within a second while
the others carry on."""

import time

import h2.events
import yaml

from h2client import H2Client
from harness import LOOPBACK_TARGETS, ConfigMapDir, Hbone, TargetServer, echo, issue_cert, random_bytes, tls

OTHER = "spiffe://cluster.local/ns/default/sa/other"
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
    assert "reload (the config file changed): live keys applied" in gateway.log()
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
