"""N round trips of 64 bytes, one at a time, through PORT on 127.0.0.1; prints the mean."""
import socket
import sys
import time

port, count = int(sys.argv[1]), int(sys.argv[2])
message = bytes(range(64))
with socket.create_connection(("127.0.0.1", port)) as s:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start = time.perf_counter()
    for _ in range(count):
        s.sendall(message)
        got = b""
        while len(got) < len(message):
            chunk = s.recv(len(message) - len(got))
            if not chunk:
                sys.exit("connection closed")
            got += chunk
        if got != message:
            sys.exit("echo differs")
    elapsed = time.perf_counter() - start
print(f"{count} round trips, mean {elapsed / count * 1e6:.1f} us")
