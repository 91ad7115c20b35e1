#!/usr/bin/python3
"""The Istio CNI agent's side of ZDS, as the node proxy meets it (istio-cni's
ztunnelserver, ztunnel's proto/zds.proto): a unix SOCK_SEQPACKET socket node proxies
connect to; each says hello first; the agent then sends it every pod it holds (AddWorkload
with the pod's network namespace as SCM_RIGHTS), SnapshotSent, and afterwards changes, one
request per packet, waiting for the answer (an Ack, error empty) to each before the next.
Like istio-cni's, it holds several proxies at once (a DaemonSet rolling with maxSurge: the
new proxy starts while the old one drains): a new pod goes to the latest, a deleted one to
every proxy.

    fake_cni_agent.py --socket PATH

Prints {"listening": PATH} once bound, then one JSON line per event, `conn` numbering the
proxies' connections from 1:
  {"hello": VERSION, "conn": C}                 a node proxy connected and said hello
  {"sent": KIND, "uid": U, "error": E, "conn": C}  a request and the answer to it
                                                (E "" = ack); "error": null when the proxy
                                                closed instead
  {"disconnected": C}                           that proxy went away
Commands on stdin, one JSON object per line (exits when stdin closes):
  {"add": UID, "netns": PATH, "name": N, "namespace": NS, "service_account": SA}
                     holds the pod; sends it now to the latest proxy
  {"del": UID}       forgets the pod; sends the delete to every proxy
  {"raw": BASE64, "fds": [PATH...]}   sends these bytes with these files' descriptors (latest)
  {"drop": true}     closes every connection (the proxies are expected to come back)
  {"restart": true, "forget": [UID...], "keep": [UID...], "away": SECONDS}
                     closes the connections and the socket and, SECONDS later (default 0),
                     binds it again: an agent restart. While it was away the pods in
                     `forget` went (the snapshot leaves them out) and those in `keep` lost
                     their namespace to it (the snapshot names them with KeepWorkload); the
                     others it holds as before.
"""
import argparse
import base64
import json
import os
import select
import socket
import time

from proto_messages import compile_protos

compile_protos()
from istio.workload.zds import zds_pb2  # noqa: E402

ANSWER_TIMEOUT = 10


def say(**event):
    print(json.dumps(event), flush=True)


class Connection:
    """One node proxy's connection."""

    def __init__(self, sock, number):
        self.sock = sock
        self.number = number


class Agent:
    def __init__(self, path):
        self.path = path
        self.pods = {}  # uid -> add command, in order
        self.keeps = []  # pods whose namespace this agent lost (sent as KeepWorkload)
        self.conns = []  # oldest first
        self.accepted = 0
        self.listener = None
        self.listen()

    def listen(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(self.path)
        self.listener.listen(8)

    def send(self, conn, kind, uid, request, fds=()):
        """One request and its answer; False when the proxy went away instead."""
        data = request.SerializeToString() if not isinstance(request, bytes) else request
        try:
            if fds:
                socket.send_fds(conn.sock, [data], list(fds))
            else:
                conn.sock.send(data)
            conn.sock.settimeout(ANSWER_TIMEOUT)
            answer = conn.sock.recv(4096)
            conn.sock.settimeout(None)
        except OSError:
            answer = b""
        if not answer:
            say(sent=kind, uid=uid, error=None, conn=conn.number)
            self.lost(conn)
            return False
        response = zds_pb2.WorkloadResponse.FromString(answer)
        say(sent=kind, uid=uid, error=response.ack.error, conn=conn.number)
        return True

    def send_add(self, conn, pod):
        fd = os.open(pod["netns"], os.O_RDONLY | os.O_CLOEXEC)
        try:
            request = zds_pb2.WorkloadRequest(add=zds_pb2.AddWorkload(
                uid=pod["add"], workload_info=zds_pb2.WorkloadInfo(
                    name=pod.get("name", ""), namespace=pod.get("namespace", ""),
                    service_account=pod.get("service_account", ""))))
            return self.send(conn, "add", pod["add"], request, [fd])
        finally:
            os.close(fd)

    def accept(self):
        sock, _ = self.listener.accept()
        self.accepted += 1
        conn = Connection(sock, self.accepted)
        self.conns.append(conn)
        sock.settimeout(ANSWER_TIMEOUT)
        try:
            hello = sock.recv(4096)
        except OSError:
            hello = b""
        sock.settimeout(None)
        if not hello:
            self.lost(conn)
            return
        say(hello=zds_pb2.ZdsHello.FromString(hello).version, conn=conn.number)
        for pod in list(self.pods.values()):
            if not self.send_add(conn, pod):
                return
        for uid in self.keeps:
            if not self.send(conn, "keep", uid, zds_pb2.WorkloadRequest(keep=zds_pb2.KeepWorkload(uid=uid))):
                return
        self.send(conn, "snapshot_sent", "", zds_pb2.WorkloadRequest(snapshot_sent=zds_pb2.SnapshotSent()))

    def lost(self, conn):
        if conn in self.conns:
            conn.sock.close()
            self.conns.remove(conn)
            say(disconnected=conn.number)

    def command(self, c):
        if "add" in c:
            self.pods[c["add"]] = c
            if self.conns:
                self.send_add(self.conns[-1], c)
        elif "del" in c:
            self.pods.pop(c["del"], None)
            for conn in list(self.conns):
                # `del` is a Python keyword: the field is set by name.
                self.send(conn, "del", c["del"], zds_pb2.WorkloadRequest(**{"del": zds_pb2.DelWorkload(uid=c["del"])}))
        elif "raw" in c:
            fds = [os.open(p, os.O_RDONLY | os.O_CLOEXEC) for p in c.get("fds", [])]
            try:
                if self.conns:
                    self.send(self.conns[-1], "raw", "", base64.b64decode(c["raw"]), fds)
            finally:
                for fd in fds:
                    os.close(fd)
        elif "drop" in c:
            for conn in list(self.conns):
                self.lost(conn)
        elif "restart" in c:
            for conn in list(self.conns):
                self.lost(conn)
            self.listener.close()
            for uid in c.get("forget", []):
                self.pods.pop(uid, None)
            self.keeps = c.get("keep", [])
            for uid in self.keeps:
                self.pods.pop(uid, None)
            time.sleep(c.get("away", 0))
            self.listen()

    def run(self):
        commands = b""  # read from the descriptor: a buffered stdin would hide lines from select
        while True:
            ready, _, _ = select.select([0, self.listener] + [c.sock for c in self.conns], [], [])
            if 0 in ready:
                chunk = os.read(0, 65536)
                if not chunk:
                    return
                commands += chunk
                while b"\n" in commands:
                    line, commands = commands.split(b"\n", 1)
                    self.command(json.loads(line))
                continue
            for conn in list(self.conns):
                if conn.sock in ready and not conn.sock.recv(4096):  # nothing is due from a proxy: it closed
                    self.lost(conn)
            if self.listener in ready:
                self.accept()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    args = parser.parse_args()
    agent = Agent(args.socket)
    say(listening=args.socket)
    agent.run()


if __name__ == "__main__":
    main()
