"""The project's own tests as a loop: wall time, the slowest tests (--top N), per-file totals, what a run starts.

Runs `pytest tests/` (the README's line; `--tier quick` adds `-m "not slow"`, `--tier heavy` runs
`-m "stress or faults or heavy"`, which `.ci/run` runs after the tests line) in a subprocess, reads its JUnit XML
(each test's setup, call and teardown together), and watches /proc meanwhile for the riva-lite processes it starts
(start-riva, tritonserver, riva-lite's API server, `rivalite nim`), and the Docker engine's events for containers
started and images tagged (built). Goals (issue 27, 2 cores): tests <= 300 s, quick <= 45 s.

    python benchmarks/bench_tests.py [--tier tests|quick|heavy] [--runs 1] [-- extra pytest arguments]
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIERS = {"tests": [], "quick": ["-m", "not slow"], "heavy": ["-m", "stress or faults or heavy"]}
GOALS = {"tests": 300.0, "quick": 45.0}
# what a process's command line says it is (first match wins); the sampler counts distinct pids of each
KINDS = (("tritonserver", "tritonserver"), ("start-riva", "start-riva"), ("rivalite.launcher", "start-riva"),
         ("rivalite.server", "riva-lite API server"), ("rivalite nim", "rivalite nim"),
         ("rivalite.cli nim", "rivalite nim"))


def parent(pid: int) -> int:
    try:
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


class Starts(threading.Thread):
    """Distinct pids of KINDS descended from the run's pytest, seen in /proc every 0.1 s (riva-lite lives a
    second or more: none is missed; what other users of the machine start is not counted)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: dict[int, str] = {}
        self.root = 0  # the run's pytest
        self.done = threading.Event()

    def descends(self, pid: int) -> bool:
        for _ in range(64):
            if pid <= 1:
                return False
            if pid == self.root:
                return True
            pid = parent(pid)
        return False

    def run(self) -> None:
        while not self.done.wait(0.1):
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit() or int(entry.name) in self.seen:
                    continue
                try:
                    text = open(f"{entry.path}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                kind = next((k for needle, k in KINDS if needle in text), None)
                if kind and self.descends(int(entry.name)):
                    self.seen[int(entry.name)] = kind

    def counts(self) -> collections.Counter:
        self.done.set()
        self.join()
        return collections.Counter(self.seen.values())


def docker_events(since: float, until: float) -> collections.Counter:
    if not shutil.which("docker"):
        return collections.Counter()
    out = subprocess.run(["docker", "events", "--since", f"{since:.0f}", "--until", f"{until + 1:.0f}",
                          "--filter", "type=container", "--filter", "type=image", "--format", "{{.Type}} {{.Action}}"],
                         capture_output=True, text=True, timeout=60).stdout
    wanted = {"container start": "containers started (engine-wide)", "image tag": "images tagged (engine-wide)"}
    return collections.Counter(wanted[line] for line in out.splitlines() if line in wanted)


def one_run(tier: str, extra: list[str], xml: Path) -> dict:
    cmd = [sys.executable, "-m", "pytest", "tests/", *TIERS[tier], "-q", "-p", "no:cacheprovider",
           f"--junitxml={xml}", *extra]
    starts = Starts()
    since, start = time.time(), time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    starts.root = proc.pid
    starts.start()
    stdout = proc.communicate()[0]
    wall = time.perf_counter() - start
    counts = starts.counts() + docker_events(since, time.time())
    summary = next((line for line in reversed(stdout.splitlines()) if " in " in line and "=" not in line[:1]), "")
    tests, files, failed = {}, collections.Counter(), []
    for case in ET.parse(xml).iter("testcase"):
        module = case.get("classname", "").split(".")
        path = "/".join(module[:2]) + ".py" if len(module) > 1 else module[0]
        seconds = float(case.get("time", 0))
        tests[f"{path}::{case.get('name')}"] = seconds
        files[path] += seconds
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        if bad is not None:  # the failure's last lines: a flake is seen once, and its cause must not be lost
            tail = "\n".join((bad.text or bad.get("message") or "").strip().splitlines()[-12:])
            failed.append(f"{path}::{case.get('name')}\n" + "\n".join("        " + line for line in tail.splitlines()))
    return {"wall": wall, "rc": proc.returncode, "summary": summary.strip("= "), "tests": tests, "files": files,
            "starts": counts, "failed": failed}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tier", choices=TIERS, default="tests")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--top", type=int, default=10, help="how many of the slowest tests to list")
    p.add_argument("extra", nargs="*", help="more pytest arguments (after --)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [one_run(args.tier, args.extra, Path(tmp) / f"run{i}.xml") for i in range(args.runs)]
    goal = GOALS.get(args.tier)
    print(f"pytest tests/ {' '.join(TIERS[args.tier])} ({args.tier}), {args.runs} run(s) on {os.cpu_count()} cores")
    for i, run in enumerate(runs):
        verdict = f" ({'meets' if run['wall'] <= goal else 'MISSES'} the goal of {goal:.0f} s)" if goal else ""
        print(f"run {i + 1}: wall {run['wall']:.1f} s{verdict}, exit {run['rc']}: {run['summary']}")
        for name in run["failed"]:
            print(f"    failed: {name}")
    last = runs[-1]
    total = sum(last["tests"].values())
    print(f"\n{args.top} slowest tests (setup + call + teardown), last run; {total:.0f} s in all:")
    for name, seconds in sorted(last["tests"].items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"{seconds:8.1f} s  {name}")
    print("\nper file (the 15 largest), last run:")
    for path, seconds in last["files"].most_common(15):
        print(f"{seconds:8.1f} s  {path}")
    started = ", ".join(f"{k} {v}" for k, v in sorted(last["starts"].items()))
    print(f"\nstarted in the last run: {started or 'nothing'}")


if __name__ == "__main__":
    main()
