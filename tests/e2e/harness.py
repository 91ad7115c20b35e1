"""Real processes on 127.0.0.1 for hbone's end-to-end tests: the hbone binary with
generated configs, target servers in threads, and helpers to move and check bytes."""

import hashlib
import os
import pathlib
import random
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
HBONE = os.environ.get("HBONE_BIN", str(ROOT / "build" / "hbone"))
CERTS = ROOT / "certs" / "dev"


_issued_ports = set()


def free_port():
    """A port nothing listens on now, and never one this process handed out before: the
    ports of one config are all chosen before any is bound, and the kernel may offer the
    same free port twice (a gateway and its admin endpoint then collide)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _issued_ports:
            _issued_ports.add(port)
            return port


# The tests' targets listen on loopback, which a gateway dials only when
# allowed_destinations names it (never its own listeners, whatever it says).
LOOPBACK_TARGETS = ["127.0.0.0/8"]

children = []  # helper processes of the running test; conftest.py kills what is left


def spawn(args, **kwargs):
    """Starts a helper process (relay, echo target, iperf3 server) that the test's teardown
    kills whether the test passes or fails."""
    proc = subprocess.Popen(args, **kwargs)
    children.append(proc)
    return proc


def tls(name):
    return {
        "cert": str(CERTS / f"{name}.pem"),
        "key": str(CERTS / f"{name}-key.pem"),
        "ca": str(CERTS / "ca.pem"),
        "trust_domain": "cluster.local",
    }


def raw_tls_client(port, cert=None):
    """A TLS connection to an HBONE listener on loopback, as a client holding the dev
    certificate `cert` (or none), trusting the dev CA; ALPN h2, no name check."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(CERTS / "ca.pem")
    ctx.check_hostname = False
    ctx.set_alpn_protocols(["h2"])
    if cert:
        ctx.load_cert_chain(CERTS / f"{cert}.pem", CERTS / f"{cert}-key.pem")
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return ctx.wrap_socket(sock)


class NotifySocket:
    """A socket standing for systemd's NOTIFY_SOCKET at `path` (any user may write to it):
    what a Type=notify service tells systemd. A context manager."""

    def __init__(self, path, timeout=15):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        os.chmod(path, 0o666)
        self.sock.settimeout(timeout)
        self.heard = []  # every line said, in order (the caller may clear it)

    def until(self, word):
        """Reads until `word` has been said; socket.timeout after `timeout` of silence."""
        while word not in self.heard:
            self.heard.extend(self.sock.recv(4096).decode().split("\n"))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()


def issue_cert(directory, name, spiffe_id):
    """A certificate for `spiffe_id` (new key and serial) from the dev CA: `name`.pem and
    `name`-key.pem in `directory`."""
    key, csr, cert, ext = (directory / f"{name}{suffix}" for suffix in ("-key.pem", ".csr", ".pem", ".ext"))
    ext.write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\n"
                   f"extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=URI:{spiffe_id}\n")
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)
    run("req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-keyout", str(key), "-out", str(csr), "-subj", f"/O=hbone dev/CN={name}")
    run("x509", "-req", "-in", str(csr), "-CA", str(CERTS / "ca.pem"), "-CAkey", str(CERTS / "ca-key.pem"),
        "-set_serial", str(int.from_bytes(name.encode(), "big") % (1 << 60)), "-days", "1",
        "-sha256", "-extfile", str(ext), "-out", str(cert))
    return cert, key


class ConfigMapDir:
    """A config file laid out as kubelet mounts a ConfigMap: NAME -> ..data/NAME, ..data ->
    a timestamped directory; update() writes a new directory and renames a new ..data link
    over the old one (one atomic rename)."""

    def __init__(self, root, name, config):
        self.root, self.name, self.version = root, name, 0
        root.mkdir()
        self.update(config)
        os.symlink(f"..data/{name}", root / name)

    @property
    def path(self):
        return self.root / self.name

    def update(self, config):
        self.version += 1
        directory = self.root / f"..2026_12_01_v{self.version}"
        directory.mkdir()
        (directory / self.name).write_text(yaml.safe_dump(config))
        os.symlink(directory.name, self.root / "..data_tmp")
        os.rename(self.root / "..data_tmp", self.root / "..data")


