"""Opens N tunnels through an hbone client (asyncio) to an echo target (hbone-loadgen
echo), each proven by a 1-byte echo, and holds them; reports the RSS the client and gateway
grew by per tunnel, then closes them all and reports how much of that RSS is handed back
within 30 s (no admin call: the daemons' own policy). (Setup rate: hbone-loadgen run,
perf/setup-rate.sh.)
   python3 perf/setup_rate.py CLIENT_PORT CLIENT_PID GATEWAY_PID N CONCURRENCY"""
import asyncio
import sys
import time



def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def main(client_port, client_pid, gateway_pid, total, concurrency):
    tunnels = []

    async def open_one():
        reader, writer = await asyncio.open_connection("127.0.0.1", client_port)
        writer.write(b"x")
        assert await reader.readexactly(1) == b"x"
        tunnels.append(writer)

    await open_one()  # warm: the first pooled connection and its handshake
    await asyncio.sleep(1.5)
    base = {"client": rss_kib(client_pid), "gateway": rss_kib(gateway_pid)}
    sem = asyncio.Semaphore(concurrency)

    async def bounded():
        async with sem:
            await open_one()

    start = time.monotonic()
    await asyncio.gather(*(bounded() for _ in range(total)))
    elapsed = time.monotonic() - start
    await asyncio.sleep(2.5)  # idle: tunnels release their buffers after a quiet second
    grown = {"client": rss_kib(client_pid) - base["client"],
             "gateway": rss_kib(gateway_pid) - base["gateway"]}
    print(f"tunnels opened: {total} in {elapsed:.2f}s = {total / elapsed:.0f}/s "
          f"(concurrency {concurrency}, asyncio load generator)")
    for side, kib in grown.items():
        print(f"idle RSS per tunnel, {side}: {kib / total:.2f} KiB "
              f"({base[side]} KiB before, +{kib} KiB for {total})")
    for w in tunnels:
        w.close()
    await asyncio.gather(*(w.wait_closed() for w in tunnels), return_exceptions=True)
    ended = time.monotonic()
    peak = {side: base[side] + kib for side, kib in grown.items()}
    while time.monotonic() - ended < 30:
        await asyncio.sleep(1)
    for side, pid in (("client", client_pid), ("gateway", gateway_pid)):
        now = rss_kib(pid)
        print(f"RSS 30 s after the tunnels ended, {side}: {now / 1024:.1f} MiB "
              f"(before {base[side] / 1024:.1f}, held {peak[side] / 1024:.1f}; +{(now - base[side]) / 1024:.1f} MiB)")


asyncio.run(main(*map(int, sys.argv[1:6])))
