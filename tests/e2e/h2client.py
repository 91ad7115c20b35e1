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

    def __init__(self, port, cert="client"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(CERTS / "ca.pem")
        ctx.load_cert_chain(CERTS / f"{cert}.pem", CERTS / f"{cert}-key.pem")
        ctx.check_hostname = False
        ctx.set_alpn_protocols(["h2"])
        self.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5))
        assert self.sock.selected_alpn_protocol() == "h2"
        # Validation off: sending malformed requests is the point.
        config = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False,
                                           normalize_outbound_headers=False,
                                           validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.flush()
        self.events = []

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