def wait_until(predicate, timeout=10):
    """True once predicate() is, polled every 50 ms; False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def merge(base, extra):
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


class Hbone:
    """One hbone process, with its own admin port. Waits for it to report that it runs.
    Listen addresses may use port 0 (the admin endpoint does by default): the ports the
    kernel chose are read back from the log (bound_address)."""

    started = []  # every process, so a failed test cannot leave one behind (conftest.py)

    def __init__(self, tmp_path, name, config, wait=True, env=None, netns=None, wrapper=None, config_path=None):
        self.name = name
        # In a test's network namespace (netns.py): started there, and its admin endpoint
        # (on that namespace's loopback) is asked from there too. `wrapper`: a command that
        # execs hbone in the same process (e.g. prlimit with a descriptor limit).
        self.prefix = ["ip", "netns", "exec", netns] if netns else []
        config.setdefault("admin", {"listen": "127.0.0.1:0"})
        self._admin = None
        # `config_path`: where the config is written (through symlinks) and read from; by default
        # beside the log.
        self.config_path = config_path or tmp_path / f"{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = tmp_path / f"{name}.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.prefix + (wrapper or []) + [HBONE, "--config", str(self.config_path)],
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT,
                                     env={**os.environ, **(env or {})})
        Hbone.started.append(self)
        if wait:
            self.wait_for_log("hbone running")

    def log(self):
        return self.log_path.read_text()

    def bound_address(self, key, timeout=10):
        """"host:port" the daemon logged for listen key `key` (e.g. gateway.listen)."""
        prefix = f"{key}: listening on "
        self.wait_for_log(prefix, timeout)
        return re.search(re.escape(prefix) + r"([^\s\"]+)", self.log()).group(1)  # text or JSON lines

    def bound_port(self, key):
        return int(self.bound_address(key).rsplit(":", 1)[1])

    @property
    def admin(self):
        if self._admin is None:
            self._admin = self.bound_address("admin.listen")
        return self._admin

    def wait_for_log(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.02)
        raise AssertionError(f"{self.name}: no '{text}' in log within {timeout}s:\n{self.log()}")

    def admin_request(self, path, method="GET", timeout=30, address=None):
        """(status, body) of a request to the admin endpoint, or to `address` (e.g. the
        read-only admin.metrics_listen)."""
        address = address or self.admin
        if self.prefix:
            out = subprocess.run(self.prefix + ["curl", "-s", "-X", method, "-m", str(timeout), "-w", "\n%{http_code}",
                                                f"http://{address}{path}"], capture_output=True, check=True)
            body, _, status = out.stdout.rpartition(b"\n")
            return int(status), body
        request = urllib.request.Request(f"http://{address}{path}", method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def metrics(self):
        """{(name, frozenset(labels)): value} from /metrics."""
        status, body = self.admin_request("/metrics")
        assert status == 200
        samples = {}
        for line in body.decode().splitlines():
            if not line or line.startswith("#"):
                continue
            name_labels, value = line.rsplit(" ", 1)
            name, _, labels = name_labels.partition("{")
            pairs = frozenset(re.findall(r'(\w+)="([^"]*)"', labels))
            samples[(name, pairs)] = float(value)
        return samples

    def metric(self, name, **labels):
        """Sum of the samples of `name` whose labels include `labels`."""
        want = set(labels.items())
        return sum(v for (n, l), v in self.metrics().items() if n == name and want <= set(l))

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} did not exit on {sig!r}:\n{self.log()}")
        self._log.close()
        return self.proc.returncode


class Mesh:
    """A gateway and a client with one listener, wired to `target_port`."""

    def __init__(self, tmp_path, target_port, gateway=None, client=None, http2=None,
                 client_tls="client", workers=1, env=None, gateway_wrapper=None):
        h2 = http2 or {}
        gw_config = merge({
            "workers": workers, "log_level": "info", "tls": tls("gateway"),
            "gateway": {"listen": "127.0.0.1:0", "connect_timeout": "2s",
                        "allowed_destinations": LOOPBACK_TARGETS},
            "http2": dict(h2),
        }, gateway)
        self.gateway = Hbone(tmp_path, "gateway", gw_config, env=env, wrapper=gateway_wrapper)
        self.gateway_port = self.gateway.bound_port("gateway.listen")
        cl_config = merge({
            "workers": workers, "log_level": "info", "tls": tls(client_tls),
            "client": {
                "gateway": f"127.0.0.1:{self.gateway_port}",
                "gateway_identity": "spiffe://cluster.local/ns/default/sa/gateway",
                "listeners": [{"listen": "127.0.0.1:0", "target": f"127.0.0.1:{target_port}"}],
            },
            "http2": dict(h2),
        }, client)
        self.client = Hbone(tmp_path, "client", cl_config, env=env)
        self.client_port = self.client.bound_port("client.listeners[0].listen")

    def connect(self, timeout=10):
        return socket.create_connection(("127.0.0.1", self.client_port), timeout=timeout)

    def stop(self):
        rc_client = self.client.stop()
        rc_gateway = self.gateway.stop()
        return rc_client, rc_gateway


class TargetServer:
    """A TCP server on 127.0.0.1 running `handler(conn)` in a thread per connection;
    what handlers return is collected in `results`."""

    def __init__(self, handler, backlog=512, host="127.0.0.1"):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.results = []
        self.accepted = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(30)
        try:
            result = self.handler(conn)
        except OSError as e:
            result = e
        finally:
            conn.close()
        with self._lock:
            self.results.append(result)

    def wait_results(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.results) >= count:
                    return list(self.results)
            time.sleep(0.02)
        raise AssertionError(f"only {len(self.results)} of {count} target connections finished")

    def close(self):
        self.sock.close()


def random_bytes(n, seed):
    return random.Random(seed).randbytes(n)


def read_all(conn, chunk=1 << 18):
    """Reads to EOF; returns (sha256 hexdigest, byte count)."""
    digest = hashlib.sha256()
    total = 0
    while True:
        data = conn.recv(chunk)
        if not data:
            return digest.hexdigest(), total
        digest.update(data)
        total += len(data)


def exchange(conn, payload):
    """Sends `payload` then FIN while reading the other direction to EOF, concurrently.
    Returns (sha256 of what was read, count)."""
    received = {}

    def reader():
        received["result"] = read_all(conn)

    t = threading.Thread(target=reader)
    t.start()
    conn.sendall(payload)
    conn.shutdown(socket.SHUT_WR)
    t.join(60)
    assert "result" in received, "reader did not reach EOF"
    return received["result"]


def echo(conn):
    """Echoes until EOF, then closes."""
    while True:
        data = conn.recv(1 << 16)
        if not data:
            return "eof"
        conn.sendall(data)


def closed_without_data(conn):
    """True when the peer ended the connection without sending a byte (FIN or RST)."""
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True


def rejected_at_once(connect):
    """True when a connection made by `connect()` is ended without a byte. The reset can
    even beat connect() returning, on loopback."""
    try:
        with connect() as conn:
            return closed_without_data(conn)
    except ConnectionResetError:
        return True


def established_on_port(port):
    """ESTABLISHED TCP sockets whose local port is `port` (from /proc/net/tcp{,6})."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == "01":
                    count += 1
    return count


