"""Phase 050: one Recognize and one StreamingRecognize of the corpus' smoke clip."""

from __future__ import annotations

import grpc
import pytest

from rivaverify.asr import client
from rivaverify.asr.wer import wer

pytestmark = [pytest.mark.smoke, pytest.mark.production]


def _call(what, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except grpc.RpcError as exc:
        pytest.fail(f"{what} failed with {exc.code().name}: {exc.details()}")


def test_recognize(riva, smoke_clip, settings, thresholds, record_figure):
    utt, audio = smoke_clip
    cfg = client.config(audio, utt.lang or settings.language_code, model=settings.model_name or "")
    result = _call("Recognize", client.recognize, riva, audio, cfg, timeout=thresholds.max_response_s * 3)
    score = wer(utt.text, result.transcript)
    record_figure("recognize.wer", round(score, 4), transcript=result.transcript, reference=utt.text)
    record_figure("recognize.seconds", round(result.seconds, 3), "s", audio_s=round(audio.duration_s, 3))
    assert score <= thresholds.max_wer, (
        f"Recognize of {utt.id}: WER {score:.2f} over {thresholds.max_wer}: heard {result.transcript!r}, "
        f"expected {utt.text!r}")
    assert result.seconds <= thresholds.max_response_s, (
        f"Recognize of {utt.id} ({audio.duration_s:.1f} s of audio) took {result.seconds:.2f} s, "
        f"bound {thresholds.max_response_s} s")


def test_streaming_recognize(riva, smoke_clip, settings, thresholds, record_figure, chunk_ms):
    utt, audio = smoke_clip
    cfg = client.config(audio, utt.lang or settings.language_code, model=settings.model_name or "")
    result = _call("StreamingRecognize", client.stream, riva, audio, cfg, chunk_ms=chunk_ms, interim=True,
                   timeout=thresholds.max_response_s * 3 + audio.duration_s)
    assert result.finals, f"no response with is_final came back for {utt.id} ({len(result.received)} responses)"
    score = wer(utt.text, result.transcript)
    final_after_last_chunk = result.finals[-1].at - result.sent_at[-1]
    record_figure("streaming.wer", round(score, 4), transcript=result.transcript, reference=utt.text)
    record_figure("streaming.final_after_last_chunk", round(final_after_last_chunk, 3), "s",
                  partials=len(result.partials), finals=len(result.finals))
    assert score <= thresholds.max_wer, (
        f"StreamingRecognize of {utt.id}: WER {score:.2f} over {thresholds.max_wer}: heard "
        f"{result.transcript!r}, expected {utt.text!r}")
    assert final_after_last_chunk <= thresholds.max_response_s, (
        f"the final came {final_after_last_chunk:.2f} s after the last chunk, bound {thresholds.max_response_s} s")
