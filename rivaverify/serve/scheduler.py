"""Runs the verification on an interval, one run at a time, in a thread of its own; keeps the last run and a short
history for /healthz, /metrics and the page."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from rivaverify.serve.checks import Run

HISTORY = 20  # runs the page lists


class Scheduler:
    def __init__(self, run_once: Callable[[], Run], interval_s: float, on_run: Callable[[Run], None] = lambda r: None,
                 clock: Callable[[], float] = time.time) -> None:
        self.run_once, self.interval_s, self.on_run, self.clock = run_once, interval_s, on_run, clock
        self.history: deque[Run] = deque(maxlen=HISTORY)
        self.last_success: float | None = None  # unix time a passing run finished
        self.runs = 0
        self.created = clock()  # unix time it was made: "no success since" counts from here before a first success
        self._stop = threading.Event()
        self._lock = threading.Lock()  # never two runs at once
        self._thread: threading.Thread | None = None

    @property
    def last(self) -> Run | None:
        return self.history[-1] if self.history else None

    def fresh(self, run: Run | None = None) -> bool:
        """The last run finished less than two intervals ago."""
        run = run or self.last
        return run is not None and self.clock() - (run.started + run.seconds) < 2 * self.interval_s

    def run(self) -> Run:
        """One run now (waits for a run in progress to end first)."""
        with self._lock:
            run = self.run_once()
            self.runs += 1
            self.history.append(run)
            if run.passed:
                self.last_success = run.started + run.seconds
            self.on_run(run)
            return run

    def start(self) -> Scheduler:
        # a daemon: a run in progress (a real-time stream) never holds up the exit
        self._thread = threading.Thread(target=self._loop, name="rivaverify-serve", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            self.run()
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - t0)))

    def stop(self, timeout: float = 1.0) -> None:
        """Ends the wait for the next run at once; a run in progress finishes (up to `timeout`), none starts."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def stopped(self) -> bool:
        return self._thread is None or not self._thread.is_alive()
