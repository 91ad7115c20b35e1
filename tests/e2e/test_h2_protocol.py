"""The gateway against an independent HTTP/2 client (python3-h2): statuses and reset codes
for bad requests, and the connection stays usable for a good CONNECT afterwards."""

import time

import h2.events
import h2.settings
from h2.errors import ErrorCodes

from h2client import H2Client
from harness import Mesh, TargetServer, echo


def test_bad_requests_then_good_connect(tmp_path, dead_port):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port)
    client = H2Client(mesh.gateway_port)
    target = f"127.0.0.1:{server.port}"

    # Not CONNECT -> 405
    sid = client.request([(":method", "GET"), (":scheme", "https"), (":path", "/"),
                          (":authority", target)], end_stream=True)
    assert client.status(sid) == "405"
    # Authority without port, or garbage -> 400
    for authority in ("127.0.0.1", "user@host:80", "ex!ample:80", "host:99999", "[::1]"):
        sid = client.request([(":method", "CONNECT"), (":authority", authority)])
        assert client.status(sid) == "400", authority
    # Malformed CONNECT (RFC 9113 §8.5) -> RST_STREAM PROTOCOL_ERROR
    sid = client.request([(":method", "CONNECT"), (":authority", target), (":path", "/")])
    assert client.reset_code(sid) == ErrorCodes.PROTOCOL_ERROR
    sid = client.request([(":method", "CONNECT"), (":scheme", "https"), (":authority", target)])
    assert client.reset_code(sid) == ErrorCodes.PROTOCOL_ERROR
    sid = client.request([(":method", "CONNECT")])
    assert client.reset_code(sid) == ErrorCodes.PROTOCOL_ERROR
    for bad_value in ("", "bad host:80"):  # empty, or not a valid field value
        sid = client.request([(":method", "CONNECT"), (":authority", bad_value)])
        assert client.reset_code(sid) == ErrorCodes.PROTOCOL_ERROR, bad_value
    # Nothing listening -> 503
    sid = client.request([(":method", "CONNECT"), (":authority", f"127.0.0.1:{dead_port}")])
    assert client.status(sid) == "503"

    # The same connection still carries a tunnel.
    sid = client.request([(":method", "CONNECT"), (":authority", target),
                          ("forwarded", 'for="127.0.0.1:1"')])
    assert client.status(sid) == "200"
    client.conn.send_data(sid, b"still usable")
    client.flush()
    echoed = b""
    while len(echoed) < 12:
        event = client.wait(lambda e: isinstance(e, h2.events.DataReceived) and e.stream_id == sid)
        echoed += event.data
        client.conn.acknowledge_received_data(event.flow_controlled_length, sid)
    assert echoed == b"still usable"
    # END_STREAM -> the target sees EOF -> its close comes back as END_STREAM.
    client.conn.end_stream(sid)
    client.flush()
    client.wait(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == sid)
    assert server.wait_results(1) == ["eof"]
    mesh.stop()


def test_advertised_settings(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, http2={
        "stream_window": "1MiB", "connection_window": "8MiB", "max_frame_size": "64KiB",
        "max_concurrent_streams": 77})
    client = H2Client(mesh.gateway_port)
    event = client.wait(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
    settings = {k: v.new_value for k, v in event.changed_settings.items()}
    assert settings[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] == 1 << 20
    assert settings[h2.settings.SettingCodes.MAX_FRAME_SIZE] == 64 << 10
    assert settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] == 77
    # The connection window is raised with a WINDOW_UPDATE on stream 0.
    update = client.wait(lambda e: isinstance(e, h2.events.WindowUpdated) and e.stream_id == 0)
    assert update.delta == (8 << 20) - 65535
    mesh.stop()


