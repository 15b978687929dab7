"""`rivaverify diagnose` on a big log: a file built from the published logs' lines (healthy lines, and the failures
of tests/data/real-logs/ every so many lines), diagnosed on one core; CPU time and peak memory.

    python benchmarks/bench_diagnose.py [--size-mib 100] [--every 5000] [--repeat 3] [--dir DIR]

Figures: size, lines, CPU seconds (best of --repeat; process time, robust to other load), wall seconds, MiB/s of
CPU time, the scan's peak memory (tracemalloc), the failures found. Goal: 100 MiB in under 5 s of one core.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rivaverify.diagnostics.scan import scan  # noqa: E402

LOGS = ROOT / "tests" / "data" / "real-logs"
HEALTHY = ("nim-2.25-streaming-only-healthy.log", "jetson-2.14-streaming-healthy.log", "riva-2.1-model-table-ready.log")
MiB = 1 << 20


def make_log(path: Path, size: int, every: int) -> int:
    """Write `size` bytes: healthy lines at random, a failure's line every `every` lines; returns failures written."""
    healthy = [ln for name in HEALTHY for ln in (LOGS / name).read_bytes().splitlines(keepends=True)]
    failing = [ln for p in sorted(LOGS.glob("*.log")) if p.name not in HEALTHY
               for ln in p.read_bytes().splitlines(keepends=True) if b"error" in ln.lower()]
    rnd, written, n, planted = random.Random(25), 0, 0, 0
    with open(path, "wb") as f:
        buf: list[bytes] = []
        while written < size:
            n += 1
            line = failing[planted % len(failing)] if n % every == 0 else rnd.choice(healthy)
            planted += n % every == 0
            buf.append(line)
            written += len(line)
            if len(buf) >= 4096:
                f.write(b"".join(buf))
                buf = []
        f.write(b"".join(buf))
    return planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=100)
    ap.add_argument("--every", type=int, default=5000, help="a failure's line every N lines")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="where the log is written (default: a temporary folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "big.log"
        planted = make_log(path, args.size_mib * MiB, args.every)
        size = path.stat().st_size
        cpu, wall = [], []
        for _ in range(args.repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            with open(path, "rb") as f:
                report = scan(f, str(path))
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        tracemalloc.start()
        with open(path, "rb") as f:
            scan(f, str(path))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    best = min(cpu)
    print(f"log: {size / MiB:.0f} MiB, {report.lines} lines, {planted} failure lines planted")
    print(f"diagnose: {best:.2f} s CPU (best of {args.repeat}), {min(wall):.2f} s wall, "
          f"{size / MiB / best:.0f} MiB/s; peak memory {peak / MiB:.0f} MiB")
    print(f"found: {len(report.failures)} failure lines kept, signatures {sorted(report.counts)}")
    print(f"goal: 100 MiB under 5 s of one core: {'met' if best * 100 * MiB / size < 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
