"""The scheduler of `rivaverify serve`: never two runs at once, starts an interval apart, a slow run delays the next
one instead of overlapping it, stop() returns promptly. Its runs here are a timed function (what is under test is the
scheduling, not the checks: tests/test_serve.py runs those against riva-lite)."""

from __future__ import annotations

import threading
import time

from rivaverify.readiness import wait_until
from rivaverify.serve.checks import PASSED, Check, Run
from rivaverify.serve.scheduler import Scheduler


class Timed:
    def __init__(self, seconds: float) -> None:
        self.seconds, self.spans, self.running, self.most = seconds, [], 0, 0
        self.lock = threading.Lock()

    def __call__(self) -> Run:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        start = time.monotonic()
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1
            self.spans.append((start, time.monotonic()))
        return Run(time.time(), self.seconds, [Check("grpc_health", PASSED)])


def test_runs_never_overlap_even_when_asked_for_meanwhile():
    timed = Timed(0.1)
    s = Scheduler(timed, 0.01).start()
    asked = [threading.Thread(target=s.run) for _ in range(3)]  # runs asked for while the loop runs
    for t in asked:
        t.start()
    wait_until(lambda: s.runs >= 8, 30, "eight runs")
    s.stop()
    for t in asked:
        t.join(5)
    assert timed.most == 1, f"{timed.most} runs at once (expected 1)"
    spans = sorted(timed.spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), spans


def test_a_slow_run_delays_the_next():
    timed = Timed(0.3)
    s = Scheduler(timed, 0.1).start()
    wait_until(lambda: s.runs >= 3, 30, "three runs")
    s.stop(timeout=30)
    assert s.stopped
    starts = [a for a, _ in sorted(timed.spans)]
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(g >= 0.3 for g in gaps), f"a run started before the one before it ended: gaps {gaps}"
    assert s.last_success is not None and s.last.passed


def test_stop_ends_the_wait_for_the_next_run_at_once():
    """An hour's interval: stop() returns with the thread ended, not an hour later (the join would time out)."""
    timed = Timed(0.0)
    s = Scheduler(timed, 3600).start()
    wait_until(lambda: s.runs >= 1, 30, "the first run")
    s.stop(timeout=30)
    assert s.stopped and s.runs == 1


def test_stop_lets_the_run_in_progress_finish_and_starts_none():
    release, begun = threading.Event(), threading.Event()

    def gated() -> Run:
        begun.set()
        release.wait(30)
        return Run(time.time(), 0.0, [Check("grpc_health", PASSED)])

    s = Scheduler(gated, 0.0).start()
    wait_until(begun.is_set, 30, "the run to begin")
    stopper = threading.Thread(target=s.stop, kwargs={"timeout": 30})
    stopper.start()
    wait_until(lambda: s.stopping, 30, "stop() to be asked for")
    release.set()
    stopper.join(30)
    assert not stopper.is_alive() and s.stopped
    assert s.runs == 1, f"{s.runs} runs: one started after stop()"
