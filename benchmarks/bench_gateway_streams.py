"""Streams one rivagateway process holds: N streams at once, each sending a 100 ms chunk every 100 ms (real-time
pace) to an echo Riva that answers each chunk at once; N grows (x1.5) until the answer latency p95 passes the bound or
a stream fails. The client (asyncio + aiohttp), the echo and the gateway share this machine's CPUs: on a 2-core
host the figure is a floor for the gateway alone.

    python benchmarks/bench_gateway_streams.py [--start 50] [--max 3200] [--seconds 10] [--bound-ms 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rivaverify import procfs  # noqa: E402
from rivaverify.asr.latency import stats  # noqa: E402
from rivaverify.gateway.client import start_message  # noqa: E402
from rivaverify.gateway.process import GatewayProcess, command, write_keys  # noqa: E402
from testing.fake_riva import FakeRiva  # noqa: E402

PCM = b"\x00\x01" * 1600  # 100 ms at 16 kHz
TICK = 0.1


class Load:
    def __init__(self) -> None:
        self.latency_ms: list[float] = []
        self.errors: list[str] = []


async def one(session: aiohttp.ClientSession, url: str, key: str, seconds: float, load: Load) -> None:
    await asyncio.sleep(random.random() * 2)  # spread the connects over 2 s
    try:
        async with session.ws_connect(url, headers={"Authorization": f"Bearer {key}"}, max_msg_size=0) as ws:
            await ws.send_str(json.dumps(start_message(16000)))
            sent: list[float] = []

            async def read() -> None:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    e = json.loads(msg.data)
                    if e["type"] == "error":
                        load.errors.append(e["code"])
                    elif e["type"] == "partial":
                        k = round(e["audio_processed"] / TICK) - 1
                        if 10 <= k < len(sent):  # the first second is warm-up
                            load.latency_ms.append((time.perf_counter() - sent[k]) * 1000)

            reader = asyncio.create_task(read())
            t0 = time.perf_counter()
            for i in range(int(seconds / TICK)):
                await asyncio.sleep(max(0.0, t0 + i * TICK - time.perf_counter()))
                sent.append(time.perf_counter())
                await ws.send_bytes(PCM)
            await ws.send_str(json.dumps({"type": "stop"}))
            await asyncio.wait_for(reader, 30)
            if ws.close_code not in (None, 1000):
                load.errors.append(f"close {ws.close_code}")
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        load.errors.append(type(exc).__name__)


async def step(url: str, key: str, n: int, seconds: float) -> Load:
    load = Load()
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as session:
        await asyncio.gather(*(one(session, url, key, seconds, load) for _ in range(n)))
    return load


def cpu_s(pid: int) -> float:
    return procfs.stat(pid).cpu_s


def rss_mib(pid: int) -> float:
    return procfs.rss_kb(pid) / 1024


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--start", type=int, default=25)
    p.add_argument("--max", type=int, default=3200)
    p.add_argument("--seconds", type=float, default=10, help="each stream's length")
    p.add_argument("--factor", type=float, default=1.5, help="streams grow by this factor each step")
    p.add_argument("--bound-ms", type=float, default=100, help="answer latency p95 a step must stay under")
    a = p.parse_args()
    key = secrets.token_urlsafe(24)
    tmp = Path(tempfile.mkdtemp(prefix="bench-gw-streams-"))
    held, ceilings = 0, []
    print(f"{'streams':>8} {'msgs/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7} {'gw CPU':>7} "
          f"{'gw RSS MiB':>10} {'echo CPU':>9} {'client CPU':>10}")
    with FakeRiva() as echo:
        args = ("--no-access-log", "--max-streams", "100000", "--rate-limit", "1000000", "--channels", "4")
        proc = GatewayProcess(command(echo.address, write_keys(tmp / "keys", {"bench": key}), args=args),
                              tmp / "gw.log").start()
        try:
            n = a.start
            while n <= a.max:
                c0, e0, m0, t0 = cpu_s(proc.proc.pid), cpu_s(echo.proc.pid), time.process_time(), time.perf_counter()
                load = asyncio.run(step(proc.url, key, n, a.seconds))
                wall = time.perf_counter() - t0
                cpu = (cpu_s(proc.proc.pid) - c0) / wall * 100
                cpu_echo, cpu_me = (cpu_s(echo.proc.pid) - e0) / wall * 100, (time.process_time() - m0) / wall * 100
                s = stats(load.latency_ms)
                ok = s is not None and s.p95 <= a.bound_ms and not load.errors
                if cpu > 0:
                    ceilings.append(n * 100 / cpu)
                print(f"{n:>8} {n / TICK:>8.0f} {s.p50 if s else 0:>8.1f} {s.p95 if s else 0:>8.1f} "
                      f"{s.p99 if s else 0:>8.1f} {len(load.errors):>7} {cpu:>6.0f}% {rss_mib(proc.proc.pid):>10.0f} "
                      f"{cpu_echo:>8.0f}% {cpu_me:>9.0f}%"
                      + ("" if ok else f"   <- over {a.bound_ms:g} ms or errors {sorted(set(load.errors))[:3]}"),
                      flush=True)
                if not ok:
                    break
                held = n
                n = int(n * a.factor)
        finally:
            proc.stop()
    print(f"\nstreams held by one gateway process at real-time pace with p95 <= {a.bound_ms:g} ms: {held} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    if ceilings:
        print(f"CPU ceiling: one gateway process at 100 % of a core would hold about {max(ceilings):.0f} streams "
              "(streams x 100 / its CPU %, at the largest step that ran); one process uses one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
