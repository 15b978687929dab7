"""The acoustic model's JSON output -> Riva's result messages, with Riva's text conventions.

Automatic punctuation off (the default in NVIDIA's clients) gives Riva's verbatim form: lowercase, no
punctuation. Final transcripts end with a space, as Riva's do, so that concatenated results read well.
"""

from __future__ import annotations

import math
import re

from riva.client.proto import riva_asr_pb2 as rasr

_NOT_WORD = re.compile(r"[^\w']+")
_EDGE_QUOTES = re.compile(r"(?<!\w)'|'(?!\w)")


def normalize(text: str, punctuation: bool) -> str:
    if punctuation:
        return " ".join(text.split())
    text = _NOT_WORD.sub(" ", text.lower().replace("_", " "))
    return " ".join(_EDGE_QUOTES.sub(" ", text).split())


def confidence(avg_logprob: float) -> float:
    return float(min(1.0, math.exp(avg_logprob))) if math.isfinite(avg_logprob) else 0.0


def _words(segments: list[dict], punctuation: bool, offset_s: float, language: str) -> list:
    words = []
    for seg in segments:
        for word, start, end, prob in seg.get("words", []):
            text = normalize(word, punctuation)
            if text:
                words.append(
                    rasr.WordInfo(
                        word=text,
                        start_time=round((offset_s + start) * 1000),
                        end_time=round((offset_s + end) * 1000),
                        confidence=float(prob),
                        language_code=language,
                    )
                )
    return words


def alternatives(
    out: dict,
    punctuation: bool,
    offset_s: float,
    language: str,
    max_alternatives: int,
    final: bool,
    word_offsets: bool,
    segments: list[dict] | None = None,
) -> list:
    """Alternative 0 from the segments (with words), then the n-best hypotheses that differ from it."""
    segments = out["segments"] if segments is None else segments
    text = normalize(" ".join(s["text"] for s in segments), punctuation)
    if not text:
        return []
    tail = " " if final else ""
    scores = [s["avg_logprob"] for s in segments]
    best = rasr.SpeechRecognitionAlternative(
        transcript=text + tail,
        confidence=confidence(sum(scores) / len(scores)),
        language_code=[language],
    )
    if word_offsets:
        best.words.extend(_words(segments, punctuation, offset_s, language))
    alts, seen = [best], {text}
    for hyp in out.get("alternatives", []):
        other = normalize(hyp["text"], punctuation)
        if len(alts) >= max(1, max_alternatives):
            break
        if other and other not in seen:
            seen.add(other)
            alts.append(
                rasr.SpeechRecognitionAlternative(
                    transcript=other + tail, confidence=confidence(hyp["score"]), language_code=[language]
                )
            )
    return alts


def offline_results(out: dict, config, language: str) -> list:
    """One result per Whisper segment; a single result when n-best alternatives were asked for."""
    punct, n = config.enable_automatic_punctuation, max(1, config.max_alternatives)
    words, duration = config.enable_word_time_offsets, out["duration"]
    groups = [out["segments"]] if n > 1 or not out["segments"] else [[s] for s in out["segments"]]
    results = []
    for i, group in enumerate(groups):
        alts = alternatives(out if i == 0 else {}, punct, 0.0, language, n, True, words, group)
        if alts:
            end = duration if i == len(groups) - 1 else min(duration, group[-1]["end"])
            results.append(
                rasr.SpeechRecognitionResult(alternatives=alts, channel_tag=1, audio_processed=end)
            )
    return results
