"""deploy/ (kustomize): every overlay renders, every object validates against the
Kubernetes OpenAPI schemas (kubernetes-models, tests/deploy/validate.mjs), and what the
manifests say (ports, probes, args, mounts, grace period) matches the hbone config their
ConfigMap holds, which itself passes --check-config."""

import re
import shutil
import subprocess

import pytest
import yaml

from harness import CERTS, HBONE, ROOT

DEPLOY = ROOT / "deploy"
VALIDATOR = ROOT / "tests" / "deploy"
OVERLAYS = ["egress-gateway", "node-gateway", "sidecar", "variants/egress-gateway-secret", "ambient-node"]
missing = [tool for tool in ("kubectl", "node", "npm") if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} (scripts/deps.sh installs them where apt has them)")


def render(overlay):
    out = subprocess.run(["kubectl", "kustomize", str(DEPLOY / overlay)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def validator():
    if not (VALIDATOR / "node_modules" / "kubernetes-models").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=VALIDATOR, check=True, capture_output=True)
    return VALIDATOR / "validate.mjs"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_validates(overlay, validator):
    out = subprocess.run(["node", str(validator)], input=render(overlay), capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"^\d+ objects, 0 invalid$", out.stdout, re.M), out.stdout


def seconds(duration):
    value, unit = re.fullmatch(r"(\d+)(ms|s|m)", duration).groups()
    return int(value) * {"ms": 0.001, "s": 1, "m": 60}[unit]


def port_of(address):
    return int(address.rsplit(":", 1)[1])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_manifests_match_their_config(overlay, tmp_path):
    docs = [d for d in yaml.safe_load_all(render(overlay)) if d]
    configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    workloads = [d for d in docs if d["kind"] in ("Deployment", "DaemonSet")]
    assert len(workloads) == 1
    pod = workloads[0]["spec"]["template"]
    spec = pod["spec"]
    hbone = next(c for c in spec["containers"] if c["name"] == "hbone")
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in hbone["volumeMounts"]}

    # args name the config file the ConfigMap volume provides.
    config_volume = next(name for name, v in volumes.items() if v.get("configMap", {}).get("name") in configmaps)
    assert hbone["args"] == ["--config", f"{mounts[config_volume]}/hbone.yaml"]
    config_text = configmaps[volumes[config_volume]["configMap"]["name"]]["data"]["hbone.yaml"]
    config = yaml.safe_load(config_text)

    # The full admin endpoint stays on loopback; probes and the scrape annotation use the
    # read-only metrics listener; nothing (container port, probe, hook, Service,
    # NetworkPolicy) points at the admin port. SIGTERM drains: no hook reaches in.
    assert config["admin"]["listen"].startswith("127.0.0.1:")
    admin = port_of(config["admin"]["listen"])
    metrics = port_of(config["admin"]["metrics_listen"])
    ports = {p["containerPort"] for p in hbone["ports"]}
    assert metrics in ports and admin not in ports
    named = {p["name"]: p["containerPort"] for p in hbone["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        assert hbone[probe]["httpGet"]["path"] == "/healthz/ready"
        assert named[hbone[probe]["httpGet"]["port"]] == metrics
    assert "lifecycle" not in hbone
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(metrics)
    for doc in docs:
        if doc["kind"] == "Service":
            for port in doc["spec"]["ports"]:
                assert admin not in (port["port"], port.get("targetPort")), doc["metadata"]["name"]
        if doc["kind"] == "NetworkPolicy":
            for rule in doc["spec"].get("ingress", []):
                assert admin not in [p["port"] for p in rule.get("ports", [])], doc["metadata"]["name"]
    if "gateway" in config:
        assert port_of(config["gateway"]["listen"]) in ports
    # SIGTERM's drain ends before the kubelet's SIGKILL.
    assert spec["terminationGracePeriodSeconds"] > seconds(config["drain_timeout"])

    # Certificates, istiod's root and token, the CNI agent's socket come from the mounted volumes.
    files = [config["tls"][key] for key in ("cert", "key", "ca") if key in config.get("tls", {})]
    files += [config["xds"][key] for key in ("root_ca", "token_file") if "xds" in config]
    files += [config["node"]["zds_socket"]] if "node" in config else []
    assert files
    for file in files:
        assert file.rsplit("/", 1)[0] in mounts.values(), (file, mounts)

    # Hardened: non-root, read-only root filesystem, no escalation, bounded resources. The
    # node gateway's transparent listener needs NET_ADMIN, so root with that one capability;
    # the ambient node proxy also enters pods' namespaces (SYS_ADMIN, which the API server
    # allows only with escalation allowed), in its own pod network like ztunnel's.
    context = hbone["securityContext"]
    assert context["readOnlyRootFilesystem"] is True and context.get("privileged", False) is False
    assert context["capabilities"]["drop"] == ["ALL"]
    transparent = config.get("gateway", {}).get("transparent", False)
    if "node" in config:
        assert context["capabilities"]["add"] == ["NET_ADMIN", "SYS_ADMIN"] and context["runAsUser"] == 0
        assert context["allowPrivilegeEscalation"] is True
        assert not spec.get("hostNetwork", False)
        assert spec["serviceAccountName"] == config["identity"]["service_account"] == "ztunnel"
        socket_dir = next(v for v in spec["volumes"] if v["name"] == next(
            name for name, path in mounts.items() if path == config["node"]["zds_socket"].rsplit("/", 1)[0]))
        assert socket_dir["hostPath"]["path"] == "/var/run/ztunnel"
        assert pod["metadata"]["labels"]["istio.io/dataplane-mode"] == "none"
        rolling = workloads[0]["spec"]["updateStrategy"]["rollingUpdate"]
        assert rolling == {"maxUnavailable": 0, "maxSurge": 1}
    else:
        assert context["allowPrivilegeEscalation"] is False
    if transparent:
        assert context["capabilities"]["add"] == ["NET_ADMIN"] and context["runAsUser"] == 0
    elif "node" not in config:
        assert "add" not in context["capabilities"]
        assert context.get("runAsNonRoot", spec.get("securityContext", {}).get("runAsNonRoot")) is True
    assert hbone["resources"]["requests"] and hbone["resources"]["limits"]

    if transparent:
        # The node gateway: its init container installs the TPROXY rules for the node's own
        # pod range (NET_ADMIN only), the range the config's allow-list and arrived-address
        # rule confine the gateway to.
        init = spec["initContainers"][0]
        assert init["command"] == ["/usr/local/bin/hbone-capture", "node-install", "--pod-cidr", "$(POD_CIDR)"]
        ref = init["env"][0]["valueFrom"]["configMapKeyRef"]
        pod_cidr = configmaps[ref["name"]]["data"][ref["key"]]
        assert config["gateway"]["allowed_destinations"] == [pod_cidr]
        assert config["gateway"]["require_arrived_address"] is True
        assert init["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["NET_ADMIN"]}

    if "capture" in config.get("client", {}):
        # The sidecar: the init container installs the capture rules with NET_ADMIN and
        # NET_RAW only, skipping hbone's uid (its config sets no mark).
        init = spec["initContainers"][0]
        assert init["command"][:2] == ["/usr/local/bin/hbone-capture", "install"]
        assert init["command"][init["command"].index("--uid") + 1] == str(context["runAsUser"])
        assert sorted(init["securityContext"]["capabilities"]["add"]) == ["NET_ADMIN", "NET_RAW"]
        assert config["socket"]["mark"] == 0

    # The config itself is valid (certificate paths pointed at the dev certificates; the
    # text is edited, not re-dumped: YAML 1.1 would turn `off` into false).
    for section, key, dev in (("tls", "cert", "gateway.pem"), ("tls", "key", "gateway-key.pem"),
                              ("tls", "ca", "ca.pem"), ("xds", "root_ca", "ca.pem")):
        if key in config.get(section, {}):
            config_text = config_text.replace(config[section][key], str(CERTS / dev))
    path = tmp_path / "hbone.yaml"
    path.write_text(config_text)
    out = subprocess.run([HBONE, "--check-config", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr

