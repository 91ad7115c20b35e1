#!/usr/bin/python3
"""A fake SPIFFE agent of hbone's own: the Workload API's X.509-SVID stream
(SpiffeWorkloadAPI.FetchX509SVID) as SPIRE's agent serves it to a workload, on Google's
gRPC (Debian's python3-grpcio) over a unix socket, with message classes protoc generates
from hbone's proto/ files. It issues from the dev CA.

    fake_spiffe_agent.py --socket PATH --ca CA_CERT CA_KEY --id SPIFFE_ID [--ttl SECONDS]
                         [--federate TRUST_DOMAIN CERT]

Prints "CONTROL <http port>" once serving; exits when its stdin closes. As the standard
asks of an agent, a call without the `workload.spiffe.io: true` metadata is refused
(INVALID_ARGUMENT), before anything else. The control API (JSON over HTTP on 127.0.0.1):
  POST /rotate   a new key and SVID, sent to every open stream; {"serial": ...}; with
                 {"mismatched": true} the SVID comes with another key (a broken message)
  POST /deny     calls from now on fail PERMISSION_DENIED ("no identity issued", as an agent
                 answers a workload it has no entry for); {"allow": true} undoes it
  GET  /calls    every call received, in order: {"time", "metadata", "refused": status or null}
  GET  /issued   the serials sent, in order
"""
import argparse
import os
import queue
import sys
import threading
import time
from concurrent import futures

import grpc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import control_api
from dev_ca import DevCa
from proto_messages import compile_protos

PATH = "/SpiffeWorkloadAPI/FetchX509SVID"


class Agent:
    def __init__(self, ca, spiffe_id, ttl, federated):
        from spiffe.workload import workload_pb2
        self.pb = workload_pb2
        self.ca, self.spiffe_id, self.ttl, self.federated = ca, spiffe_id, ttl, federated
        self.lock = threading.Lock()
        self.calls, self.issued, self.streams = [], [], []
        self.deny = False
        self.current = self.issue()

    def issue(self, mismatched=False):
        key = ec.generate_private_key(ec.SECP256R1())
        cert, serial = self.ca.sign(key.public_key(), self.spiffe_id, self.ttl)
        if mismatched:
            key = ec.generate_private_key(ec.SECP256R1())
        der = serialization.Encoding.DER
        response = self.pb.X509SVIDResponse()
        svid = response.svids.add()
        svid.spiffe_id = self.spiffe_id
        svid.x509_svid = cert.public_bytes(der)
        svid.x509_svid_key = key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        svid.bundle = self.ca.cert.public_bytes(der)
        for trust_domain, bundle in self.federated.items():
            response.federated_bundles[trust_domain] = bundle
        self.issued.append(format(serial, "X"))
        return response

    def fetch(self, request, context):
        metadata = dict(context.invocation_metadata())
        call = {"time": time.monotonic(), "metadata": metadata, "refused": None}
        with self.lock:
            self.calls.append(call)
            deny = self.deny
        if metadata.get("workload.spiffe.io") != "true":
            call["refused"] = "INVALID_ARGUMENT"
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "security header missing from request")
        if deny:
            call["refused"] = "PERMISSION_DENIED"
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "no identity issued")
        out = queue.Queue()
        with self.lock:
            self.streams.append(out)
            out.put(self.current)
        context.add_callback(lambda: out.put(None))
        try:
            while (message := out.get()) is not None:
                yield message
        finally:
            with self.lock:
                self.streams.remove(out)

    def rotate(self, body):
        with self.lock:
            message = self.issue(mismatched=body.get("mismatched", False))
            if not body.get("mismatched"):
                self.current = message
            for stream in self.streams:
                stream.put(message)
            return {"serial": self.issued[-1]}

    def set_deny(self, body):
        with self.lock:
            self.deny = not body.get("allow", False)
        return {}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--ca", nargs=2, required=True, metavar=("CA_CERT", "CA_KEY"))
    parser.add_argument("--id", required=True)
    parser.add_argument("--ttl", type=int, default=3600)
    parser.add_argument("--federate", nargs=2, action="append", default=[], metavar=("TRUST_DOMAIN", "CERT"))
    args = parser.parse_args()
    compile_protos()
    from cryptography import x509
    federated = {}
    for trust_domain, path in args.federate:
        with open(path, "rb") as f:
            federated[trust_domain] = x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)
    agent = Agent(DevCa(*args.ca), args.id, args.ttl, federated)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    service, method = PATH[1:].split("/")
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {
        method: grpc.unary_stream_rpc_method_handler(
            agent.fetch, request_deserializer=agent.pb.X509SVIDRequest.FromString,
            response_serializer=lambda m: m.SerializeToString())}),))
    if os.path.exists(args.socket):
        os.unlink(args.socket)  # a previous run's
    server.add_insecure_port(f"unix:{args.socket}")
    server.start()
    control = control_api.serve(
        get={"/calls": lambda: agent.calls, "/issued": lambda: agent.issued},
        post={"/rotate": agent.rotate, "/deny": agent.set_deny})
    print(f"CONTROL {control}", flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), server.stop(0)), daemon=True).start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
