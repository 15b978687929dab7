"""Start time: from launching `start-riva` (shim first on PATH) to riva_server's "listening on" line.

For reference it also times the real tritonserver alone (given --model-repository directly) until
/v2/health/ready, and start-riva's stop after SIGTERM. Goal: start-riva ready in <= 5 s.

    .venv/bin/python benchmarks/bench_rivalite_start.py [--runs 5] [--models DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rivalite  # noqa: E402
from rivalite import triton  # noqa: E402
from rivalite.launcher import READY, free_port  # noqa: E402
from rivaverify.readiness import wait_until  # noqa: E402
from testing.local_riva import LocalRiva  # noqa: E402

GOAL_S = 5.0


def triton_alone(models: Path) -> float:
    home = triton.prepare_home()
    http = free_port()
    cmd = [
        "tritonserver",
        f"--model-repository={models}",
        f"--http-port={http}",
        f"--grpc-port={free_port()}",
        f"--metrics-port={free_port()}",
        f"--backend-directory={home / 'backends'}",
        "--allow-gpu-metrics=false",
        "--disable-auto-complete-config",
        "--log-verbose=0",
    ]
    env = triton.env(home)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        env=env,
        executable=str(home / "bin" / "tritonserver"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    def ready() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"tritonserver alone exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/v2/health/ready", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    try:
        wait_until(ready, 120, "tritonserver alone ready", interval_s=0.02)
        return time.monotonic() - t0
    finally:
        proc.terminate()
        proc.wait(60)


def start_riva(models: Path, work: Path) -> dict:
    riva = LocalRiva(models, work)
    t0 = time.monotonic()
    riva.start()
    try:
        if not riva.wait_for(READY, 120):
            raise SystemExit(f"start-riva was not ready:\n{riva.output()[-3000:]}")
        ready = time.monotonic() - t0
        t1 = time.monotonic()
        code = riva.stop(60)
        stopped = time.monotonic() - t1
    finally:
        riva.stop()
        left = riva.kill_leftovers()
    if code != 0 or left:
        raise SystemExit(f"start-riva stopped with {code}, leftovers {left}")
    return {"ready_s": ready, "stop_s": stopped}


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", type=Path, help="a deployed repository (default: pack and deploy one)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        work = Path(tmp)
        models = args.models or rivalite.deploy(rivalite.pack(work / "artifact"), work / "deploy")
        start_riva(models, work / "warmup")  # file cache and triton home; not counted
        alone, riva = [], []
        for i in range(args.runs):
            alone.append(triton_alone(models))
            riva.append(start_riva(models, work / f"run{i}"))
    figures = {
        "start_riva_ready_s": summary([r["ready_s"] for r in riva]),
        "triton_alone_ready_s": summary(alone),
        "start_riva_stop_s": summary([r["stop_s"] for r in riva]),
        "goal_s": GOAL_S,
    }
    print(f"{'what':<40}{'median':>9}{'min':>9}{'max':>9}   ({args.runs} runs after 1 warm-up)")
    for key, label in (
        ("start_riva_ready_s", "start-riva -> 'Riva Conversational AI Server listening on'"),
        ("triton_alone_ready_s", "tritonserver alone -> /v2/health/ready"),
        ("start_riva_stop_s", "SIGTERM -> start-riva exited"),
    ):
        f = figures[key]
        print(f"{label:<40}{f['median']:>8.2f}s{f['min']:>8.2f}s{f['max']:>8.2f}s")
    ok = figures["start_riva_ready_s"]["median"] <= GOAL_S
    print(f"goal: ready in <= {GOAL_S:.0f} s: {'met' if ok else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
