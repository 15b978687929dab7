"""Thresholds of a load run, checked against locust's statistics when it quits."""

from __future__ import annotations

import math
from typing import Any


def problems(stats: Any, options: Any, peak_streams: int, streaming_share: float = 1.0) -> list[str]:
    """Why the run fails its thresholds ([] when it passes). Latency bounds hold for every request type
    (grpc, and WS for the gateway's user); peak_streams counts the streaming users that ran at once, and
    without --riva-min-streams it must reach their share of -u (the user classes' weights)."""
    out = []
    total = stats.total
    if total.num_requests == 0:
        return ["no request was made: is the server at --host reachable?"]
    ratio = total.num_failures / total.num_requests
    if ratio > options.riva_max_fail_ratio:
        out.append(f"failure ratio {ratio:.3f} over {options.riva_max_fail_ratio}")
    bounds = {"partial": options.riva_max_p95_partial_ms, "final": options.riva_max_p95_final_ms}
    for name, bound in bounds.items():
        for (entry_name, kind), entry in sorted(stats.entries.items()):
            p95 = entry.get_response_time_percentile(0.95) if entry_name == name and entry.num_requests else 0
            if p95 > bound:
                out.append(f"{name} p95 {p95:.0f} ms over {bound:.0f} ms" + (f" ({kind})" if kind != "grpc" else ""))
    wanted = options.riva_min_streams or (max(1, math.floor((options.num_users or 0) * streaming_share))
                                          if options.num_users and streaming_share else 0)
    if peak_streams < wanted:
        out.append(f"only {peak_streams} streaming users ran at once, {wanted} wanted")
    return out
