"""The fake SPIFFE agent (tests/support/fake_spiffe_agent.py) as the end-to-end tests drive
it: started as a helper process on a unix socket, restarted there, and asked over its
control API."""

import json
import subprocess
import urllib.request

from harness import CERTS, ROOT, spawn

FAKE_AGENT = ROOT / "tests" / "support" / "fake_spiffe_agent.py"


class FakeSpiffeAgent:
    def __init__(self, tmp_path, spiffe_id, federate=(), name="agent"):
        """Issues `spiffe_id` from the dev CA; `federate`: (trust domain, CA file) pairs sent
        as federated bundles."""
        self.socket = tmp_path / f"{name}.sock"
        self.args = ["/usr/bin/python3", str(FAKE_AGENT), "--socket", str(self.socket),
                     "--ca", str(CERTS / "ca.pem"), str(CERTS / "ca-key.pem"), "--id", spiffe_id]
        for trust_domain, cert in federate:
            self.args += ["--federate", trust_domain, str(cert)]
        self.start()

    def start(self):
        # stdin stays open while the test runs: the fake exits when it closes.
        self.proc = spawn(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("CONTROL "), f"fake agent exited {self.proc.wait()}"
        self.control = int(line.split()[1])

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def _call(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.control}{path}", data=data,
                                         method="GET" if data is None else "POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def rotate(self, mismatched=False):
        """A new SVID sent to every open stream (with another key than its own when
        `mismatched`); its serial (hex)."""
        return self._call("/rotate", {"mismatched": mismatched})["serial"]

    def deny(self, allow=False):
        self._call("/deny", {"allow": allow})

    def calls(self):
        return self._call("/calls")

    def issued(self):
        return self._call("/issued")

    def identity_config(self):
        """hbone's identity: section for this agent."""
        return {"provider": "spiffe_workload_api", "spiffe_socket": f"unix://{self.socket}"}
