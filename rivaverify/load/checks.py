"""Thresholds of a load run, checked against locust's statistics when it quits."""

from __future__ import annotations

from typing import Any


def problems(stats: Any, options: Any, peak_users: int) -> list[str]:
    """Why the run fails its thresholds ([] when it passes)."""
    out = []
    total = stats.total
    if total.num_requests == 0:
        return ["no request was made: is the server at --host reachable?"]
    ratio = total.num_failures / total.num_requests
    if ratio > options.riva_max_fail_ratio:
        out.append(f"failure ratio {ratio:.3f} over {options.riva_max_fail_ratio}")
    for name, bound in (("partial", options.riva_max_p95_partial_ms), ("final", options.riva_max_p95_final_ms)):
        entry = stats.entries.get((name, "grpc"))
        if entry is not None and entry.num_requests and entry.get_response_time_percentile(0.95) > bound:
            out.append(f"{name} p95 {entry.get_response_time_percentile(0.95):.0f} ms over {bound:.0f} ms")
    wanted = options.riva_min_streams or options.num_users or 0
    if peak_users < wanted:
        out.append(f"only {peak_users} users ran at once, {wanted} wanted")
    return out
