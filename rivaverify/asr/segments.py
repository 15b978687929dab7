"""A stream's finals against the offline transcript of the same clip: words repeated, or audio lost, where one
final ends and the next begins. The streaming model's own misrecognitions (a word dropped, substituted or split
inside an utterance, a word missed at the start of a stream) are not judged here: the streaming WER is. The
reason for each threshold is in docs/riva-behaviour.md (the streaming contract)."""

from __future__ import annotations

import jiwer

from rivaverify.asr.wer import normalize

PER_BOUNDARY = 1  # words lost or added at one boundary that a healthy endpointer may account for
NEAR = 1  # a lost word attaches to a boundary when at most this many heard words lie between them
SAME_SPAN = 0.6  # letters heard / letters said at least this (and at most its inverse): a misrecognition
MIN_PHRASE = 2  # a repeat inside one final counts from this many words (one word twice is a model's stutter)
MAX_PHRASE = 12  # and up to this many (about 4 s of speech: several server chunks sent or decoded twice)


def _words(finals: list[str]) -> list[list[str]]:
    return [w for w in (normalize(f).split() for f in finals) if w]


def repeats(finals: list[str], reference: str) -> list[str]:
    """Words that end one final and start the next again (`a b c | b c d`), and phrases of MIN_PHRASE words or
    more said again at once inside one final, more times in a row than the reference says them."""
    words = _words(finals)
    ref = normalize(reference).split()
    most = {}

    def in_ref(phrase: list[str]) -> int:
        key = tuple(phrase)
        if key not in most:
            most[key] = max((_run(ref[i:], phrase) for i in range(len(ref))), default=0)
        return most[key]

    out = []
    for a, b in zip(words, words[1:], strict=False):
        n = max((n for n in range(1, min(len(a), len(b)) + 1) if a[-n:] == b[:n]), default=0)
        if not n:
            continue
        phrase = a[-n:]
        said = _run(a[::-1], phrase[::-1]) + _run(b, phrase)
        if said > in_ref(phrase):
            out.append(f"{' '.join(phrase)!r} ends a final and starts the next ({said} times in a row): "
                       f"{' '.join(a)!r} | {' '.join(b)!r}")
    for w in words:
        out += _inner_repeats(w, in_ref)
    return out


def _inner_repeats(words: list[str], in_ref) -> list[str]:
    out, i = [], 0
    while i < len(words):
        found = 0
        for n in range(min(MAX_PHRASE, len(words[i:]) // 2), MIN_PHRASE - 1, -1):
            phrase = words[i:i + n]
            said = _run(words[i:], phrase)
            if said > 1 and said > in_ref(phrase):
                out.append(f"{' '.join(phrase)!r} said {said} times in a row inside one final: {' '.join(words)!r}")
                found = n * said
                break
        i += found or 1
    return out


def _run(words: list[str], phrase: list[str]) -> int:
    """How many times `phrase` repeats at the start of `words`."""
    n, k = len(phrase), 0
    while words[k * n:(k + 1) * n] == phrase:
        k += 1
    return k


def lost(finals: list[str], offline: str) -> str:
    """Words lost or added where one final ends and the next begins, against the offline transcript (a word by
    word alignment), beyond PER_BOUNDARY at any one boundary; '' when within. A stretch heard otherwise (a
    substitution beside the lost or added words whose letters span about as much: `graph to one` / `graphql`,
    `nearly` / `need to`) is a misrecognition, not lost audio. Finals that hold no word where the offline
    transcript has some lost everything."""
    segments = _words(finals)
    ref, hyp = normalize(offline).split(), [w for s in segments for w in s]
    if ref and not hyp:
        return f"{len(ref)} words lost: the finals hold no word of the offline transcript {' '.join(ref)!r}"
    if not ref or len(segments) < 2:
        return ""
    bounds, at = [], 0
    for s in segments[:-1]:
        at += len(s)
        bounds.append(at)
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    per: dict[int, tuple[list[str], list[str]]] = {}
    for c in _gaps(out.alignments[0], ref, hyp):
        b = min(range(len(bounds)), key=lambda k: _distance(c, bounds[k]))
        if _distance(c, bounds[b]) <= NEAR:
            dropped, added = per.setdefault(b, ([], []))
            (dropped if c.type == "delete" else added).extend(
                ref[c.ref_start_idx:c.ref_end_idx] if c.type == "delete" else hyp[c.hyp_start_idx:c.hyp_end_idx])
    problems = [f"between finals {b + 1} and {b + 2} ({' '.join(hyp[max(0, bounds[b] - 3):bounds[b]])!r} | "
                f"{' '.join(hyp[bounds[b]:bounds[b] + 3])!r}): {len(d)} words lost {d} and {len(a)} added {a}"
                for b, (d, a) in sorted(per.items()) if len(d) + len(a) > PER_BOUNDARY]
    if not problems:
        return ""
    return ("; ".join(problems) + f" against the offline transcript, {PER_BOUNDARY} allowed per boundary "
            f"({len(segments)} finals)")


def _distance(chunk, bound: int) -> int:
    """Heard words between a deletion or insertion and a boundary (0: it touches the boundary)."""
    if chunk.type == "delete":
        return abs(chunk.hyp_start_idx - bound)
    return max(0, chunk.hyp_start_idx - bound, bound - chunk.hyp_end_idx)


def _gaps(chunks: list, ref: list[str], hyp: list[str]) -> list:
    """The deletions and insertions that are not part of a stretch heard otherwise: each pairs at most with one
    substitution beside it, when the letters of the two sides span about as much."""
    used, out = set(), []
    for i, c in enumerate(chunks):
        if c.type not in ("delete", "insert"):
            continue
        pair = [j for j in (i - 1, i + 1) if 0 <= j < len(chunks) and j not in used
                and chunks[j].type == "substitute" and _same_span(c, chunks[j], ref, hyp)]
        if pair:
            used.add(pair[0])
            continue
        out.append(c)
    return out


def _same_span(gap, sub, ref: list[str], hyp: list[str]) -> bool:
    said = ref[sub.ref_start_idx:sub.ref_end_idx] + ref[gap.ref_start_idx:gap.ref_end_idx]
    heard = hyp[sub.hyp_start_idx:sub.hyp_end_idx] + hyp[gap.hyp_start_idx:gap.hyp_end_idx]
    a, b = sum(map(len, said)), sum(map(len, heard))
    return bool(a and b) and SAME_SPAN <= b / a <= 1 / SAME_SPAN
