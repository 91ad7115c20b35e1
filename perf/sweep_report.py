"""perf/sweep_report.py DIR REF_BEFORE REF_AFTER RTT_MS RATE_MBIT
Reads DIR/sweep.csv (perf/sweep.sh): prints the table with each point's ratio to the
reference, writes DIR/sweep-results.csv and DIR/sweep.png (Gbit/s against stream window,
one line per frame/read/connection-window choice, the reference as a dashed line), and
recommends a setting: among points within 5% of the best Gbit/s, the most Gbit/s per core,
then the smallest windows (memory per tunnel)."""
import csv
import os
import subprocess
import sys

out, ref_before, ref_after, rtt, rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
reference = (ref_before + ref_after) / 2
rows = list(csv.DictReader(open(os.path.join(out, "sweep.csv"))))


def size(n):
    if n == "auto":
        return n
    n = int(float(n))
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return f"{n}B"


for r in rows:
    r["gbps"], r["per_core"] = float(r["gbps"]), float(r["gbps_per_core"])
    r["ratio"] = r["gbps"] / reference if reference else float("nan")
label = "plain TCP through the relay" if rtt != "0" else "direct"
print(f"\nreference ({label}): {ref_before:.2f} before, {ref_after:.2f} after, mean {reference:.2f} Gbit/s")
print(f"{'stream':>8} {'conn':>8} {'frame':>7} {'read':>7} {'Gbit/s':>7} {'x ref':>6} {'cores':>6} {'Gb/s/core':>9}")
with open(os.path.join(out, "sweep-results.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["stream_window", "connection_window", "max_frame_size", "read_size", "gbps",
                "ratio_to_reference", "proxy_cores", "gbps_per_core"])
    for r in rows:
        w.writerow([r["stream_window"], r["connection_window"], r["max_frame_size"], r["read_size"],
                    f"{r['gbps']:.3f}", f"{r['ratio']:.3f}", r["proxy_cores"], f"{r['per_core']:.3f}"])
        print(f"{size(r['stream_window']):>8} {size(r['connection_window']):>8} {size(r['max_frame_size']):>7} "
              f"{size(r['read_size']):>7} {r['gbps']:>7.2f} {r['ratio']:>6.2f} {float(r['proxy_cores']):>6.2f} "
              f"{r['per_core']:>9.2f}")

best = max(r["gbps"] for r in rows)
good = [r for r in rows if r["gbps"] >= 0.95 * best]
def window_bytes(r):  # auto sorts last: a fixed window with the same result is simpler
    return 1 << 40 if r["stream_window"] == "auto" else int(r["stream_window"])


pick = max(good, key=lambda r: (round(r["per_core"], 1), -window_bytes(r), -int(r["connection_window"])))
fixed = [r for r in rows if r["stream_window"] != "auto"]
best_fixed = max(fixed, key=lambda r: r["gbps"]) if fixed else None
for r in rows:
    if r["stream_window"] == "auto" and best_fixed:
        print(f"auto (frame {size(r['max_frame_size'])}, read {size(r['read_size'])}): {r['gbps']:.2f} Gbit/s = "
              f"{r['gbps'] / best_fixed['gbps']:.2f}x the best fixed window "
              f"({size(best_fixed['stream_window'])}: {best_fixed['gbps']:.2f} Gbit/s)")
print(f"\nrecommended{' at RTT ' + rtt + ' ms' if rtt != '0' else ''}: http2.stream_window: "
      f"{size(pick['stream_window'])}, http2.connection_window: {size(pick['connection_window'])}, "
      f"http2.max_frame_size: {size(pick['max_frame_size'])}, socket.read_size: {size(pick['read_size'])} "
      f"-> {pick['gbps']:.2f} Gbit/s = {pick['ratio']:.2f}x {label}, {pick['per_core']:.2f} Gbit/s per core")

# Chart: one series per (frame, read, connection factor).
series = {}
autos = [r for r in rows if r["stream_window"] == "auto"]
for r in fixed:
    key = (int(r["max_frame_size"]), int(r["read_size"]), int(r["connection_window"]) // int(r["stream_window"]))
    series.setdefault(key, []).append((int(r["stream_window"]), r["gbps"]))
data = os.path.join(out, "sweep-chart.dat")
with open(data, "w") as f:
    for (frame, read, factor), points in sorted(series.items()):
        f.write(f'"frame {size(frame)}, read {size(read)}, conn {factor}x"\n')
        for stream, gbps in sorted(points):
            f.write(f"{stream / 1024:.0f} {gbps:.3f}\n")
        f.write("\n\n")
title = "hbone iperf3 Gbit/s by HTTP/2 stream window" + (f", RTT {rtt} ms" if rtt != "0" else "") + \
        (f", {rate} Mbit/s cap" if rate not in ("0", "") else "")
script = f"""
set terminal png size 900,520 noenhanced
set output '{os.path.join(out, "sweep.png")}'
set title '{title}'
set logscale x 2
set xlabel 'http2.stream_window (KiB)'
set ylabel 'Gbit/s'
set yrange [0:*]
set grid
set key bottom right
plot for [i=0:{len(series) - 1}] '{data}' index i using 1:2 with linespoints title columnheader(1), \\
     {reference:.3f} with lines dashtype 2 lw 2 title '{label} (reference)'""" + "".join(
    f", \\\n     {r['gbps']:.3f} with lines dashtype 3 lw 2 title 'auto (frame {size(r['max_frame_size'])}, "
    f"read {size(r['read_size'])})'" for r in autos) + "\n"
try:
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print(f"chart: {os.path.join(out, 'sweep.png')}")
except (OSError, subprocess.CalledProcessError) as e:
    print(f"no chart: {e}")
