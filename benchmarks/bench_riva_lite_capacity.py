"""riva-lite's streaming capacity on this machine: N real-time streams (locust's RivaStreamingUser) and the
p95 of partial and final response latency at each N; capacity = the largest N whose p95s stay within the
profile's bounds (RIVA__PROFILE, dev by default).

    python benchmarks/bench_riva_lite_capacity.py [--streams 1 2 3 4] [--seconds 40]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rivaverify.asr.latency import stats  # noqa: E402
from rivaverify.settings import load, thresholds  # noqa: E402


def run(host: str, n: int, seconds: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        r = subprocess.run([sys.executable, "-m", "locust", "-f", "suites/locustfile.py", "RivaStreamingUser",
                            "--host", host, "--headless", "-u", str(n), "-r", str(n), "-t", f"{seconds}s",
                            "--stop-timeout", "60", "--json-file", str(out), "--skip-log",
                            "--riva-max-p95-partial-ms", "1e9", "--riva-max-p95-final-ms", "1e9"],
                           cwd=ROOT, capture_output=True, text=True)
        rows = {s["name"]: s for s in json.loads(Path(f"{out}.json").read_text())}
    def p95(name):
        times = [float(ms) for ms, k in rows[name]["response_times"].items() for _ in range(k)]
        return stats(times).p95 if times else float("nan")
    return {"rc": r.returncode, "partial": p95("partial"), "final": p95("final"),
            "streams": rows["stream"]["num_requests"], "failures": sum(s["num_failures"] for s in rows.values())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--streams", type=int, nargs="+", default=[1, 2, 3, 4])
    p.add_argument("--seconds", type=int, default=40)
    args = p.parse_args()
    limits = thresholds(load())
    import rivalite
    from testing.local_riva import LocalRiva

    with tempfile.TemporaryDirectory() as tmp:
        repo = rivalite.deploy(rivalite.pack(Path(tmp) / "a"), Path(tmp) / "d")
        with LocalRiva(repo, Path(tmp) / "riva") as riva:
            riva.wait_ready()
            print(f"riva-lite {riva.riva_uri}; {args.seconds} s per N; bounds p95 partial "
                  f"{limits.max_partial_p95_ms:.0f} ms, final {limits.max_final_p95_ms:.0f} ms; "
                  f"load {os.getloadavg()[0]:.1f}")
            print(f"{'streams':>8} {'p95 partial ms':>15} {'p95 final ms':>13} {'finished':>9} {'failures':>9}")
            capacity, within = 0, True
            for n in args.streams:
                r = run(riva.riva_uri, n, args.seconds)
                ok = (r["failures"] == 0 and r["partial"] <= limits.max_partial_p95_ms
                      and r["final"] <= limits.max_final_p95_ms)
                within = within and ok  # capacity: the largest N with every smaller N within too
                capacity = n if within else capacity
                print(f"{n:8d} {r['partial']:15.0f} {r['final']:13.0f} {r['streams']:9d} {r['failures']:9d}"
                      f"{'' if ok else '  over the bound'}")
            print(f"capacity: {capacity} real-time streams within the bounds")


if __name__ == "__main__":
    main()
