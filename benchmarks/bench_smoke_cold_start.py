"""Cold start of `pytest suites/ -m smoke` on riva-lite, to its verdict, with a breakdown.

cold: a fresh work dir (riva-lite's artifact packed, the repository deployed); warm: the same work dir again.
Breakdown from the run's own records: build (pack + stage + fetch + deploy, from plan.json), Triton start
(process alive + live), model load (ready + every model ready), Riva API (health + model listed), first
inference (phase 050's Recognize), streaming (its final after the last chunk), stop (the teardowns: riva-lite
and the embedded S3 server), other tests (the rest of every test's setup, call and teardown, as --durations
reports them), and the suite's own overhead: the wall time outside every test (interpreter, imports,
collection, plugins, reports). Goals (issue 27): cold <= 10 s, overhead <= 2 s, stop <= 1 s.

    python benchmarks/bench_smoke_cold_start.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 10.0
GOALS = {"suite_overhead": 2.0, "stop": 1.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TRITON_TIME = re.compile(r"^I\d{4} (\d\d):(\d\d):(\d\d\.\d+) .*\"(loading: |successfully loaded )")
DURATION = re.compile(r"^(\d+\.\d+)s (setup|call|teardown) ", re.M)


def model_load_s(log: str) -> float:
    """First 'loading:' to last 'successfully loaded' in Triton's log."""
    times = [int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) for m in map(TRITON_TIME.match, log.splitlines()) if m]
    return max(times) - min(times) if times else 0.0


def one_run(work: Path, out: Path) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVA__")}
    env.update({"RIVA__HOST": f"localhost:{free_port()}", "RIVA__TRITON_HTTP_PORT": str(free_port()),
                "RIVA__TRITON_GRPC_PORT": str(free_port()), "RIVA__TRITON_METRICS_PORT": str(free_port()),
                "RIVA__WORK_DIR": str(work), "RIVA__REPORTS_DIR": str(out / "reports"),
                "RIVA__STATE_DIR": str(out / "state")})
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pytest", "suites/", "-m", "smoke", "-q", "-p", "no:cacheprovider",
                        "--durations=0", "--durations-min=0"],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"smoke failed:\n{r.stdout[-3000:]}")
    fig = {**json.loads((out / "state" / "040.json").read_text())["figures"],
           **json.loads((out / "state" / "050.json").read_text())["figures"]}
    v = {k: f["value"] for k, f in fig.items()}
    actions = json.loads((out / "reports" / "plan.json").read_text())["actions"]
    at = {a["what"].split()[1] if a["what"].startswith("rivalite") else a["kind"]: a["at"] for a in actions}
    build = 0.0
    if "pack" in at or "deploy" in at:
        first = datetime.fromisoformat(at.get("pack", at.get("deploy")))
        start_riva = next(a["at"] for a in actions if "start-riva" in a["what"])
        build = (datetime.fromisoformat(start_riva) - first).total_seconds()
    load = model_load_s((out / "reports" / "logs" / "riva-local.log").read_text())
    row = {
        "wall": wall,
        "build": build,
        "triton_start": v["ready.process_alive"] + v["ready.triton_live"] + v["ready.triton_ready"] - load,
        "model_load": load,
        "riva_api": v["ready.models_ready"] + v["ready.grpc_health_serving"] + v["ready.model_listed"],
        "first_inference": v["recognize.seconds"],
        "streaming": v["streaming.final_after_last_chunk"],
    }
    durations = DURATION.findall(r.stdout)
    row["stop"] = sum(float(s) for s, when in durations if when == "teardown")
    in_tests = sum(float(s) for s, _ in durations)
    row["other_tests"] = in_tests - (sum(row.values()) - wall)
    row["suite_overhead"] = wall - in_tests
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    rows = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            work = Path(tmp) / f"work{i}"
            rows["cold"].append(one_run(work, Path(tmp) / f"cold{i}"))
            rows["warm"].append(one_run(work, Path(tmp) / f"warm{i}"))
    keys = list(rows["cold"][0])
    print(f"pytest suites/ -m smoke on riva-lite, {args.runs} runs each, median seconds (goal: cold <= {GOAL_S} s)")
    print(f"{'':16}" + "".join(f"{k:>16}" for k in rows))
    for k in keys:
        print(f"{k:16}" + "".join(f"{statistics.median(r[k] for r in rs):16.2f}" for rs in rows.values()))
    cold = statistics.median(r["wall"] for r in rows["cold"])
    print(f"cold start {cold:.1f} s: {'meets' if cold <= GOAL_S else 'MISSES'} the goal of {GOAL_S} s")
    for key, goal in GOALS.items():
        got = statistics.median(r[key] for r in rows["cold"])
        print(f"{key} {got:.2f} s: {'meets' if got <= goal else 'MISSES'} the goal of {goal} s")


if __name__ == "__main__":
    main()
