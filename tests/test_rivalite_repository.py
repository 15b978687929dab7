"""riva-lite's model repository served by its real tritonserver, in both layouts (Riva 2.17+ BLS, Riva <= 2.16
ensembles): what GetRivaSpeechRecognitionConfig lists, what Triton.discover reads, inference through the ASR model
(resampling included), Triton's sequence batching, the punctuation pair. One deployment per layout (~15 s each).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import rivalite
from rivalite.triton_client import RequestError, Triton
from testing.local_riva import LocalRiva

riva_client = pytest.importorskip("riva.client")
from riva.client.proto import riva_asr_pb2 as rasr  # noqa: E402

pytestmark = pytest.mark.slow
SAMPLE = Path(__file__).resolve().parents[1] / "audio" / "en-US_sample.wav"


@pytest.fixture(scope="module", params=rivalite.LAYOUTS)
def served(request, rivalite_artifact, tmp_path_factory):
    layout = request.param
    models = rivalite.deploy(rivalite_artifact, tmp_path_factory.mktemp(f"deploy-{layout}"), layout=layout)
    deployment = LocalRiva(models, tmp_path_factory.mktemp("riva"), args=("--triton-ready-timeout=90",))
    deployment.start().wait_ready(120)
    yield layout, deployment, Triton(f"127.0.0.1:{deployment.grpc_port}", timeout_s=60)
    deployment.stop()
    assert deployment.kill_leftovers() == [], "processes outlived start-riva"


def test_riva_lists_the_two_asr_models_with_rivas_parameters(served):
    layout, deployment, _ = served
    names = rivalite.model_names(layout=layout)
    asr = riva_client.ASRService(riva_client.Auth(uri=deployment.riva_uri))
    listed = {c.model_name: dict(c.parameters) for c in
              asr.stub.GetRivaSpeechRecognitionConfig(rasr.RivaSpeechRecognitionConfigRequest()).model_config}
    assert set(listed) == {names["streaming"], names["offline"]}
    online, offline = listed[names["streaming"]], listed[names["offline"]]
    assert (online["type"], online["streaming"], online["chunk_size"]) == ("online", "True", "0.16")
    assert (offline["type"], offline["streaming"], offline["chunk_size"]) == ("offline", "False", "30.0")
    for params in listed.values():
        assert params["language_code"] == "en-US" and params["sample_rate"] == "16000"
        assert params["model_family"] == "whisper"


def test_discover_reads_chunk_and_idle_timeout(served):
    layout, _, triton = served
    names = rivalite.model_names(layout=layout)
    models = triton.discover()
    assert set(models) == {names["streaming"], names["offline"]}
    assert models[names["streaming"]].chunk_s == 0.16 and models[names["offline"]].chunk_s == 30.0
    assert {m.max_idle_s for m in models.values()} == {60.0}


def test_infer_resamples_and_answers_whispers_json(served):
    layout, _, triton = served
    audio, rate = sf.read(SAMPLE, dtype="float32")
    audio_48k = np.interp(np.arange(0, len(audio), rate / 48000), np.arange(len(audio)), audio).astype(np.float32)
    for role, samples, at in (("offline", audio, rate), ("streaming", audio_48k, 48000)):
        out = triton.infer(rivalite.model_names(layout=layout)[role], samples, at, {})
        text = " ".join(s["text"] for s in out["segments"]).lower()
        assert "natural language processing" in text, (role, out)
        assert out["duration"] == pytest.approx(len(audio) / rate, abs=0.01)


def test_a_sequence_needs_start_after_it_ended(served):
    layout, _, triton = served
    model, chunk = rivalite.model_names(layout=layout)["streaming"], np.zeros(1600, np.float32)
    triton.infer(model, chunk, 16000, {}, sequence_id=990001, start=True, end=False)
    triton.infer(model, chunk, 16000, {}, sequence_id=990001, start=False, end=True)
    with pytest.raises(RequestError, match="must specify the START flag on the first request of the sequence"):
        triton.infer(model, chunk, 16000, {}, sequence_id=990001, start=False, end=False)
    with pytest.raises(RequestError, match="sample rate 0 Hz is out of range"):
        triton.infer(model, chunk, 0, {})


def test_punctuation_pair_answers(served):
    import tritonclient.grpc as tgrpc

    layout, _, triton = served
    text = tgrpc.InferInput("TEXT", [2], "BYTES")
    text.set_data_from_numpy(np.array([b"i think so  is it", b"What is it?"], dtype=np.object_))
    out = triton.client.infer(rivalite.model_names(layout=layout)["punctuation"], [text])
    assert out.as_numpy("PUNCTUATED_TEXT").tolist() == [b"I think so is it.", b"What is it?"]
