#!/usr/bin/python3
"""A fake istiod of hbone's own: the delta-ADS service a ztunnel talks to, on Google's gRPC
(Debian's python3-grpcio) with message classes protoc generates from hbone's proto/ files,
over TLS with the dev istiod certificate. Tests push resources to it on command and read
back every request hbone sent (ACKs, NACKs with their error_detail, the initial versions).

    fake_istiod.py --cert C --key K [--listen IP] [--port N] [--token T] [--state FILE]
                   [--ca CA_CERT CA_KEY] [--cert-ttl SECONDS]

Serves on IP (127.0.0.1 by default) and prints "PORT <grpc port>" and "CONTROL <http port>"
once serving; it exits when its stdin closes. The control API (JSON over HTTP on 127.0.0.1):
  POST /push      {"type": "address"|"authorization", "resources": [R...], "removed": [names]}
                  stores them (each resource's version goes up) and sends one response with
                  exactly these to every open stream; answers {"nonce": ..., "sent": T}
  GET  /requests  every DeltaDiscoveryRequest received, in order, as JSON (each with its
                  arrival "time", on the same monotonic clock as "sent")
  GET  /state     {"address": {name: version}, "authorization": {...}}
  POST /end       ends every open stream with UNAVAILABLE (as a restarting istiod does)
A resource R is {"name": N, "workload": {...}} or {"name": N, "service": {...}} (address), or
{"name": N, "authorization": {...}}, in protobuf's JSON form, except that IP addresses are
written as text ("198.18.0.1"); {"name": N, "raw": "<base64>"} sends those bytes as the
resource's value (a resource that cannot be decoded).
With --ca it is istiod's CA too (IstioCertificateService.CreateCertificate): it checks the
token, verifies the CSR's signature, and signs its one URI SAN for the lifetime asked
(validity_duration) or --cert-ttl if shorter, returning [leaf, CA] as istiod does; each CSR
is recorded among the requests as {"type": "csr", "identity": ..., "ttl": ..., "serial": ...,
"impersonated": the ImpersonatedIdentity a node proxy named, or null}.
With --state, the resources survive a restart (the file is rewritten on each push): a
client that reconnects with initial_resource_versions gets what changed, and removals.
"""
import argparse
import base64
import ipaddress
import itertools
import json
import os
import queue
import sys
import threading
import time
from concurrent import futures

import grpc

import control_api
from dev_ca import DevCa
from proto_messages import compile_protos


def load_messages():
    """Python classes for hbone's own .proto files, generated now by Debian's protoc."""
    compile_protos()
    global discovery_pb2, workload_pb2, authorization_pb2, ca_pb2, json_format
    from envoy.service.discovery.v3 import discovery_pb2
    from istio.v1.auth import ca_pb2
    from istio.workload import workload_pb2
    from istio.security import authorization_pb2
    from google.protobuf import json_format


TYPES = {
    "address": "type.googleapis.com/istio.workload.Address",
    "authorization": "type.googleapis.com/istio.security.Authorization",
}
ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"
CA = "/istio.v1.auth.IstioCertificateService/CreateCertificate"


