"""The acoustic model's JSON output -> Riva's result messages, with Riva's text conventions.

- Partials (interim results) are what the decoder emits: lowercase, unpunctuated, spoken form, confidence 0
  (riva_asr.proto: confidence "is set only for a non-streaming result or, for a streaming result where
  is_final=true"); observed on Riva 2.19: partials unpunctuated even with automatic punctuation on.
- Finals are punctuated and capitalised when `enable_automatic_punctuation`, and end with a space.
- `verbatim_transcripts` true gives the spoken form, false (the proto's default) Riva's inverse text
  normalization (rivalite.itn).
- Boosted phrases come out spelled as given (rivalite.boost), partials and finals alike.
- Word time offsets lie on the model's output grid (Parakeet's ms_per_timestep=80), each word after the one
  before, with a confidence in (0, 1]; words are in spoken form (what the decoder emitted).
"""

from __future__ import annotations

import math
import re

from riva.client.proto import riva_asr_pb2 as rasr

from rivalite import boost, itn

MS_PER_TIMESTEP = 80  # Parakeet's output grid (NIM riva-build table: ms_per_timestep=80)
_NOT_WORD = re.compile(r"[^\w']+")
_EDGE_QUOTES = re.compile(r"(?<!\w)'|'(?!\w)")


def normalize(text: str, punctuation: bool) -> str:
    if punctuation:
        return " ".join(text.split())
    text = _NOT_WORD.sub(" ", text.lower().replace("_", " "))
    return " ".join(_EDGE_QUOTES.sub(" ", text).split())


def render(text: str, punctuation: bool, final: bool, verbatim: bool = True, boosted: list[str] = ()) -> str:
    """A decoder transcript as Riva shows it: partials spoken, lowercase and bare; finals punctuated when asked,
    written by ITN unless verbatim; boosted phrases as given."""
    said = normalize(itn.spoken(text), punctuation and final)
    return boost.spell(said if verbatim or not final else itn.written(said), list(boosted))


def confidence(avg_logprob: float) -> float:
    return float(min(1.0, math.exp(avg_logprob))) if math.isfinite(avg_logprob) else 0.0


def word_confidence(prob: float) -> float:
    return float(min(1.0, max(1e-3, prob))) if math.isfinite(prob) else 1e-3


def _on_grid(ms: float, step_ms: int) -> int:
    return math.floor(ms / step_ms + 0.5) * step_ms  # half up, not to even


def _words(segments: list[dict], punctuation: bool, offset_s: float, language: str, step_ms: int,
           boosted: list[str] = ()) -> list:
    """Spoken-form words on the output grid: starts and ends multiples of step_ms, each word after the last; the
    words heard for a boosted phrase are one word, the phrase as given, over their span."""
    words, last_end = [], 0
    for seg in segments:
        for word, start, end, prob in seg.get("words", []):
            pieces = [p for p in (normalize(p, punctuation) for p in itn.spoken(word).split()) if p]
            t0, t1 = (offset_s + start) * 1000, (offset_s + max(start, end)) * 1000
            for k, text in enumerate(pieces):  # a "$5" said as "five dollars" shares its span
                a = t0 + (t1 - t0) * k / len(pieces)
                b = t0 + (t1 - t0) * (k + 1) / len(pieces)
                s = max(last_end, _on_grid(a, step_ms))
                e = max(s + step_ms, _on_grid(b, step_ms))
                words.append(rasr.WordInfo(word=text, start_time=s, end_time=e, confidence=word_confidence(prob),
                                           language_code=language))
                last_end = e
    for first, n, phrase in reversed(boost.spans([w.word for w in words], list(boosted))):
        span = words[first:first + n]
        words[first:first + n] = [rasr.WordInfo(word=phrase, start_time=span[0].start_time,
                                                end_time=span[-1].end_time, language_code=language,
                                                confidence=min(w.confidence for w in span))]
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
    *,
    verbatim: bool = True,
    step_ms: int = MS_PER_TIMESTEP,
    boosted: list[str] = (),
) -> list:
    """Alternative 0 from the segments (with words on finals), then the n-best hypotheses that differ from it."""
    segments = out["segments"] if segments is None else segments
    text = render(" ".join(s["text"] for s in segments), punctuation, final, verbatim, boosted)
    if not text:
        return []
    tail = " " if final else ""
    scores = [s["avg_logprob"] for s in segments]
    best = rasr.SpeechRecognitionAlternative(
        transcript=text + tail,
        confidence=confidence(sum(scores) / len(scores)) if final else 0.0,
        language_code=[language],
    )
    if word_offsets and final:
        best.words.extend(_words(segments, punctuation, offset_s, language, step_ms, boosted))
    alts, seen = [best], {text}
    for hyp in out.get("alternatives", []):
        other = render(hyp["text"], punctuation, final, verbatim, boosted)
        if len(alts) >= max(1, max_alternatives):
            break
        if other and other not in seen:
            seen.add(other)
            alts.append(
                rasr.SpeechRecognitionAlternative(
                    transcript=other + tail, confidence=confidence(hyp["score"]) if final else 0.0,
                    language_code=[language],
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
        alts = alternatives(out if i == 0 else {}, punct, 0.0, language, n, True, words, group,
                            verbatim=config.verbatim_transcripts, boosted=boost.phrases(config))
        if alts:
            end = duration if i == len(groups) - 1 else min(duration, group[-1]["end"])
            results.append(
                rasr.SpeechRecognitionResult(alternatives=alts, channel_tag=1, audio_processed=end)
            )
    return results


def decoder_options(config) -> dict:
    """What the acoustic model is asked for: word times, n-best, and the boosted phrases of `speech_contexts`
    as Whisper hotwords, strongest first (Whisper's hotwords prompt has no weight; rivalite.boost)."""
    return {
        "word_time_offsets": config.enable_word_time_offsets,
        "max_alternatives": config.max_alternatives,
        "hotwords": " ".join(boost.phrases(config)),
    }
