"""hbone as a client of Istio's control plane: delta ADS against the project's fake istiod
(tests/support/fake_istiod.py, Google's gRPC), over TLS checked against the dev root for
istiod's DNS name, with a bearer token."""

import json

import yaml

from harness import Hbone, tls, wait_until
from istiod import FakeIstiod, service, workload

NODE_ENV = {"POD_NAME": "hbone-node-1", "POD_NAMESPACE": "istio-system", "INSTANCE_IP": "198.18.0.9",
            "NODE_NAME": "node-1", "ISTIO_META_EXTRA": "on"}


def start_hbone(tmp_path, istiod, token_file=None, name="node", **xds):
    config = {"gateway": {"listen": "127.0.0.1:0"}, "tls": tls("gateway"),
              "xds": {**istiod.xds_config(token_file), **xds}}
    return Hbone(tmp_path, name, config, env=NODE_ENV)


def dump(hbone):
    status, body = hbone.admin_request("/config_dump")
    assert status == 200
    return yaml.safe_load(body)


def uids(hbone):
    return sorted(w["uid"] for w in dump(hbone)["workloads"])


def token(tmp_path, text="s3cret"):
    path = tmp_path / "istio-token"
    path.write_text(text + "\n")
    return path


def test_pushes_are_applied_and_acked_by_nonce(tmp_path):
    istiod = FakeIstiod(tmp_path, token="s3cret")
    hbone = start_hbone(tmp_path, istiod, token(tmp_path))
    assert wait_until(lambda: hbone.admin_request("/healthz/ready")[0] == 200)
    # As ztunnel: one initial request per type, with the node and the token.
    initial = [r for r in istiod.requests() if "initial" in r]
    assert sorted(r["type"] for r in initial) == ["address", "authorization"]
    for r in initial:
        assert r["node"] == "ztunnel~198.18.0.9~hbone-node-1.istio-system~istio-system.svc.cluster.local"
        assert r["node_metadata"] == {"NAME": "hbone-node-1", "NAMESPACE": "istio-system",
                                      "INSTANCE_IPS": "198.18.0.9", "NODE_NAME": "node-1",
                                      "CLUSTER_ID": "Kubernetes", "EXTRA": "on"}
        assert r["metadata"]["authorization"] == "Bearer s3cret"
        assert r["metadata"]["clusterid"] == "Kubernetes"
        assert r["initial"] == {}

    nonce = istiod.push("address", [
        workload("Kubernetes//Pod/default/a", "198.18.1.1", service_account="sa-a",
                 services={"default/echo.default.svc.cluster.local": [(80, 8080)]}),
        workload("Kubernetes//Pod/default/b", "198.18.2.1"),
        service("default", "echo.default.svc.cluster.local", "198.18.100.1", [(80, 8080)]),
    ])
    assert wait_until(lambda: istiod.answer_to(nonce))
    assert istiod.answer_to(nonce)["error"] is None  # an ACK
    config = dump(hbone)
    a = next(w for w in config["workloads"] if w["uid"] == "Kubernetes//Pod/default/a")
    assert a["workloadIps"] == ["198.18.1.1"]
    assert a["identity"] == "spiffe://cluster.local/ns/default/sa/sa-a"
    assert a["services"] == {"default/echo.default.svc.cluster.local": {"80": 8080}}
    assert config["services"][0]["vips"] == ["/198.18.100.1"]
    nonce = istiod.push("authorization", [{"name": "default/deny-b", "authorization": {
        "name": "deny-b", "namespace": "default", "scope": "NAMESPACE", "action": "DENY",
        "rules": [{"clauses": [{"matches": [{"principals": [{"exact": "spiffe://cluster.local/ns/default/sa/b"}],
                                             "sourceIps": [{"address": "198.18.2.0", "length": 24}],
                                             "destinationPorts": [8080]}]}]}]}}])
    assert wait_until(lambda: istiod.answer_to(nonce))
    assert istiod.answer_to(nonce)["error"] is None
    [policy] = dump(hbone)["policies"]
    assert policy["action"] == "Deny" and policy["scope"] == "Namespace"
    assert policy["rules"] == [[[{"principals": [{"exact": "spiffe://cluster.local/ns/default/sa/b"}],
                                  "sourceIps": ["198.18.2.0/24"], "destinationPorts": [8080]}]]]
    assert hbone.metric("hbone_xds_connected") == 1
    assert hbone.metric("hbone_xds_resources", type="Address") == 3
    assert hbone.metric("hbone_xds_resources", type="Authorization") == 1
    assert hbone.metric("hbone_xds_pushes_total", type="Address", result="ack") == 2  # the first, empty, and ours

    # Removals.
    nonce = istiod.push("address", removed=["Kubernetes//Pod/default/b"])
    assert wait_until(lambda: istiod.answer_to(nonce))
    assert uids(hbone) == ["Kubernetes//Pod/default/a"]


