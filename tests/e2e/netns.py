"""Hosts for multi-node tests: network namespaces joined by veth pairs to a bridge that
lives in a namespace of its own, so nothing is added to the host's namespace. Addresses
come from 198.18.0.0/15 (RFC 2544's benchmarking range); no namespace gets a route to the
host or beyond. close() deletes every namespace, and with them their veths, bridges and
iptables rules."""

import os
import subprocess

import harness


def available():
    """Why namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "needs root (ip netns, iptables)"
    for tool in ("ip", "iptables"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            return f"needs {tool}"
    return None


class Topology:
    def __init__(self, tag):
        self.tag = f"hb{os.getpid() % 100000}{tag}"
        self.namespaces = []
        self.bridge = self.add_namespace("br")
        self.run(self.bridge, "ip", "link", "add", "br0", "type", "bridge")
        self.run(self.bridge, "ip", "link", "set", "br0", "up")

    def name(self, short):
        return f"{self.tag}-{short}"

    def add_namespace(self, short):
        ns = self.name(short)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)  # a crashed run's leftover
        subprocess.run(["ip", "netns", "add", ns], check=True)
        self.namespaces.append(ns)
        self.run(ns, "ip", "link", "set", "lo", "up")
        return ns

    def add_node(self, short, address):
        """A namespace with eth0 on the bridge at `address` (a /24)."""
        ns = self.add_namespace(short)
        port = f"p-{short}"
        self.run(self.bridge, "ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.run(self.bridge, "ip", "link", "set", port, "master", "br0", "up")
        self.run(ns, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
        self.run(ns, "ip", "link", "set", "eth0", "up")
        return ns

    def link(self, ns, short, address, ns_address):
        """A namespace behind `ns` on a point-to-point veth: `ns` at ns_address, it at address."""
        peer = self.add_namespace(short)
        self.run(ns, "ip", "link", "add", f"to-{short}", "type", "veth", "peer", "name", "eth0", "netns", peer)
        self.run(ns, "ip", "addr", "add", f"{ns_address}/24", "dev", f"to-{short}")
        self.run(ns, "ip", "link", "set", f"to-{short}", "up")
        self.run(peer, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
        self.run(peer, "ip", "link", "set", "eth0", "up")
        return peer

    def run(self, ns, *args, check=True):
        return subprocess.run(["ip", "netns", "exec", ns, *args], capture_output=True, text=True, check=check)

    def spawn(self, ns, *args, **kwargs):
        return harness.spawn(["ip", "netns", "exec", ns, *args], **kwargs)

    def close(self):
        for ns in reversed(self.namespaces):
            # Processes still inside keep a namespace's devices alive: kill them first.
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:
                subprocess.run(["kill", "-9", pid], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces.clear()


def topology(tag):
    """A Topology for one test, closed after it, pass or fail: a fixture's
    `yield from netns.topology(tag)`."""
    topo = Topology(tag)
    try:
        yield topo
    finally:
        topo.close()
