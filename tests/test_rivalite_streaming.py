"""riva-lite streams as Riva does, seen through NVIDIA's riva.client: one response per server chunk,
`audio_processed` in whole server chunks, utterances ended by endpointing, no empty final, Riva's errors."""

from __future__ import annotations

import math
from pathlib import Path

import grpc
import pytest
import soundfile as sf

from tests.conftest import asr_service, started_riva

riva_client = pytest.importorskip("riva.client")
from riva.client.proto import riva_asr_pb2 as rasr  # noqa: E402

pytestmark = pytest.mark.slow
AUDIO = Path(__file__).resolve().parents[1] / "audio"
SAMPLE = AUDIO / "en-US_sample.wav"
TEXT = "what is natural language processing"


@pytest.fixture(scope="module")
def chunk_s(asr) -> float:
    """The server chunk, as the deployment states it (the streaming model's chunk_size)."""
    config = asr.stub.GetRivaSpeechRecognitionConfig(rasr.RivaSpeechRecognitionConfigRequest())
    online = [m for m in config.model_config if m.parameters["type"] == "online"]
    return float(online[0].parameters["chunk_size"])


def pcm(path: Path) -> tuple[bytes, int]:
    data, rate = sf.read(path, dtype="int16")
    return data.tobytes(), rate


def streaming_config(rate: int, interim: bool = True, **kw) -> rasr.StreamingRecognitionConfig:
    endpointing = kw.pop("endpointing", None)
    cfg = rasr.StreamingRecognitionConfig(
        config=rasr.RecognitionConfig(**{"encoding": riva_client.AudioEncoding.LINEAR_PCM, "sample_rate_hertz": rate,
                                         "language_code": "en-US", "max_alternatives": 1, **kw}),
        interim_results=interim)
    if endpointing:
        cfg.config.endpointing_config.CopyFrom(rasr.EndpointingConfig(**endpointing))
    return cfg


def stream(asr, blob: bytes, cfg, chunk_ms: float) -> tuple[list, int]:
    size = int(cfg.config.sample_rate_hertz * chunk_ms / 1000) * 2
    chunks = [blob[i : i + size] for i in range(0, len(blob), size)]
    return list(asr.streaming_response_generator(audio_chunks=chunks, streaming_config=cfg)), len(chunks)


def results(responses) -> list:
    return [r for resp in responses for r in resp.results]


def finals(responses) -> list[str]:
    return [r.alternatives[0].transcript for r in results(responses) if r.is_final]


@pytest.mark.parametrize("chunk_ms", [100, 500])
def test_one_response_per_server_chunk_whatever_the_client_sends(asr, chunk_s, chunk_ms):
    blob, rate = pcm(SAMPLE)
    responses, _ = stream(asr, blob, streaming_config(rate), chunk_ms)
    whole = math.floor(len(blob) / 2 / rate / chunk_s + 1e-9)
    assert len(responses) == whole + 1  # and one at the end of the stream


def test_nvidias_pairing_holds_at_the_server_chunk(asr, chunk_s):
    """riva_streaming_asr_client pairs response i with chunk i when responses == chunks or chunks + 1."""
    blob, rate = pcm(SAMPLE)
    responses, chunks = stream(asr, blob, streaming_config(rate), chunk_s * 1000)
    assert len(responses) in (chunks, chunks + 1)


def test_audio_processed_in_whole_server_chunks(asr, chunk_s):
    blob, rate = pcm(SAMPLE)
    got = [r.audio_processed for r in results(stream(asr, blob, streaming_config(rate), 100)[0])]
    assert got and got == sorted(got)
    assert all(abs(a / chunk_s - round(a / chunk_s)) < 1e-3 for a in got), got
    assert got[-1] <= len(blob) / 2 / rate


def test_no_empty_final_and_silence_gives_nothing(asr):
    blob, rate = pcm(SAMPLE)
    assert all(t.strip() for t in finals(stream(asr, blob, streaming_config(rate), 100)[0]))
    silence = b"\x00" * 32000 * 2
    assert results(stream(asr, silence, streaming_config(16000), 100)[0]) == []


def test_partials_lowercase_unpunctuated_without_confidence(asr):
    blob, rate = pcm(SAMPLE)
    res = results(stream(asr, blob, streaming_config(rate, enable_automatic_punctuation=True), 100)[0])
    partials = [r for r in res if not r.is_final]
    assert partials, "no interim result"
    for r in partials:
        text = r.alternatives[0].transcript
        assert text == text.lower() and not any(c in text for c in ".,?!"), text
        assert r.alternatives[0].confidence == 0 and 0 < r.stability <= 1
    final = [r for r in res if r.is_final]
    assert [r.alternatives[0].transcript for r in final] == ["What is natural language processing? "]
    assert 0 < final[0].alternatives[0].confidence <= 1


