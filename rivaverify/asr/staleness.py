"""How far behind the audio a partial's text is: a fast partial that says little is not a good one.

The words of the clip's Recognize (with word time offsets) say when each word ends. A partial that
arrives when `audio_processed` seconds were processed, after finals of `done` words, holds
`done + len(its words)` words; the audio had more words ended by then, the partial lags by the time from
the end of its last word to `audio_processed`. Works on any Riva: it needs only what the API returns.
"""

from __future__ import annotations

from rivaverify.asr.client import Received


def word_ends(response) -> list[float]:
    """End times (s) of the words of a RecognizeResponse asked with enable_word_time_offsets."""
    return [w.end_time / 1000 for r in response.results for w in r.alternatives[0].words] if response else []


def partial_lags(received: list[Received], ends: list[float]) -> list[float]:
    """For each partial, seconds between the audio processed and the end of the last word it reached
    (0 when it holds every word ended by then)."""
    lags, done = [], 0
    for r in received:
        words = len([w for w in r.transcript.split() if any(c.isalnum() for c in w)])
        if r.is_final:
            done += words
            continue
        got = done + words
        heard = sum(1 for e in ends if e <= r.audio_processed)
        if got >= heard:
            lags.append(0.0)
        else:
            covered = ends[got - 1] if got > 0 else 0.0
            lags.append(round(max(0.0, r.audio_processed - covered), 3))
    return lags
