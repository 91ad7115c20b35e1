"""An unmodified application for the mesh tests, run inside a test namespace with
`ip netns exec` (the test process itself stays in the host namespace). Prints one JSON
line per finished connection (server) or one JSON result (client).

  mesh_app.py serve PORT MODE [BYTES]   MODE: talkfirst (send BYTES, FIN, then read to EOF)
                                        or reset (accept, close with RST)
  mesh_app.py talk HOST PORT BYTES      read to EOF first, then send BYTES and FIN
"""

import hashlib
import json
import random
import socket
import struct
import sys
import threading


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


def serve(port, mode, size):
    listener = socket.create_server(("0.0.0.0", port), backlog=64, reuse_port=False)
    print(json.dumps({"listening": port}), flush=True)
    data = payload(size, 2) if mode == "talkfirst" else b""

    def handle(conn, peer):
        result = {"peer": peer[0]}
        try:
            if mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
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
    except OSError as e:
        result["error"] = str(e)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    else:
        talk(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
