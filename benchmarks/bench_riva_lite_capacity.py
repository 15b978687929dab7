"""riva-lite's streaming capacity on this machine: N concurrent real-time streams of the corpus at the
server's chunk, and at each N the p95 of partial and final latency (as NVIDIA's client pairs them), of the
final after the last chunk, and of the partials' staleness (how far their text lags the audio:
rivaverify.asr.staleness); capacity = the largest N whose latency p95s stay within the profile's bounds
(RIVA__PROFILE, dev by default) with every smaller N within too.

    python benchmarks/bench_riva_lite_capacity.py [--streams 1 2 4 6 8] [--seconds 40]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rivaverify.asr import audio, client, corpus, streams  # noqa: E402
from rivaverify.asr.latency import stats  # noqa: E402
from rivaverify.asr.staleness import partial_lags, word_ends  # noqa: E402
from rivaverify.settings import load, thresholds  # noqa: E402


def p95(values: list[float]) -> float:
    s = stats(values)
    return s.p95 if s else float("nan")


def clips() -> list[tuple[corpus.Utterance, audio.Audio]]:
    """The corpus' 16 kHz mono clips (the format clips stay out: one shape, comparable runs)."""
    out = []
    for u in corpus.load(ROOT / "audio" / "manifest.json"):
        a = audio.load_pcm16(u.path)
        if a.rate == 16000 and a.channels == 1:
            out.append((u, a))
    return out


def word_times(auth, items) -> dict[str, list[float]]:
    ends = {}
    for u, a in items:
        cfg = client.config(a, "en-US")
        cfg.enable_word_time_offsets = True
        ends[u.id] = word_ends(client.recognize(auth, a, cfg).response)
    return ends


def run(auth, items, ends, n: int, seconds: float, chunk_ms: float) -> dict:
    """n workers, each streaming clips back to back for about `seconds` of audio."""
    cycle, work = itertools.cycle(items), []
    for _ in range(n):
        total = 0.0
        while total < seconds:
            u, a = next(cycle)
            work.append((u, a))
            total += a.duration_s
    started = time.monotonic()
    runs = streams.run(auth, work, "en-US", chunk_ms, parallel=n, timeout_s=120)
    ok = [r for r in runs if r.timing]
    lags = [x for r in ok for x in partial_lags(r.streamed.received, ends[r.utterance.id])]
    return {"partial": p95([x for r in ok for x in r.timing.partial_ms]),
            "final": p95([x for r in ok for x in r.timing.final_ms]),
            "after_last": p95([r.timing.final_after_last_chunk_ms for r in ok
                               if r.timing.final_after_last_chunk_ms is not None]),
            "stale": p95([x * 1000 for x in lags]), "stale_p50": (stats([x * 1000 for x in lags]) or stats([0])).p50,
            "streams": len(ok), "failures": len(runs) - len(ok), "wall_s": time.monotonic() - started,
            "errors": sorted({r.error for r in runs if r.error})[:3]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4, 6, 8])
    p.add_argument("--seconds", type=float, default=40)
    args = p.parse_args()
    limits = thresholds(load())
    import rivalite
    from testing.local_riva import LocalRiva

    with tempfile.TemporaryDirectory() as tmp:
        repo = rivalite.deploy(rivalite.pack(Path(tmp) / "a"), Path(tmp) / "d")
        with LocalRiva(repo, Path(tmp) / "riva") as riva:
            riva.wait_ready()
            auth = client.auth(riva.riva_uri)
            chunk_ms = client.server_chunk_ms(client.list_models(auth), "en-US") or 100
            items = clips()
            ends = word_times(auth, items)
            print(f"riva-lite {riva.riva_uri}; server chunk {chunk_ms:.0f} ms; {len(items)} clips; "
                  f"{args.seconds:.0f} s of audio per stream; bounds p95 partial {limits.max_partial_p95_ms:.0f} ms, "
                  f"final {limits.max_final_p95_ms:.0f} ms; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
            print(f"{'streams':>7} {'p95 partial':>11} {'p95 final':>9} {'p95 final after last chunk':>26} "
                  f"{'staleness p50/p95':>17} {'finished':>8} {'failed':>6}  (ms)")
            capacity, within = 0, True
            for n in args.streams:
                r = run(auth, items, ends, n, args.seconds, chunk_ms)
                ok = (r["failures"] == 0 and r["partial"] <= limits.max_partial_p95_ms
                      and r["final"] <= limits.max_final_p95_ms)
                within = within and ok
                capacity = n if within else capacity
                print(f"{n:7d} {r['partial']:11.0f} {r['final']:9.0f} {r['after_last']:26.0f} "
                      f"{r['stale_p50']:8.0f}/{r['stale']:<8.0f} {r['streams']:8d} {r['failures']:6d}"
                      f"{'' if ok else '  over the bound'} {' '.join(r['errors'])}", flush=True)
            auth.channel.close()
            print(f"capacity: {capacity} real-time streams within the bounds")


if __name__ == "__main__":
    main()
