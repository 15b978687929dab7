"""A stream's finals against the offline transcript of the same clip: words repeated or lost across segments."""

from __future__ import annotations

import jiwer

from rivaverify.asr.wer import normalize


def repeats(finals: list[str], reference: str) -> list[str]:
    """Words that end one final and start the next again (`a b c | b c d`), more times in a row than
    the reference says them."""
    words = [w for w in (normalize(f).split() for f in finals) if w]
    ref = normalize(reference).split()
    out = []
    for a, b in zip(words, words[1:], strict=False):
        n = max((n for n in range(1, min(len(a), len(b)) + 1) if a[-n:] == b[:n]), default=0)
        if not n:
            continue
        phrase = a[-n:]
        said = _run(a[::-1], phrase[::-1]) + _run(b, phrase)
        if said > max((_run(ref[i:], phrase) for i in range(len(ref))), default=0):
            out.append(f"{' '.join(phrase)!r} ends a final and starts the next ({said} times in a row): "
                       f"{' '.join(a)!r} | {' '.join(b)!r}")
    return out


def _run(words: list[str], phrase: list[str]) -> int:
    """How many times `phrase` repeats at the start of `words`."""
    n, k = len(phrase), 0
    while words[k * n:(k + 1) * n] == phrase:
        k += 1
    return k


def lost(finals: list[str], offline: str, per_boundary: int = 1) -> str:
    """Words the finals drop or add against the offline transcript (a word-by-word alignment), beyond
    `per_boundary` words per boundary between finals; '' when within. One word split in two or two merged
    into one (`nearly` / `need to`: a substitution next to a one-word insertion or deletion) is a
    misrecognition, not a lost or added word."""
    segments = [f for f in finals if normalize(f)]
    ref, hyp = normalize(offline), normalize(" ".join(segments))
    allowed = per_boundary * max(0, len(segments) - 1)
    if not ref:
        dropped, added = [], hyp.split()
    else:
        out = jiwer.process_words(ref, hyp)
        r, h = out.references[0], out.hypotheses[0]
        chunks = _without_splits(out.alignments[0])
        dropped = [w for c in chunks if c.type == "delete" for w in r[c.ref_start_idx:c.ref_end_idx]]
        added = [w for c in chunks if c.type == "insert" for w in h[c.hyp_start_idx:c.hyp_end_idx]]
    if len(dropped) + len(added) <= allowed:
        return ""
    return (f"{len(dropped)} words lost {dropped} and {len(added)} added {added} against the offline "
            f"transcript, {allowed} allowed for {len(segments)} segments")


def _without_splits(chunks: list) -> list:
    """The alignment less one-word insertions and deletions that pair with a one-word substitution
    beside them (each substitution pairs once)."""
    used, out = set(), []
    for i, c in enumerate(chunks):
        if c.type in ("delete", "insert") and _size(c) == 1:
            pair = [j for j in (i - 1, i + 1) if 0 <= j < len(chunks) and j not in used
                    and chunks[j].type == "substitute" and _size(chunks[j]) == 1]
            if pair:
                used.add(pair[0])
                continue
        out.append(c)
    return out


def _size(chunk) -> int:
    return max(chunk.ref_end_idx - chunk.ref_start_idx, chunk.hyp_end_idx - chunk.hyp_start_idx)