def ips_to_bytes(value, key=None):
    """protobuf JSON wants bytes as base64: IP addresses written as text are packed here."""
    if isinstance(value, dict):
        return {k: ips_to_bytes(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [ips_to_bytes(v, key) for v in value]
    if key in ("address", "addresses") and isinstance(value, str):
        try:
            return base64.b64encode(ipaddress.ip_address(value).packed).decode()
        except ValueError:
            return value
    return value


def encode(kind, resource):
    """A resource of the control API as (type_url, serialized message)."""
    if "raw" in resource:
        return TYPES[kind], base64.b64decode(resource["raw"])
    if kind == "address":
        message = workload_pb2.Address()
        body = {k: v for k, v in resource.items() if k in ("workload", "service")}
    else:
        message = authorization_pb2.Authorization()
        body = resource["authorization"]
    json_format.ParseDict(ips_to_bytes(body), message)
    return TYPES[kind], message.SerializeToString()


class Istiod:
    def __init__(self, token, state_file):
        self.lock = threading.Lock()
        self.token = token
        self.state_file = state_file
        # kind -> name -> {"version": str, "resource": R}
        self.state = {"address": {}, "authorization": {}}
        self.requests = []
        self.streams = []  # queues of open streams
        self.nonces = itertools.count(1)
        self.versions = itertools.count(1)
        if state_file and os.path.exists(state_file):
            with open(state_file) as f:
                saved = json.load(f)
            self.state = saved["state"]
            self.versions = itertools.count(saved["next_version"])

    def save(self, next_version):
        if not self.state_file:
            return
        with open(self.state_file + ".tmp", "w") as f:
            json.dump({"state": self.state, "next_version": next_version}, f)
        os.replace(self.state_file + ".tmp", self.state_file)

    def response(self, kind, names, removed):
        r = discovery_pb2.DeltaDiscoveryResponse(type_url=TYPES[kind], nonce=str(next(self.nonces)),
                                                 system_version_info="v" + str(next(self.nonces)))
        for name in names:
            entry = self.state[kind][name]
            type_url, value = encode(kind, entry["resource"])
            res = r.resources.add(name=name, version=entry["version"])
            res.resource.type_url = type_url
            res.resource.value = value
        r.removed_resources.extend(removed)
        return r

    def push(self, kind, resources, removed):
        with self.lock:
            for resource in resources:
                self.state[kind][resource["name"]] = {"version": str(next(self.versions)), "resource": resource}
            for name in removed:
                self.state[kind].pop(name, None)
            self.save(next(self.versions))
            r = self.response(kind, [res["name"] for res in resources], removed)
            sent = time.monotonic()
            for stream in self.streams:
                stream.put(r)
            return r.nonce, sent

    def end_streams(self):
        with self.lock:
            for stream in self.streams:
                stream.put(None)

    def ads(self, requests, context):
        metadata = dict(context.invocation_metadata())
        if self.token and metadata.get("authorization") != "Bearer " + self.token:
            with self.lock:
                self.requests.append({"rejected": "authentication failure", "metadata": metadata})
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "authentication failure")
        out = queue.Queue()
        with self.lock:
            self.streams.append(out)
        context.add_callback(lambda: out.put(None))

        def read():
            try:
                for request in requests:
                    self.received(request, metadata, out)
            except grpc.RpcError:
                pass
            out.put(None)

        threading.Thread(target=read, daemon=True).start()
        try:
            while True:
                r = out.get()
                if r is None:
                    break
                yield r
        finally:
            with self.lock:
                self.streams.remove(out)
        if context.is_active():
            context.abort(grpc.StatusCode.UNAVAILABLE, "istiod is going away")

    def received(self, request, metadata, out):
        kind = next((k for k, url in TYPES.items() if url == request.type_url), None)
        record = {"type": kind or request.type_url, "nonce": request.response_nonce, "time": time.monotonic(),
                  "error": request.error_detail.message if request.HasField("error_detail") else None}
        initial = not request.response_nonce
        if initial:
            record["initial"] = dict(request.initial_resource_versions)
            record["node"] = request.node.id
            record["node_metadata"] = json_format.MessageToDict(request.node.metadata)
            record["metadata"] = metadata
        with self.lock:
            self.requests.append(record)
            if initial and kind:
                # Delta xDS on (re)connect: what the client lacks or holds at another
                # version, and the removal of what it holds that is gone.
                known = request.initial_resource_versions
                names = [n for n, e in self.state[kind].items() if known.get(n) != e["version"]]
                removed = [n for n in known if n not in self.state[kind]]
                out.put(self.response(kind, names, removed))


class CertificateAuthority:
    """istiod's CA: signs a CSR's one SPIFFE id with the dev CA."""

    def __init__(self, istiod, ca_cert, ca_key, max_ttl):
        self.istiod = istiod
        self.ca = DevCa(ca_cert, ca_key)
        self.max_ttl = max_ttl

    def create(self, request, context):
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        metadata = dict(context.invocation_metadata())
        if self.istiod.token and metadata.get("authorization") != "Bearer " + self.istiod.token:
            with self.istiod.lock:
                self.istiod.requests.append({"type": "csr", "rejected": "authentication failure", "metadata": metadata})
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "authentication failure")
        csr = x509.load_pem_x509_csr(request.csr.encode())
        if not csr.is_signature_valid:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "CSR signature invalid")
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        ids = sans.get_values_for_type(x509.UniformResourceIdentifier)
        if len(ids) != 1:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"CSR names {len(ids)} identities")
        # A node proxy asking on a workload's behalf names it in the request's metadata;
        # istiod then signs that identity only (security/pkg/server/ca/server.go).
        impersonated = None
        if request.HasField("metadata") and "ImpersonatedIdentity" in request.metadata.fields:
            impersonated = request.metadata.fields["ImpersonatedIdentity"].string_value
            if impersonated != ids[0]:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"CSR names {ids[0]}, the request impersonates {impersonated}")
        ttl = min(request.validity_duration or self.max_ttl, self.max_ttl)
        cert, serial = self.ca.sign(csr.public_key(), ids[0], ttl)
        with self.istiod.lock:
            self.istiod.requests.append({"type": "csr", "identity": ids[0], "ttl": ttl, "serial": format(serial, "X"),
                                         "time": time.monotonic(), "metadata": metadata,
                                         "impersonated": impersonated})
        response = ca_pb2.IstioCertificateResponse()
        response.cert_chain.append(cert.public_bytes(serialization.Encoding.PEM).decode())
        response.cert_chain.append(self.ca.pem.decode())
        return response


