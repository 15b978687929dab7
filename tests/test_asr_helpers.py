"""WER, corpus manifests and audio loading (no server needed)."""

from __future__ import annotations

import json

import pytest

from rivaverify.asr import audio, corpus
from rivaverify.asr.wer import normalize, score, wer
from tests.conftest import ROOT


def test_normalizer_makes_casing_punctuation_and_numbers_uniform():
    assert normalize("What is Natural-Language processing?") == "what is natural language processing"
    assert normalize("It's twenty dollars, Mr. Smith.") == normalize("it is $20 mister smith")


def test_corpus_wer_is_total_errors_over_total_reference_words():
    s = score(["a b c d", "e f"], ["a x c d", "e f g h"])  # 1 substitution + 2 insertions over 6 words
    assert (s.substitutions, s.deletions, s.insertions, s.reference_words) == (1, 0, 2, 6)
    assert s.wer == pytest.approx(3 / 6)
    assert wer("what is natural language processing", "What is natural language processing?") == 0
    with pytest.raises(ValueError, match="no words"):
        score([""], ["x"])


def test_the_project_corpus_loads_and_matches_its_files():
    for manifest in ("manifest.json", "formats.json"):
        utts = corpus.load(ROOT / "audio" / manifest)
        assert utts and all(u.path.is_file() for u in utts)
        for u in utts:
            a = audio.load_pcm16(u.path)
            assert a.duration_s == pytest.approx(u.duration, abs=0.01), u.id
    main = corpus.load(ROOT / "audio" / "manifest.json")
    assert len(main) >= 21 and main[0].path.name == "en-US_sample.wav"
    assert all(2 <= u.duration <= 20 for u in main)


def test_manifest_errors_name_the_file_and_line(tmp_path):
    m = tmp_path / "m.json"
    with pytest.raises(corpus.ManifestError, match="not found: set RIVA__CORPUS"):
        corpus.load(m)
    m.write_text(json.dumps({"audio_filepath": "x.wav", "text": "hi"}) + "\n")
    with pytest.raises(corpus.ManifestError, match=r"m.json:1: not a manifest line"):
        corpus.load(m)
    m.write_text(json.dumps({"audio_filepath": "x.wav", "text": "hi", "duration": 1}) + "\n")
    with pytest.raises(corpus.ManifestError, match=r"m.json:1: audio file .*x.wav not found"):
        corpus.load(m)


def test_audio_chunks_cover_the_pcm(tmp_path):
    a = audio.load_pcm16(ROOT / "audio" / "fmt-48k-stereo.wav")
    assert (a.rate, a.channels) == (48000, 2)
    chunks = a.chunks(100)
    assert b"".join(chunks) == a.pcm and len(chunks[0]) == 4800 * 2 * 2
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF nonsense")
    with pytest.raises(ValueError, match="bad.wav: cannot decode audio"):
        audio.load_pcm16(bad)


def test_streams_ask_for_each_clips_language(monkeypatch, tmp_path):
    from rivaverify.asr import client, streams

    asked = []

    def stream(auth, a, cfg, **kw):
        asked.append(cfg.language_code)
        return client.Streamed(sent_at=[0.0], seconds=0.1)

    monkeypatch.setattr(client, "stream", stream)
    pcm = audio.Audio(tmp_path / "x.wav", bytes(3200), 16000, 1)
    clips = [(corpus.Utterance(pcm.path, "", 0.1, lang), pcm) for lang in ("de-DE", None)]
    streams.run(None, clips, "en-US", 100, realtime=False)
    assert asked == ["de-DE", "en-US"]


def test_chunk_count_matches_the_chunks():
    from pathlib import Path

    from rivaverify.asr.audio import Audio

    for n in (0, 1, 3199, 3200, 3201, 16000):
        pcm = Audio(Path("x.wav"), b"\0" * (2 * n), 16000, 1)
        assert pcm.chunk_count(100) == len(pcm.chunks(100)), n
