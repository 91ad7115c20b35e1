"""OpenSSL 3 as the TLS peer of hbone: a relay that speaks TLS 1.3 through Debian's
libssl.so.3 (ctypes; Python's ssl module can neither pick TLS 1.3 suites nor send a
KeyUpdate) on one side and plain TCP on the other. HTTP/2 stays hbone's own on both ends
(the other end runs with tls.plaintext_h2c), so what meets OpenSSL is hbone's TLS: the
record layer, its KeyUpdates, its alerts.

    relay = OpenSSLRelay(upstream_port, tls_side="upstream", suite="TLS_AES_256_GCM_SHA384",
                         cert="client", key_update_after=16 << 20)

tls_side="upstream": accepts plain TCP and dials `upstream_port` as a TLS client;
tls_side="downstream": accepts TLS as a server and dials `upstream_port` in plain TCP.
After `key_update_after` bytes each way it asks the peer for a KeyUpdate (update_requested),
so both directions change keys mid-transfer."""

import ctypes
import select
import socket
import struct
import threading

from harness import CERTS, TargetServer

_ssl = ctypes.CDLL("libssl.so.3")
_crypto = ctypes.CDLL("libcrypto.so.3")
for name, restype, argtypes in [
    ("TLS_client_method", ctypes.c_void_p, []),
    ("TLS_server_method", ctypes.c_void_p, []),
    ("SSL_CTX_new", ctypes.c_void_p, [ctypes.c_void_p]),
    ("SSL_CTX_free", None, [ctypes.c_void_p]),
    ("SSL_CTX_ctrl", ctypes.c_long, [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]),
    ("SSL_CTX_set_ciphersuites", ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
    ("SSL_CTX_use_certificate_chain_file", ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
    ("SSL_CTX_use_PrivateKey_file", ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]),
    ("SSL_CTX_load_verify_locations", ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]),
    ("SSL_CTX_set_verify", None, [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]),
    ("SSL_CTX_set_alpn_protos", ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint]),
    ("SSL_CTX_set_alpn_select_cb", None, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]),
    ("SSL_new", ctypes.c_void_p, [ctypes.c_void_p]),
    ("SSL_free", None, [ctypes.c_void_p]),
    ("SSL_set_fd", ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    ("SSL_set_connect_state", None, [ctypes.c_void_p]),
    ("SSL_set_accept_state", None, [ctypes.c_void_p]),
    ("SSL_do_handshake", ctypes.c_int, [ctypes.c_void_p]),
    ("SSL_read", ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]),
    ("SSL_write", ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]),
    ("SSL_get_error", ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    ("SSL_key_update", ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    ("SSL_shutdown", ctypes.c_int, [ctypes.c_void_p]),
    ("SSL_get_current_cipher", ctypes.c_void_p, [ctypes.c_void_p]),
    ("SSL_CIPHER_get_name", ctypes.c_char_p, [ctypes.c_void_p]),
    ("SSL_get_version", ctypes.c_char_p, [ctypes.c_void_p]),
]:
    function = getattr(_ssl, name)
    function.restype, function.argtypes = restype, argtypes
_crypto.ERR_get_error.restype = ctypes.c_ulong
_crypto.ERR_error_string_n.argtypes = [ctypes.c_ulong, ctypes.c_char_p, ctypes.c_size_t]

SSL_CTRL_MODE, SSL_CTRL_SET_MIN_PROTO_VERSION = 33, 123
SSL_MODE_ENABLE_PARTIAL_WRITE, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER = 1, 2
TLS1_3_VERSION = 0x0304
SSL_FILETYPE_PEM = 1
SSL_VERIFY_PEER_REQUIRED = 0x01 | 0x02  # SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE, SSL_ERROR_ZERO_RETURN = 2, 3, 6
SSL_KEY_UPDATE_REQUESTED = 1
SSL_TLSEXT_ERR_OK, SSL_TLSEXT_ERR_ALERT_FATAL = 0, 2

TLS13_SUITES = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]

_ALPN_SELECT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                                ctypes.POINTER(ctypes.c_ubyte), ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p)
_H2 = ctypes.create_string_buffer(b"h2", 2)


@_ALPN_SELECT
def _select_h2(_ssl_ptr, out, outlen, offered, offered_len, _arg):
    data = ctypes.string_at(offered, offered_len)
    at = 0
    while at < len(data):
        n = data[at]
        if data[at + 1:at + 1 + n] == b"h2":
            out[0] = ctypes.cast(_H2, ctypes.c_void_p)
            outlen[0] = 2
            return SSL_TLSEXT_ERR_OK
        at += 1 + n
    return SSL_TLSEXT_ERR_ALERT_FATAL


def _last_error():
    buffer = ctypes.create_string_buffer(256)
    _crypto.ERR_error_string_n(_crypto.ERR_get_error(), buffer, 256)
    return buffer.value.decode()


