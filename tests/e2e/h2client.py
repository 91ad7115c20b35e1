"""A hand-driven HTTP/2 client (python3-h2) over mTLS, for talking to the gateway frame by
frame: malformed requests, limits, floods."""

import socket
import ssl

import h2.config
import h2.connection
import h2.events

from harness import CERTS


class H2Client:
    """One mTLS HTTP/2 connection to the gateway, driven frame by frame."""

    def __init__(self, port, cert="client", sock=None, preface=True, tls13_only=False):
        """`sock`: a TCP socket already connected to `port` (to set options first);
        preface=False stops after TLS, before the HTTP/2 connection preface. No SNI is sent
        (no server_hostname), as ztunnel sends none."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if tls13_only:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_verify_locations(CERTS / "ca.pem")
        # `cert`: a name in certs/dev, or a (certificate, key) pair of paths.
        chain, key = cert if isinstance(cert, tuple) else (CERTS / f"{cert}.pem", CERTS / f"{cert}-key.pem")
        ctx.load_cert_chain(chain, key)
        ctx.check_hostname = False
        ctx.set_alpn_protocols(["h2"])
        sock = sock or socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.settimeout(5)
        self.sock = ctx.wrap_socket(sock)
        assert self.sock.selected_alpn_protocol() == "h2"
        # Validation off: sending malformed requests is the point.
        config = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False,
                                           normalize_outbound_headers=False,
                                           validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=config)
        self.events = []
        if preface:
            self.conn.initiate_connection()
            self.flush()

    def flush(self):
        self.sock.sendall(self.conn.data_to_send())

    def request(self, headers, end_stream=False):
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream_id, headers, end_stream=end_stream)
        self.flush()
        return stream_id

    def wait(self, predicate):
        """Reads until an event satisfies `predicate`; returns it."""
        while True:
            for event in self.events:
                if predicate(event):
                    self.events.remove(event)
                    return event
            data = self.sock.recv(65536)
            assert data, "gateway closed the connection"
            new = self.conn.receive_data(data)
            for event in new:
                assert not isinstance(event, h2.events.ConnectionTerminated), event
            self.events.extend(new)
            self.flush()

    def status(self, stream_id):
        event = self.wait(lambda e: isinstance(e, h2.events.ResponseReceived)
                          and e.stream_id == stream_id)
        return dict(event.headers)[b":status"].decode()

    def reset_code(self, stream_id):
        event = self.wait(lambda e: isinstance(e, h2.events.StreamReset)
                          and e.stream_id == stream_id)
        return event.error_code



    def connect(self, target):
        """A CONNECT to `target`; returns (stream id, status)."""
        sid = self.request([(":method", "CONNECT"), (":authority", target)])
        return sid, self.status(sid)

    def send_raw(self, data):
        """Bytes straight onto the TLS stream, bypassing python-h2's state machine."""
        self.sock.sendall(data)

    def goaway_code(self, timeout=10):
        """Reads raw frames until GOAWAY (its error code) or the end of the connection
        (None). Only for connections python-h2 has not read from."""
        self.sock.settimeout(timeout)
        buffer = b""
        try:
            while True:
                while len(buffer) >= 9:
                    length = int.from_bytes(buffer[:3], "big")
                    if len(buffer) < 9 + length:
                        break
                    frame_type, payload = buffer[3], buffer[9:9 + length]
                    buffer = buffer[9 + length:]
                    if frame_type == GOAWAY:
                        return int.from_bytes(payload[4:8], "big")
                data = self.sock.recv(65536)
                if not data:
                    return None
                buffer += data
        except (ConnectionResetError, ssl.SSLError):
            return None


DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, CONTINUATION = 0, 1, 3, 4, 6, 7, 9
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(frame_type, flags, stream_id, payload=b""):
    """One raw HTTP/2 frame (RFC 9113 §4.1)."""
    return (len(payload).to_bytes(3, "big") + bytes([frame_type, flags]) +
            stream_id.to_bytes(4, "big") + payload)


def main():
    """`h2client.py PORT TARGET...`: one CONNECT per target on one connection to the gateway
    at 127.0.0.1:PORT; prints their statuses as a JSON list. For gateways in namespaces of
    their own (ip netns exec)."""
    import json
    import sys

    client = H2Client(int(sys.argv[1]))
    print(json.dumps([client.connect(target)[1] for target in sys.argv[2:]]))
    client.sock.close()


if __name__ == "__main__":
    main()
