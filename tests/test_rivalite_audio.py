"""riva-lite's audio decoding, transcript conventions and utterance tracking (no server needed)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rivalite import audio as A
from rivalite.streaming import Endpointer, Endpointing, stability, utterance_spans
from rivalite.transcript import normalize
from rivalite.vad import Vad

SAMPLE = Path(__file__).resolve().parents[1] / "audio" / "en-US_sample.wav"


@pytest.fixture(scope="module")
def sample():
    data, rate = sf.read(SAMPLE, dtype="float32")
    return data, rate


def encode(data, rate, fmt, subtype, channels=None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, data, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def test_wav_file_with_header_needs_no_config(sample):
    data, rate = sample
    out, got_rate = A.decode(SAMPLE.read_bytes())
    assert got_rate == rate and np.array_equal(out, data)


@pytest.mark.parametrize(
    "subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"]
)
def test_wav_subtypes_match_libsndfile(sample, subtype):
    blob = encode(sample[0], 22050, "WAV", subtype)
    out, rate = A.decode(blob, A.LINEAR_PCM, 16000)  # the header wins over the config
    assert rate == 22050
    np.testing.assert_allclose(out, sf.read(io.BytesIO(blob), dtype="float32")[0], atol=1e-6)


@pytest.mark.parametrize("subtype, encoding", [("ULAW", A.MULAW), ("ALAW", A.ALAW), ("PCM_16", A.LINEAR_PCM)])
def test_headerless_g711_and_pcm_match_libsndfile(sample, subtype, encoding):
    blob = encode(sample[0], 8000, "RAW", subtype)
    out, rate = A.decode(blob, encoding, 8000)
    ref = sf.read(
        io.BytesIO(blob), dtype="float32", format="RAW", subtype=subtype, samplerate=8000, channels=1
    )[0]
    assert rate == 8000 and np.array_equal(out, ref)


def test_channels_are_mixed_down(sample):
    stereo = np.stack([sample[0], np.zeros_like(sample[0])], axis=1)
    out, _ = A.decode(encode(stereo, 16000, "RAW", "PCM_16"), A.LINEAR_PCM, 16000, 2)
    np.testing.assert_allclose(out, sample[0] / 2, atol=1e-4)


@pytest.mark.parametrize(
    "fmt, subtype, encoding",
    [("FLAC", "PCM_16", A.FLAC), ("OGG", "OPUS", A.OGGOPUS), ("OGG", "VORBIS", A.ENCODING_UNSPECIFIED)],
)
def test_containers_decode(sample, fmt, subtype, encoding):
    out, rate = A.decode(encode(sample[0], 16000, fmt, subtype), encoding)
    assert rate in (16000, 48000)
    assert abs(len(out) / rate - len(sample[0]) / 16000) < 0.05


def test_streaming_in_odd_chunks_equals_whole(sample):
    blob = SAMPLE.read_bytes()
    dec = A.StreamDecoder()
    for i in range(0, len(blob), 777):  # chunks that split the header and samples
        dec.feed(blob[i : i + 777])
    assert np.array_equal(dec.finish(), sample[0])


def test_metadata_after_the_data_chunk_is_not_audio(sample):
    blob = SAMPLE.read_bytes() + b"LIST" + struct.pack("<I", 4) + b"INFO"
    out, _ = A.decode(blob)
    assert len(out) == len(sample[0])


@pytest.mark.parametrize(
    "blob, encoding, rate, message",
    [
        (b"", A.LINEAR_PCM, 16000, "empty"),
        (b"\x00" * 3, A.LINEAR_PCM, 16000, "partial frame"),
        (b"\x00" * 100, A.LINEAR_PCM, 0, "set sample_rate_hertz"),
        (b"\x00" * 100, A.LINEAR_PCM, 1000, "between 8000 and 192000"),
        (b"\x00" * 100, A.FLAC, 16000, "does not start with a fLaC"),
        (b"fLaC" + b"\x07" * 200, A.FLAC, 16000, "cannot decode"),
        (b"RIFF\x00\x00\x00\x00WAVE", A.ENCODING_UNSPECIFIED, 0, "truncated"),
        (b"\x00" * 100, 99, 16000, "unknown audio encoding"),
    ],
)
def test_bad_audio_is_a_clear_error(blob, encoding, rate, message):
    with pytest.raises(A.AudioError, match=message):
        A.decode(blob, encoding, rate)


def test_normalize_matches_riva_conventions():
    assert normalize(" What is natural language processing?", False) == "what is natural language processing"
    assert normalize(" What is natural language processing?", True) == "What is natural language processing?"
    assert normalize("Don't stop-now, 'Bob'!", False) == "don't stop now bob"


def test_endpointing_rules_on_speech_probabilities():
    """Riva's rules: start when start_threshold of start_history is speech, stop when stop_threshold of
    stop_history is not (32 ms frames)."""
    def events(probs, **kw):
        ep = Endpointer(Endpointing(**kw))
        return [(i, e) for i, p in enumerate(probs) if (e := ep.step(p))]

    speech, pause = [0.9] * 40, [0.1] * 30  # 1.28 s of speech, 0.96 s of silence
    assert events(speech + pause + speech + pause) == [(9, "start"), (64, "stop"), (71, "start"), (134, "stop")]
    assert events(speech + pause + speech + pause, stop_history=1200) == [(9, "start")]  # pauses too short
    assert events(speech + pause, stop_history_eou=320) == [(9, "start"), (49, "eou"), (64, "stop")]
    assert events([0.1] * 100) == []


def test_utterance_spans_of_a_whole_signal():
    probs = [0.1] * 10 + [0.9] * 40 + [0.1] * 30 + [0.9] * 20
    assert utterance_spans(probs, Endpointing()) == [(2, 75), (72, 100)]  # from the start window


def test_vad_hears_speech_not_silence(sample):
    data, rate = sample
    probs = Vad(rate).feed(np.concatenate([np.zeros(rate, np.float32), data]))
    assert max(probs[:25]) < 0.5 and max(probs[40:]) > 0.5


def test_stability():
    assert stability("", "what is") == 0.1
    assert stability("what is", "what is natural") == pytest.approx(0.667, abs=1e-3)
    assert stability("a b c", "a b c") == 0.9