def test_streams_beyond_limit_refused_others_unharmed(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, http2={"max_concurrent_streams": 5})
    client = H2Client(mesh.gateway_port)
    event = client.wait(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
    limit = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS
    assert event.changed_settings[limit].new_value == 5
    # python-h2 would hold back the excess itself: make it forget the limit.
    client.conn.remote_settings[limit] = 100
    client.conn.remote_settings.acknowledge()
    target = f"127.0.0.1:{server.port}"
    sids = [client.request([(":method", "CONNECT"), (":authority", target)]) for _ in range(8)]
    ok, refused = [], []
    for sid in sids:
        event = client.wait(lambda e: getattr(e, "stream_id", None) == sid and isinstance(
            e, (h2.events.ResponseReceived, h2.events.StreamReset)))
        if isinstance(event, h2.events.StreamReset):
            assert event.error_code == ErrorCodes.REFUSED_STREAM
            refused.append(sid)
        else:
            assert dict(event.headers)[b":status"] == b"200"
            ok.append(sid)
    assert (ok, refused) == (sids[:5], sids[5:])
    for sid in ok:  # the admitted tunnels all still work, on the same connection
        client.conn.send_data(sid, b"ok%d" % sid, end_stream=True)
        client.flush()
        data = client.wait(lambda e: isinstance(e, h2.events.DataReceived) and e.stream_id == sid)
        assert data.data == b"ok%d" % sid
    assert len(server.wait_results(5)) == 5
    assert server.accepted == 5  # refused streams never reached the target
    mesh.stop()


def test_data_frames_use_configured_frame_size(tmp_path):
    """DATA frames grow up to min(our max_frame_size, the peer's SETTINGS_MAX_FRAME_SIZE)."""
    payload = b"z" * (8 << 20)

    def target(conn):
        conn.sendall(payload)
        return "sent"

    server = TargetServer(target)
    mesh = Mesh(tmp_path, server.port, http2={"max_frame_size": "64KiB"})
    client = H2Client(mesh.gateway_port)
    client.conn.update_settings({h2.settings.SettingCodes.MAX_FRAME_SIZE: (1 << 20),
                                 h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: (16 << 20)})
    client.conn.increment_flow_control_window(16 << 20)
    client.flush()
    sid = client.request([(":method", "CONNECT"), (":authority", f"127.0.0.1:{server.port}")])
    assert client.status(sid) == "200"
    sizes, total = [], 0
    while total < len(payload):
        event = client.wait(lambda e: isinstance(e, h2.events.DataReceived) and e.stream_id == sid)
        sizes.append(len(event.data))
        total += len(event.data)
        client.conn.acknowledge_received_data(event.flow_controlled_length, sid)
        client.flush()
    assert max(sizes) == 64 << 10, sorted(set(sizes))[-5:]
    client.sock.close()
    mesh.stop()


def test_keepalive_ping_and_timeout(tmp_path):
    """The gateway PINGs on keepalive_interval and drops a peer that stops answering."""
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, http2={"keepalive_interval": "200ms",
                                              "keepalive_timeout": "500ms"})
    client = H2Client(mesh.gateway_port)
    client.wait(lambda e: isinstance(e, h2.events.PingReceived))  # acked by wait()'s flush
    client.wait(lambda e: isinstance(e, h2.events.PingReceived))
    # Now go silent: read, but never send the PING acks.
    client.sock.settimeout(5)
    start = time.monotonic()
    while True:
        data = client.sock.recv(65536)
        if not data:
            break
    assert time.monotonic() - start < 3
    mesh.gateway.wait_for_log("keepalive timeout")
    mesh.stop()


def test_oversized_headers_get_431_connection_kept(tmp_path):
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, http2={"max_header_list_size": "4KiB"})
    client = H2Client(mesh.gateway_port)
    event = client.wait(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
    assert event.changed_settings[h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE].new_value == 4096
    target = f"127.0.0.1:{server.port}"
    sid = client.request([(":method", "CONNECT"), (":authority", target), ("baggage", "k=" + "v" * 6000)])
    assert client.status(sid) == "431"
    sid = client.request([(":method", "CONNECT"), (":authority", target), ("baggage", "k=v")])
    assert client.status(sid) == "200"
    client.conn.send_data(sid, b"fine", end_stream=True)
    client.flush()
    data = client.wait(lambda e: isinstance(e, h2.events.DataReceived) and e.stream_id == sid)
    assert data.data == b"fine"
    assert server.accepted == 1
    mesh.stop()


def test_allowed_destinations(tmp_path):
    """Exact host:port entries match the authority (anything else: 403 without a DNS lookup
    or a dial); CIDRs match the dialled address, so a name cannot smuggle a denied one."""
    server, other = TargetServer(echo), TargetServer(echo)
    allowed = f"127.0.0.1:{server.port}"
    mesh = Mesh(tmp_path, server.port, gateway={"gateway": {"allowed_destinations": [allowed]}})
    client = H2Client(mesh.gateway_port)
    assert client.connect(allowed)[1] == "200"
    assert client.connect(f"127.0.0.1:{other.port}")[1] == "403"
    assert client.connect("name.invalid:80")[1] == "403"
    assert other.accepted == 0
    client.sock.close()
    mesh.stop()

    mesh = Mesh(tmp_path, server.port, gateway={"gateway": {"allowed_destinations": ["10.0.0.0/8"]}})
    client = H2Client(mesh.gateway_port)
    assert client.connect(f"localhost:{other.port}")[1] == "403"  # resolves to 127.0.0.1
    assert client.connect(f"127.0.0.1:{other.port}")[1] == "403"
    assert other.accepted == 0
    assert mesh.gateway.metric("hbone_upstream_connect_failures_total", cause="forbidden") == 2
    client.sock.close()
    mesh.stop()
