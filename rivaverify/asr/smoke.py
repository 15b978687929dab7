"""The smoke verdicts (phase 050 asserts them; `rivaverify serve` reports them): each a problem, or None when the
figure is within its bound."""

from __future__ import annotations

from rivaverify.asr.client import Streamed


def wer_problem(what: str, utt_id: str, score: float, bound: float, heard: str, expected: str) -> str | None:
    """A transcript's WER over its bound."""
    if score <= bound:
        return None
    return f"{what} of {utt_id}: WER {score:.2f} over {bound}: heard {heard!r}, expected {expected!r}"


def response_problem(what: str, utt_id: str, seconds: float, bound: float, audio_s: float | None = None) -> str | None:
    """One call's response time over its bound."""
    if seconds <= bound:
        return None
    audio = f" ({audio_s:.1f} s of audio)" if audio_s is not None else ""
    return f"{what} of {utt_id}{audio} took {seconds:.2f} s, bound {bound} s"


def no_final_problem(utt_id: str, result: Streamed) -> str | None:
    """A stream that ended with no final result."""
    if result.finals:
        return None
    return f"no response with is_final came back for {utt_id} ({len(result.received)} responses)"


def final_after_last_chunk(result: Streamed) -> float:
    """Seconds from the last audio chunk sent to the last final received (the stream must have a final)."""
    return result.finals[-1].at - result.sent_at[-1]


def final_problem(seconds: float, bound: float) -> str | None:
    """The final came too long after the last chunk."""
    if seconds <= bound:
        return None
    return f"the final came {seconds:.2f} s after the last chunk, bound {bound} s"


MULTILINGUAL = ("multi",)  # a requested code under which the model names the language it detected


def language_problem(response, requested: str) -> str | None:
    """A result whose language_code (riva_asr.proto, set by servers since the 2025-05 proto) names another language
    than the one asked for; unset codes and a multilingual request ("multi") pass."""
    if requested in MULTILINGUAL:
        return None
    other = sorted({code for r in response.results for a in r.alternatives for code in a.language_code
                    if code and code.lower() != requested.lower()})
    return f"asked for {requested}, the answer says {other}" if other else None
