"""The corpus' clips with pauses: several utterances, each pause long enough for Riva's default endpointing
(stop_history 800 ms), references that are their sources' joined, remade byte for byte by make_corpus.py."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import soundfile as sf

from rivaverify.asr import corpus
from rivaverify.asr.wer import normalize
from tests.conftest import ROOT

AUDIO = ROOT / "audio"
STOP_HISTORY_S = 0.8  # Riva's default endpointing stop_history (ms 800)


def _make_corpus():
    spec = importlib.util.spec_from_file_location("make_corpus", AUDIO / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows() -> list[dict]:
    return [json.loads(line) for line in (AUDIO / "manifest.json").read_text().splitlines() if line.strip()]


def _silences(x: np.ndarray, rate: int, rms_floor: float) -> list[float]:
    """Runs of quiet 20 ms frames between the first and last loud one, in seconds."""
    frame = rate // 50
    rms = np.array([np.sqrt(np.mean(x[i : i + frame] ** 2)) for i in range(0, len(x) - frame + 1, frame)])
    loud = np.flatnonzero(rms >= rms_floor)
    runs, quiet = [], 0
    for is_loud in rms[loud[0] : loud[-1] + 1] >= rms_floor:
        if is_loud:
            if quiet:
                runs.append(quiet * frame / rate)
            quiet = 0
        else:
            quiet += 1
    return runs


def test_the_pause_clips_hold_several_utterances_split_by_long_pauses():
    make = _make_corpus()
    pauses = [r for r in _rows() if r["audio_filepath"].startswith("pause-")]
    assert len(pauses) == 3 and sorted(r["utterances"] for r in pauses) == [2, 3, 4]
    by_file = {r["audio_filepath"]: r for r in _rows()}
    for row in pauses:
        x, rate = sf.read(AUDIO / row["audio_filepath"], dtype="float32")
        assert rate == 16000 and x.ndim == 1 and len(x) / rate == pytest.approx(row["duration"], abs=1e-3)
        gaps = sorted(_silences(x, rate, make.SPEECH_RMS), reverse=True)
        between, within = gaps[: row["utterances"] - 1], gaps[row["utterances"] - 1 :]
        assert min(between) >= 1.2 and min(between) == pytest.approx(row["pause_s"], abs=0.03), row
        assert max(within, default=0) < STOP_HISTORY_S, f"{row['audio_filepath']}: a pause inside an utterance"
        joined = " ".join(by_file[s]["text"] for s in row["sources"])
        assert normalize(row["text"]) == normalize(joined)
        assert 2 <= row["duration"] <= 20


def test_make_corpus_remakes_the_pause_clips_byte_for_byte(tmp_path):
    make = _make_corpus()
    rows = [r for r in _rows() if not r["audio_filepath"].startswith("pause-")]
    made = make.pauses(rows, tmp_path)
    assert made == [r for r in _rows() if r["audio_filepath"].startswith("pause-")]
    for row in made:
        assert (tmp_path / row["audio_filepath"]).read_bytes() == (AUDIO / row["audio_filepath"]).read_bytes()


def test_the_corpus_loads_with_the_pause_clips_last_and_the_short_corpus_unchanged():
    utts = corpus.load(AUDIO / "manifest.json")
    names = [u.path.name for u in utts]
    assert names[0] == "en-US_sample.wav" and names[-3:] == ["pause-01.wav", "pause-02.wav", "pause-03.wav"]
    short = [n for n, u in zip(names[1:], utts[1:], strict=True) if u.duration <= 5.0][:5]
    assert short == ["tts-01.wav", "tts-02.wav", "tts-03.wav", "tts-04.wav", "tts-05.wav"]


def test_the_default_stream_spread_includes_a_pause_clip():
    """Phase 060 streams 6 clips spread over the sorted durations (RIVA__STREAM_UTTERANCES=6): pause-01 is
    one of them, so the checks across final boundaries run end to end by default."""
    durations = sorted((r["duration"], r["audio_filepath"]) for r in _rows())
    n = 6
    picked = [durations[round(i * (len(durations) - 1) / (n - 1))][1] for i in range(n)]
    assert "pause-01.wav" in picked, picked


def test_the_boosting_clip_is_listed():
    (row,) = [json.loads(line) for line in (AUDIO / "boosting.json").read_text().splitlines()]
    x, rate = sf.read(AUDIO / row["audio_filepath"], dtype="float32")
    assert rate == 16000 and len(x) / rate == pytest.approx(row["duration"], abs=1e-3)
    assert row["phrase"] in row["text"]
