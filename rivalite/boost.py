"""Word boosting as Riva shows it: a boosted word comes out spelled as it was given.

Riva adds the phrases of `speech_contexts` to its decoder's vocabulary with the context's boost; what the decoder
emits is the phrase as given, case included, in transcripts that are otherwise lowercase (NVIDIA's python-clients
integration tests: `--boosted-lm-words AntiBERTa --boosted-lm-words ABlooper --boosted-lm-score 20.0` gives
`AntiBERTa and ABlooper both transformer based ...`, and `AntiBERTa` is one word in its word times). riva-lite
passes the phrases to Whisper as hotwords (which bias its decoding, with no weight), then writes a stretch of one
to three heard words whose letters are those of a boosted phrase, or close to them, as the phrase
(`anti berta` -> `AntiBERTa`, `abloope` -> `ABlooper`). A boost of zero or less squelches in Riva; not imitated.
"""

from __future__ import annotations

import difflib
import re

CLOSE = 0.8  # difflib ratio of the letters from which a heard stretch is taken for the boosted phrase
MAX_SPAN = 3  # heard words one boosted word may have been split into
_EDGE = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)


def phrases(config) -> list[str]:
    """The phrases of `speech_contexts` with a positive boost, strongest first."""
    boosted: dict[str, float] = {}
    for ctx in config.speech_contexts:
        if ctx.boost > 0:
            for phrase in ctx.phrases:
                if phrase.strip():
                    boosted[phrase.strip()] = max(ctx.boost, boosted.get(phrase.strip(), 0.0))
    return sorted(boosted, key=lambda p: -boosted[p])


def _letters(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def spans(words: list[str], boosted: list[str]) -> list[tuple[int, int, str]]:
    """(first, count, phrase): the stretches of `words` heard for a boosted phrase, in order, not overlapping;
    the closest stretches are taken first (`ask nemotron` is not taken for `Nemotron` when `nemotron` is)."""
    keys = [(p, _letters(p)) for p in boosted if _letters(p)]
    found = []
    for i in range(len(words)):
        for n in range(1, min(MAX_SPAN, len(words) - i) + 1):
            heard = "".join(_letters(w) for w in words[i:i + n])
            for phrase, key in keys if heard else ():
                score = difflib.SequenceMatcher(None, heard, key).ratio()
                if score >= CLOSE:
                    found.append((-score, n, i, phrase))
    taken: set[int] = set()
    out = []
    for _, n, i, phrase in sorted(found):
        if taken.isdisjoint(range(i, i + n)):
            taken.update(range(i, i + n))
            out.append((i, n, phrase))
    return sorted(out)


def spell(text: str, boosted: list[str]) -> str:
    """`text` with each stretch heard for a boosted phrase written as the phrase (edge punctuation kept)."""
    if not boosted or not text:
        return text
    words = text.split()
    for first, n, phrase in reversed(spans(words, boosted)):
        lead = _EDGE.match(words[first])[1]
        trail = _EDGE.match(words[first + n - 1])[3]
        words[first:first + n] = [lead + phrase + trail]
    return " ".join(words)