def test_a_malformed_resource_is_nacked_with_its_reason_and_the_rest_applied(tmp_path):
    istiod = FakeIstiod(tmp_path)
    hbone = start_hbone(tmp_path, istiod)
    assert wait_until(lambda: hbone.metric("hbone_xds_connected") == 1)
    good = workload("Kubernetes//Pod/default/good", "198.18.1.1")
    # A workload whose address is 5 bytes, and bytes that are no Address at all.
    short = workload("Kubernetes//Pod/default/short", "AQIDBAU=")
    garbage = {"name": "Kubernetes//Pod/default/garbage", "raw": "/////w=="}
    nonce = istiod.push("address", [good, short, garbage])
    assert wait_until(lambda: istiod.answer_to(nonce))
    error = istiod.answer_to(nonce)["error"]
    assert "Kubernetes//Pod/default/short: workload address: an address of 5 bytes (4 or 16 expected)" in error
    assert "Kubernetes//Pod/default/garbage: cannot be decoded as type.googleapis.com/istio.workload.Address" in error
    assert "default/good" not in error
    assert uids(hbone) == ["Kubernetes//Pod/default/good"]
    assert hbone.metric("hbone_xds_pushes_total", type="Address", result="nack") == 1
    assert "NACK Address" in hbone.log()
    # A later good version of a rejected resource is taken.
    nonce = istiod.push("address", [workload("Kubernetes//Pod/default/short", "198.18.1.2")])
    assert wait_until(lambda: istiod.answer_to(nonce))
    assert istiod.answer_to(nonce)["error"] is None
    assert uids(hbone) == ["Kubernetes//Pod/default/good", "Kubernetes//Pod/default/short"]
    # What was NACKed is not counted as held: a reconnect does not claim it.
    istiod.end_streams()
    assert wait_until(lambda: len([r for r in istiod.requests() if "initial" in r]) == 4, timeout=20)
    again = [r for r in istiod.requests() if r.get("initial") is not None][-2:]
    held = next(r for r in again if r["type"] == "address")["initial"]
    assert sorted(held) == ["Kubernetes//Pod/default/good", "Kubernetes//Pod/default/short"]


def test_istiod_restarted_resyncs_from_the_versions_held(tmp_path):
    istiod = FakeIstiod(tmp_path)
    hbone = start_hbone(tmp_path, istiod)
    assert wait_until(lambda: hbone.metric("hbone_xds_connected") == 1)
    nonce = istiod.push("address", [workload(f"Kubernetes//Pod/default/w{i}", f"198.18.1.{i}") for i in range(1, 4)])
    assert wait_until(lambda: istiod.answer_to(nonce))
    held = istiod.versions()["address"]

    istiod.kill()
    assert wait_until(lambda: hbone.metric("hbone_xds_connected") == 0)
    # While istiod is away, what it said stays in force.
    assert uids(hbone) == [f"Kubernetes//Pod/default/w{i}" for i in range(1, 4)]
    assert hbone.admin_request("/healthz/ready")[0] == 200
    # It comes back knowing less and more: w2 is gone, w3 moved, w4 is new.
    state = json.loads(istiod.state.read_text())
    del state["state"]["address"]["Kubernetes//Pod/default/w2"]
    state["state"]["address"]["Kubernetes//Pod/default/w3"] = {
        "version": "moved", "resource": workload("Kubernetes//Pod/default/w3", "198.18.3.3")}
    state["state"]["address"]["Kubernetes//Pod/default/w4"] = {
        "version": "new", "resource": workload("Kubernetes//Pod/default/w4", "198.18.1.4")}
    istiod.state.write_text(json.dumps(state))
    istiod.start()  # the same port

    assert wait_until(lambda: hbone.metric("hbone_xds_connected") == 1, timeout=30)
    resync = next(r for r in istiod.requests() if r.get("type") == "address" and "initial" in r)
    assert resync["initial"] == held  # every version it took, by name
    expected = sorted(istiod.versions()["address"])
    assert wait_until(lambda: uids(hbone) == expected)
    w3 = next(w for w in dump(hbone)["workloads"] if w["uid"] == "Kubernetes//Pod/default/w3")
    assert w3["workloadIps"] == ["198.18.3.3"]
    assert "xds: stream to" in hbone.log() and "retrying in" in hbone.log()


def test_a_wrong_token_is_refused_and_the_file_read_again(tmp_path):
    istiod = FakeIstiod(tmp_path, token="right")
    token_file = token(tmp_path, "wrong")
    hbone = start_hbone(tmp_path, istiod, token_file)
    hbone.wait_for_log("UNAUTHENTICATED: authentication failure")
    assert hbone.admin_request("/healthz/ready")[0] == 503
    assert hbone.metric("hbone_xds_connected") == 0
    token_file.write_text("right")  # a rotated projected token
    assert wait_until(lambda: hbone.admin_request("/healthz/ready")[0] == 200, timeout=30)


def test_istiod_must_hold_the_configured_name(tmp_path):
    istiod = FakeIstiod(tmp_path)
    hbone = start_hbone(tmp_path, istiod, istiod_san="istiod.other-namespace.svc")
    hbone.wait_for_log("certificate verification failed")
    assert not [r for r in istiod.requests() if "initial" in r]  # nothing was sent to it
    assert hbone.admin_request("/healthz/ready")[0] == 503
