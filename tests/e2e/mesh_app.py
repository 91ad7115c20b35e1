"""An unmodified application for the mesh tests, run inside a test namespace with
`ip netns exec` (the test process itself stays in the host namespace). Prints one JSON
line per finished connection (server) or one JSON result (client).

  mesh_app.py serve PORT MODE [BYTES]   MODE: talkfirst (send BYTES, FIN, then read to EOF),
                                        proxy (read a PROXY v2 header, then talkfirst)
                                        or reset (accept, close with RST)
  mesh_app.py talk HOST PORT BYTES      read to EOF first, then send BYTES and FIN
  mesh_app.py trickle HOST PORT SECONDS 4 KiB every 20 ms for SECONDS (to an echo server)
  mesh_app.py repeat HOST PORT SECONDS  one short exchange after another with an echo
                                        server for SECONDS, a JSON line each
"""

import hashlib
import json
import random
import socket
import struct
import sys
import threading
import time


def payload(n, seed):
    return random.Random(seed).randbytes(n)


def read_to_eof(conn):
    digest, total = hashlib.sha256(), 0
    while True:
        chunk = conn.recv(1 << 18)
        if not chunk:
            return digest.hexdigest(), total
        digest.update(chunk)
        total += len(chunk)


def read_exactly(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise OSError("EOF inside the PROXY header")
        data += chunk
    return data


def read_proxy_header(conn):
    """Source address and TLV 0xD0 (SPIFFE id) of a PROXY v2 header (TCP over IPv4)."""
    head = read_exactly(conn, 16)
    assert head[:12] == b"\r\n\r\n\x00\r\nQUIT\n" and head[12] == 0x21 and head[13] == 0x11, head
    body = read_exactly(conn, struct.unpack("!H", head[14:16])[0])
    source = f"{socket.inet_ntoa(body[0:4])}:{struct.unpack('!H', body[8:10])[0]}"
    tlvs, identity = body[12:], None
    while tlvs:
        kind, length = tlvs[0], struct.unpack("!H", tlvs[1:3])[0]
        if kind == 0xD0:
            identity = tlvs[3:3 + length].decode()
        tlvs = tlvs[3 + length:]
    return {"proxy_source": source, "proxy_destination": socket.inet_ntoa(body[4:8]), "proxy_identity": identity}


def serve(port, mode, size):
    listener = socket.create_server(("0.0.0.0", port), backlog=64, reuse_port=False)
    print(json.dumps({"listening": port}), flush=True)
    data = payload(size, 2) if mode != "reset" else b""

    def handle(conn, peer):
        result = {"peer": peer[0]}
        try:
            if mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                if mode == "proxy":
                    result.update(read_proxy_header(conn))
                conn.sendall(data)
                conn.shutdown(socket.SHUT_WR)  # our half closes while theirs is open
                result["sent_sha256"] = hashlib.sha256(data).hexdigest()
                result["received_sha256"], result["received"] = read_to_eof(conn)
        except OSError as e:
            result["error"] = str(e)
        finally:
            conn.close()
        print(json.dumps(result), flush=True)

    while True:
        conn, peer = listener.accept()
        threading.Thread(target=handle, args=(conn, peer), daemon=True).start()


def talk(host, port, size):
    result = {}
    start = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=60) as conn:
            result["received_sha256"], result["received"] = read_to_eof(conn)
            data = payload(size, 1)
            conn.sendall(data)  # our half is still open after theirs closed
            conn.shutdown(socket.SHUT_WR)
            result["sent_sha256"] = hashlib.sha256(data).hexdigest()
            conn.recv(1)  # the server's close
    except ConnectionResetError:
        result["error"] = "reset"
        result["reset_after"] = time.monotonic() - start
    except OSError as e:
        result["error"] = str(e)
    print(json.dumps(result), flush=True)


def trickle(host, port, seconds):
    """Sends 4 KiB every 20 ms for `seconds` while reading the server's bytes, then half-closes
    and reads to EOF: a transfer that spans whatever happens meanwhile."""
    result = {}
    try:
        with socket.create_connection((host, port), timeout=60) as conn:
            received = {}
            reader = threading.Thread(target=lambda: received.update(zip(("sha256", "count"), read_to_eof(conn))))
            reader.start()
            digest, sent, deadline = hashlib.sha256(), 0, time.monotonic() + seconds
            while time.monotonic() < deadline:
                chunk = payload(4096, sent)
                conn.sendall(chunk)
                digest.update(chunk)
                sent += len(chunk)
                time.sleep(0.02)
            conn.shutdown(socket.SHUT_WR)
            reader.join(60)
            result = {"sent_sha256": digest.hexdigest(), "sent": sent,
                      "received_sha256": received.get("sha256"), "received": received.get("count")}
    except OSError as e:
        result["error"] = str(e)
    print(json.dumps(result), flush=True)


def repeat(host, port, seconds):
    """Connection after connection for `seconds`, each sending 64 bytes and FIN to an echo
    server and reading them back to EOF: {"started": monotonic seconds (one clock for every
    process of the machine), "ok": whole} or "error" for each."""
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        started, result = time.monotonic(), {}
        data = payload(64, n)
        n += 1
        try:
            with socket.create_connection((host, port), timeout=10) as conn:
                conn.sendall(data)
                conn.shutdown(socket.SHUT_WR)
                received = b""
                while chunk := conn.recv(4096):
                    received += chunk
                result["ok"] = received == data
        except OSError as e:
            result["error"] = str(e) or type(e).__name__
            time.sleep(0.02)  # a refusal comes at once: no busy loop
        print(json.dumps({"started": started, **result}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    elif sys.argv[1] == "trickle":
        trickle(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif sys.argv[1] == "repeat":
        repeat(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        talk(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
