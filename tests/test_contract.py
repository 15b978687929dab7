"""The streaming contract (rivaverify.asr.contract) on hand-made streams: what passes, and each way to break it."""

from __future__ import annotations

from pathlib import Path

from rivaverify.asr.audio import Audio
from rivaverify.asr.client import Received, Response, Streamed
from rivaverify.asr.contract import stream_problems
from rivaverify.asr.corpus import Utterance
from rivaverify.asr.latency import measure
from rivaverify.asr.streams import StreamRun

TEXT = "what is natural language processing"
CHUNK_S = 0.1


def run(finals: list[tuple[str, float]], seconds: float = 3.0, partials: bool = True, per_chunk: bool = True,
        error: str = "") -> StreamRun:
    """A 16 kHz mono clip of `seconds` streamed in 100 ms chunks, answered as Riva answers when the server chunk
    is the client's: one response per chunk (a partial, or a final where one ends at that chunk), the last final
    one response after the last chunk. `finals` are (text, audio_processed); `per_chunk=False` drops half the
    responses."""
    n = round(seconds / CHUNK_S)
    audio = Audio(Path("clip.wav"), bytes(int(seconds * 16000) * 2), 16000, 1)
    s = Streamed(sent_at=[i * CHUNK_S for i in range(n)], seconds=seconds + 0.5)
    early = {min(n - 1, max(0, round(p / CHUNK_S) - 1)): (text, p) for text, p in finals[:-1]}
    for i in range(n if per_chunk else n // 2):
        at = i * CHUNK_S + 0.05
        if i in early:
            s.received.append(Received(at, True, early[i][0], 0.0, early[i][1], i + 1))
        elif partials:
            s.received.append(Received(at, False, "what is", 0.5, (i + 1) * CHUNK_S, i + 1))
        s.responses.append(Response(at, i in early, (i + 1) * CHUNK_S))
    for text, processed in finals[-1:]:
        s.received.append(Received(seconds + 0.1, True, text, 0.0, processed, n))
        s.responses.append(Response(seconds + 0.1, True, processed))
    out = StreamRun(Utterance(Path("clip.wav"), TEXT, seconds), audio, error=error)
    if not error:
        out.streamed, out.timing = s, measure(s, CHUNK_S * 1000, seconds)
    return out


def problems(r: StreamRun, offline: str = TEXT) -> list[str]:
    return stream_problems(r, offline, TEXT, CHUNK_S)


def test_a_healthy_stream_keeps_the_contract():
    assert problems(run([(TEXT, 3.0)])) == []
    assert problems(run([("what is natural", 1.5), ("language processing", 3.0)])) == []


def test_each_broken_rule_is_named():
    assert problems(run([], error="UNAVAILABLE: gone")) == ["clip.wav: stream failed: UNAVAILABLE: gone"]
    assert problems(run([])) == ["clip.wav: no result with is_final"]
    assert problems(run([(TEXT, 3.0)], partials=False)) == [
        "clip.wav: no interim result arrived while audio was being sent"]
    [beyond] = problems(run([(TEXT, 3.5)]))
    assert "claims audio_processed 3.50 s, beyond the 3.00 s of audio sent" in beyond
    back = problems(run([("language processing", 3.0), ("what is natural", 2.9)]))
    assert "clip.wav: audio_processed of the finals goes back: [3.0, 2.9]" in back
    [lost] = problems(run([("what is", 1.0), ("processing", 3.0)]))
    assert lost.startswith("clip.wav: between finals 1 and 2 ('what is' | 'processing'): 2 words lost "
                           "['natural', 'language']")


def test_what_a_healthy_riva_varies_in_is_not_a_problem():
    """The last final ended by endpointing before a trailing silence, whole server chunks, and responses
    that do not pair one to one (the client's chunk is not the server's): reported, not failed."""
    assert problems(run([(TEXT, 2.5)])) == []
    assert problems(run([(TEXT, 3.0 - CHUNK_S)])) == []
    unpaired = run([(TEXT, 3.0)], per_chunk=False)
    assert problems(unpaired) == [] and unpaired.timing.pairing != "per chunk"
    assert "pairs them one to one" in unpaired.timing.flags[0]


def test_the_streaming_models_own_misses_keep_the_contract():
    """A healthy Riva's streaming model hears otherwise than its offline one: a word missed at the start or inside
    an utterance, words substituted. The streaming WER judges those, not the contract."""
    assert problems(run([("is natural language processing", 3.0)])) == []
    assert problems(run([("what is neutral language processes", 3.0)])) == []
    assert problems(run([("what is natural", 1.5), ("language processes", 3.0)])) == []
    assert problems(run([("what is natural language", 2.0), ("processing processing", 3.0)])) == []
