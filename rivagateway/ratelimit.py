"""Per-key sliding-window rate limits: at most `limit` requests in any `window_s` seconds."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic):
        if limit < 1 or window_s <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key_id: str) -> float:
        """0 when the request is allowed (and counted), else the seconds to wait before the next one."""
        now = self.clock()
        hits = self._hits.setdefault(key_id, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(hits[0] + self.window_s - now, 0.001)
        hits.append(now)
        return 0.0

    @staticmethod
    def retry_after(wait_s: float) -> str:
        """The Retry-After header value: whole seconds, rounded up."""
        return str(max(1, math.ceil(wait_s)))
