"""A TCP relay between the client and the gateway that can break the connections it
carries the way networks do: silently (a blackhole: bytes vanish, nothing is closed) or
abruptly (the next byte a client sends is answered with a reset, as after a NAT or
conntrack entry expired). Connections accepted after the break are relayed normally."""

import socket
import struct
import threading


class FaultyRelay:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.upstream_port = None
        self.accepted = 0
        self._pairs = []  # [client socket, upstream socket, mode]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def break_existing(self, mode):
        """mode: "blackhole" or "reset"; applies to the connections open now."""
        with self._lock:
            for pair in self._pairs:
                pair[2] = mode

    def _accept_loop(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:  # nothing listens upstream (being restarted): refuse this one
                client.close()
                continue
            pair = [client, upstream, "relay"]
            with self._lock:
                self.accepted += 1
                self._pairs.append(pair)
            threading.Thread(target=self._pump, args=(pair, 0, 1), daemon=True).start()
            threading.Thread(target=self._pump, args=(pair, 1, 0), daemon=True).start()

    def _pump(self, pair, src, dst):
        while True:
            try:
                data = pair[src].recv(1 << 16)
            except OSError:
                data = b""
            mode = pair[2]
            if not data:
                if mode == "relay":
                    try:
                        pair[dst].shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                return
            if mode == "blackhole":
                continue
            if mode == "reset":
                for s in pair[:2]:
                    try:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    except OSError:
                        pass  # the other direction got there first
                    s.close()
                return
            try:
                pair[dst].sendall(data)
            except OSError:
                return

    def close(self):
        self.sock.close()