def test_vad_probabilities_filled(asr):
    blob, rate = pcm(SAMPLE)
    res = results(stream(asr, blob, streaming_config(rate), 100)[0])
    probs = [p for r in res for p in r.pipeline_states.vad_probabilities]
    assert probs and all(0 <= p <= 1 for p in probs) and max(probs) > 0.5


def test_pauses_end_utterances(asr):
    """pause-03.wav: four sentences with 1.8 s pauses; Riva's default stop_history (800 ms) ends each."""
    blob, rate = pcm(AUDIO / "pause-03.wav")
    got = finals(stream(asr, blob, streaming_config(rate, interim=False), 160)[0])
    assert len(got) == 4, got
    assert got[0].strip() == "thank you very much"


def test_stop_history_longer_than_the_pause_joins_them(asr):
    blob, rate = pcm(AUDIO / "pause-03.wav")
    cfg = streaming_config(rate, interim=False, endpointing={"stop_history": 2500})
    assert len(finals(stream(asr, blob, cfg, 160)[0])) == 1


def test_two_pass_end_of_utterance_sends_stability_one_before_the_final(asr):
    blob, rate = pcm(AUDIO / "pause-03.wav")
    cfg = streaming_config(rate, endpointing={"stop_history_eou": 320, "stop_threshold_eou": 0.9})
    res = results(stream(asr, blob, cfg, 160)[0])
    before_final = [res[i - 1] for i, r in enumerate(res) if r.is_final and i > 0]
    assert len(before_final) == 4 and all(r.stability == 1.0 and not r.is_final for r in before_final)


# -- errors: Riva 2.12+'s wording ---------------------------------------------------------------------------
def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as e:
        call()
    return e.value


@pytest.mark.parametrize("language, rate, model", [("de-DE", 16000, ""), ("en-US", 0, ""),
                                                    ("en-US", 16000, "no-such-model")])
def test_unavailable_model_offline(asr, language, rate, model):
    cfg = rasr.RecognitionConfig(encoding=riva_client.AudioEncoding.LINEAR_PCM, sample_rate_hertz=rate,
                                 language_code=language, model=model)
    err = rpc_error(lambda: asr.offline_recognize(pcm(SAMPLE)[0], cfg))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == (f"Error: Unavailable model requested given these parameters: "
                             f"language_code={language}; sample_rate={rate}; type=offline; ")


def test_unavailable_model_streaming(asr):
    blob, rate = pcm(SAMPLE)
    err = rpc_error(lambda: stream(asr, blob, streaming_config(rate, language_code="de-DE"), 100))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == ("Error: Unavailable model requested given these parameters: "
                             "language_code=de-DE; sample_rate=16000; type=online; ")


# -- a stream idle past the model's max_sequence_idle_microseconds ---------------------------------------
@pytest.fixture(scope="module")
def short_idle_riva(rivalite_models, tmp_path_factory):
    """riva-lite on a copy of the repository whose sequence batchers forget a stream after 1 s idle."""
    import os
    import shutil

    models = tmp_path_factory.mktemp("idle") / "models"
    shutil.copytree(rivalite_models, models, copy_function=os.link)  # weights shared, configs rewritten
    for config in models.glob("*/config.pbtxt"):
        text = config.read_text()
        config.unlink()  # a new file: the hard link to the original stays as it was
        config.write_text(text.replace("max_sequence_idle_microseconds: 60000000",
                                       "max_sequence_idle_microseconds: 1000000"))
    yield from started_riva(models, tmp_path_factory.mktemp("riva-idle"))


@pytest.fixture(scope="module")
def short_idle_asr(short_idle_riva):
    yield from asr_service(short_idle_riva)


def test_a_stream_idle_past_the_sequence_timeout_gets_the_start_flag_error(short_idle_asr):
    import time

    blob, rate = pcm(SAMPLE)
    size = rate // 10 * 2

    def chunks():
        yield blob[:size]
        time.sleep(1.5)  # the stimulus: idle past the 1 s the repository allows
        yield blob[size : 2 * size]

    cfg = streaming_config(rate)
    err = rpc_error(lambda: list(short_idle_asr.streaming_response_generator(audio_chunks=chunks(),
                                                                           streaming_config=cfg)))
    assert "must specify the START flag on the first request of the sequence" in err.details()
    # a stream within the limit is served
    assert finals(stream(short_idle_asr, blob, cfg, 100)[0]) == ["what is natural language processing "]
