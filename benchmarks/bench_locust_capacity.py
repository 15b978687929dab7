"""How many real-time streams one locust worker process drives, per core of its own CPU, against a fast
fake Riva, compared with a plain asyncio gRPC client doing the same (goal: locust >= 0.8x of it).

Each client runs N streams of a 4 s clip at real-time pace (100 ms chunks) for SECONDS; its CPU time comes
from the kernel (/proc/PID/stat), over its steady state (start-up excluded). Streams per core =
N / (CPU seconds / wall seconds), valid while the pacing holds (the latency against the fake Riva stays low).

    python benchmarks/bench_locust_capacity.py [--streams 25 50 100] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from rivaverify import procfs  # noqa: E402
from testing.fake_riva import FakeRiva  # noqa: E402


def cpu_s(pid: int) -> float:
    return procfs.stat(pid).cpu_s  # utime + stime


def timed(argv: list[str], seconds: float) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run a child; wall and CPU seconds of its steady state: from 5 s after start to 2 s before the end
    (imports and start-up are not what a long load run pays for)."""
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(5)
    t0, c0 = time.perf_counter(), cpu_s(proc.pid)
    time.sleep(max(1.0, seconds - 7))
    wall, cpu = time.perf_counter() - t0, cpu_s(proc.pid) - c0
    out, err = proc.communicate()
    r = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    if r.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return r, wall, cpu


def plain(host: str, n: int, seconds: float) -> dict:
    r, wall, cpu = timed([sys.executable, str(HERE / "aio_streams.py"), host, str(n), str(seconds)], seconds)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    return {**out, "cpu": cpu, "wall": wall}


def locust(host: str, n: int, seconds: float) -> dict:
    from rivaverify.asr.latency import stats

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        _, wall, cpu = timed([sys.executable, "-m", "locust", "-f", "suites/locustfile.py", "RivaStreamingUser",
                              "--host", host, "--headless", "-u", str(n), "-r", str(n), "-t", f"{seconds:.0f}s",
                              "--stop-timeout", "30", "--json-file", str(out), "--skip-log",
                              "--riva-corpus", str(HERE / "one_clip.json"), "--riva-max-p95-partial-ms", "1e9",
                              "--riva-max-p95-final-ms", "1e9"], seconds)
        rows = {s["name"]: s for s in json.loads(Path(f"{out}.json").read_text())}
    kinds = ("partial", "final", "final_after_last_chunk")
    times = [float(ms) for name in kinds for ms, k in rows.get(name, {}).get("response_times", {}).items()
             for _ in range(k)]
    s = stats(times)
    return {"streams": rows["stream"]["num_requests"], "responses": s.n, "p50": s.p50, "p95": s.p95,
            "p99": s.p99, "cpu": cpu, "wall": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--streams", type=int, nargs="+", default=[25, 50, 100])
    p.add_argument("--seconds", type=float, default=20)
    args = p.parse_args()
    (HERE / "one_clip.json").write_text(json.dumps(
        {"audio_filepath": str(ROOT / "audio" / "en-US_sample.wav"), "text": "what is natural language processing",
         "duration": 4.152}) + "\n")
    server = FakeRiva().start()
    try:
        host = server.address
        print(f"fake Riva {host}; {args.seconds:.0f} s per run; load {os.getloadavg()[0]:.1f}")
        print(f"{'client':8} {'N':>5} {'cpu %':>7} {'streams/core':>13} {'p50 ms':>8} {'p95 ms':>8} {'streams':>8}")
        best = {}
        for n in args.streams:
            for name, run in (("plain", plain), ("locust", locust)):
                r = run(host, n, args.seconds)
                util = r["cpu"] / r["wall"]
                per_core = n / util if util else 0.0
                best.setdefault(name, []).append(per_core)
                print(f"{name:8} {n:5d} {util * 100:7.1f} {per_core:13.0f} {r['p50']:8.1f} {r['p95']:8.1f} "
                      f"{r['streams']:8d}")
        ratio = max(best["locust"]) / max(best["plain"])
        print(f"locust / plain streams per core: {ratio:.2f} (goal >= 0.8)")
    finally:
        server.stop()
        (HERE / "one_clip.json").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