def paced_bulk(payload, chunk=1 << 20, pause=0.03):
    """A TargetServer handler: a connection that starts with b"bulk!" gets `payload` in
    paced chunks (still arriving while a test changes something); others are echoed."""
    def handle(conn):
        first = conn.recv(5)
        if first == b"bulk!":
            for i in range(0, len(payload), chunk):
                conn.sendall(payload[i:i + chunk])
                time.sleep(pause)
            return "sent"
        conn.sendall(first)
        return echo(conn)
    return handle


def receive_in_background(conn):
    """Reads `conn` to EOF on a thread; (thread, result) where result gets digest and total."""
    result = {}

    def receive():
        digest, total = hashlib.sha256(), 0
        while chunk := conn.recv(1 << 18):
            digest.update(chunk)
            total += len(chunk)
        result["digest"], result["total"] = digest.hexdigest(), total

    thread = threading.Thread(target=receive)
    thread.start()
    return thread, result


def start_bulk(mesh):
    """A tunnel receiving paced_bulk's payload in the background, well under way when this
    returns: (connection, reader thread, result)."""
    bulk = mesh.connect()
    bulk.sendall(b"bulk!")
    reader, result = receive_in_background(bulk)
    time.sleep(0.2)
    return bulk, reader, result


def sha256(data):
    return hashlib.sha256(data).hexdigest()
