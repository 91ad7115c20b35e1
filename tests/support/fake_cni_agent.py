#!/usr/bin/python3
"""The Istio CNI agent's side of ZDS, as the node proxy meets it (istio-cni's
ztunnelserver, ztunnel's proto/zds.proto): a unix SOCK_SEQPACKET socket the node proxy
connects to; it says hello first; the agent then sends every pod it holds (AddWorkload with
the pod's network namespace as SCM_RIGHTS), SnapshotSent, and afterwards each change, one
request per packet, waiting for the answer (an Ack, error empty) to each before the next.

    fake_cni_agent.py --socket PATH

Prints {"listening": PATH} once bound, then one JSON line per event:
  {"hello": VERSION}                       a node proxy connected and said hello
  {"sent": KIND, "uid": U, "error": E}     a request and the answer to it (E "" = ack);
                                           "error": null when the proxy closed instead
  {"disconnected": true}                   the node proxy went away
Commands on stdin, one JSON object per line (exits when stdin closes):
  {"add": UID, "netns": PATH, "name": N, "namespace": NS, "service_account": SA}
                     holds the pod; sends it now if a proxy is connected
  {"del": UID}       forgets the pod; sends the delete if connected
  {"keep": UID}      the next snapshot names UID with KeepWorkload (an agent that restarted
                     and lost that pod's namespace)
  {"raw": BASE64, "fds": [PATH...]}   sends these bytes with these files' descriptors
  {"drop": true}     closes the connection (the proxy is expected to come back)
  {"restart": true}  closes the connection and the socket and binds it again, empty of
                     keeps (an agent restart; the pods it holds stay held)
"""
import argparse
import base64
import json
import os
import select
import socket

from proto_messages import compile_protos

compile_protos()
from istio.workload.zds import zds_pb2  # noqa: E402

ANSWER_TIMEOUT = 10


def say(**event):
    print(json.dumps(event), flush=True)


class Agent:
    def __init__(self, path):
        self.path = path
        self.pods = {}  # uid -> add command, in order
        self.keeps = []
        self.conn = None
        self.listener = None
        self.listen()

    def listen(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(self.path)
        self.listener.listen(8)

    def send(self, kind, uid, request, fds=()):
        """One request and its answer; False when the proxy went away instead."""
        data = request.SerializeToString() if not isinstance(request, bytes) else request
        try:
            if fds:
                socket.send_fds(self.conn, [data], list(fds))
            else:
                self.conn.send(data)
            self.conn.settimeout(ANSWER_TIMEOUT)
            answer = self.conn.recv(4096)
            self.conn.settimeout(None)
        except OSError:
            answer = b""
        if not answer:
            say(sent=kind, uid=uid, error=None)
            self.lost()
            return False
        response = zds_pb2.WorkloadResponse.FromString(answer)
        say(sent=kind, uid=uid, error=response.ack.error)
        return True

    def send_add(self, pod):
        fd = os.open(pod["netns"], os.O_RDONLY | os.O_CLOEXEC)
        try:
            request = zds_pb2.WorkloadRequest(add=zds_pb2.AddWorkload(
                uid=pod["add"], workload_info=zds_pb2.WorkloadInfo(
                    name=pod.get("name", ""), namespace=pod.get("namespace", ""),
                    service_account=pod.get("service_account", ""))))
            return self.send("add", pod["add"], request, [fd])
        finally:
            os.close(fd)

    def accept(self):
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(ANSWER_TIMEOUT)
        hello = self.conn.recv(4096)
        self.conn.settimeout(None)
        if not hello:
            self.lost()
            return
        say(hello=zds_pb2.ZdsHello.FromString(hello).version)
        for pod in list(self.pods.values()):
            if not self.send_add(pod):
                return
        for uid in self.keeps:
            if not self.send("keep", uid, zds_pb2.WorkloadRequest(keep=zds_pb2.KeepWorkload(uid=uid))):
                return
        self.send("snapshot_sent", "", zds_pb2.WorkloadRequest(snapshot_sent=zds_pb2.SnapshotSent()))

    def lost(self):
        if self.conn:
            self.conn.close()
            self.conn = None
            say(disconnected=True)

    def command(self, c):
        if "add" in c:
            self.pods[c["add"]] = c
            if self.conn:
                self.send_add(c)
        elif "del" in c:
            self.pods.pop(c["del"], None)
            if self.conn:
                # `del` is a Python keyword: the field is set by name.
                self.send("del", c["del"], zds_pb2.WorkloadRequest(**{"del": zds_pb2.DelWorkload(uid=c["del"])}))
        elif "keep" in c:
            self.keeps.append(c["keep"])
        elif "raw" in c:
            fds = [os.open(p, os.O_RDONLY | os.O_CLOEXEC) for p in c.get("fds", [])]
            try:
                self.send("raw", "", base64.b64decode(c["raw"]), fds)
            finally:
                for fd in fds:
                    os.close(fd)
        elif "drop" in c:
            self.lost()
        elif "restart" in c:
            self.lost()
            self.listener.close()
            self.keeps = []
            self.listen()

    def run(self):
        commands = b""  # read from the descriptor: a buffered stdin would hide lines from select
        while True:
            watched = [0] + ([self.conn] if self.conn else [self.listener])  # one proxy at a time
            ready, _, _ = select.select(watched, [], [])
            if 0 in ready:
                chunk = os.read(0, 65536)
                if not chunk:
                    return
                commands += chunk
                while b"\n" in commands:
                    line, commands = commands.split(b"\n", 1)
                    self.command(json.loads(line))
            elif self.conn and self.conn in ready:
                if not self.conn.recv(4096):  # nothing is due from the proxy: it closed
                    self.lost()
            elif self.listener in ready:
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
