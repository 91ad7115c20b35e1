"""The fake istiod (tests/support/fake_istiod.py) as the end-to-end tests drive it: started
as a helper process, restarted on the same port, pushed to and read back over its control
API."""

import json
import subprocess
import urllib.request

from harness import CERTS, ROOT, spawn

FAKE_ISTIOD = ROOT / "tests" / "support" / "fake_istiod.py"


class FakeIstiod:
    def __init__(self, tmp_path, token=None, port=0, netns=None, listen="127.0.0.1", ca=False, cert_ttl=None):
        """`netns`: run inside that namespace, serving on `listen` there (its control API
        is then asked from inside it too)."""
        self.tmp_path = tmp_path
        self.token = token
        self.netns = netns
        self.listen = listen
        self.ca = ca  # also istiod's CA, signing with the dev CA
        self.cert_ttl = cert_ttl
        self.state = tmp_path / "istiod-state.json"
        self.port = port
        self.start()

    def start(self):
        args = ["/usr/bin/python3", str(FAKE_ISTIOD), "--cert", str(CERTS / "istiod.pem"),
                "--key", str(CERTS / "istiod-key.pem"), "--listen", self.listen, "--port", str(self.port),
                "--state", str(self.state)]
        if self.token:
            args += ["--token", self.token]
        if self.ca:
            args += ["--ca", str(CERTS / "ca.pem"), str(CERTS / "ca-key.pem")]
        if self.cert_ttl:
            args += ["--cert-ttl", str(self.cert_ttl)]
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        # stdin stays open while the test runs: the fake exits when it closes.
        self.proc = spawn(prefix + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ports = {}
        while len(ports) < 2:
            line = self.proc.stdout.readline()
            assert line, f"fake istiod exited {self.proc.wait()}"
            key, value = line.split()
            ports[key] = int(value)
        self.port, self.control = ports["PORT"], ports["CONTROL"]

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def restart(self):
        self.kill()
        self.start()

    @property
    def address(self):
        return f"{self.listen}:{self.port}"

    def _call(self, path, body=None):
        url = f"http://127.0.0.1:{self.control}{path}"
        if self.netns:
            args = ["ip", "netns", "exec", self.netns, "curl", "-sf", "-m", "30", url]
            if body is not None:
                args += ["-X", "POST", "--data-binary", json.dumps(body)]
            return json.loads(subprocess.run(args, capture_output=True, check=True).stdout)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data,
                                         method="GET" if data is None else "POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def push(self, kind, resources=(), removed=()):
        """Stores and sends one response; its nonce."""
        return self._call("/push", {"type": kind, "resources": list(resources), "removed": list(removed)})["nonce"]

    def requests(self):
        return self._call("/requests")

    def versions(self):
        return self._call("/state")

    def end_streams(self):
        self._call("/end", {})

    def csrs(self):
        """The certificates the CA issued (or refused), in order."""
        return [r for r in self.requests() if r.get("type") == "csr"]

    def answer_to(self, nonce):
        """hbone's ACK or NACK of the response `nonce`, or None yet."""
        return next((r for r in self.requests() if r.get("nonce") == nonce), None)

    def xds_config(self, token_file=None):
        """hbone's xds: section for this fake."""
        config = {"address": self.address, "root_ca": str(CERTS / "ca.pem"),
                  "istiod_san": "istiod.istio-system.svc", "token_file": str(token_file or "")}
        return config


def workload(uid, ip, name=None, namespace="default", service_account=None, protocol="HBONE", services=None,
             network="", **extra):
    """An Address resource holding a workload."""
    body = {"uid": uid, "name": name or uid.rsplit("/", 1)[-1], "namespace": namespace, "addresses": [ip],
            "network": network, "tunnelProtocol": protocol, **extra}
    if service_account:
        body["serviceAccount"] = service_account
    if services:
        body["services"] = {key: {"ports": [{"servicePort": s, "targetPort": t} for s, t in ports]}
                            for key, ports in services.items()}
    return {"name": uid, "workload": body}


def service(namespace, hostname, vip, ports, network=""):
    """An Address resource holding a service: `ports` as [(service port, target port)]."""
    return {"name": f"{namespace}/{hostname}",
            "service": {"name": hostname.split(".")[0], "namespace": namespace, "hostname": hostname,
                        "addresses": [{"network": network, "address": vip}],
                        "ports": [{"servicePort": s, "targetPort": t} for s, t in ports]}}
