"""perf/summarize.py RUNS.csv RESULTS.csv [CHART.csv]
Mean per path and mode over rounds: Gbit/s, ratio to direct, proxy CPU, Gbit/s per core."""
import csv
import statistics
import sys
from collections import defaultdict

runs = list(csv.DictReader(open(sys.argv[1])))
groups = defaultdict(list)
for r in runs:
    groups[(r["path"], r["mode"])].append(r)
rows = []
for (path, mode), rs in groups.items():
    gbps = statistics.mean(float(r["gbps"]) for r in rs)
    cores = statistics.mean((float(r["cpu_after"]) - float(r["cpu_before"])) /
                            (float(r["time_after"]) - float(r["time_before"])) for r in rs)
    rows.append({"path": path, "mode": mode, "gbps": gbps, "proxy_cores": cores,
                 "gbps_per_core": gbps / cores if cores > 0.01 else float("nan"),
                 "spread": (max(float(r["gbps"]) for r in rs) - min(float(r["gbps"]) for r in rs))})
direct = {r["mode"]: r["gbps"] for r in rows if r["path"] == "direct"}
order = {"direct": 0, "socat": 1, "hbone": 2, "h2c": 3, "w2": 4, "go": 5}
rows.sort(key=lambda r: (r["mode"], order.get(r["path"], 9), r["path"]))
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["path", "mode", "gbps", "ratio_to_direct", "proxy_cores", "gbps_per_proxy_core", "spread_gbps"])
    print(f"{'path':<8} {'mode':<4} {'Gbit/s':>7} {'x direct':>9} {'proxy cores':>12} {'Gbit/s/core':>12} {'spread':>7}")
    for r in rows:
        ratio = r["gbps"] / direct[r["mode"]] if direct.get(r["mode"]) else float("nan")
        w.writerow([r["path"], r["mode"], f"{r['gbps']:.3f}", f"{ratio:.3f}", f"{r['proxy_cores']:.3f}",
                    f"{r['gbps_per_core']:.3f}", f"{r['spread']:.3f}"])
        per_core = "-" if r["path"] == "direct" else f"{r['gbps_per_core']:.2f}"
        print(f"{r['path']:<8} {r['mode']:<4} {r['gbps']:>7.2f} {ratio:>9.2f} {r['proxy_cores']:>12.2f} {per_core:>12} {r['spread']:>7.2f}")

if len(sys.argv) > 3:  # one row per mode, one column per path: what bench.gp plots
    paths = sorted({r["path"] for r in rows}, key=lambda p: order.get(p, 9))
    modes = sorted({r["mode"] for r in rows})
    gbps = {(r["path"], r["mode"]): r["gbps"] for r in rows}
    with open(sys.argv[3], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["mode"] + paths)
        for m in modes:
            w.writerow([m] + [f"{gbps.get((p, m), float('nan')):.3f}" for p in paths])
