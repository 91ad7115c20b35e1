"""Summarizes perf/syscalls.sh's trace: per GB (bulk) or per round trip (pingpong), for each
hbone process, system calls by kind with the mean bytes each read/write moved, loop
wake-ups (epoll_wait), epoll_ctl calls, HTTP/2 frames sent by type and TLS records."""
import collections
import json
import re
import sys

mode, folder, client_pid, gateway_pid, label = sys.argv[1:6]
def per_unit(run):
    """Factor from totals to figures per GB or per round trip, for the traced or untraced run."""
    units = int(open(f"{folder}/units-{run}").read())
    return (1e9 if mode == "bulk" else 1) / units


units = int(open(f"{folder}/units-traced").read())
scale = per_unit("traced")
per = "per GB" if mode == "bulk" else "per round trip"
names = {client_pid: "client", gateway_pid: "gateway"}

calls = collections.Counter()
moved = collections.Counter()
for line in open(f"{folder}/trace.txt"):
    m = re.match(r"\s*(\d+)\s+syscalls:sys_(enter|exit)_(\w+):\s*(\S*)", line)
    if not m or m.group(1) not in names:
        continue
    key = (names[m.group(1)], m.group(3))
    calls[key] += 1
    if m.group(2) == "exit":
        ret = int(m.group(4), 16) if m.group(4).startswith("0x") else int(m.group(4) or 0)
        if ret < 1 << 62:  # errors are negative, shown as huge unsigned values
            moved[key] += ret


def frames(process):
    def read(when):
        counts = collections.Counter()
        for line in open(f"{folder}/{process}-{when}.prom"):
            m = re.match(r'hbone_h2_frames_sent_total\{.*type="(\w+)".*\} (\S+)', line)
            if m:
                counts[m.group(1)] += float(m.group(2))
        return counts
    return read("after") - read("before")


def records_sent(process):
    """TLS records the process sealed (connections that use hbone's record layer)."""
    def total(when):
        found = []

        def walk(node):
            if isinstance(node, dict):
                if "tls_records" in node:
                    found.append(node["tls_records"]["sent"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)
        walk(json.load(open(f"{folder}/{process}-{when}.json")))
        return sum(found) if found else None
    before, after = total("before"), total("after")
    return None if after is None else after - (before or 0)


print(f"== {label} ({mode}, {per}; {units} {'bytes' if mode == 'bulk' else 'round trips'})")
cpu = dict(zip(("client", "gateway"), map(float, open(f"{folder}/cpu").read().split())))
for process in ("client", "gateway"):
    cpu_scale = per_unit("untraced")
    cpu_figure = (f"{cpu[process] * cpu_scale:.2f} CPU s" if mode == "bulk"
                  else f"{cpu[process] * cpu_scale * 1e6:.1f} CPU us")
    print(f"  {process}: {cpu_figure}")
    total = 0
    for (who, call), n in sorted(calls.items()):
        if who != process:
            continue
        total += n
        size = f"  mean {moved[(who, call)] / n:,.0f} B" if call not in ("epoll_wait", "epoll_pwait", "epoll_ctl") else ""
        print(f"    {call:<12} {n * scale:>12,.1f}{size}")
    print(f"    {'all':<12} {total * scale:>12,.1f}")
    sent = frames(process)
    print("    frames sent: " + ", ".join(f"{t} {n * scale:,.2f}" for t, n in sorted(sent.items()) if n))
    records = records_sent(process)
    if records is not None:
        print(f"    TLS records sent: {records * scale:,.2f}")
