"""Phase 060: corpus WER, the streaming contract, latency percentiles, concurrency, encodings, bad input.

Latency is measured as NVIDIA's riva_streaming_asr_client measures it (rivaverify.asr.latency), so the
numbers compare with that client's."""

from __future__ import annotations

import time

import grpc
import jiwer
import pytest
import requests
from pytest_html import extras as html_extras
from riva.client import ASRService, AudioEncoding
from riva.client.proto import riva_asr_pb2

from rivaverify import baseline, nim, nim_realtime, preflight
from rivaverify.asr import audio, client, contract, corpus, streams
from rivaverify.asr.latency import merge, stats
from rivaverify.asr.wer import normalize, score, wer
from rivaverify.report import charts, figures

pytestmark = pytest.mark.production
WORST = 3  # utterances whose alignment the report shows


def _call(what, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except grpc.RpcError as exc:
        pytest.fail(f"{what} failed with {exc.code().name}: {exc.details()}")


@pytest.fixture(scope="module")
def clips(utterances):
    return [(u, audio.load_pcm16(u.path)) for u in utterances]


@pytest.fixture(scope="module")
def offline(riva, needs_offline, clips, settings):
    """Every corpus clip through Recognize, timed, after one untimed warm-up call."""
    def cfg(utt, pcm):
        return client.config(pcm, utt.lang or settings.language_code, model=settings.model_name or "")

    _call("warm-up Recognize", client.recognize, riva, clips[0][1], cfg(*clips[0]))
    results = []
    for utt, pcm in clips:
        results.append((utt, pcm, _call(f"Recognize of {utt.id}", client.recognize, riva, pcm, cfg(utt, pcm))))
    return results


@pytest.fixture(scope="module")
def stream_clips(clips, settings):
    """The clips streamed at real time: spread over the corpus' durations (RIVA__STREAM_UTTERANCES)."""
    n = settings.stream_utterances or len(clips)
    by_len = sorted(clips, key=lambda c: c[1].duration_s)
    if n >= len(by_len):
        return by_len
    return [by_len[round(i * (len(by_len) - 1) / max(1, n - 1))] for i in range(n)]


@pytest.fixture(scope="module")
def deadline_s(thresholds):
    """How long a stream may take beyond its audio (as phase 050's): a server that hangs fails at this deadline."""
    return thresholds.max_response_s * 3


@pytest.fixture(scope="module")
def streamed(riva, needs_online, stream_clips, settings, deadline_s, chunk_ms):
    """One warm-up stream (not counted), then each clip at real-time pace with interim results."""
    streams.run(riva, stream_clips[:1], settings.language_code, chunk_ms, model=settings.model_name or "",
                timeout_s=deadline_s)
    return streams.run(riva, stream_clips, settings.language_code, chunk_ms,
                       model=settings.model_name or "", timeout_s=deadline_s)


def test_corpus_wer(offline, thresholds, record_figure, extras):
    refs = [u.text for u, _, _ in offline]
    hyps = [r.transcript for _, _, r in offline]
    total = score(refs, hyps)
    rows = sorted(((wer(u.text, r.transcript), u, r) for u, _, r in offline), key=lambda x: -x[0])
    record_figure(figures.CORPUS_WER, round(total.wer, 4), utterances=len(offline), words=total.reference_words,
                  substitutions=total.substitutions, deletions=total.deletions, insertions=total.insertions)
    record_figure("corpus.per_utterance", [{"id": u.id, "wer": round(w, 4), "heard": r.transcript}
                                           for w, u, r in rows])
    worst = [jiwer.visualize_alignment(jiwer.process_words(normalize(u.text), normalize(r.transcript) or "-"),
                                       show_measures=False) for w, u, r in rows[:WORST] if w > 0]
    extras.append(html_extras.html(
        charts.bars({"wer": {u.id: w * 100 for w, u, _ in rows}}, "WER per utterance", unit="%")
        + charts.table(["utterance", "WER", "reference", "heard"],
                       [[u.id, f"{w:.2f}", u.text, r.transcript] for w, u, r in rows])
        + "".join(charts.pre(a) for a in worst)))
    assert total.wer <= thresholds.max_wer, (
        f"corpus WER {total.wer:.3f} over {thresholds.max_wer} ({total.substitutions} S, {total.deletions} D, "
        f"{total.insertions} I in {total.reference_words} words); worst: "
        + "; ".join(f"{u.id} {w:.2f} heard {r.transcript!r}" for w, u, r in rows[:WORST]))


def test_offline_latency_and_rtfx(offline, thresholds, record_figure):
    seconds = [r.seconds for _, _, r in offline]
    audio_s = sum(p.duration_s for _, p, _ in offline)
    rtfx = audio_s / sum(seconds)
    slowest = max(offline, key=lambda x: x[2].seconds)
    record_figure(figures.OFFLINE_RTFX, round(rtfx, 2), "x", audio_s=round(audio_s, 2), wall_s=round(sum(seconds), 2))
    record_figure("offline.max_response_s", round(slowest[2].seconds, 3), "s", utterance=slowest[0].id)
    st = stats([x * 1000 for x in seconds])
    record_figure("offline.latency", round(st.p95, 1), "ms", **{k: round(v, 1) for k, v in vars(st).items()})
    assert rtfx >= thresholds.min_rtfx, f"offline RTFx {rtfx:.1f} below {thresholds.min_rtfx}"
    assert slowest[2].seconds <= thresholds.max_response_s, (
        f"Recognize of {slowest[0].id} ({slowest[1].duration_s:.1f} s) took {slowest[2].seconds:.2f} s, "
        f"bound {thresholds.max_response_s} s")


def test_streaming_contract(streamed, offline, chunk_ms, record_fact):
    offline_text = {u.id: r.transcript for u, _, r in offline}
    reference = {u.id: u.text for u, _, _ in offline}
    broken = [p for s in streamed for p in contract.stream_problems(
        s, offline_text[s.utterance.id], reference[s.utterance.id], chunk_ms / 1000)]
    record_fact("streams", [{"id": s.utterance.id, "chunks": len(s.streamed.sent_at) if s.streamed else 0,
                             "responses": len(s.streamed.responses) if s.streamed else 0,
                             "finals": [f.transcript for f in s.streamed.finals] if s.streamed else [],
                             "pairing": s.timing.pairing if s.timing else None,
                             "flags": s.timing.flags if s.timing else [],
                             "error": s.error} for s in streamed])
    assert not broken, "streaming contract broken:\n  " + "\n  ".join(broken)


def test_streaming_wer(streamed, thresholds, record_figure):
    """The streamed transcripts (finals joined) against the references, corpus-level, within the same bound."""
    ok = [s for s in streamed if s.streamed is not None and s.utterance.text.strip()]
    assert ok, "no stream with a reference text finished"
    total = score([s.utterance.text for s in ok], [s.streamed.transcript for s in ok])
    record_figure(figures.STREAMING_WER, round(total.wer, 4), utterances=len(ok), words=total.reference_words,
                  substitutions=total.substitutions, deletions=total.deletions, insertions=total.insertions)
    assert total.wer <= thresholds.max_wer, (
        f"streaming WER {total.wer:.3f} over {thresholds.max_wer}; worst: "
        + "; ".join(f"{s.utterance.id} {s.wer:.2f} heard {s.streamed.transcript!r}"
                    for s in sorted(ok, key=lambda s: -(s.wer or 0))[:WORST]))


def test_no_partials_when_interim_results_are_off(riva, needs_online, stream_clips, settings, deadline_s, chunk_ms):
    """The shortest streamed clip of 2 s or more (as long as the contract asks interim results of), not the
    longest: it streams at real time."""
    clip = next((c for c in stream_clips if c[1].duration_s >= 2), stream_clips[-1])
    runs = streams.run(riva, [clip], settings.language_code, chunk_ms, interim=False,
                       model=settings.model_name or "", timeout_s=deadline_s)
    assert not runs[0].error, runs[0].error
    assert runs[0].streamed.finals, "no final came back"
    assert not runs[0].streamed.partials, (
        f"{len(runs[0].streamed.partials)} interim results came back although interim_results was false")


def _latency_figures(record_figure, merged, partial, final):
    """p95 of each response kind: partial and final under their key figures' names, the others beside them."""
    keys, prefix = {"partial": partial, "final": final}, partial.rpartition(".")[0]
    for kind, st in merged.items():
        if st is not None:
            record_figure(keys.get(kind, f"{prefix}.{kind}"), round(st.p95, 1), "ms",
                          **{k: round(v, 1) for k, v in vars(st).items()})


def test_streaming_latency(streamed, thresholds, record_figure, extras):
    ok = [s for s in streamed if s.timing is not None]
    merged = merge([s.timing for s in ok])
    flags = [f for s in ok for f in s.timing.flags]
    _latency_figures(record_figure, merged, figures.LATENCY_PARTIAL, figures.LATENCY_FINAL)
    audio_s = sum(s.audio.duration_s for s in ok)
    record_figure(figures.STREAMING_RTFX, round(audio_s / sum(s.timing.wall_s for s in ok), 3), "x")
    extras.append(html_extras.html(
        charts.histogram({"partial": [x for s in ok for x in s.timing.partial_ms],
                          "final": [x for s in ok for x in s.timing.final_ms]}, "Latency per response")
        + charts.bars({k: {p: getattr(merged[k], p) for p in ("p50", "p90", "p95", "p99", "avg")}
                       for k in ("partial", "final") if merged[k]}, "Latency percentiles")))
    assert not [f for f in flags if "negative latency" in f], flags
    assert merged["final"] is not None, "no final latency was measured"
    assert merged["final"].p95 <= thresholds.max_final_p95_ms, (
        f"final latency p95 {merged['final'].p95:.0f} ms over {thresholds.max_final_p95_ms} ms")
    if merged["partial"] is not None:
        assert merged["partial"].p95 <= thresholds.max_partial_p95_ms, (
            f"partial latency p95 {merged['partial'].p95:.0f} ms over {thresholds.max_partial_p95_ms} ms")


def test_concurrent_streams(riva, deployment, target_host, stream_clips, streamed, thresholds, settings, chunk_ms,
                            record_figure, deadline_s):
    n = thresholds.concurrency
    items = [stream_clips[i % len(stream_clips)] for i in range(n)]
    pids = [p.pid for p in deployment.runtime.processes()] if deployment.runtime else []
    before = preflight.process_rss_mb(target_host, pids) if pids else None
    start = time.perf_counter()
    runs = streams.run(riva, items, settings.language_code, chunk_ms, parallel=n,
                       model=settings.model_name or "", timeout_s=deadline_s)
    wall = time.perf_counter() - start
    after = preflight.process_rss_mb(target_host, pids) if pids else None
    failed = [f"{r.utterance.id}: {r.error}" for r in runs if r.error]
    assert not failed, f"{len(failed)} of {n} concurrent streams failed: {failed}"
    single = {s.utterance.id: s.wer for s in streamed}
    worse = [f"{r.utterance.id}: {single[r.utterance.id]:.2f} alone, {r.wer:.2f} with {n} streams"
             for r in runs if r.wer is not None and single.get(r.utterance.id) is not None
             and r.wer > single[r.utterance.id] + 0.05]
    merged = merge([r.timing for r in runs])
    _latency_figures(record_figure, merged, figures.CONCURRENT_PARTIAL.format(n), figures.CONCURRENT_FINAL.format(n))
    record_figure(figures.CONCURRENT_RTFX.format(n), round(sum(r.audio.duration_s for r in runs) / wall, 2), "x",
                  streams=n)
    if before is not None:
        record_figure(figures.SERVER_RSS_MB, round(after, 1), "MiB", before=round(before, 1))
    assert not worse, f"WER degrades under {n} concurrent streams: {worse}"
    assert merged["final"] is not None, f"no final latency was measured with {n} streams"
    assert merged["final"].p95 <= thresholds.max_final_p95_ms, (
        f"with {n} streams the final latency p95 is {merged['final'].p95:.0f} ms, over "
        f"{thresholds.max_final_p95_ms} ms")
    if merged["partial"] is not None:
        assert merged["partial"].p95 <= thresholds.max_partial_p95_ms, (
            f"with {n} streams the partial latency p95 is {merged['partial'].p95:.0f} ms, over "
            f"{thresholds.max_partial_p95_ms} ms")


@pytest.fixture(scope="module")
def formats(settings):
    try:
        return corpus.load(settings.formats)
    except corpus.ManifestError as exc:
        pytest.fail(str(exc))


def test_encodings_and_rates(riva, needs_offline, formats, settings, thresholds, record_figure):
    wrong = []
    for utt in formats:
        pcm = audio.load_pcm16(utt.path)
        encoding = utt.encoding or "LINEAR_PCM"
        cfg = client.config(pcm, utt.lang or settings.language_code, model=settings.model_name or "",
                            encoding=AudioEncoding.Value(encoding))
        try:
            result = client.recognize(riva, pcm, cfg, data=utt.path.read_bytes())
        except grpc.RpcError as exc:
            wrong.append(f"{utt.id} ({encoding}, {pcm.rate} Hz, {pcm.channels} ch): {exc.code().name}: "
                         f"{exc.details()}")
            continue
        w = wer(utt.text, result.transcript)
        record_figure(f"format.{utt.id}", round(w, 3), encoding=encoding, rate=pcm.rate, channels=pcm.channels)
        if w > thresholds.max_wer:
            wrong.append(f"{utt.id} ({encoding}, {pcm.rate} Hz): WER {w:.2f}, heard {result.transcript!r}")
    assert not wrong, "encodings or rates not served:\n  " + "\n  ".join(wrong)


def test_server_survives_bad_input(riva, needs_offline, clips, settings, record_fact):
    """Each bad request gets a clear gRPC error (never a crash or a hang); the server keeps serving."""
    utt, pcm = clips[0]
    lang, model = utt.lang or settings.language_code, settings.model_name or ""
    cfg = lambda **kw: client.config(pcm, kw.pop("lang", lang), model=model, **kw)  # noqa: E731
    wav = utt.path.read_bytes()
    big = bytes(65 * 1024 * 1024)  # 35 min of silence: over riva-lite's 64 MiB and gRPC's default 4 MiB
    cases = {
        "wrong encoding (raw PCM declared FLAC)": (lambda: client.recognize(
            riva, pcm, cfg(encoding=AudioEncoding.FLAC), data=pcm.pcm), {"INVALID_ARGUMENT"}),
        "wrong sample rate (0 Hz for raw PCM)": (lambda: client.recognize(
            riva, pcm, _with(cfg(), sample_rate_hertz=0), data=pcm.pcm), {"INVALID_ARGUMENT"}),
        "empty audio": (lambda: client.recognize(riva, pcm, cfg(), data=b""), {"INVALID_ARGUMENT"}),
        "truncated file": (lambda: client.recognize(riva, pcm, cfg(), data=wav[:30]), {"INVALID_ARGUMENT"}),
        "corrupt FLAC": (lambda: client.recognize(riva, pcm, cfg(encoding=AudioEncoding.FLAC),
                                                  data=b"fLaC" + bytes(range(256)) * 8), {"INVALID_ARGUMENT"}),
        "unknown language": (lambda: client.recognize(riva, pcm, cfg(lang="xx-XX")), {"INVALID_ARGUMENT"}),
        "audio over the size limit": (lambda: client.recognize(riva, pcm, cfg(), data=big),
                                      {"RESOURCE_EXHAUSTED", "INVALID_ARGUMENT"}),
        "deadline that expires": (lambda: client.recognize(riva, pcm, cfg(), timeout=0.001),
                                  {"DEADLINE_EXCEEDED"}),
        "audio before the streaming config": (lambda: _audio_first(riva, pcm), {"INVALID_ARGUMENT"}),
        "client that disconnects mid-stream": (lambda: _disconnect(riva, pcm, cfg()), {"CANCELLED"}),
    }
    outcome, wrong = {}, []
    for name, (call, codes) in cases.items():
        started = time.perf_counter()
        try:
            call()
            got, detail = "OK", ""
        except grpc.RpcError as exc:
            got, detail = exc.code().name, exc.details() or ""
        outcome[name] = {"code": got, "details": detail[:200], "seconds": round(time.perf_counter() - started, 3)}
        if got not in codes:
            wrong.append(f"{name}: expected {sorted(codes)}, got {got} {detail[:120]!r}")
        elif got == "INVALID_ARGUMENT" and len(detail) < 10:
            wrong.append(f"{name}: INVALID_ARGUMENT without a clear message: {detail!r}")
        status = client.health(riva)
        after = client.recognize(riva, pcm, cfg()) if status == "SERVING" else None
        if after is None or wer(utt.text, after.transcript) > 0.5:
            wrong.append(f"after '{name}' the server no longer serves (health {status})")
            break
    record_fact("bad_input", outcome)
    assert not wrong, "bad input not handled:\n  " + "\n  ".join(wrong)


def _with(cfg, **fields):
    for k, v in fields.items():
        setattr(cfg, k, v)
    return cfg


def _audio_first(riva, pcm):
    requests = iter([riva_asr_pb2.StreamingRecognizeRequest(audio_content=pcm.pcm[:3200])])
    stub = ASRService(riva).stub
    for _ in stub.StreamingRecognize(requests, timeout=10, metadata=riva.get_auth_metadata()):
        pass


def _disconnect(riva, pcm, cfg):
    """Send the config and half a second of audio, then cancel the call as a client that goes away."""
    def requests():
        yield riva_asr_pb2.StreamingRecognizeRequest(
            streaming_config=riva_asr_pb2.StreamingRecognitionConfig(config=cfg, interim_results=True))
        for chunk in pcm.chunks(100)[:5]:
            yield riva_asr_pb2.StreamingRecognizeRequest(audio_content=chunk)
        time.sleep(30)  # never ends on its own: the cancel below does

    stub = ASRService(riva).stub
    call = stub.StreamingRecognize(requests(), timeout=60, metadata=riva.get_auth_metadata())
    time.sleep(0.5)
    call.cancel()
    for _ in call:
        pass


def test_realtime_websocket_contract(nim_url, needs_online, stream_clips, settings, target, thresholds, chunk_ms,
                                     record_figure):
    """A NIM's realtime transcription WebSocket, as NVIDIA's RealtimeClientASR speaks it, at real-time pace: the
    session is created and configured, the last result comes within the bound after the audio ends, within the
    WER bound, no error event, and the usage the release promises (Speech NIM 26.10: processed-audio seconds)."""
    found = {}
    for utt, pcm in stream_clips[:2]:
        wav = utt.path.read_bytes()
        session = nim_realtime.transcribe(nim_url, wav, pcm.chunk_bytes(chunk_ms), chunk_ms / 1000,
                                          utt.lang or settings.language_code,
                                          timeout_s=pcm.duration_s + thresholds.max_response_s * 3)
        score, text = nim_realtime.transcript_wer(session, utt.text)
        last = session.last
        record_figure(figures.REALTIME_WER.format(utt.id), round(score, 4), transcript=text,
                      deltas=len(session.of(nim_realtime.DELTA)), completed=len(session.of(nim_realtime.COMPLETED)),
                      final_after_audio_s=round(last[0] - session.done_at, 3) if last and session.done_at else None)
        found.update({f"{utt.id}: {p}": None for p in nim_realtime.problems(
            session, utt.text, thresholds.max_wer, thresholds.max_response_s)})
        found.update({f"{utt.id}: {p}": None for p in nim_realtime.usage_problems(
            session, pcm.duration_s, target.rules.realtime_usage)})
    assert not found, "realtime transcription broke its contract:\n  " + "\n  ".join(found)


def test_http_bad_uploads_get_clear_errors(nim_url, needs_offline, clips, settings, record_fact):
    """POST /v1/audio/transcriptions as a multipart form without a file gets a 4xx that says what is wrong (NIM's
    HTTP server is FastAPI: 422 with a `detail`); audio that is no audio gets an answer with a message (4xx
    expected; the status a NIM gives is not confirmed, so a 5xx is recorded, not failed), never a hang; the NIM
    keeps transcribing after both."""
    utt, _ = clips[0]
    lang = utt.lang or settings.language_code
    url = f"{nim_url}/v1/audio/transcriptions"
    cases = {  # name -> (request, the statuses that pass)
        "no file": (lambda: requests.post(url, files={"language": (None, lang)}, timeout=30), range(400, 500)),
        "not audio": (lambda: requests.post(url, files={"file": ("notes.wav", b"RIFF" + bytes(range(200)))},
                                            data={"language": lang}, timeout=30), range(400, 600)),
    }
    outcome, wrong = {}, []
    for name, (call, passing) in cases.items():
        r = call()
        outcome[name] = {"status": r.status_code, "body": r.text[:200]}
        if r.status_code not in passing or len(r.text.strip()) < 10:
            wrong.append(f"{name}: HTTP {r.status_code} {r.text[:150]!r}, expected {passing.start}-{passing.stop - 1} "
                         "saying what is wrong")
    heard = nim.transcribe(nim_url, utt.path.read_bytes(), utt.id, lang, timeout=60)
    record_fact("http_bad_input", outcome)
    if wer(utt.text, heard.text) > 0.5:
        wrong.append(f"after the bad uploads the NIM transcribes {utt.id} as {heard.text!r}")
    assert not wrong, "bad uploads not handled:\n  " + "\n  ".join(wrong)


def test_regression_against_baseline(settings, phase_figures):
    """Figures of this run against an earlier state/060.json: lower is better, but for RTFx (unit x)."""
    if settings.baseline is None:
        pytest.skip("no baseline: set RIVA__BASELINE to an earlier state/060.json to compare with")
    tol = settings.baseline_tolerance
    worse = baseline.regressions(baseline.load_figures(settings.baseline), phase_figures, tol)
    assert not worse, f"regressions beyond {tol:.0%} against {settings.baseline}: " + ", ".join(worse)