class OpenSSLRelay:
    def __init__(self, upstream_port, tls_side, suite, cert, key_update_after=16 << 20):
        assert tls_side in ("upstream", "downstream") and suite in TLS13_SUITES
        self.upstream_port = upstream_port
        self.tls_side = tls_side
        self.key_update_after = key_update_after
        self.server = tls_side == "downstream"
        self.ctx = _ssl.SSL_CTX_new(_ssl.TLS_server_method() if self.server else _ssl.TLS_client_method())
        assert _ssl.SSL_CTX_ctrl(self.ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_3_VERSION, None) == 1
        _ssl.SSL_CTX_ctrl(self.ctx, SSL_CTRL_MODE,
                          SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, None)
        assert _ssl.SSL_CTX_set_ciphersuites(self.ctx, suite.encode()) == 1, _last_error()
        assert _ssl.SSL_CTX_use_certificate_chain_file(self.ctx, str(CERTS / f"{cert}.pem").encode()) == 1
        assert _ssl.SSL_CTX_use_PrivateKey_file(self.ctx, str(CERTS / f"{cert}-key.pem").encode(),
                                                SSL_FILETYPE_PEM) == 1
        assert _ssl.SSL_CTX_load_verify_locations(self.ctx, str(CERTS / "ca.pem").encode(), None) == 1
        _ssl.SSL_CTX_set_verify(self.ctx, SSL_VERIFY_PEER_REQUIRED, None)
        if self.server:
            _ssl.SSL_CTX_set_alpn_select_cb(self.ctx, ctypes.cast(_select_h2, ctypes.c_void_p), None)
        else:
            assert _ssl.SSL_CTX_set_alpn_protos(self.ctx, b"\x02h2", 3) == 0  # 0 is success here
        self.sessions = []  # per connection: cipher, version, key updates requested, error
        self._lock = threading.Lock()
        self.listener = TargetServer(self._relay, backlog=16)  # a thread per accepted connection
        self.port = self.listener.port

    def _relay(self, accepted):
        session = {"cipher": None, "version": None, "key_updates_requested": 0, "error": None}
        with self._lock:
            self.sessions.append(session)
        dialled = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
        tls_sock, plain = (accepted, dialled) if self.server else (dialled, accepted)
        ssl = _ssl.SSL_new(self.ctx)
        try:
            _ssl.SSL_set_fd(ssl, tls_sock.fileno())
            (_ssl.SSL_set_accept_state if self.server else _ssl.SSL_set_connect_state)(ssl)
            # A blocking handshake (Python's settimeout would make the descriptor non-blocking),
            # bounded by the kernel's receive timeout.
            tls_sock.setblocking(True)
            tls_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 10, 0))
            if _ssl.SSL_do_handshake(ssl) != 1:
                session["error"] = "handshake: " + _last_error()
                return
            session["cipher"] = _ssl.SSL_CIPHER_get_name(_ssl.SSL_get_current_cipher(ssl)).decode()
            session["version"] = _ssl.SSL_get_version(ssl).decode()
            self._pump(ssl, tls_sock, plain, session)
        finally:
            _ssl.SSL_free(ssl)
            tls_sock.close()
            plain.close()

    def _pump(self, ssl, tls_sock, plain, session):
        """Moves bytes both ways until either side ends; one thread, so the SSL object is
        never used concurrently."""
        tls_sock.setblocking(False)
        plain.setblocking(False)
        to_tls, to_plain = bytearray(), bytearray()
        from_tls = from_plain = 0
        tls_open = plain_open = True
        buffer = ctypes.create_string_buffer(1 << 16)
        limit = 4 << 20  # bytes held per direction before reading stops
        while tls_open or to_plain:
            if tls_open and len(to_plain) < limit:
                while True:
                    n = _ssl.SSL_read(ssl, buffer, len(buffer))
                    if n > 0:
                        to_plain += ctypes.string_at(buffer, n)
                        from_tls += n
                        continue
                    error = _ssl.SSL_get_error(ssl, n)
                    if error not in (SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE):
                        tls_open = False
                        if error != SSL_ERROR_ZERO_RETURN:
                            session["error"] = f"SSL_read error {error}: {_last_error()}"
                    break
            if plain_open and len(to_tls) < limit:
                try:
                    data = plain.recv(1 << 18)
                    if data:
                        to_tls += data
                        from_plain += len(data)
                    else:
                        plain_open = False
                except BlockingIOError:
                    pass
            if (session["key_updates_requested"] == 0 and from_tls >= self.key_update_after
                    and from_plain >= self.key_update_after):
                assert _ssl.SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) == 1, _last_error()
                session["key_updates_requested"] = 1
            while to_tls:
                chunk = bytes(to_tls[:1 << 18])
                n = _ssl.SSL_write(ssl, chunk, len(chunk))
                if n <= 0:
                    error = _ssl.SSL_get_error(ssl, n)
                    if error not in (SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE):
                        session["error"] = f"SSL_write error {error}: {_last_error()}"
                        return
                    break
                del to_tls[:n]
            if to_plain:
                try:
                    del to_plain[:plain.send(to_plain)]
                except BlockingIOError:
                    pass
                except OSError:
                    return
            if not plain_open and not to_tls:
                _ssl.SSL_shutdown(ssl)  # the plain side ended: close_notify
                return
            readable = [s for s, want in ((tls_sock, tls_open and len(to_plain) < limit),
                                          (plain, plain_open and len(to_tls) < limit)) if want]
            writable = [s for s, want in ((tls_sock, bool(to_tls)), (plain, bool(to_plain))) if want]
            select.select(readable, writable, [], 1.0)

    def close(self):
        self.listener.sock.close()
