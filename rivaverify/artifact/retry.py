"""Retries for transient errors only: exponential backoff with full jitter, a bounded number of attempts."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from rivaverify.artifact.errors import ArtifactError

T = TypeVar("T")


@dataclass
class Backoff:
    attempts: int = 5  # tries in all, the first included
    base_s: float = 0.2
    cap_s: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return self.rng.uniform(0, min(self.cap_s, self.base_s * 2**attempt))

    def call(self, fn: Callable[[], T], what: str) -> T:
        """fn(), retried while it raises a transient ArtifactError; the last error names the attempts."""
        for attempt in range(self.attempts):
            try:
                return fn()
            except ArtifactError as exc:
                if not exc.transient:
                    raise
                if attempt + 1 == self.attempts:
                    raise ArtifactError(f"{exc} (gave up on {what} after {self.attempts} attempts)") from exc
                self.sleep(self.delay(attempt))
        raise AssertionError("unreachable")
