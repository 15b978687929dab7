"""Streaming latency measured as NVIDIA's riva_streaming_asr_client measures it.

Audio goes at real-time pace in chunks; Riva answers every chunk with one response (one more may follow
the last chunk). Latency of response i = its receive time - the send time of chunk i; responses carrying
a final go to the final statistics, the others to the intermediate ones. Percentiles are nearest-rank
(sorted[floor(p * n / 100)]) as in that client. When the counts do not pair up, that client prints no
statistics; we pair each response with the chunk its `audio_processed` reached instead, and flag it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rivaverify.asr.client import Streamed


@dataclass(frozen=True)
class Stats:
    n: int
    p50: float
    p90: float
    p95: float
    p99: float
    avg: float
    max: float


def stats(values_ms: list[float]) -> Stats | None:
    if not values_ms:
        return None
    v = sorted(values_ms)
    at = lambda p: v[min(len(v) - 1, math.floor(p * len(v) / 100))]  # noqa: E731
    return Stats(len(v), at(50), at(90), at(95), at(99), sum(v) / len(v), v[-1])


@dataclass
class Timing:
    chunks: int
    responses: int
    pairing: str  # "per chunk" (as NVIDIA's client) or "by audio_processed"
    partial_ms: list[float] = field(default_factory=list)
    final_ms: list[float] = field(default_factory=list)
    first_partial_ms: float | None = None  # first partial received - first chunk sent
    final_after_last_chunk_ms: float | None = None  # last final received - last chunk sent
    audio_s: float = 0.0
    wall_s: float = 0.0
    flags: list[str] = field(default_factory=list)

    @property
    def rtfx(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s else 0.0


def measure(s: Streamed, chunk_ms: float, audio_s: float) -> Timing:
    n = len(s.sent_at)
    t = Timing(n, len(s.responses), "per chunk", audio_s=audio_s, wall_s=s.seconds)
    if n == 0:
        t.flags.append("no audio chunk was sent")
        return t
    if t.responses in (n, n + 1):
        pairs = [(s.responses[i], i) for i in range(n)]  # the one after the last chunk is not counted
    else:
        t.pairing = "by audio_processed"
        t.flags.append(f"{t.responses} responses to {n} chunks: NVIDIA's client pairs them one to one and "
                       "prints no latency statistics; paired by audio_processed instead")
        pairs = [(r, _chunk_of(r.audio_processed, chunk_ms, n)) for r in s.responses if r.audio_processed > 0]
    for r, i in pairs:
        ms = (r.at - s.sent_at[i]) * 1000
        if ms < 0:
            t.flags.append(f"negative latency {ms:.1f} ms for chunk {i}: a response came before its audio")
        (t.final_ms if r.final else t.partial_ms).append(ms)
    partials = [x for x in s.received if not x.is_final]
    finals = [x for x in s.received if x.is_final]
    if partials:
        t.first_partial_ms = (partials[0].at - s.sent_at[0]) * 1000
    if finals:
        t.final_after_last_chunk_ms = (finals[-1].at - s.sent_at[-1]) * 1000
    return t


def on_arrival(s: Streamed, i: int, chunks: int) -> list[tuple[str, float]]:
    """Response i as a load tool's events when it arrives, with measure()'s values when the counts pair:
    ("partial" | "final", ms) paired with chunk i. Nothing for a response that came before its chunk was sent
    (measure() gives it, negative and flagged, at the end) or that follows the last chunk (a final there is
    measure()'s final_after_last_chunk_ms, known once the stream ends: several finals may follow the last
    chunk)."""
    r = s.responses[i]
    if i < min(chunks, len(s.sent_at)):
        return [("final" if r.final else "partial", (r.at - s.sent_at[i]) * 1000)]
    return []


def _chunk_of(audio_processed_s: float, chunk_ms: float, n: int) -> int:
    k = math.ceil(audio_processed_s * 1000 / chunk_ms - 1e-6) - 1
    return min(max(k, 0), n - 1)


def merge(timings: list[Timing]) -> dict[str, Stats | None]:
    """Statistics over many streams (warm-up excluded by the caller), per response kind."""
    return {
        "partial": stats([x for t in timings for x in t.partial_ms]),
        "final": stats([x for t in timings for x in t.final_ms]),
        "all": stats([x for t in timings for x in t.partial_ms + t.final_ms]),
        "first_partial": stats([t.first_partial_ms for t in timings if t.first_partial_ms is not None]),
        "final_after_last_chunk": stats([t.final_after_last_chunk_ms for t in timings
                                         if t.final_after_last_chunk_ms is not None]),
    }
