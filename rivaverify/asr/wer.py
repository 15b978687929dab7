"""Word error rate the way the ASR field computes it: Whisper's English normalizer, then jiwer."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import jiwer


@lru_cache(maxsize=1)
def _normalizer():
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalize(text: str) -> str:
    """Whisper's English normalization: casing, punctuation, numbers and spellings made uniform."""
    return " ".join(_normalizer()(text).split())


@dataclass(frozen=True)
class Score:
    wer: float
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int


def score(references: list[str], hypotheses: list[str]) -> Score:
    """Corpus-level WER = (S + D + I) / N over all utterances (not a mean of per-utterance WERs)."""
    refs = [normalize(r) for r in references]
    hyps = [normalize(h) for h in hypotheses]
    n = sum(len(r.split()) for r in refs)
    if n == 0:
        raise ValueError("the references hold no words: WER is undefined")
    s = d = i = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        if not ref:
            i += len(hyp.split())
            continue
        out = jiwer.process_words(ref, hyp or "")
        s, d, i = s + out.substitutions, d + out.deletions, i + out.insertions
    return Score((s + d + i) / n, s, d, i, n)


def wer(reference: str, hypothesis: str) -> float:
    return score([reference], [hypothesis]).wer
