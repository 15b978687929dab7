"""riva-lite deployed like Riva: start-riva behind the shim, driven with NVIDIA's own client library.

One deployment serves the whole module (about 3 s to start); the last test stops it with SIGTERM. The
client calls are the ones NVIDIA's python-clients scripts make (transcribe_file.py,
transcribe_file_offline.py, riva_streaming_asr_client.py, --list-models), through riva.client.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
import soundfile as sf

import rivalite
from rivalite.launcher import EXITED, READY, WAITING, free_port
from rivaverify import procfs, shim
from rivaverify.readiness import wait_until
from testing.local_riva import RUN_ID_ENV

riva_client = pytest.importorskip("riva.client")
from riva.client.proto import health_pb2, health_pb2_grpc  # noqa: E402
from riva.client.proto import riva_asr_pb2 as rasr  # noqa: E402

pytestmark = pytest.mark.slow
SAMPLE = Path(__file__).resolve().parents[1] / "audio" / "en-US_sample.wav"
TEXT = "what is natural language processing"
INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def sample():
    data, rate = sf.read(SAMPLE, dtype="float32")
    return data, rate


def config(**kw) -> rasr.RecognitionConfig:
    # NVIDIA's scripts set the rate from the WAV header; Riva refuses a rate of 0 (tests/test_rivalite_streaming.py)
    return riva_client.RecognitionConfig(**{"language_code": "en-US", "max_alternatives": 1,
                                            "sample_rate_hertz": 16000, **kw})


def offline_text(response) -> str:
    return "".join(r.alternatives[0].transcript for r in response.results)  # as print_offline joins them


def stream(asr, chunks, streaming_config):
    return list(asr.streaming_response_generator(audio_chunks=chunks, streaming_config=streaming_config))


def finals(responses) -> str:
    return "".join(r.alternatives[0].transcript for resp in responses for r in resp.results if r.is_final)


def chunks_of(blob: bytes, size: int = 3200):
    return [blob[i : i + size] for i in range(0, len(blob), size)]


def encoded(data, rate, fmt, subtype, channels_last=None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, data, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def resampled(data, rate_from, rate_to):
    n = int(len(data) * rate_to / rate_from)
    return np.interp(np.arange(n) * rate_from / rate_to, np.arange(len(data)), data).astype(np.float32)


def health(uri, service="", credentials=None):
    channel = grpc.secure_channel(uri, credentials) if credentials else grpc.insecure_channel(uri)
    with channel:
        request = health_pb2.HealthCheckRequest(service=service)
        return health_pb2_grpc.HealthStub(channel).Check(request, timeout=5).status


def assert_still_serving(riva, asr):
    assert health(riva.riva_uri) == health_pb2.HealthCheckResponse.SERVING
    response = asr.offline_recognize(SAMPLE.read_bytes(), config())
    assert offline_text(response).strip() == TEXT


# -- deploy: the fix, readiness -----------------------------------------------------------------------------
def test_the_shim_fixes_start_riva(riva, rivalite_models):
    out = riva.output()
    assert f"[SHIM] Injected --model-repository={rivalite_models}" in out
    assert out.index(WAITING) < out.index(READY)
    assert EXITED not in out


def test_tritonserver_effective_argv(riva, rivalite_models):
    pid = riva.tritonserver_pid()
    assert pid, "no tritonserver child of start-riva"
    argv = procfs.cmdline(pid)
    assert Path(argv[0]).name == "tritonserver"
    assert shim.model_repository_values(argv) == [str(rivalite_models)]
    assert f"--http-port={riva.http_port}" in argv


def test_triton_http_readiness(riva):
    base = f"http://127.0.0.1:{riva.http_port}/v2"
    paths = ["/health/live", "/health/ready", *(f"/models/{m}/ready" for m in rivalite.MODELS)]
    for path in paths:
        with urllib.request.urlopen(base + path, timeout=5) as reply:
            assert reply.status == 200, path


def test_grpc_health(riva):
    assert health(riva.riva_uri) == health_pb2.HealthCheckResponse.SERVING
    assert (
        health(riva.riva_uri, "nvidia.riva.asr.RivaSpeechRecognition")
        == health_pb2.HealthCheckResponse.SERVING
    )
    with pytest.raises(grpc.RpcError) as e:
        health(riva.riva_uri, "no.such.Service")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_list_models_as_the_clients_do(asr):
    reply = asr.stub.GetRivaSpeechRecognitionConfig(rasr.RivaSpeechRecognitionConfigRequest())
    listed = {}
    for kind in ("online", "offline"):  # transcribe_file.py / transcribe_file_offline.py --list-models
        for model_config in reply.model_config:
            if model_config.parameters["type"] == kind:
                listed.setdefault(kind, {}).setdefault(model_config.parameters["language_code"], []).append(
                    {"model": [model_config.model_name]}
                )
    assert listed == {
        "online": {"en-US": [{"model": [rivalite.ASR_STREAMING]}]},
        "offline": {"en-US": [{"model": [rivalite.ASR_OFFLINE]}]},
    }
    assert all(c.parameters["sample_rate"] == "16000" for c in reply.model_config)
    one = asr.stub.GetRivaSpeechRecognitionConfig(
        rasr.RivaSpeechRecognitionConfigRequest(model_name=rivalite.ASR_OFFLINE)
    )
    assert [c.model_name for c in one.model_config] == [rivalite.ASR_OFFLINE]


# -- offline (transcribe_file_offline.py: the whole file, header included, no rate in the config) -----------
def test_recognize_sample_verbatim(asr):
    t0 = time.monotonic()
    response = asr.offline_recognize(SAMPLE.read_bytes(), config())
    assert offline_text(response) == TEXT + " "
    assert time.monotonic() - t0 < 30
    result = response.results[-1]
    assert result.audio_processed == pytest.approx(4.152, abs=0.01)
    assert 0 < result.alternatives[0].confidence <= 1


def test_recognize_with_punctuation_and_no_language(asr):
    response = asr.offline_recognize(
        SAMPLE.read_bytes(), config(language_code="", enable_automatic_punctuation=True)
    )
    assert offline_text(response).strip() == "What is natural language processing?"


def test_recognize_word_offsets_and_alternatives(asr):
    response = asr.offline_recognize(
        SAMPLE.read_bytes(),
        config(enable_word_time_offsets=True, max_alternatives=3, enable_automatic_punctuation=True),
    )
    assert len(response.results) == 1
    alts = response.results[0].alternatives
    assert 1 <= len(alts) <= 3 and len({a.transcript for a in alts}) == len(alts)
    words = alts[0].words
    assert [w.word.strip("?").lower() for w in words] == TEXT.split()
    starts = [w.start_time for w in words]
    assert starts == sorted(starts) and all(w.start_time <= w.end_time <= 4152 for w in words)
    assert all(0 < w.confidence <= 1 for w in words)


# -- streaming (transcribe_file.py / riva_streaming_asr_client.py) ------------------------------------------
def test_streaming_sample_with_interim_results(asr):
    cfg = riva_client.StreamingRecognitionConfig(config=config(), interim_results=True)
    with riva_client.AudioChunkFileIterator(str(SAMPLE), 1600, riva_client.sleep_audio_length) as chunks:
        responses = stream(asr, chunks, cfg)
    results = [r for resp in responses for r in resp.results]
    interim = [r for r in results if not r.is_final]
    assert interim and all(0 < r.stability <= 1 for r in interim)
    assert finals(responses) == TEXT + " "
    processed = [r.audio_processed for r in results]
    assert processed == sorted(processed) and processed[-1] <= 4.16


def test_streaming_finals_only_with_word_offsets(asr):
    cfg = riva_client.StreamingRecognitionConfig(
        config=config(enable_word_time_offsets=True, enable_automatic_punctuation=True), interim_results=False
    )
    responses = stream(asr, chunks_of(SAMPLE.read_bytes()), cfg)
    results = [r for resp in responses for r in resp.results]
    assert results and all(r.is_final for r in results)
    assert finals(responses).strip() == "What is natural language processing?"
    assert len(results[0].alternatives[0].words) == 5


def test_streaming_two_utterances_give_two_finals(asr, sample):
    data, rate = sample
    audio = np.concatenate([data, np.zeros(rate, np.float32), data])
    blob = encoded(audio, rate, "RAW", "PCM_16")
    cfg = riva_client.StreamingRecognitionConfig(
        config=config(encoding=riva_client.AudioEncoding.LINEAR_PCM, sample_rate_hertz=rate),
        interim_results=False,
    )
    results = [r for resp in stream(asr, chunks_of(blob), cfg) for r in resp.results]
    assert [r.alternatives[0].transcript.strip() for r in results] == [TEXT, TEXT]
    assert results[1].alternatives[0].words == [] and results[0].audio_processed < results[1].audio_processed


# -- encodings ----------------------------------------------------------------------------------------------
ENCODINGS = {
    "pcm-8k": (8000, "RAW", "PCM_16", "LINEAR_PCM"),
    "pcm-44k1": (44100, "RAW", "PCM_16", "LINEAR_PCM"),
    "pcm-48k-wav-float": (48000, "WAV", "FLOAT", "ENCODING_UNSPECIFIED"),
    "flac": (16000, "FLAC", "PCM_16", "FLAC"),
    "mulaw-8k": (8000, "RAW", "ULAW", "MULAW"),
    "alaw-8k": (8000, "RAW", "ALAW", "ALAW"),
    "ogg-opus": (48000, "OGG", "OPUS", "OGGOPUS"),
}


@pytest.mark.parametrize("name", ENCODINGS)
def test_encodings_offline(asr, sample, name):
    rate, fmt, subtype, encoding = ENCODINGS[name]
    blob = encoded(resampled(sample[0], sample[1], rate), rate, fmt, subtype)
    cfg = config(encoding=riva_client.AudioEncoding.Value(encoding), sample_rate_hertz=rate)
    assert offline_text(asr.offline_recognize(blob, cfg)).strip() == TEXT


@pytest.mark.parametrize("name", ["mulaw-8k", "flac"])
def test_encodings_streaming(asr, sample, name):
    rate, fmt, subtype, encoding = ENCODINGS[name]
    blob = encoded(resampled(sample[0], sample[1], rate), rate, fmt, subtype)
    cfg = riva_client.StreamingRecognitionConfig(
        config=config(encoding=riva_client.AudioEncoding.Value(encoding), sample_rate_hertz=rate),
        interim_results=True,
    )
    assert finals(stream(asr, chunks_of(blob, 1000), cfg)).strip() == TEXT


def test_stereo_pcm(asr, sample):
    stereo = np.stack([sample[0], sample[0]], axis=1)
    cfg = config(
        encoding=riva_client.AudioEncoding.LINEAR_PCM, sample_rate_hertz=16000, audio_channel_count=2
    )
    assert offline_text(asr.offline_recognize(encoded(stereo, 16000, "RAW", "PCM_16"), cfg)).strip() == TEXT


# -- errors: Riva's wording, INVALID_ARGUMENT, no crash, no hang --------------------------------------------
def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as e:
        call()
    return e.value


BAD_AUDIO = {
    "garbage-flac": (b"fLaC" + bytes(range(256)) * 8, "FLAC", 16000, "cannot decode"),
    "not-flac": (b"\x01\x02" * 800, "FLAC", 16000, "does not start with a fLaC"),
    "no-rate": (b"\x00\x01" * 800, "LINEAR_PCM", 0, "Unavailable model requested"),
    "rate-too-low": (b"\x00\x01" * 800, "LINEAR_PCM", 100, "not supported"),
    "half-sample": (b"\x00\x01\x02", "LINEAR_PCM", 16000, "partial frame"),
    "empty": (b"", "LINEAR_PCM", 16000, "empty"),
    "header-only-wav": (
        SAMPLE.read_bytes()[: SAMPLE.read_bytes().index(b"data") + 8],
        "LINEAR_PCM",
        16000,
        "no samples",
    ),
}


@pytest.mark.parametrize("name", BAD_AUDIO)
def test_bad_audio_offline(riva, asr, name):
    blob, encoding, rate, words = BAD_AUDIO[name]
    cfg = config(encoding=riva_client.AudioEncoding.Value(encoding), sample_rate_hertz=rate)
    err = rpc_error(lambda: asr.stub.Recognize(rasr.RecognizeRequest(config=cfg, audio=blob), timeout=30))
    assert err.code() == INVALID and words in err.details()


@pytest.mark.parametrize("name", ["garbage-flac", "no-rate", "half-sample"])
def test_bad_audio_streaming(riva, asr, name):
    blob, encoding, rate, words = BAD_AUDIO[name]
    cfg = riva_client.StreamingRecognitionConfig(
        config=config(encoding=riva_client.AudioEncoding.Value(encoding), sample_rate_hertz=rate),
        interim_results=True,
    )
    err = rpc_error(lambda: stream(asr, chunks_of(blob, 100), cfg))
    assert err.code() == INVALID and words in err.details()


def test_missing_streaming_config(riva, asr):
    requests = iter([rasr.StreamingRecognizeRequest(audio_content=b"\x00" * 3200)])
    err = rpc_error(lambda: list(asr.stub.StreamingRecognize(requests, timeout=30)))
    assert err.code() == INVALID and "must carry a streaming_config" in err.details()


def test_second_streaming_config(riva, asr):
    cfg = riva_client.StreamingRecognitionConfig(config=config(), interim_results=False)
    requests = iter(
        [
            rasr.StreamingRecognizeRequest(streaming_config=cfg),
            rasr.StreamingRecognizeRequest(audio_content=SAMPLE.read_bytes()[:3200]),
            rasr.StreamingRecognizeRequest(streaming_config=cfg),
        ]
    )
    err = rpc_error(lambda: list(asr.stub.StreamingRecognize(requests, timeout=30)))
    assert err.code() == INVALID and "only the first" in err.details()


def test_silence_and_no_audio_give_no_transcript(asr):
    cfg = riva_client.StreamingRecognitionConfig(
        config=config(encoding=riva_client.AudioEncoding.LINEAR_PCM, sample_rate_hertz=16000),
        interim_results=True,
    )
    assert [r for resp in stream(asr, [], cfg) for r in resp.results] == []
    # one second of silence: no result at all (Riva sends no empty final)
    assert [r for resp in stream(asr, [b"\x00" * 32000], cfg) for r in resp.results] == []


def test_still_serving_after_the_errors(riva, asr):
    assert_still_serving(riva, asr)


# -- TLS and the API key: a second API server on the same Triton --------------------------------------------
@pytest.fixture(scope="module")
def secure_api(riva, tls_files):
    cert, key = tls_files
    port = free_port()
    tag = f"{riva.run_id}-secure"
    env = {**os.environ, "RIVA_API_KEY": "s3cret-key", RUN_ID_ENV: tag}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rivalite.server",
            f"--riva_uri=127.0.0.1:{port}",
            f"--triton_uri=127.0.0.1:{riva.grpc_port}",
            f"--ssl_server_cert={cert}",
            f"--ssl_server_key={key}",
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    uri, creds = f"localhost:{port}", grpc.ssl_channel_credentials(cert.read_bytes())
    def serving() -> bool:
        assert proc.poll() is None, f"secure API server exited with {proc.returncode}"
        try:
            health(uri, credentials=creds)
        except grpc.RpcError:
            return False
        return True

    wait_until(serving, 30, "the secure API server answering health", interval_s=0.1)
    yield uri, cert
    proc.terminate()
    assert proc.wait(15) == 0
    assert procfs.with_env(RUN_ID_ENV, tag) == []


def secure_service(uri, cert, key=None):
    metadata = [["authorization", f"Bearer {key}"]] if key else None
    return riva_client.ASRService(
        riva_client.Auth(ssl_root_cert=str(cert), use_ssl=True, uri=uri, metadata_args=metadata)
    )


def test_tls_with_api_key(secure_api):
    uri, cert = secure_api
    response = secure_service(uri, cert, "s3cret-key").offline_recognize(SAMPLE.read_bytes(), config())
    assert offline_text(response).strip() == TEXT


@pytest.mark.parametrize("key", [None, "wrong"])
def test_api_key_required(secure_api, key):
    uri, cert = secure_api
    err = rpc_error(lambda: secure_service(uri, cert, key).offline_recognize(SAMPLE.read_bytes(), config()))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "API key" in err.details()
    cfg = riva_client.StreamingRecognitionConfig(config=config(), interim_results=True)
    err = rpc_error(lambda: stream(secure_service(uri, cert, key), chunks_of(SAMPLE.read_bytes()), cfg))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED


def test_health_needs_no_key_but_tls(secure_api):
    uri, cert = secure_api
    assert (
        health(uri, credentials=grpc.ssl_channel_credentials(cert.read_bytes()))
        == health_pb2.HealthCheckResponse.SERVING
    )
    with pytest.raises(grpc.RpcError):
        health(uri)  # plaintext against TLS


def test_tls_and_key_are_off_by_default(riva, asr):
    assert offline_text(asr.offline_recognize(SAMPLE.read_bytes(), config())).strip() == TEXT


# -- NVIDIA's python-clients scripts, unchanged, when a checkout is at hand ----------------------------------
CLIENTS = os.environ.get("RIVA_PYTHON_CLIENTS")  # a checkout of github.com/nvidia-riva/python-clients
SCRIPT_RUNS = {
    "transcribe_file.py --list-models": (
        ["--list-models"],
        "{'en-US': [{'model': ['" + rivalite.ASR_STREAMING,
    ),
    "transcribe_file.py": (["--input-file", str(SAMPLE)], "## " + TEXT),
    "transcribe_file.py --automatic-punctuation": (
        ["--input-file", str(SAMPLE), "--automatic-punctuation"],
        "## What is natural language processing?",
    ),
    "transcribe_file_offline.py": (["--input-file", str(SAMPLE)], TEXT),
    "transcribe_file_offline.py --list-models": (["--list-models"], rivalite.ASR_OFFLINE),
    "riva_streaming_asr_client.py": (["--input-file", str(SAMPLE), "--num-clients", "2"], "threads done"),
}


@pytest.mark.skipif(
    not CLIENTS, reason="set RIVA_PYTHON_CLIENTS to a python-clients checkout to run its scripts"
)
@pytest.mark.parametrize("run", SCRIPT_RUNS)
def test_python_clients_scripts(riva, run, tmp_path):
    script = Path(CLIENTS) / "scripts" / "asr" / run.split()[0]
    if not script.exists():
        pytest.skip(f"{script} not in the checkout")
    args, expected = SCRIPT_RUNS[run]
    out = subprocess.run(
        [sys.executable, str(script), "--server", riva.riva_uri, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert expected in out.stdout, out.stdout
    if run.startswith("riva_streaming"):
        assert all(TEXT in f.read_text() for f in tmp_path.glob("output_*.txt"))


# -- last: SIGTERM stops everything -------------------------------------------------------------------------
def test_sigterm_stops_both_and_exits(riva):
    t0 = time.monotonic()
    assert riva.stop(60) == 0
    assert time.monotonic() - t0 < 30
    assert "stopping Riva and Triton" in riva.output()
    assert procfs.with_env(RUN_ID_ENV, riva.run_id) == []
