"""Phase 050: one Recognize and one StreamingRecognize of the corpus' smoke clip."""

from __future__ import annotations

import grpc
import pytest
import requests

from rivaverify import nim, triton_metrics
from rivaverify.asr import client, smoke
from rivaverify.asr.wer import wer
from rivaverify.report import figures

pytestmark = [pytest.mark.smoke, pytest.mark.production]


def _call(what, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except grpc.RpcError as exc:
        pytest.fail(f"{what} failed with {exc.code().name}: {exc.details()}")


def test_recognize(riva, needs_offline, smoke_clip, settings, thresholds, record_figure):
    utt, audio = smoke_clip
    cfg = client.config(audio, utt.lang or settings.language_code, model=settings.model_name or "")
    result = _call("Recognize", client.recognize, riva, audio, cfg, timeout=thresholds.max_response_s * 3)
    score = wer(utt.text, result.transcript)
    record_figure(figures.RECOGNIZE_WER, round(score, 4), transcript=result.transcript, reference=utt.text)
    record_figure(figures.RECOGNIZE_SECONDS, round(result.seconds, 3), "s", audio_s=round(audio.duration_s, 3))
    problem = smoke.wer_problem("Recognize", utt.id, score, thresholds.max_wer, result.transcript, utt.text)
    assert not problem, problem
    problem = smoke.response_problem("Recognize", utt.id, result.seconds, thresholds.max_response_s, audio.duration_s)
    assert not problem, problem
    problem = smoke.language_problem(result.response, cfg.language_code)
    assert not problem, f"Recognize of {utt.id}: {problem}"


def test_streaming_recognize(riva, needs_online, smoke_clip, settings, thresholds, record_figure, chunk_ms):
    utt, audio = smoke_clip
    cfg = client.config(audio, utt.lang or settings.language_code, model=settings.model_name or "")
    result = _call("StreamingRecognize", client.stream, riva, audio, cfg, chunk_ms=chunk_ms, interim=True,
                   timeout=thresholds.max_response_s * 3 + audio.duration_s)
    assert not (problem := smoke.no_final_problem(utt.id, result)), problem
    score = wer(utt.text, result.transcript)
    final_after_last_chunk = smoke.final_after_last_chunk(result)
    record_figure(figures.STREAMING_WER, round(score, 4), transcript=result.transcript, reference=utt.text)
    record_figure(figures.STREAMING_FINAL_AFTER_LAST_CHUNK, round(final_after_last_chunk, 3), "s",
                  partials=len(result.partials), finals=len(result.finals))
    problem = smoke.wer_problem("StreamingRecognize", utt.id, score, thresholds.max_wer, result.transcript, utt.text)
    assert not problem, problem
    assert not (problem := smoke.final_problem(final_after_last_chunk, thresholds.max_response_s)), problem


def test_http_transcription_agrees_with_grpc(nim_url, riva, needs_offline, smoke_clip, settings, thresholds,
                                             record_figure):
    """A NIM's POST /v1/audio/transcriptions of the smoke clip: within the WER bound, and agreeing with its gRPC
    Recognize (one model behind both APIs)."""
    utt, audio = smoke_clip
    lang = utt.lang or settings.language_code
    try:
        heard = nim.transcribe(nim_url, utt.path.read_bytes(), utt.id, lang,  # by language: NIM's HTTP
                               timeout=thresholds.max_response_s * 3)  # names models otherwise than gRPC does
    except (nim.NimError, requests.RequestException) as exc:
        pytest.fail(f"{exc}: check the NIM's log, and that RIVA__NIM_HTTP is its HTTP port")
    cfg = client.config(audio, lang, model=settings.model_name or "")
    grpc_text = _call("Recognize", client.recognize, riva, audio, cfg, timeout=thresholds.max_response_s * 3).transcript
    score, apart = wer(utt.text, heard.text), wer(grpc_text, heard.text)
    record_figure(figures.HTTP_WER, round(score, 4), transcript=heard.text, reference=utt.text)
    record_figure(figures.HTTP_SECONDS, round(heard.seconds, 3), "s")
    record_figure(figures.HTTP_GRPC_DISAGREEMENT, round(apart, 4), grpc=grpc_text)
    problem = smoke.wer_problem("/v1/audio/transcriptions", utt.id, score, thresholds.max_wer, heard.text, utt.text)
    assert not problem, problem
    assert apart <= thresholds.max_wer, (
        f"HTTP and gRPC disagree on {utt.id} by WER {apart:.2f} (bound {thresholds.max_wer}): HTTP {heard.text!r}, "
        f"gRPC {grpc_text!r}: the two APIs should reach one model (check NIM_TAGS_SELECTOR and the model names)")
    problem = smoke.response_problem("/v1/audio/transcriptions", utt.id, heard.seconds, thresholds.max_response_s)
    assert not problem, problem


def test_http_usage_counts_the_audio(nim_url, needs_offline, smoke_clip, settings, target, thresholds, record_fact):
    """The usage a NIM's JSON answer carries (Speech NIM 26.10: usage.type duration, usage.seconds the audio
    processed): required where the release promises it, checked wherever it is sent."""
    utt, audio = smoke_clip
    try:
        heard = nim.transcribe(nim_url, utt.path.read_bytes(), utt.id, utt.lang or settings.language_code,
                               timeout=thresholds.max_response_s * 3)
    except (nim.NimError, requests.RequestException) as exc:
        pytest.fail(f"{exc}: check the NIM's log, and that RIVA__NIM_HTTP is its HTTP port")
    record_fact("http_usage", {"release": str(target.release), "usage": heard.raw.get("usage"),
                               "audio_s": round(audio.duration_s, 3)})
    problem = nim.usage_problem(heard.raw, audio.duration_s, target.rules.http_usage,
                                f"POST /v1/audio/transcriptions of {utt.id}")
    assert not problem, problem


COUNTED_REQUESTS = 3


def test_triton_counts_the_requests(riva, needs_offline, smoke_clip, settings, thresholds, record_figure):
    """Triton's request counters grow by at least the Recognize calls that answered: the metrics are this
    deployment's, and Riva's API reaches Triton for each of them."""
    url = triton_metrics.metrics_url(settings)
    before = triton_metrics.scrape(url)
    if before.error:
        pytest.skip(f"no metrics at {url} ({before.error}): set RIVA__METRICS_URL or publish Triton's metrics port")
    if not before.models:
        pytest.skip(f"{url} serves no per-model request counters (nv_inference_request_success)")
    utt, audio = smoke_clip
    cfg = client.config(audio, utt.lang or settings.language_code, model=settings.model_name or "")
    for _ in range(COUNTED_REQUESTS):
        _call("Recognize", client.recognize, riva, audio, cfg, timeout=thresholds.max_response_s * 3)
    after, d = triton_metrics.counted(url, before, COUNTED_REQUESTS)
    assert not after.error, f"the metrics at {url} answered before the requests, not after: {after.error}"
    grew = triton_metrics.most_successes(d)
    record_figure("triton.success_per_recognize", round((grew or 0) / COUNTED_REQUESTS, 2), "requests",
                  per_model={m: c["success"] for m, c in sorted(d.models.items()) if c["success"]})
    assert not d.restarted, f"Triton restarted during {COUNTED_REQUESTS} Recognize calls: {d.restarted}"
    assert (grew or 0) >= COUNTED_REQUESTS, (
        f"{COUNTED_REQUESTS} Recognize calls answered, but no model's nv_inference_request_success at {url} grew by "
        f"as much (largest growth {grew or 0:g}): these metrics are not the deployment's Triton (RIVA__METRICS_URL), "
        "or Riva answered without Triton")