def control_server(istiod):
    def locked(f):
        def run(*args):
            with istiod.lock:
                return f(*args)
        return run

    def push(body):
        nonce, sent = istiod.push(body["type"], body.get("resources", []), body.get("removed", []))
        return {"nonce": nonce, "sent": sent}

    return control_api.serve(
        get={"/requests": locked(lambda: istiod.requests),
             "/state": locked(lambda: {k: {n: e["version"] for n, e in v.items()} for k, v in istiod.state.items()})},
        post={"/push": push, "/end": lambda body: (istiod.end_streams(), {})[1]})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--listen", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token")
    parser.add_argument("--state")
    parser.add_argument("--ca", nargs=2, metavar=("CA_CERT", "CA_KEY"))
    parser.add_argument("--cert-ttl", type=int, default=86400)
    args = parser.parse_args()
    load_messages()
    istiod = Istiod(args.token, args.state)
    # Keepalive enforced as istiod's grpc-go server does (istio pkg/keepalive: MinTime is
    # half its 30 s keepalive Time, no PINGs without calls; the third strike is a GOAWAY).
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16),
                         options=[("grpc.max_send_message_length", 256 << 20), ("grpc.so_reuseport", 0),
                                  ("grpc.http2.min_ping_interval_without_data_ms", 15000),
                                  ("grpc.http2.max_ping_strikes", 2),
                                  ("grpc.keepalive_permit_without_calls", 0)])
    handler = grpc.stream_stream_rpc_method_handler(
        istiod.ads, request_deserializer=lambda b: discovery_pb2.DeltaDiscoveryRequest.FromString(b),
        response_serializer=lambda m: m.SerializeToString())
    service, method = ADS[1:].split("/")
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {method: handler}),))
    if args.ca:
        ca = CertificateAuthority(istiod, args.ca[0], args.ca[1], args.cert_ttl)
        service, method = CA[1:].split("/")
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {
            method: grpc.unary_unary_rpc_method_handler(
                ca.create, request_deserializer=lambda b: ca_pb2.IstioCertificateRequest.FromString(b),
                response_serializer=lambda m: m.SerializeToString())}),))
    with open(args.cert, "rb") as cert, open(args.key, "rb") as key:
        credentials = grpc.ssl_server_credentials([(key.read(), cert.read())])
    port = server.add_secure_port(f"{args.listen}:{args.port}", credentials)
    if port == 0:
        sys.exit(f"cannot listen on {args.listen}:{args.port}")
    server.start()
    control = control_server(istiod)
    print(f"PORT {port}", flush=True)
    print(f"CONTROL {control}", flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), server.stop(0)), daemon=True).start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
