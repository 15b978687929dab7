"""riva-lite's own record of streaming latency ($RIVALITE_TRACE)."""

from __future__ import annotations

import json
import os
import time


class Trace:
    """Server-side latency of each streaming response (sent - arrival of the chunk it answers), written as a
    JSON line per stream to $RIVALITE_TRACE when set: a second measurement to check a client's against."""

    def __init__(self, path: str | None):
        self.path, self.arrivals, self.latencies = path, [], []

    @classmethod
    def open(cls) -> Trace:
        return cls(os.environ.get("RIVALITE_TRACE"))

    def arrived(self, at: float) -> None:
        if self.path:
            self.arrivals.append(at)

    def answered(self, final: bool) -> None:
        i = len(self.latencies)
        if self.path and i < len(self.arrivals):
            self.latencies.append(((time.perf_counter() - self.arrivals[i]) * 1000, final))

    def close(self) -> None:
        if self.path:
            with open(self.path, "a") as f:
                f.write(json.dumps({"chunks": len(self.arrivals), "ms": self.latencies}) + "\n")
