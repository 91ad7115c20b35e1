"""Hostile peers on the gateway port: garbage, the wrong protocol, protocol violations and
floods. Each gets its connection closed (with the right GOAWAY code where HTTP/2 got that
far) in bounded time, CPU and memory, while a tunnel another client holds keeps working."""

import os
import socket
import ssl
import time

import hpack
import pytest
from h2.errors import ErrorCodes

from h2client import (CONTINUATION, DATA, END_HEADERS, HEADERS, PING, RST_STREAM,
                      SETTINGS, H2Client, frame)
from harness import Mesh, TargetServer, echo

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mib(pid):
    return int(open(f"/proc/{pid}/statm").read().split()[1]) * PAGE / (1 << 20)


class Bystander:
    """A gateway with a tunnel from a well-behaved client, open across the attack."""

    def __init__(self, tmp_path):
        self.server = TargetServer(echo)
        self.mesh = Mesh(tmp_path, self.server.port)
        self.target = f"127.0.0.1:{self.server.port}"
        self.tunnel = self.mesh.connect()
        self.check(b"before")
        self.pid = self.mesh.gateway.proc.pid
        self.cpu = cpu_seconds(self.pid)
        self.rss = rss_mib(self.pid)

    def check(self, payload):
        self.tunnel.sendall(payload)
        got = b""
        while len(got) < len(payload):
            data = self.tunnel.recv(65536)
            assert data, "the bystander's tunnel was closed"
            got += data
        assert got == payload

    def finish(self, max_cpu=3.0, max_rss_growth=64):
        """The bystander is unharmed; the attack cost bounded CPU and memory."""
        self.check(b"after the attack")
        cpu = cpu_seconds(self.pid) - self.cpu
        growth = rss_mib(self.pid) - self.rss
        assert cpu < max_cpu, f"gateway spent {cpu:.2f}s of CPU on the attack"
        assert growth < max_rss_growth, f"gateway RSS grew {growth:.1f} MiB"
        self.tunnel.close()
        self.mesh.stop()
        return cpu, growth


@pytest.fixture
def bystander(tmp_path):
    return Bystander(tmp_path)


def closed_within(sock, seconds):
    """Reads (and drops) until the peer closes; True if that happened in time."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, ssl.SSLError):
        pass
    except socket.timeout:
        return False
    return True


def connect_headers(encoder, target):
    return encoder.encode([(":method", "CONNECT"), (":authority", target)])


def test_garbage_before_tls(bystander):
    gw = bystander.mesh.gateway
    sock = socket.create_connection(("127.0.0.1", bystander.mesh.gateway_port))
    sock.sendall(os.urandom(64 << 10))
    assert closed_within(sock, 5)
    assert gw.metric("hbone_tls_handshakes_total", result="error") == 1
    assert gw.metric("hbone_tls_handshakes_total", result="bad_certificate") == 0
    bystander.finish()


def test_http1_on_hbone_port(bystander):
    sock = socket.create_connection(("127.0.0.1", bystander.mesh.gateway_port))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    sock.settimeout(5)
    reply = b""
    try:
        while data := sock.recv(65536):
            reply += data
    except ConnectionResetError:
        pass
    assert b"HTTP/1.1" not in reply  # a TLS alert at most, never an HTTP/1 answer
    bystander.finish()


def test_http1_inside_tls(bystander):
    client = H2Client(bystander.mesh.gateway_port, preface=False)  # TLS and ALPN h2 done
    client.send_raw(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert closed_within(client.sock, 5)
    bystander.mesh.gateway.wait_for_log("HTTP/2 error")
    bystander.finish()


def test_garbage_after_preface(bystander):
    client = H2Client(bystander.mesh.gateway_port)
    client.send_raw(b"\xff" * 4096)  # a frame header claiming 16 MiB, over max_frame_size
    assert client.goaway_code() == ErrorCodes.FRAME_SIZE_ERROR
    assert closed_within(client.sock, 5)
    bystander.finish()


def test_data_before_headers(bystander):
    client = H2Client(bystander.mesh.gateway_port)
    client.send_raw(frame(DATA, 0, 1, b"x" * 100))
    assert client.goaway_code() == ErrorCodes.PROTOCOL_ERROR
    assert closed_within(client.sock, 5)
    bystander.finish()


def test_continuation_flood(bystander):
    client = H2Client(bystander.mesh.gateway_port)
    encoder = hpack.Encoder()
    block = connect_headers(encoder, bystander.target)
    client.send_raw(frame(HEADERS, 0, 1, block))  # no END_HEADERS: CONTINUATION must follow
    try:
        for _ in range(10000):
            client.send_raw(frame(CONTINUATION, 0, 1, b""))
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass  # closed while we were still sending
    assert client.goaway_code() in (ErrorCodes.ENHANCE_YOUR_CALM, ErrorCodes.PROTOCOL_ERROR, None)
    assert closed_within(client.sock, 5)
    assert bystander.server.accepted == 1  # only the bystander's tunnel reached the target
    bystander.finish()


@pytest.mark.parametrize("kind", ["PING", "SETTINGS"])
def test_ack_flood_without_reading(bystander, kind):
    """Frames that each demand an ACK, from a peer that never reads the ACKs: nghttp2 stops
    after 1000 queued ACKs once our write buffers are full."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fill the gateway's writes early
    raw.connect(("127.0.0.1", bystander.mesh.gateway_port))
    client = H2Client(bystander.mesh.gateway_port, sock=raw)
    one = frame(PING, 0, 0, b"12345678") if kind == "PING" else frame(SETTINGS, 0, 0, b"")
    batch = one * 4096
    start = time.monotonic()
    closed = False
    while time.monotonic() - start < 30:
        try:
            client.send_raw(batch)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            closed = True
            break
    assert closed, f"gateway still accepting {kind} frames after 30 s"
    bystander.mesh.gateway.wait_for_log("Flooding was detected")
    cpu, growth = bystander.finish(max_cpu=10.0)
    print(f"{kind} flood: gateway closed it after {time.monotonic() - start:.1f}s, "
          f"cpu {cpu:.2f}s, rss +{growth:.1f} MiB")


def test_rapid_reset(bystander):
    """CVE-2023-44487: open and reset streams in a loop. Streams reset in the batch that
    opened them never reach the target; beyond 1000 resets the connection is closed."""
    client = H2Client(bystander.mesh.gateway_port)
    encoder = hpack.Encoder()
    sent = 0
    stream_id = 1
    try:
        for _ in range(100):
            batch = b""
            for _ in range(100):
                batch += frame(HEADERS, END_HEADERS, stream_id, connect_headers(encoder, bystander.target))
                batch += frame(RST_STREAM, 0, stream_id, (ErrorCodes.CANCEL).to_bytes(4, "big"))
                stream_id += 2
            client.send_raw(batch)
            sent += 100
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass  # closed while we were still sending
    # nghttp2's reset rate limit: 1000 at once, then GOAWAY(INTERNAL_ERROR). nghttp2 queues
    # the GOAWAY and still parses what it was given (the rest of that socket read); the
    # streams it opens meanwhile are reset in the same batch, so none reaches the target.
    assert client.goaway_code() == ErrorCodes.INTERNAL_ERROR
    assert closed_within(client.sock, 5)
    gw = bystander.mesh.gateway
    opened = gw.metric("hbone_h2_frames_received_total", role="gateway", type="HEADERS")
    assert 1000 <= opened <= sent, f"{opened} of {sent} streams opened before the connection closed"
    assert bystander.server.accepted <= 10, bystander.server.accepted
    bystander.finish()
