#!/usr/bin/python3
"""A gRPC server on Google's own implementation (Debian's python3-grpcio), for testing
hbone's gRPC client against the real wire protocol: /hbone.test.Echo/* on raw bytes.

    grpc_test_server.py [--tls CERT KEY]

Listens on 127.0.0.1, port chosen by the kernel, and prints "PORT <n>" once serving.
Keepalive is enforced as istiod (grpc-go) does, at a 30th of its scale: a PING less than
500 ms after the previous one, or any PING while no call is open, is a strike, and the
third strike ends the connection (GOAWAY ENHANCE_YOUR_CALM "too_many_pings").
Methods (requests and responses are plain bytes, no protobuf):
  Unary         echoes the request; b"metadata" answers with the call's metadata, one
                "name=value" line each; b"deadline" with the seconds its deadline leaves
  Fail          b"<code> <message>": ends with that status code and message
  Slow          b"<ms>": answers after that long (or never, if the deadline passes first)
  Stream        bidi: echoes each message; b"big <n>" answers with n bytes; b"end <code>
                <message>" ends the call with that status; the client's half-close ends it OK
  Count         b"<n>": n messages b"0".."n-1", then OK
"""
import argparse
import sys
import threading
import time
from concurrent import futures

import grpc


def unary(request, context):
    if request == b"metadata":
        return "".join(f"{k}={v}\n" for k, v in context.invocation_metadata()).encode()
    if request == b"deadline":
        return str(context.time_remaining()).encode()
    return request


def fail(request, context):
    code, _, message = request.decode().partition(" ")
    context.abort(grpc.StatusCode([c for c in grpc.StatusCode if c.value[0] == int(code)][0]), message)


def slow(request, context):
    time.sleep(int(request) / 1000)
    return b"late"


def stream(requests, context):
    for request in requests:
        if request.startswith(b"big "):
            yield b"x" * int(request[4:])
        elif request.startswith(b"end "):
            fail(request[4:], context)
        else:
            yield request


def count(request, context):
    for i in range(int(request)):
        yield str(i).encode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", 64 << 20),
                                  ("grpc.max_send_message_length", 64 << 20),
                                  ("grpc.http2.min_ping_interval_without_data_ms", 500),
                                  ("grpc.http2.max_ping_strikes", 2),
                                  ("grpc.keepalive_permit_without_calls", 0)])
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
        "Stream": grpc.stream_stream_rpc_method_handler(stream),
        "Count": grpc.unary_stream_rpc_method_handler(count),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("hbone.test.Echo", handlers),))
    if args.tls:
        with open(args.tls[0], "rb") as cert, open(args.tls[1], "rb") as key:
            credentials = grpc.ssl_server_credentials([(key.read(), cert.read())])
        port = server.add_secure_port("127.0.0.1:0", credentials)
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"PORT {port}", flush=True)
    # Until killed (the test's teardown) or stdin closes (the test process died).
    threading.Thread(target=lambda: (sys.stdin.read(), server.stop(0)), daemon=True).start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
